#include "vmm/node/cluster_cli.h"

#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <utility>

#include "coherence/peer_auth.h"
#include "firmware/litmus/session.h"
#include "kernel/base/log.h"
#include "kernel/base/size.h"
#include "vmm/cluster/launch_plan.h"
#include "vmm/cluster/netns_cluster.h"
#include "vmm/cluster/node_supervisor.h"
#include "vmm/control/control_server.h"
#include "vmm/control/unix_socket.h"
#include "vmm/guest_images.h"
#include "vmm/node/cluster_control.h"
#include "vmm/node/node_control.h"
#include "vmm/node/node_vm.h"

namespace heca::vmm::node {
namespace {

// How long a node waits at the final barrier for the others once the guest ended normally, and
// once it was stopped (a crash, a timeout, a lost link).
constexpr std::chrono::milliseconds kLeaveTimeout{60'000};
constexpr std::chrono::milliseconds kStoppedLeaveTimeout{10'000};

Result<GuestImage> guest_image(const cluster::GuestDescription& d, ImageFiles& files) {
  if (d.kind == cluster::GuestKind::kTest) return builtin_test_guest();
  return load_linux_image(d.kernel, d.initrd, files);
}

Result<std::string> write_temp_description(const cluster::GuestDescription& d) {
  std::string path = "/tmp/heca-guest-XXXXXX.toml";
  const int fd = ::mkstemps(path.data(), 5);
  if (fd < 0) return errno_error("creating the resolved guest description");
  const std::string text = cluster::format_guest_description(d);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) return errno_error("writing " + path);
  return path;
}

std::string self_binary() {
  std::string path(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", path.data(), path.size());
  if (n <= 0) return "heca";
  path.resize(static_cast<std::size_t>(n));
  return path;
}

// --litmus: the blobs ride along with the boot plan; the first one's key goes on the guest's
// command line.
Result<std::optional<firmware::litmus::LitmusRun>> prepare_litmus(
    const RunArgs& args, cluster::GuestDescription& d,
    std::vector<firmware::GuestWrite>& extra_writes) {
  if (args.litmus.empty()) return std::nullopt;
  if (d.kind != cluster::GuestKind::kTest) {
    return make_error(args.config.empty() ? "--litmus needs --guest test"
                                          : "--litmus needs guest.kind = \"test\"");
  }
  std::vector<std::uint32_t> node_of_vcpu(d.vcpu_count());
  for (std::uint32_t i = 0; i < node_of_vcpu.size(); ++i) node_of_vcpu[i] = d.node_of_vcpu(i);
  auto run = firmware::litmus::prepare_litmus_run(args.litmus, args.iterations, args.litmus_model,
                                                  node_of_vcpu, d.memory_bytes);
  if (!run) return std::unexpected(run.error());
  // Once: the I/O node judges the run, so it also says where the threads ran and what was
  // left out.
  if (d.io_node() == args.id) {
    for (const auto& why : run->refused) std::fprintf(stderr, "heca: litmus refused: %s\n", why.c_str());
    for (const auto& setup : run->tests) {
      if (d.nodes.size() > 1) {
        std::fprintf(stderr, "heca: litmus %s: %s\n", setup.test.name.c_str(),
                     setup.placement.describe().c_str());
      }
      if (!setup.placement_warning.empty()) {
        std::fprintf(stderr, "heca: warning: litmus %s: %s\n", setup.test.name.c_str(),
                     setup.placement_warning.c_str());
      }
    }
  }
  d.cmdline += run->cmdline_key;
  for (const auto& setup : run->tests) {
    extra_writes.push_back({.gpa = setup.blob.gpa, .bytes = setup.blob.bytes});
  }
  return run;
}

// Each test's histogram beside its allowed set, read through the coherent guest view.
int judge(const firmware::litmus::LitmusRun& run, const NodeVm& vm) {
  std::vector<int> codes;
  for (const auto& setup : run.tests) {
    auto memory = vm.read_guest(setup.blob.gpa, setup.blob.bytes.size());
    if (!memory) return fail(memory.error().message());
    auto exit_code = firmware::litmus::report_litmus(setup, *memory);
    if (!exit_code) {
      // The guest exited without finishing this test: not the test's fault.
      std::fprintf(stderr, "heca: error: litmus %s: %s\n", setup.test.name.c_str(),
                   exit_code.error().message().c_str());
      return kExitVmFailure;
    }
    codes.push_back(*exit_code);
  }
  return firmware::litmus::run_exit_code(codes, run.refused.size());
}

// --control PATH of `heca run GUEST.toml`: node K serves PATH.nodeK (checked here, so that a
// path too long for a socket is an input error, not a lost node).
Result<std::vector<NodeSocket>> node_sockets(const std::string& control,
                                             const cluster::GuestDescription& d) {
  std::vector<NodeSocket> sockets;
  if (control.empty()) return sockets;
  for (const auto& node : d.nodes) {
    const std::string path = node_socket_path(control, node.id);
    if (auto address = control::unix_address(path); !address) {
      return std::unexpected(address.error());
    }
    sockets.push_back({.node = node.id, .address = node.address, .path = path});
  }
  return sockets;
}

// Nodes killed by a signal leave their socket files behind: remove the ones nobody serves.
void remove_stale_node_sockets(const std::vector<NodeSocket>& sockets) {
  for (const auto& socket : sockets) (void)control::remove_stale_socket(socket.path);
}

// --stats-json PATH: the counters --stats prints, as the control socket's `stats` returns them.
Status write_stats_json(const std::string& path, NodeVm& vm) {
  if (path.empty()) return {};
  std::ofstream out(path, std::ios::trunc);
  if (!out) return errno_error(fmt::format("cannot create '{}'", path));
  out << to_json(vm.stats_report()).dump() << '\n';
  out.close();
  if (!out) return errno_error(fmt::format("cannot write '{}'", path));
  return {};
}

// What every node process runs once its inputs are checked: the VM, served on its control
// socket, then the litmus verdict, the stats and the final barrier.
struct VmRun {
  NodeVmConfig config;
  std::optional<firmware::litmus::LitmusRun> litmus;
  std::string error_prefix;  // "node K: " on a node of several; "" on a guest of one node
};

int run_vm(const RunArgs& args, VmRun run) {
  const auto& d = run.config.description;
  const bool io_node = d.io_node() == run.config.id;
  if (!args.stats_json.empty() && !std::ofstream(args.stats_json, std::ios::app)) {
    return fail(fmt::format("--stats-json: cannot create '{}': {}", args.stats_json,
                            std::strerror(errno)));
  }
  // Served from before the node joins the cluster, which can take long: it answers "booting".
  auto server = control::bind_if_given(args.control);
  if (!server) return fail(server.error().message());
  NodeControl control(run.config.id, d.nodes[run.config.id].roles.names());
  const control::ServingScope serving(server->get(), control);
  if (auto s = NodeVm::check_inputs(run.config); !s) {
    return fail(run.error_prefix + s.error().message());
  }
  auto vm = NodeVm::create(std::move(run.config));
  if (!vm) {
    // Not the input's fault: no usable /dev/kvm, a node that did not join, a failed ioctl.
    std::fprintf(stderr, "heca: %scould not build the VM: %s\n", run.error_prefix.c_str(),
                 vm.error().message().c_str());
    return kExitVmFailure;
  }
  const auto attached = control.attach(**vm);  // INVARIANT: detached before the NodeVm goes
  VmOutcome outcome = (*vm)->run();
  if (run.litmus && io_node && outcome.exit_code == 0) outcome.exit_code = judge(*run.litmus, **vm);
  if (!outcome.message.empty()) std::fprintf(stderr, "heca: %s\n", outcome.message.c_str());
  if (args.stats) {
    for (const auto& line : (*vm)->stats_lines()) std::fprintf(stderr, "heca: %s\n", line.c_str());
  }
  int code = outcome.exit_code;
  // A guest that ended normally may still have pages another node reads (the litmus verdict);
  // one that was stopped needs none, and a wedged node must not hold the others back long.
  const auto timeout = outcome.message.empty() ? kLeaveTimeout : kStoppedLeaveTimeout;
  if (auto s = (*vm)->leave(timeout); !s) {
    std::fprintf(stderr, "heca: leaving the cluster: %s\n", s.error().message().c_str());
    if (code == 0) code = kExitVmFailure;
  }
  // After leave(): the snapshot taken as the node left, what --stats printed.
  if (auto s = write_stats_json(args.stats_json, **vm); !s) {
    std::fprintf(stderr, "heca: --stats-json: %s\n", s.error().message().c_str());
    if (code == 0) code = kExitVmFailure;
  }
  if ((*vm)->threads_stuck()) {
    // A vCPU thread still waits in the host kernel for a page no node will serve: only the
    // process's exit takes it out, and NodeVm's destructor would wait for it forever.
    server->reset();  // removes the socket file, which _Exit would leave behind
    std::fflush(nullptr);
    std::_Exit(code);
  }
  return code;
}

// `heca run --guest|--kernel`: the description of a guest of one node with every role, made
// from the options (sizes checked here, so they need no /dev/kvm).
Result<cluster::GuestDescription> one_node_description(const RunArgs& args) {
  if (args.guest.empty() == args.kernel.empty()) {
    return make_error("give exactly one of --guest and --kernel");
  }
  if (!args.initrd.empty() && args.kernel.empty()) return make_error("--initrd needs --kernel");
  auto memory = heca::parse_size(args.memory);
  if (!memory) return std::unexpected(memory.error());
  if (args.timeout_s < 0) return make_error("--timeout must not be negative");
  if (args.progress_s != 0) {
    return make_error("--progress needs a guest description (heca run GUEST.toml)");
  }
  if (args.vcpus == 0) return make_error("--vcpus must be at least 1");
  if (*memory == 0) return make_error("--memory must not be 0");
  if (*memory % cluster::kGuestPageSize != 0) {
    return make_error(fmt::format("--memory {} is not a multiple of the {}-byte page", *memory,
                                  cluster::kGuestPageSize));
  }
  auto d = one_node_guest(args.vcpus, *memory);
  d.kind = args.kernel.empty() ? cluster::GuestKind::kTest : cluster::GuestKind::kLinux;
  d.cmdline = args.cmdline;
  d.kernel = args.kernel;
  d.initrd = args.initrd;
  return d;
}

Result<GuestImage> one_node_image(const RunArgs& args, ImageFiles& files) {
  if (args.guest == "test") return builtin_test_guest();
  if (!args.guest.empty()) return load_flat_image(args.guest, files);
  return load_linux_image(args.kernel, args.initrd, files);
}

}  // namespace

int run_one_node(const RunArgs& args) {
  // stdout carries only the guest's console; logs go to stderr.
  log::init(-1);
  auto d = one_node_description(args);
  if (!d) return fail(d.error().message());
  ImageFiles files;
  auto image = one_node_image(args, files);
  if (!image) return fail(image.error().message());
  if (!args.litmus.empty() && args.guest != "test") return fail("--litmus needs --guest test");
  std::vector<firmware::GuestWrite> extra_writes;
  auto litmus = prepare_litmus(args, *d, extra_writes);
  if (!litmus) return fail(litmus.error().message());
  return run_vm(args, {.config = {.description = std::move(*d),
                                  .id = 0,
                                  .image = std::move(*image),
                                  .extra_writes = std::move(extra_writes),
                                  .key = {},
                                  .append_tsc_khz = !args.guest.empty(),
                                  .start = args.start,
                                  .timeout = std::chrono::duration<double>(args.timeout_s),
                                  .progress = {}},
                       .litmus = std::move(*litmus),
                       .error_prefix = {}});
}

int run_node(const RunArgs& args) {
  // stdout carries only the guest's console (on the I/O node); logs go to stderr.
  log::init(-1);
  auto d = cluster::load_guest_description(args.config);
  if (!d) return fail(d.error().message());
  ImageFiles files;
  auto image = guest_image(*d, files);
  if (!image) return fail(image.error().message());
  const bool test_guest = d->kind == cluster::GuestKind::kTest;
  std::vector<firmware::GuestWrite> extra_writes;
  auto litmus = prepare_litmus(args, *d, extra_writes);
  if (!litmus) return fail(litmus.error().message());
  if (auto s = check_node_id(*d, args.id); !s) return fail(s.error().message());
  if (d->key_file.empty()) {
    return fail(fmt::format(
        "{}: [transport] names no key_file: every node must hold the cluster's key (heca run "
        "makes one; for heca node: (umask 077; openssl rand -hex 32 > cluster.key))",
        args.config));
  }
  auto key = coherence::load_cluster_key(d->key_file);
  if (!key) return fail(key.error().message());
  return run_vm(args, {.config = {.description = std::move(*d),
                                  .id = args.id,
                                  .image = std::move(*image),
                                  .extra_writes = std::move(extra_writes),
                                  .key = *key,
                                  .append_tsc_khz = test_guest,
                                  .start = args.start,
                                  .timeout = std::chrono::duration<double>(args.timeout_s),
                                  .progress = std::chrono::duration<double>(args.progress_s)},
                       .litmus = std::move(*litmus),
                       .error_prefix = fmt::format("node {}: ", args.id)});
}

// A fresh cluster key for one `heca run`, in a private directory; both go when it ends.
class RunKey {
 public:
  static Result<RunKey> create() {
    std::string dir = "/tmp/heca-key-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) {
      return errno_error("creating a directory for the cluster key");
    }
    RunKey key(dir);
    if (auto s = coherence::write_new_cluster_key(key.path()); !s) {
      return std::unexpected(s.error());
    }
    return key;
  }
  RunKey(RunKey&& other) noexcept : dir_(std::exchange(other.dir_, {})) {}
  RunKey& operator=(RunKey&&) = delete;
  ~RunKey() {
    if (dir_.empty()) return;
    ::unlink(path().c_str());
    ::rmdir(dir_.c_str());
  }
  [[nodiscard]] std::string path() const { return dir_ + "/cluster.key"; }

 private:
  explicit RunKey(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

int run_cluster(const RunArgs& args) {
  auto d = cluster::load_guest_description(args.config);
  if (!d) return fail(d.error().message());
  auto sockets = node_sockets(args.control, *d);
  if (!sockets) return fail(sockets.error().message());
  auto server = control::bind_if_given(args.control);
  if (!server) return fail(server.error().message());
  std::optional<RunKey> run_key;
  if (d->key_file.empty()) {
    auto key = RunKey::create();
    if (!key) return fail(key.error().message());
    run_key.emplace(std::move(*key));
    d->key_file = run_key->path();
  }
  std::optional<cluster::NetnsCluster> net;
  if (auto n = cluster::NetnsCluster::create(d->nodes.size()); n) {
    net.emplace(std::move(*n));
  } else {
    std::fprintf(stderr, "heca: no network namespaces (%s); nodes use loopback\n",
                 n.error().message().c_str());
  }
  cluster::fill_default_addresses(
      *d, net ? cluster::AddressMode::kNamespaces : cluster::AddressMode::kLoopback);
  for (auto& socket : *sockets) socket.address = d->nodes[socket.node].address;
  ClusterControl control(*sockets);
  const control::ServingScope serving(server->get(), control);
  auto path = write_temp_description(*d);
  if (!path) return fail(path.error().message());
  std::vector<std::string> names;
  for (std::size_t i = 0; net && i < net->size(); ++i) names.push_back(net->namespace_name(i));
  std::vector<std::string> extra;
  if (args.timeout_s > 0) extra = {"--timeout", fmt::format("{}", args.timeout_s)};
  if (args.stats) extra.push_back("--stats");
  if (args.progress_s > 0) {
    extra.push_back("--progress");
    extra.push_back(fmt::format("{}", args.progress_s));
  }
  if (!args.litmus.empty()) {
    for (const auto& litmus : args.litmus) {
      extra.push_back("--litmus");
      extra.push_back(std::filesystem::absolute(litmus).string());
    }
    extra.push_back("--iterations");
    extra.push_back(std::to_string(args.iterations));
    extra.push_back("--litmus-model");
    extra.push_back(args.litmus_model);
  }
  auto nodes = cluster::plan_node_processes(*d, {.heca_binary = self_binary(),
                                                 .config_path = *path,
                                                 .extra_args = extra,
                                                 .namespaces = names});
  for (const auto& socket : *sockets) {
    nodes[socket.node].argv.insert(nodes[socket.node].argv.end(), {"--control", socket.path});
  }
  if (!args.stats_json.empty()) {
    for (const auto& node : d->nodes) {
      nodes[node.id].argv.insert(nodes[node.id].argv.end(),
                                 {"--stats-json", fmt::format("{}.node{}", args.stats_json, node.id)});
    }
  }
  auto supervisor = cluster::NodeSupervisor::start(
      std::move(nodes), {.result_node = d->io_node(),
                         .guest_stop_codes = {kExitGuestCrashed, kExitTimeout,
                                              kExitStoppedByControl}});
  if (!supervisor) {
    ::unlink(path->c_str());
    return fail(supervisor.error().message());
  }
  cluster::ClusterOutcome outcome;
  {
    const auto attached = control.attach(*supervisor);
    outcome = supervisor->wait();
  }
  ::unlink(path->c_str());
  remove_stale_node_sockets(*sockets);
  if (!outcome.lost.empty()) std::fprintf(stderr, "heca: %s\n", outcome.lost.c_str());
  return outcome.exit_code;
}

}  // namespace heca::vmm::node
