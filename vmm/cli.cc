#include "vmm/cli.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <vector>

#include "firmware/litmus/session.h"
#include "kernel/base/size.h"
#include "vmm/control/control_server.h"
#include "vmm/control/ctl_command.h"
#include "vmm/machine.h"

#ifdef HECA_HAVE_TEST_GUEST
#include "firmware/testguest/image.h"
#endif

namespace heca::vmm {
namespace {

struct RunOptions {
  std::string guest;
  std::string kernel;
  std::string initrd;
  std::string cmdline;
  std::uint32_t vcpus = 1;
  std::string memory = "256M";
  double timeout_s = 0;
  bool stats = false;
  double progress_s = 0;  // with a guest description: every node's progress line, this often
  std::string litmus;     // a .litmus file: run it on the test guest instead of its workloads
  std::uint64_t iterations = 1000;
  std::string litmus_model = "tso";
  std::string control;  // a control socket's path, or empty
};

// The guest image bytes; kept alive for as long as the Machine uses spans into them.
struct LoadedImages {
  std::vector<std::uint8_t> primary;
  std::vector<std::uint8_t> initrd;
};

int fail(const std::string& message) {
  std::fprintf(stderr, "heca: error: %s\n", message.c_str());
  return kExitUsage;
}

Result<std::vector<std::uint8_t>> read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errno_error(fmt::format("cannot open {} file '{}'", what, path));
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  if (in.bad()) return errno_error(fmt::format("cannot read {} file '{}'", what, path));
  return bytes;
}

Result<GuestImage> load_flat_guest(const RunOptions& options, LoadedImages& images) {
  if (options.guest == "test") {
#ifdef HECA_HAVE_TEST_GUEST
    return firmware::FlatImage{.image = firmware::test_guest_image()};
#else
    return make_error("this heca was built without the embedded test guest");
#endif
  }
  auto bytes = read_file(options.guest, "guest image");
  if (!bytes) return std::unexpected(bytes.error());
  if (bytes->empty()) return make_error(fmt::format("guest image '{}' is empty", options.guest));
  images.primary = std::move(*bytes);
  return firmware::FlatImage{.image = images.primary};
}

Result<GuestImage> load_linux(const RunOptions& options, LoadedImages& images) {
  auto kernel = read_file(options.kernel, "kernel");
  if (!kernel) return std::unexpected(kernel.error());
  images.primary = std::move(*kernel);
  if (!options.initrd.empty()) {
    auto initrd = read_file(options.initrd, "initrd");
    if (!initrd) return std::unexpected(initrd.error());
    images.initrd = std::move(*initrd);
  }
  return firmware::LinuxImage{.bzimage = images.primary, .initrd = images.initrd};
}

Result<MachineConfig> make_config(const RunOptions& options, LoadedImages& images) {
  if (options.guest.empty() == options.kernel.empty()) {
    return make_error("give exactly one of --guest and --kernel");
  }
  if (!options.initrd.empty() && options.kernel.empty()) {
    return make_error("--initrd needs --kernel");
  }
  auto memory = heca::parse_size(options.memory);
  if (!memory) return std::unexpected(memory.error());
  if (options.timeout_s < 0) return make_error("--timeout must not be negative");
  if (options.progress_s != 0)
    return make_error("--progress needs a guest description (heca run GUEST.toml)");
  const bool flat = !options.guest.empty();
  auto image = flat ? load_flat_guest(options, images) : load_linux(options, images);
  if (!image) return std::unexpected(image.error());
  return MachineConfig{.vcpu_count = options.vcpus,
                       .memory_bytes = *memory,
                       .cmdline = options.cmdline,
                       .image = std::move(*image),
                       .append_tsc_khz = flat,
                       .start = {},
                       .timeout = std::chrono::duration<double>(options.timeout_s)};
}

// --litmus: the test, its allowed set and its blob, which the guest finds via its cmdline.
Result<firmware::litmus::LitmusSetup> add_litmus(const RunOptions& options, MachineConfig& config) {
  if (options.guest != "test") return make_error("--litmus needs --guest test");
  const std::vector<std::uint32_t> one_node(options.vcpus, 0);
  auto setup = firmware::litmus::prepare_litmus_named(options.litmus, options.iterations,
                                                      options.litmus_model, one_node);
  if (!setup) return std::unexpected(setup.error());
  config.cmdline += setup->cmdline_key;
  config.extra_writes.push_back({.gpa = setup->blob.gpa, .bytes = setup->blob.bytes});
  return setup;
}

// After a clean guest exit: the histogram beside the allowed set on stdout, and its verdict.
int litmus_exit(const firmware::litmus::LitmusSetup& setup, const Machine& machine) {
  auto memory = machine.read_guest(setup.blob.gpa, setup.blob.bytes.size());
  if (!memory) return fail(memory.error().message());
  auto exit_code = firmware::litmus::report_litmus(setup, *memory);
  if (!exit_code) return fail(exit_code.error().message());
  return *exit_code;
}

int run_machine(const RunOptions& options, std::chrono::steady_clock::time_point start) {
  LoadedImages images;
  auto config = make_config(options, images);
  if (!config) return fail(config.error().message());
  config->start = start;
  std::optional<firmware::litmus::LitmusSetup> litmus;
  if (!options.litmus.empty()) {
    auto setup = add_litmus(options, *config);
    if (!setup) return fail(setup.error().message());
    litmus = std::move(*setup);
  }
  // Bound before the VM is built, so a bad path is an input error like the others.
  auto server = control::bind_if_given(options.control);
  if (!server) return fail(server.error().message());
  auto machine = Machine::create(*config);
  if (!machine) return fail(machine.error().message());
  // INVARIANT: stops serving before the machine is destroyed (the server's thread calls it).
  const control::ServingScope serving(server->get(), **machine);
  const VmOutcome outcome = (*machine)->run();
  if (options.stats) {
    for (const auto& line : stats_lines((*machine)->stats_report()))
      std::fprintf(stderr, "heca: %s\n", line.c_str());
  }
  if (!outcome.message.empty()) std::fprintf(stderr, "heca: %s\n", outcome.message.c_str());
  if (litmus && outcome.exit_code == 0) return litmus_exit(*litmus, **machine);
  return outcome.exit_code;
}

void add_run_options(CLI::App& run, RunOptions& options) {
  run.add_option("--guest", options.guest,
                 "Flat 64-bit guest: 'test' for the built-in SMP test guest, or an image file");
  run.add_option("--kernel", options.kernel, "Linux bzImage to boot");
  run.add_option("--initrd", options.initrd, "Initial ramdisk for --kernel");
  run.add_option("--cmdline", options.cmdline, "Guest kernel command line");
  run.add_option("--vcpus", options.vcpus, "Number of vCPUs")->capture_default_str();
  run.add_option("--memory", options.memory, "Guest RAM, e.g. 256M, 1G, 4096K or bytes")
      ->capture_default_str();
  run.add_option("--timeout", options.timeout_s,
                 "Stop the guest after SECONDS (exit 124); 0: never")
      ->capture_default_str();
  run.add_flag("--stats", options.stats, "Print per-vCPU exit counters at exit");
  run.add_option("--progress", options.progress_s,
                 "With a guest description: every node prints a progress line every SECONDS")
      ->check(CLI::NonNegativeNumber);
  run.add_option(
      "--litmus", options.litmus,
      "Run this x86 .litmus test on the test guest; exit 1 if a forbidden outcome is seen");
  run.add_option("--iterations", options.iterations, "Iterations of the --litmus test")
      ->capture_default_str();
  run.add_option(
         "--litmus-model", options.litmus_model,
         "Model that decides the allowed outcomes: tso, or sc (too strict; for testing heca)")
      ->capture_default_str();
  run.add_option("--control", options.control,
                 "Serve a control socket at PATH (heca ctl PATH status|stats|pause|resume|stop); "
                 "with a guest description node K serves PATH.nodeK");
}

void add_node_options(CLI::App& node, ClusterArgs& args) {
  node.add_option("--config", args.config, "Guest description (TOML) shared by every node")
      ->required();
  node.add_option("--id", args.id, "This node's id in the description")->required();
  node.add_option("--timeout", args.timeout_s, "Stop the guest after SECONDS (exit 124); 0: never")
      ->capture_default_str();
  node.add_flag("--stats", args.stats, "Print this node's counters at exit");
  node.add_option("--progress", args.progress_s,
                  "Print a progress line (guest time, page faults, pages received) every SECONDS; "
                  "0: never")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  node.add_option("--litmus", args.litmus, "Run this x86 .litmus test on the test guest");
  node.add_option("--iterations", args.iterations, "Iterations of the --litmus test");
  node.add_option("--litmus-model", args.litmus_model, "tso or sc");
  node.add_option("--control", args.control,
                  "Serve this node's control socket at PATH (heca ctl PATH status)");
}

void add_ctl_options(CLI::App& ctl, control::CtlArgs& args, double& watch_s) {
  std::vector<std::string> commands;
  for (const auto name : control::command_names()) commands.emplace_back(name);
  ctl.add_option("socket", args.socket, "The control socket (--control PATH of heca run/node)")
      ->required();
  ctl.add_option("command", args.command, "status, stats, pause, resume, stop or commands")
      ->required()
      ->check(CLI::IsMember(commands));
  ctl.add_flag("--json", args.json, "Print the raw JSON reply");
  ctl.add_option("--watch", watch_s, "Repeat every SECONDS (default 2) until interrupted")
      ->expected(0, 1)
      ->default_str("2");
}

// `heca demo ARGS`: the virtual-cluster demo of the source tree, run with this heca binary.
int run_demo(const std::vector<std::string>& args) {
  const std::string script = HECA_DEMO_SCRIPT;
  if (::access(script.c_str(), X_OK) != 0) {
    return fail(fmt::format("heca demo runs {}, which is not there or not executable: {}", script,
                            std::strerror(errno)));
  }
  std::string self(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n > 0) {
    self.resize(static_cast<std::size_t>(n));
    ::setenv("HECA_BINARY", self.c_str(), 1);
  }
  ::setenv("HECA_ERROR_PREFIX", "heca: error: ", 1);
  std::vector<char*> argv{const_cast<char*>(script.c_str())};
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ::execv(script.c_str(), argv.data());
  return fail(fmt::format("cannot run {}: {}", script, std::strerror(errno)));
}

}  // namespace

