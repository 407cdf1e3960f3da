#include "vmm/node/node_vm.h"

#include <fmt/format.h>

#include <chrono>
#include <mutex>

// What NodeVm reports while the guest runs and after (progress lines, stats, status) and the
// control plane's commands on it; the VM's assembly and run are in node_vm.cc.
namespace heca::vmm::node {

std::string NodeVm::progress_line() {
  using Seconds = std::chrono::duration<double>;
  const auto now = std::chrono::steady_clock::now();
  coherence::ProtocolStats mem;
  if (memory_) {
    const std::lock_guard lock(stats_mu_);
    mem = memory_->stats().protocol;
  }
  const std::uint64_t faults = mem.read_faults + mem.write_faults;
  const double since_last = Seconds(now - last_progress_).count();
  const double rate =
      since_last > 0 ? static_cast<double>(faults - faults_at_last_progress_) / since_last : 0;
  faults_at_last_progress_ = faults;
  last_progress_ = now;
  const double elapsed = Seconds(now - started_).count();
  return fmt::format(
      "progress: node {}, {:.0f} s: guest time {:.1f} s, {} page faults ({:.0f}/s), {} pages "
      "received, {} served",
      config_.id, elapsed, elapsed / config_.description.time_dilation, faults, rate,
      mem.grants_received, mem.fetches_served);
}

// Where this node's grants went, by guest-physical page.
std::vector<HotPageReport> NodeVm::hot_pages(std::span<const coherence::HotPage> hot) const {
  std::vector<HotPageReport> pages;
  for (const auto& page : hot) {
    const auto gpa = ram_gpa(ram_, page.page * coherence::kPageSize);
    pages.push_back({.page = page.page,
                     .gpa = gpa ? std::optional<std::uint64_t>(*gpa) : std::nullopt,
                     .grants = page.grants});
  }
  return pages;
}

NodeStatsReport NodeVm::gather_stats(bool with_memory) {
  NodeStatsReport report{.node = config_.id,
                         .tsc = {.aligned = tsc_aligned_,
                                 .vcpu_offset = tsc_offset_,
                                 .host_offset = tsc_.offset,
                                 .uncertainty = tsc_.uncertainty,
                                 .reference_node = kTscReferenceNode},
                         .links = links_ ? links_->stats() : NodeLinksStats{},
                         .unclaimed_io = ops_.unclaimed()};
  for (const auto& vcpu : vcpus_) report.vcpus.push_back(exit_stats_of(*vcpu));
  for (const auto& proxy : proxies_) {
    report.proxies.push_back({.apic_id = proxy->apic_id(), .stats = proxy->stats()});
  }
  if (with_memory && memory_) {
    report.memory = memory_->stats();
    report.hot_pages = hot_pages(report.memory->hot_pages);
  }
  return report;
}

std::vector<std::string> NodeVm::stats_lines() {
  const std::lock_guard lock(stats_mu_);
  return node::stats_lines(final_stats_ ? *final_stats_ : gather_stats(true));
}

NodeStatsReport NodeVm::stats_report() {
  const std::lock_guard lock(stats_mu_);
  if (final_stats_) return *final_stats_;
  return gather_stats(vcpus_started_.load());
}

control::NodeStatus NodeVm::status() const {
  const auto& d = config_.description;
  control::NodeStatus status{.node = config_.id, .roles = d.nodes[config_.id].roles.names()};
  for (const auto& vcpu : vcpus_) {
    status.vcpus.push_back({.index = vcpu->index(),
                            .apic_id = vcpu->index(),  // KVM's vCPU id is the APIC id
                            .state = std::string(vcpu->describe_state())});
  }
  for (const auto& proxy : proxies_) {
    status.proxies.push_back(
        {.apic_id = proxy->apic_id(), .node = d.node_of_vcpu(proxy->apic_id())});
  }
  if (const auto outcome = latch_.outcome()) {
    status.guest = control::GuestState::kStopped;
    status.exit_code = outcome->exit_code;
    status.reason = outcome->message;
  } else if (vcpus_started_.load()) {
    status.guest = paused_.load() ? control::GuestState::kPaused : control::GuestState::kRunning;
  }
  return status;
}

Status NodeVm::pause_vcpus() {
  if (latch_.outcome()) {
    return make_error(fmt::format("node {}: the guest has stopped", config_.id));
  }
  if (!vcpus_started_.load()) {
    return make_error(fmt::format("node {}: the guest's vCPUs have not started yet", config_.id));
  }
  paused_.store(true);
  for (auto& vcpu : vcpus_) vcpu->pause();
  return {};
}

Status NodeVm::resume_vcpus() {
  if (latch_.outcome()) {
    return make_error(fmt::format("node {}: the guest has stopped", config_.id));
  }
  for (auto& vcpu : vcpus_) vcpu->resume();
  paused_.store(false);
  return {};
}

void NodeVm::stop_by_control() {
  stop_guest({kExitStoppedByControl, "stopped by `heca ctl stop`"});
}

}  // namespace heca::vmm::node
