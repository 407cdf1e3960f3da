// The ring-3 SMP workloads the test guest runs between barriers: LOCK XADD on a shared
// counter, a spinlock-protected plain counter, and a timed memcpy pass per CPU.
#pragma once

#include <stdint.h>

#include "firmware/testguest/boot_info.h"

namespace heca::firmware::guest {

// Sense-reversing barrier for `parties` CPUs; each CPU keeps its own `local_sense`.
class Barrier {
 public:
  void wait(uint32_t parties, bool* local_sense);
  // A party that did not take part in earlier rounds joins; only while no round is under way.
  void join(bool* local_sense) const { *local_sense = __atomic_load_n(&sense_, __ATOMIC_ACQUIRE) != 0; }

 private:
  alignas(64) uint32_t arrived_ = 0;
  alignas(64) uint32_t sense_ = 0;
};

struct MbwResult {
  uint64_t kib = 0;
  uint64_t reps = 0;
  uint64_t cycles = 0;
};

void run_xadd_phase(uint32_t cpu_index, const GuestConfig& config);
void run_spinlock_phase(uint32_t cpu_index, const GuestConfig& config);
[[nodiscard]] MbwResult run_mbw_phase(uint32_t cpu_index, const GuestConfig& config);

[[nodiscard]] uint64_t xadd_total();
[[nodiscard]] uint64_t spinlock_total();

// Bytes of buffer memory above TG_BUFFER_BASE that `cpus` CPUs need for the memcpy phase.
[[nodiscard]] uint64_t mbw_buffer_bytes(uint32_t cpus, const GuestConfig& config);

}  // namespace heca::firmware::guest
