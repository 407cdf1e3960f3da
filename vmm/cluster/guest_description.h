// GuestDescription: the validated contents of a guest description file (guest.toml) that says
// which nodes serve one guest, which vCPUs each runs, how RAM is homed and how nodes talk.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/base/result.h"

namespace heca::vmm::cluster {

// The file format (every key other than these is an error, naming the key and the file):
//
//   [guest]
//   memory = "1G"              # required; size string ("512M", "1G", bytes) or integer bytes;
//                              # non-zero and a multiple of 4 KiB
//   kind = "test"              # "test" (built-in test guest, default) or "linux"
//   cmdline = "iters=1000"     # optional, default ""
//   kernel = "/path/bzImage"   # kind = "linux" only, required there; must exist
//   initrd = "/path/initrd"    # kind = "linux" only, optional; must exist
//   time_dilation = 1          # optional, 1..1000, default 1: the guest's time passes this
//                              # many times slower than the hosts' (see below)
//
//   [transport]                # optional table
//   kind = "tcp"               # "tcp" (default); "rdma" is rejected until it is built
//   base_port = 7700           # optional, default 7700; node K listens on base_port + K
//                              # (memory) and base_port + 100 + K (node links)
//   key_file = "cluster.key"   # the key every node proves it holds before anything moves:
//                              # 64 hex digits, mode 0600 (`heca run` makes one per run when
//                              # none is given; `heca node` needs it); must exist
//
//   [coherence]                # optional table: the page protocol's tunables
//   min_hold_us = 20           # a node keeps a page it was just granted at least this long
//   max_hold_us = 10000        # and at most this long (1..1000000, min <= max): about as
//                              # long as a transfer takes, measured as the node runs
//
//   [[node]]                   # one per node, at least one
//   id = 0                     # required; ids are exactly 0..K-1
//   address = "10.77.0.1"      # optional; empty means the launcher picks one
//   roles = ["compute", "memory", "io"]   # required; exactly one node has "io"
//   vcpus = [0, 1]             # required with "compute", forbidden without it;
//                              # over all nodes the vCPU ids are exactly 0..N-1, each once
//   memory_share = 1           # optional weight (>= 1) for default homing, "memory" nodes only
//   home = [{ start = "0", size = "512M" }]   # optional explicit homing, "memory" nodes only
//
// Homing is over offsets into guest RAM ([0, memory)), not guest-physical addresses, so the
// PC hole below 4 GiB does not matter here. Either no node lists `home` (default: the "memory" nodes, in id order, get contiguous
// shares proportional to memory_share, rounded down to 2 MiB, the last taking the rest) or every
// "memory" node does; then the ranges must be page-aligned, must not overlap and must cover guest
// memory exactly. Relative kernel/initrd/key_file paths are resolved against the description's
// directory.
//
// time_dilation = N tells the guest its TSC runs N times faster than it does. Its clock, its
// timer tick and its timeouts then stretch N times, while a page transfer takes as long as
// ever: to the guest the interconnect looks N times faster. It is for test beds whose hosts
// are far slower to reach each other than real ones relative to the guest's tick (the
// virtual cluster of tests/vcluster: milliseconds per transfer against a 4 ms tick); real
// hosts run with 1. It needs a guest that keeps time by the TSC alone (Linux: the TSC
// clocksource and the TSC-deadline timer, which heca announces; PIT, HPET, PM timer and RTC
// keep real time).

enum class GuestKind { kTest, kLinux };
enum class TransportKind { kTcp, kRdma };

inline constexpr std::uint64_t kGuestPageSize = 4096;
inline constexpr std::uint64_t kHomeGranule = 2ULL << 20;  // default shares round to 2 MiB
inline constexpr std::uint16_t kDefaultBasePort = 7700;
// Node K's memory port is base_port + K; its node links listen at base_port + kLinkPortOffset + K.
inline constexpr std::uint16_t kLinkPortOffset = 100;
inline constexpr std::uint32_t kMaxTimeDilation = 1000;
inline constexpr std::uint32_t kDefaultMinHoldUs = 20;
inline constexpr std::uint32_t kDefaultMaxHoldUs = 10'000;
inline constexpr std::uint32_t kMaxHoldUs = 1'000'000;

struct MemoryRange {
  std::uint64_t start = 0;
  std::uint64_t size = 0;
  [[nodiscard]] std::uint64_t end() const { return start + size; }
  friend bool operator==(const MemoryRange&, const MemoryRange&) = default;
};

struct HomeAssignment {
  MemoryRange range;
  std::uint32_t node = 0;
  friend bool operator==(const HomeAssignment&, const HomeAssignment&) = default;
};

struct NodeRoles {
  bool compute = false;
  bool memory = false;
  bool io = false;
  friend bool operator==(const NodeRoles&, const NodeRoles&) = default;
  // As the file spells them, in the order compute, memory, io.
  [[nodiscard]] std::vector<std::string> names() const;
};

struct NodeDescription {
  std::uint32_t id = 0;
  std::string address;                // empty: the launcher fills it in
  NodeRoles roles;
  std::vector<std::uint32_t> vcpus;   // as listed in the file
  std::uint64_t memory_share = 1;
  std::vector<MemoryRange> home;      // after loading: explicit or default, sorted by start
  friend bool operator==(const NodeDescription&, const NodeDescription&) = default;
};

struct GuestDescription {
  std::string source;                 // the file name errors were reported against
  GuestKind kind = GuestKind::kTest;
  std::uint64_t memory_bytes = 0;
  std::string cmdline;
  std::string kernel;                 // kind == kLinux only
  std::string initrd;                 // optional
  std::uint32_t time_dilation = 1;    // 1..kMaxTimeDilation
  TransportKind transport = TransportKind::kTcp;
  std::uint16_t base_port = kDefaultBasePort;
  std::string key_file;               // the cluster key (coherence/peer_auth.h); "" = none yet
  std::uint32_t min_hold_us = kDefaultMinHoldUs;  // INVARIANT: 1 <= min <= max <= kMaxHoldUs
  std::uint32_t max_hold_us = kDefaultMaxHoldUs;
  std::vector<NodeDescription> nodes; // INVARIANT: nodes[i].id == i
  friend bool operator==(const GuestDescription&, const GuestDescription&) = default;

  [[nodiscard]] std::uint32_t vcpu_count() const;
  [[nodiscard]] std::uint32_t io_node() const;
  // Every home range with its node, sorted by start; together they tile [0, memory_bytes).
  [[nodiscard]] std::vector<HomeAssignment> home_assignments() const;
  // The node that runs vCPU `vcpu` (< vcpu_count()).
  [[nodiscard]] std::uint32_t node_of_vcpu(std::uint32_t vcpu) const;
  // The home node of guest RAM offset `offset` (< memory_bytes), or nullopt.
  [[nodiscard]] std::optional<std::uint32_t> home_of(std::uint64_t offset) const;
};

// Parses and validates `text`; `source_name` names it in errors. Relative paths stay relative
// to the current directory.
[[nodiscard]] Result<GuestDescription> parse_guest_description(std::string_view text,
                                                               std::string_view source_name);

// Reads, parses and validates the file at `path`.
[[nodiscard]] Result<GuestDescription> load_guest_description(const std::string& path);

}  // namespace heca::vmm::cluster
