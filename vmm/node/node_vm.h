// NodeVm: where heca assembles a VM, for every command: this process's part of a guest, from
// guest RAM to the vCPUs it runs, the proxies of the others, the I/O plane and clock sync.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "coherence/cluster_memory.h"
#include "io-aggregation/io_bus.h"
#include "kernel/base/result.h"
#include "vmm/ap_park_waker.h"
#include "vmm/bus_vm_ops.h"
#include "vmm/cluster/guest_description.h"
#include "vmm/control/node_status.h"
#include "vmm/exit_codes.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm/kvm_system.h"
#include "vmm/loader.h"
#include "vmm/node/node_links.h"
#include "vmm/node/node_stats.h"
#include "vmm/proxy/proxy_firmware.h"
#include "vmm/proxy/proxy_vcpu.h"
#include "vmm/stop_latch.h"
#include "vmm/vcpu.h"

namespace heca::vmm::node {

// How long run() waits for the vCPU and proxy threads to leave KVM_RUN once the guest stopped.
inline constexpr std::chrono::milliseconds kStopGrace{5000};
// The node whose host TSC every guest TSC follows (see NodeVm::measure_tsc).
inline constexpr std::uint32_t kTscReferenceNode = 0;

struct NodeVmConfig {
  cluster::GuestDescription description;
  std::uint32_t id = 0;
  GuestImage image;
  std::vector<firmware::GuestWrite> extra_writes;  // e.g. a litmus blob
  coherence::ClusterKey key;  // every other node proves it holds this before anything moves
                              // (unused by a guest of one node)
  bool append_tsc_khz = false;                     // test-guest ABI: " tsc_khz=<vCPU 0's TSC kHz>"
  std::chrono::steady_clock::time_point start;
  std::chrono::duration<double> timeout{0};   // 0: wait for the guest forever
  std::chrono::duration<double> progress{0};  // 0: no progress lines while the guest runs
};

// The guest's NUMA layout as the loader takes it: node K of the description is proximity domain
// K, with its vCPUs and its home RAM. Empty for a single-node guest (no SRAT/SLIT).
[[nodiscard]] std::vector<NumaNodeSpec> numa_nodes_of(const cluster::GuestDescription& description);

// A guest of one node with every role: vCPUs 0..vcpus-1 and all of RAM homed on it (the
// guest of `heca run --guest|--kernel`; kind, command line and images are the caller's).
[[nodiscard]] cluster::GuestDescription one_node_guest(std::uint32_t vcpus,
                                                       std::uint64_t memory_bytes);

// An error naming the description's node ids when `id` is not one of them.
[[nodiscard]] Status check_node_id(const cluster::GuestDescription& description, std::uint32_t id);

// The parts, each built in one step of build():
//   guest RAM    one node: plain memfd RAM (GuestMemory); several: coherent RAM (ClusterMemory)
//                as memslots, every access faulting through the protocol;
//   I/O plane    the I/O node's devices on its bus; other nodes forward to it over NodeLinks;
//   clock sync   the TSC offset to node 0's host, measured over NodeLinks;
//   vCPUs        the ones this node runs, the park waker of their APs, and parked proxies of
//                the other nodes' vCPUs, which forward the interrupts they receive.
// A guest of one node (`heca run --guest|--kernel`) has no ClusterMemory, no NodeLinks and no
// proxies: it is the same VM without the parts that talk to other nodes.
//
// THREADS: create(), run(), leave() and stats_lines() on the main thread. Callbacks arrive on
// vCPU, proxy, link and coherence threads; they only finish the latch, inject interrupts or
// forward messages. status(), stats_report(), pause_vcpus(), resume_vcpus() and
// stop_by_control() are for the control server's thread (vmm/node/node_control.h).
// LOCKING: the control plane reads atomics (vcpus_started_, paused_, every vCPU's state and
// counters) and the latch (its own mutex); vcpus_ and proxies_ are fixed once create() returns.
// stats_mu_ serialises every ClusterMemory::stats() call with the snapshot leave() takes before
// the memory cluster stops (afterwards stats come from final_stats_); the control thread asks
// the memory cluster only once the start barrier has passed (vcpus_started_).
class NodeVm {
 public:
  // The input errors of `config`, before any node is reached (exit 2 for the commands): more
  // vCPUs than this host's KVM allows, and a dry run of the boot plan (a guest that cannot
  // fit its RAM: image, initrd, command line, tables).
  [[nodiscard]] static Status check_inputs(const NodeVmConfig& config);
  // check_inputs(), then joins the memory cluster and the node links (blocking until every node
  // is there), builds the VM over the coherent region and prepares every vCPU (owned or proxy).
  // Errors after check_inputs() are the VM's, not the input's (exit 1 for the commands).
  [[nodiscard]] static Result<std::unique_ptr<NodeVm>> create(NodeVmConfig config);
  ~NodeVm();
  NodeVm(const NodeVm&) = delete;
  NodeVm& operator=(const NodeVm&) = delete;

