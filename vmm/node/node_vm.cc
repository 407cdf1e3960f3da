#include "vmm/node/node_vm.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "firmware/ap_wakeup.h"
#include "kernel/base/log.h"
#include "kernel/uffd.h"
#include "vmm/guest_memory.h"
#include "vmm/pc_vm.h"
#include "vmm/node/guest_clock.h"
#include "vmm/node/ioapic_window.h"
#include "vmm/proxy/interrupt_inject.h"
#include "vmm/vcpu_boot.h"

namespace heca::vmm::node {
namespace {

// A TSC rate no host reaches (kHz, ten digits): the dry-run plan's command line is never
// shorter than the real one.
constexpr std::uint64_t kMaxTscKhz = 4'294'967'295;

std::vector<coherence::PeerAddress> peer_addresses(const cluster::GuestDescription& d,
                                                   std::uint16_t offset) {
  std::vector<coherence::PeerAddress> peers;
  for (const auto& n : d.nodes) {
    peers.push_back({static_cast<NodeId>(n.id), n.address,
                     static_cast<std::uint16_t>(d.base_port + offset + n.id)});
  }
  return peers;
}

std::vector<coherence::HomeRange> home_ranges(const cluster::GuestDescription& d) {
  std::vector<coherence::HomeRange> ranges;
  for (const auto& h : d.home_assignments()) {
    ranges.push_back({h.range.start / coherence::kPageSize, h.range.size / coherence::kPageSize,
                      static_cast<NodeId>(h.node)});
  }
  return ranges;
}

// More than one node runs vCPUs of the guest.
bool vcpus_span_nodes(const cluster::GuestDescription& d) {
  return std::count_if(d.nodes.begin(), d.nodes.end(),
                       [](const auto& node) { return !node.vcpus.empty(); }) > 1;
}

// Guests whose vCPUs span nodes start their APs through the ACPI wakeup mailbox, test guest
// included: an INIT-SIPI-SIPI sent to another node's AP lands in its proxy here, and a SIPI
// that reaches the proxy inside KVM_RUN before its kick starts the guest's trampoline on this
// node (measured on the virtual cluster: proxy 3 of node 0 ran the test guest's trampoline,
// took an AP slot, and the real AP of that slot, finding no page tables, triple-faulted).
firmware::ApStartup ap_startup(bool vcpus_span_nodes) {
  return vcpus_span_nodes ? firmware::ApStartup::kWakeupMailbox : firmware::ApStartup::kByImage;
}

}  // namespace

std::vector<NumaNodeSpec> numa_nodes_of(const cluster::GuestDescription& description) {
  if (description.nodes.size() < 2) return {};
  std::vector<NumaNodeSpec> nodes(description.nodes.size());
  for (const auto& node : description.nodes) nodes[node.id].vcpus = node.vcpus;
  for (const auto& home : description.home_assignments()) {
    nodes[home.node].ram.push_back({.offset = home.range.start, .size = home.range.size});
  }
  return nodes;
}

cluster::GuestDescription one_node_guest(std::uint32_t vcpus, std::uint64_t memory_bytes) {
  cluster::NodeDescription node{.id = 0, .roles = {.compute = true, .memory = true, .io = true}};
  for (std::uint32_t i = 0; i < vcpus; ++i) node.vcpus.push_back(i);
  node.home = {{.start = 0, .size = memory_bytes}};
  return {.source = "heca run options", .memory_bytes = memory_bytes, .nodes = {std::move(node)}};
}

NodeVm::NodeVm(NodeVmConfig config) : config_(std::move(config)) {}

NodeVm::~NodeVm() {
  // A thread that did not stop in run() is left to the process's exit (run_node).
  if (!threads_stuck_) (void)stop_vcpus(kStopGrace);
  if (links_) links_->shut_down();
}

Status check_node_id(const cluster::GuestDescription& description, std::uint32_t id) {
  if (id < description.nodes.size()) return {};
  return make_error(fmt::format("--id {}: the guest description has nodes 0..{}", id,
                                description.nodes.size() - 1));
}

Result<std::unique_ptr<NodeVm>> NodeVm::create(NodeVmConfig config) {
  if (auto s = check_inputs(config); !s) return std::unexpected(s.error());
  std::unique_ptr<NodeVm> vm(new NodeVm(std::move(config)));
  if (auto s = vm->build(); !s) return std::unexpected(s.error());
  return vm;
}

// Input errors come first, in the order a user would fix them; a missing /dev/kvm comes later.
Status NodeVm::check_inputs(const NodeVmConfig& config) {
  if (auto s = check_node_id(config.description, config.id); !s) return s;
  const auto& d = config.description;
  if (auto kvm = KvmSystem::open(); kvm) {
    const int max_vcpus = kvm->max_vcpus();
    if (d.vcpu_count() > static_cast<std::uint32_t>(max_vcpus)) {
      return make_error(fmt::format("{} vCPUs (--vcpus, or the description's [[node]] vcpus) "
                                    "are more than this host's KVM allows ({})",
                                    d.vcpu_count(), max_vcpus));
    }
  }
  // The longest clock suffix the real plan can get, so the dry run fails exactly like it.
  auto plan = plan_boot(config, kMaxTscKhz);
  if (!plan) return std::unexpected(plan.error());
  return {};
}

// The boot plan over this guest's RAM layout, with the clock the guest is told of (vCPU 0's
// TSC rate `host_tsc_khz`) on its command line.
Result<firmware::BootPlan> NodeVm::plan_boot(const NodeVmConfig& config,
                                             std::uint64_t host_tsc_khz) {
  const auto& d = config.description;
  const bool span = vcpus_span_nodes(d);
  return plan_guest_boot(
      {.ram = firmware::pc_ram_layout(d.memory_bytes),
       .vcpu_count = d.vcpu_count(),
       .cmdline = d.cmdline + clock_cmdline(d, config.append_tsc_khz, span, host_tsc_khz),
       .image = config.image,
       .extra_writes = config.extra_writes,
       .numa = numa_nodes_of(d),
       .ap_startup = ap_startup(span)});
}

Status NodeVm::build() {
  install_kick_signal_handler();
  auto kvm = KvmSystem::open();
  if (!kvm) return std::unexpected(kvm.error());
  kvm_.emplace(std::move(*kvm));
  auto vm = create_pc_vm(*kvm_);
  if (!vm) return std::unexpected(vm.error());
  vm_.emplace(std::move(*vm));
  if (auto s = join_memory(); !s) return s;
  if (auto s = register_ram(); !s) return s;
  if (auto s = connect_links(); !s) return s;
  if (auto s = measure_tsc(); !s) return s;
  return create_vcpus();
}

Status NodeVm::join_memory() {
  const auto& d = config_.description;
  if (solo()) {
    auto ram = GuestMemory::create(d.memory_bytes);
    if (!ram) return std::unexpected(ram.error());
    local_ram_.emplace(std::move(*ram));
    return {};
  }
  auto memory = coherence::ClusterMemory::join(
      {.self = static_cast<NodeId>(config_.id),
       .peers = peer_addresses(d, 0),
       .region_size = d.memory_bytes,
       .homing = coherence::Homing::kExplicit,
       .home_ranges = home_ranges(d),
       // How long a node keeps a page it was just granted before giving it up: about as long
       // as a transfer takes (this node's moving average), within the description's bounds.
       // Longer holds trade a later hand-over for more work per transfer.
       .min_hold = std::chrono::microseconds(d.min_hold_us),
       .max_hold = std::chrono::microseconds(d.max_hold_us),
       .home_starts_owner = true,
       // Where a read-only page is mapped in two steps, a second vCPU of this node could
       // write it in between (the node would then stop the guest): take pages whole.
       .reads_take_ownership =
           !kernel::Uffd::one_step_read_only() && d.nodes[config_.id].vcpus.size() > 1,
       .connect_timeout = std::chrono::milliseconds(15000),
       .key = config_.key,
       // A lost memory peer or a broken protocol ends the guest through the one stop path.
       .on_fatal = [this](const std::string& why) {
         stop_guest({kExitVmFailure, "memory: " + why});
       }});
  if (!memory) return wrap_error(memory.error(), "joining the memory cluster");
  memory_ = std::move(*memory);
  return {};
}

// pc_ram_layout() ranges map onto consecutive offsets of the coherent region's guest view.
Status NodeVm::register_ram() {
  ram_ = firmware::pc_ram_layout(config_.description.memory_bytes);
  if (local_ram_) return local_ram_->register_slots(*vm_);
  std::uint64_t offset = 0;
  for (std::uint32_t slot = 0; slot < ram_.size(); ++slot) {
    if (auto s =
            vm_->set_memory_region(slot, ram_[slot].gpa, ram_[slot].size, memory_->data() + offset);
        !s) {
      return s;
    }
    offset += ram_[slot].size;
  }
  auto firmware = proxy::ProxyFirmware::create(*vm_, static_cast<std::uint32_t>(ram_.size()),
                                               config_.description.vcpu_count());
  if (!firmware) return wrap_error(firmware.error(), "building the proxy firmware");
  proxy_firmware_.emplace(std::move(*firmware));
  return {};
}

Status NodeVm::connect_links() {
  const auto& d = config_.description;
  const bool io_node = d.io_node() == config_.id;
  const IoapicAccess ioapic{
      .get = [this] { return vm_->get_ioapic(); },
      .set = [this](const kvm_ioapic_state& s) { return vm_->set_ioapic(s); }};
  if (io_node) {
    // Other nodes' vCPUs program this node's IOAPIC, where the devices' interrupts arrive.
    auto window = std::make_shared<IoapicWindow>(ioapic);
    if (auto s = bus_.add(io::AddressSpace::kMmio, kIoapicBase, kIoapicWindowSize, window); !s) {
      return s;
    }
  } else if (auto s = relocate_ioapic_away(ioapic); !s) {
    return wrap_error(s.error(), "moving this node's IOAPIC aside");
  }
  if (io_node) {
    auto s = add_io_devices(
        bus_, *vm_,
        [this](std::uint32_t code) {
          if (links_) links_->broadcast_guest_exit(code);
          finish({static_cast<int>(std::min<std::uint32_t>(code, 255)), {}});
        },
        [this](std::uint32_t event) {
          const std::chrono::duration<double, std::milli> at =
              std::chrono::steady_clock::now() - config_.start;
          std::fprintf(stderr, "heca: event %u at %.3f ms\n", event, at.count());
        });
    if (!s) return s;
  }
  if (solo()) return {};
  auto links = NodeLinks::connect(
      {.self = static_cast<NodeId>(config_.id),
       .io_node = static_cast<NodeId>(d.io_node()),
       .peers = peer_addresses(d, cluster::kLinkPortOffset),
       .bus = &bus_,
       .key = config_.key,
       // The guest's result is the I/O node's exit code. A compute node that stops because the
       // guest ended exits 0: with the guest's code, a non-zero result seen at a compute node
       // first looked to the supervisor like a lost node.
       .on_guest_exit =
           [this](std::uint32_t /*code*/) {
             finish({0, {}});
           },
       .on_ipi = [this](IpiKind kind, std::uint32_t apic,
                        std::uint8_t v) { on_ipi(kind, apic, v); },
       .on_link_failed =
           [this](const std::string& why) {
             finish({kExitVmFailure, why});
           },
       .on_guest_stop =
           [this](NodeId from, std::uint32_t code) {
             finish({static_cast<int>(code),
                     fmt::format("stopped: the guest stopped on node {}", from)});
           }});
  if (!links) return std::unexpected(links.error());
  links_ = std::move(*links);
  if (!io_node) {
    ops_.set_forwarder(
        {.read =
             [this](io::AddressSpace space, std::uint64_t addr, std::span<std::uint8_t> data) {
               return links_->forward_read(space, addr, data);
             },
         .write =
             [this](io::AddressSpace space, std::uint64_t addr,
                    std::span<const std::uint8_t> data) {
               return links_->forward_write(space, addr, data);
             }});
  }
  return {};
}

Status NodeVm::create_vcpus() {
  const auto& d = config_.description;
  const std::uint32_t count = d.vcpu_count();
  const bool span = vcpus_span_nodes(d);
  auto cpuid = kvm_->supported_cpuid();
  if (!cpuid) return std::unexpected(cpuid.error());
  std::vector<VcpuFd> fds;
  for (std::uint32_t i = 0; i < count; ++i) {
    auto fd = vm_->create_vcpu(i);
    if (!fd) return std::unexpected(fd.error());
    fds.push_back(std::move(*fd));
  }
  auto khz = fds[0].tsc_khz();
  if (!khz) return std::unexpected(khz.error());
  const bool tsc_deadline = kvm_->check_extension(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
  auto plan = plan_boot(config_, *khz);
  if (!plan) return std::unexpected(plan.error());
  plan_.emplace(std::move(*plan));
  if (plan_->ap_entry_rip != 0) {
    park_waker_ = std::make_shared<ApParkWaker>(kApParkRousePeriod);
    if (auto s = bus_.add(io::AddressSpace::kPio, firmware::kApAwakePort, 1, park_waker_); !s) {
      return s;
    }
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    const bool owned = d.node_of_vcpu(i) == config_.id;
    const VcpuBootConfig boot{.index = i,
                              .vcpu_count = count,
                              .supported_cpuid = *cpuid,
                              .proxy = !owned,
                              .vcpus_span_nodes = span,
                              .node = d.node_of_vcpu(i),
                              .node_count = static_cast<std::uint32_t>(d.nodes.size()),
                              .tsc_deadline = tsc_deadline,
                              // Without proxies, the wakeup firmware's own page tables.
                              .ap_park_cr3 =
                                  proxy_firmware_ ? proxy::ProxyFirmware::ap_park_cr3() : 0};
    if (auto s = configure_vcpu(fds[i], boot, *plan_); !s) return s;
    if (!solo()) align_tsc(fds[i], i);
    if (owned) {
      vcpus_.push_back(std::make_unique<Vcpu>(
          i, std::move(fds[i]), ops_, [this](std::uint32_t index, const std::string& why) {
            stop_guest({kExitGuestCrashed, fmt::format("guest crashed on node {}: vCPU {}: {}",
                                                       config_.id, index, why)});
          }));
      if (park_waker_ && i != 0) park_waker_->watch(i, *vcpus_.back());
      continue;
    }
    // APs woken through the ACPI mailbox never get INIT/SIPI, so their proxies need no kicks
    // to notice one (each kick is a KVM_RUN exit, costly under nested virtualisation).
    const proxy::ProxyConfig proxy_config{.apic_id = i,
                                          .slot = i,
                                          .kick_period = plan_->ap_entry_rip != 0
                                                             ? std::chrono::microseconds(0)
                                                             : proxy::ProxyConfig{}.kick_period};
    auto proxy =
        proxy::ProxyVcpu::create(std::move(fds[i]), *proxy_firmware_, proxy_config,
                                 [this](const proxy::ProxyEvent& e) { on_proxy_event(e); });
    if (!proxy) return wrap_error(proxy.error(), fmt::format("parking proxy vCPU {}", i));
    proxies_.push_back(std::move(*proxy));
  }
  return {};
}

// Guest TSCs follow the reference node's host TSC. Each other node measures its host TSC
// against the reference over the node links (best of 16 probes) and offsets its vCPUs by the
// difference, but only when the difference is larger than twice what the probe could tell
// apart: nodes on one host share one TSC, and there an offset of 0 is exact while a measured
// one would only add the probe's error.
Status NodeVm::measure_tsc() {
  if (config_.id == kTscReferenceNode) return {};
  auto tsc = links_->measure_tsc_offset(kTscReferenceNode, 16, std::chrono::seconds(5));
  if (!tsc) return wrap_error(tsc.error(), "measuring this host's TSC against node 0's");
  tsc_ = *tsc;
  const std::uint64_t magnitude = tsc_.offset < 0 ? static_cast<std::uint64_t>(-tsc_.offset)
                                                  : static_cast<std::uint64_t>(tsc_.offset);
  tsc_offset_ = magnitude > 2 * tsc_.uncertainty ? tsc_.offset : 0;
  return {};
}

void NodeVm::align_tsc(VcpuFd& fd, std::uint32_t index) {
  if (auto s = fd.set_tsc_offset(static_cast<std::uint64_t>(tsc_offset_)); !s) {
    tsc_aligned_ = false;
    spdlog::warn("vCPU {}: cannot align the guest TSC: {}", index, s.error().message());
  }
}

bool NodeVm::is_boot_node() const {
  return config_.description.node_of_vcpu(0) == config_.id;
}

// Through the guest view: every page written here is faulted in (write ownership) from its
// home by the protocol, so the other nodes later fetch the boot image from this node.
Status NodeVm::write_boot_plan() {
  if (local_ram_) return load_boot_plan(*local_ram_, *plan_);
  for (const auto& write : plan_->writes) {
    auto offset = ram_offset(ram_, write.gpa, write.bytes.size());
    if (!offset) return wrap_error(offset.error(), "loading the guest");
    std::memcpy(memory_->data() + *offset, write.bytes.data(), write.bytes.size());
  }
  return {};
}

void NodeVm::on_proxy_event(const proxy::ProxyEvent& event) {
  const NodeId owner = static_cast<NodeId>(config_.description.node_of_vcpu(event.apic_id));
  switch (event.kind) {
    case proxy::ProxyEventKind::kInterrupt:
      return links_->send_ipi(owner, IpiKind::kFixed, event.apic_id, event.vector);
    case proxy::ProxyEventKind::kNmi:
      return links_->send_ipi(owner, IpiKind::kNmi, event.apic_id, 0);
    case proxy::ProxyEventKind::kInit:
      return links_->send_ipi(owner, IpiKind::kInit, event.apic_id, 0);
    case proxy::ProxyEventKind::kSipi:
      return links_->send_ipi(owner, IpiKind::kSipi, event.apic_id, event.vector);
    case proxy::ProxyEventKind::kFault:
      spdlog::warn("proxy vCPU {}: {}", event.apic_id, event.what);
      return;
  }
}

void NodeVm::on_ipi(IpiKind kind, std::uint32_t apic_id, std::uint8_t vector) {
  Status s;
  switch (kind) {
    case IpiKind::kFixed:
      s = proxy::inject_fixed_ipi(*vm_, apic_id, vector);
      break;
    case IpiKind::kNmi:
      s = proxy::inject_nmi(*vm_, apic_id);
      break;
    case IpiKind::kInit:
      s = proxy::inject_init(*vm_, apic_id);
      break;
    case IpiKind::kSipi:
      s = proxy::inject_sipi(*vm_, apic_id, vector);
      break;
  }
  if (!s)
    spdlog::warn("injecting a {} interrupt into vCPU {}: {}", ipi_kind_name(kind), apic_id,
                 s.error().message());
}

void NodeVm::finish(VmOutcome outcome) {
  latch_.finish(std::move(outcome));
}

// The guest ends here for a reason the other nodes cannot see (a vCPU of this node crashed,
// this node's timeout ran out): they stop too, instead of waiting on this node's vCPUs.
void NodeVm::stop_guest(VmOutcome outcome) {
  const auto code = static_cast<std::uint32_t>(outcome.exit_code);
  // The memory cluster can fail before the links exist (while joining): nobody to tell yet.
  if (latch_.finish(std::move(outcome)) && links_) links_->broadcast_guest_stop(code);
}

Status NodeVm::stop_vcpus(std::chrono::milliseconds grace) {
  for (auto& vcpu : vcpus_) vcpu->stop();
  for (auto& proxy : proxies_) proxy->stop();
  const auto all_exited = [this] {
    return std::ranges::all_of(vcpus_, [](const auto& v) { return v->has_exited(); }) &&
           std::ranges::all_of(proxies_, [](const auto& p) { return p->has_exited(); });
  };
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!all_exited() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::vector<std::string> stuck;
  for (auto& vcpu : vcpus_) {
    if (vcpu->has_exited())
      vcpu->join();
    else
      stuck.push_back(fmt::format("vCPU {}", vcpu->index()));
  }
  for (auto& proxy : proxies_) {
    if (proxy->has_exited())
      proxy->join();
    else
      stuck.push_back(fmt::format("proxy {}", proxy->apic_id()));
  }
  if (stuck.empty()) return {};
  threads_stuck_ = true;
  return make_error(
      fmt::format("{} still inside KVM_RUN {} ms after the stop (blocked in the "
                  "host kernel on a guest page)",
                  fmt::join(stuck, ", "), grace.count()));
}

VmOutcome NodeVm::run() {
  if (is_boot_node()) {
    if (auto s = write_boot_plan(); !s) return {kExitVmFailure, s.error().message()};
  }
  if (memory_) {
    if (auto s = memory_->barrier(); !s) return {kExitVmFailure, s.error().message()};
  }
  for (auto& proxy : proxies_) proxy->start();
  for (auto& vcpu : vcpus_) vcpu->start();
  if (park_waker_) park_waker_->start();
  started_ = last_progress_ = std::chrono::steady_clock::now();
  vcpus_started_.store(true);
  wait_for_guest();
  if (links_) links_->request_stop("the guest stopped");
  if (park_waker_) park_waker_->stop();
  if (auto s = stop_vcpus(kStopGrace); !s)
    spdlog::error("node {}: {}", config_.id, s.error().message());
  return *latch_.outcome();
}

void NodeVm::wait_for_guest() {
  using Seconds = std::chrono::duration<double>;
  const bool bounded = config_.timeout.count() > 0;
  const bool progress = config_.progress.count() > 0;
  if (!bounded && !progress) return latch_.wait();
  while (true) {
    const Seconds elapsed = std::chrono::steady_clock::now() - started_;
    if (bounded && elapsed >= config_.timeout) {
      stop_guest({kExitTimeout, fmt::format("guest did not finish within {} s; stopped it",
                                            config_.timeout.count())});
      return;
    }
    Seconds step = progress ? config_.progress : config_.timeout;
    if (bounded) step = std::min(step, config_.timeout - elapsed);
    if (latch_.wait_for(step)) return;
    if (progress) std::fprintf(stderr, "heca: %s\n", progress_line().c_str());
  }
}

Status NodeVm::leave(std::chrono::milliseconds timeout) {
  {
    // The memory cluster stops answering below: the control plane gets this snapshot instead.
    const std::lock_guard lock(stats_mu_);
    final_stats_ = gather_stats(true);
  }
  if (!memory_) return {};
  auto s = memory_->leave(timeout);
  links_->shut_down();
  return s;
}

Result<std::span<const std::uint8_t>> NodeVm::read_guest(std::uint64_t gpa,
                                                         std::uint64_t length) const {
  if (local_ram_) return local_ram_->read(gpa, length);
  auto offset = ram_offset(ram_, gpa, length);
  if (!offset) return std::unexpected(offset.error());
  return std::span<const std::uint8_t>(memory_->data() + *offset, length);
}

}  // namespace heca::vmm::node