int run_cli(int argc, char** argv) {
  return run_cli(argc, argv, {});
}

int run_cli(int argc, char** argv, const ClusterCommands& cluster) {
  const auto start = std::chrono::steady_clock::now();
  // A closed console pipe must not kill the VM; the UART sink sees EPIPE instead.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"heca: one x86-64 guest VM whose vCPUs may span several KVM hosts", "heca"};
  app.require_subcommand(1);
  RunOptions options;
  CLI::App* run =
      app.add_subcommand("run", "Boot a guest on this host, or a cluster from GUEST.toml");
  add_run_options(*run, options);
  ClusterArgs cluster_args;
  run->add_option("description", cluster_args.config,
                  "Guest description (TOML): run every node of it on this machine");
  CLI::App* node = nullptr;
  if (cluster.node) {
    node = app.add_subcommand("node", "Run one node of a multi-node guest");
    add_node_options(*node, cluster_args);
  }
  CLI::App* demo = app.add_subcommand(
      "demo",
      "Boot one Linux guest across a virtual cluster of QEMU hosts, one heca node each "
      "(options: heca demo --help)");
  demo->prefix_command();
  demo->set_help_flag();  // `heca demo --help` is the demo's own help
  CLI::App* ctl = app.add_subcommand(
      "ctl", "Send one command to a running heca's control socket (--control PATH)");
  control::CtlArgs ctl_args;
  double watch_s = 0;
  add_ctl_options(*ctl, ctl_args, watch_s);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(e.what());
  }
  cluster_args.start = start;
  if (demo->parsed()) return run_demo(demo->remaining());
  if (ctl->parsed()) {
    if (ctl->count("--watch") > 0) ctl_args.watch_s = watch_s;
    return control::run_ctl(ctl_args);
  }
  if (node != nullptr && node->parsed()) return cluster.node(cluster_args);
  if (!cluster_args.config.empty()) {
    if (!cluster.run_cluster) return fail("this heca cannot run a guest description");
    cluster_args.timeout_s = options.timeout_s;
    cluster_args.stats = options.stats;
    cluster_args.progress_s = options.progress_s;
    cluster_args.litmus = options.litmus;
    cluster_args.iterations = options.iterations;
    cluster_args.litmus_model = options.litmus_model;
    cluster_args.control = options.control;
    return cluster.run_cluster(cluster_args);
  }
  return run_machine(options, start);
}

}  // namespace heca::vmm