  // The boot node writes the boot plan through the coherent guest view, every node meets at a
  // barrier, then the vCPUs run until the guest exits; then every node leaves the cluster.
  [[nodiscard]] VmOutcome run();
  // The final barrier: afterwards no node needs this one's pages; then the links close.
  // Errors: a node did not arrive within `timeout`.
  [[nodiscard]] Status leave(std::chrono::milliseconds timeout);
  // `--stats`: stats_lines() of every counter now (main thread).
  [[nodiscard]] std::vector<std::string> stats_lines();

  // The control plane. status(): this node's roles, guest state, vCPUs and proxies.
  [[nodiscard]] control::NodeStatus status() const;
  // Every counter now; the memory section only once the vCPUs run; after leave() its snapshot.
  [[nodiscard]] NodeStatsReport stats_report();
  // Holds every vCPU of this node (not the proxies, which keep forwarding interrupts) out of
  // KVM_RUN until resume_vcpus(). Errors: the guest has not started or has stopped.
  [[nodiscard]] Status pause_vcpus();
  [[nodiscard]] Status resume_vcpus();
  // Stops the guest on every node through the stop path, with kExitStoppedByControl.
  void stop_by_control();
  // "progress: node 1, 60 s: guest time 600.0 s, 12345 page faults (205/s), ...": one line
  // while the guest runs (run() prints it every NodeVmConfig::progress).
  [[nodiscard]] std::string progress_line();
  // A vCPU or proxy thread is still blocked in the host kernel after run(): only the process's
  // exit ends it (the caller must not destroy this NodeVm, whose destructor would wait for it).
  [[nodiscard]] bool threads_stuck() const { return threads_stuck_; }
  // Guest RAM as this node sees it (faults pages in through the protocol); before run() ends.
  [[nodiscard]] Result<std::span<const std::uint8_t>> read_guest(std::uint64_t gpa,
                                                                 std::uint64_t length) const;

 private:
  explicit NodeVm(NodeVmConfig config);
  // Every counter now, the memory cluster's too when `with_memory`. Caller holds stats_mu_.
  [[nodiscard]] NodeStatsReport gather_stats(bool with_memory);
  [[nodiscard]] std::vector<HotPageReport> hot_pages(std::span<const coherence::HotPage> hot) const;
  [[nodiscard]] bool solo() const { return config_.description.nodes.size() == 1; }
  [[nodiscard]] static Result<firmware::BootPlan> plan_boot(const NodeVmConfig& config,
                                                            std::uint64_t host_tsc_khz);
  [[nodiscard]] Status build();
  [[nodiscard]] Status join_memory();
  [[nodiscard]] Status register_ram();
  [[nodiscard]] Status connect_links();
  [[nodiscard]] Status create_vcpus();
  [[nodiscard]] Status write_boot_plan();
  void on_proxy_event(const proxy::ProxyEvent& event);
  void on_ipi(IpiKind kind, std::uint32_t apic_id, std::uint8_t vector);
  void finish(VmOutcome outcome);
  // Until the latch finishes or the timeout passes (then stops the guest with kExitTimeout),
  // printing a progress line every config_.progress.
  void wait_for_guest();
  void stop_guest(VmOutcome outcome);
  [[nodiscard]] Status stop_vcpus(std::chrono::milliseconds grace);
  [[nodiscard]] bool is_boot_node() const;
  [[nodiscard]] Status measure_tsc();
  void align_tsc(VcpuFd& fd, std::uint32_t index);

  NodeVmConfig config_;
  std::vector<firmware::RamRange> ram_;
  std::optional<KvmSystem> kvm_;
  std::optional<VmFd> vm_;
  std::optional<GuestMemory> local_ram_;              // one node
  std::unique_ptr<coherence::ClusterMemory> memory_;  // several nodes
  std::optional<proxy::ProxyFirmware> proxy_firmware_;
  std::optional<firmware::BootPlan> plan_;
  io::IoBus bus_;
  BusVmOps ops_{bus_};
  StopLatch latch_;
  std::unique_ptr<NodeLinks> links_;  // several nodes
  std::vector<std::unique_ptr<Vcpu>> vcpus_;                // owned here
  std::shared_ptr<ApParkWaker> park_waker_;                 // with the wakeup mailbox only
  std::vector<std::unique_ptr<proxy::ProxyVcpu>> proxies_;  // run elsewhere
  bool threads_stuck_ = false;  // a vCPU or proxy thread did not leave KVM_RUN when stopped
  bool tsc_aligned_ = true;
  TscOffset tsc_;                                  // this host's TSC against the reference node's
  std::int64_t tsc_offset_ = 0;                    // what every vCPU of this node gets
  std::chrono::steady_clock::time_point started_;  // when run() started the vCPUs
  std::uint64_t faults_at_last_progress_ = 0;
  std::chrono::steady_clock::time_point last_progress_;
  std::atomic<bool> vcpus_started_{false};  // past the start barrier, vCPUs started
  std::atomic<bool> paused_{false};         // the control plane holds the vCPUs
  std::mutex stats_mu_;
  std::optional<NodeStatsReport> final_stats_;  // GUARDED_BY(stats_mu_); set by leave()
};

}  // namespace heca::vmm::node
