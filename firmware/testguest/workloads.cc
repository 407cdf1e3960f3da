#include "firmware/testguest/workloads.h"

#include "firmware/testguest/arch.h"
#include "firmware/testguest/console.h"
#include "firmware/testguest/mbw_loop.h"

namespace heca::firmware::guest {
namespace {

// Each shared word on its own cache line, so the phases measure the intended contention.
alignas(64) uint64_t xadd_counter = 0;
alignas(64) uint64_t plain_counter = 0;
alignas(64) SpinLock counter_lock;

uint8_t* mbw_source(uint32_t cpu_index, const GuestConfig& config) {
  const uint64_t bytes = config.mbw_kib * 1024;
  return reinterpret_cast<uint8_t*>(TG_BUFFER_BASE + uint64_t{cpu_index} * 2 * bytes);
}

}  // namespace

void Barrier::wait(uint32_t parties, bool* local_sense) {
  *local_sense = !*local_sense;
  const uint32_t want = *local_sense ? 1 : 0;
  if (__atomic_add_fetch(&arrived_, 1U, __ATOMIC_ACQ_REL) == parties) {
    __atomic_store_n(&arrived_, 0U, __ATOMIC_RELAXED);
    __atomic_store_n(&sense_, want, __ATOMIC_RELEASE);
    return;
  }
  while (__atomic_load_n(&sense_, __ATOMIC_ACQUIRE) != want) cpu_relax();
}

void run_xadd_phase(uint32_t cpu_index, const GuestConfig& config) {
  uint64_t n = config.iters;
  if (config.lost_update && cpu_index == 0 && n > 0) --n;  // the injected lost update
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t one = 1;
    asm volatile("lock xaddq %0, %1" : "+r"(one), "+m"(xadd_counter) : : "memory");
  }
}

void run_spinlock_phase(uint32_t /*cpu_index*/, const GuestConfig& config) {
  for (uint64_t i = 0; i < config.iters; ++i) {
    counter_lock.lock();
    // volatile: one plain load and store per increment, exactly what the lock protects.
    auto* counter = static_cast<volatile uint64_t*>(&plain_counter);
    *counter = *counter + 1;
    counter_lock.unlock();
  }
}

MbwResult run_mbw_phase(uint32_t cpu_index, const GuestConfig& config) {
  const uint64_t bytes = config.mbw_kib * 1024;
  uint8_t* src = mbw_source(cpu_index, config);
  uint8_t* dst = src + bytes;
  auto* words = reinterpret_cast<uint64_t*>(src);
  for (uint64_t i = 0; i < bytes / 8; ++i) words[i] = i * 0x9E3779B97F4A7C15ULL + cpu_index;
  mbw_copy(dst, src, bytes);  // warm-up: faults in the destination
  const uint64_t start = rdtsc();
  mbw_copy_passes(dst, src, bytes, config.mbw_reps);
  const uint64_t cycles = rdtsc() - start;
  return MbwResult{config.mbw_kib, config.mbw_reps, cycles};
}

uint64_t xadd_total() { return __atomic_load_n(&xadd_counter, __ATOMIC_ACQUIRE); }
uint64_t spinlock_total() { return __atomic_load_n(&plain_counter, __ATOMIC_ACQUIRE); }

uint64_t mbw_buffer_bytes(uint32_t cpus, const GuestConfig& config) {
  return uint64_t{cpus} * 2 * config.mbw_kib * 1024;
}

}  // namespace heca::firmware::guest
