#include "firmware/testguest/litmus_runner.h"

#include "firmware/litmus/blob_abi.h"
#include "firmware/testguest/arch.h"
#include "firmware/testguest/console.h"
#include "firmware/testguest/layout.h"
#include "firmware/testguest/workloads.h"

namespace heca::firmware::guest {
namespace {

namespace abi = heca::firmware::litmus::abi;

constexpr uint32_t kNoThread = abi::kMaxThreads;
// The barrier's release reaches the CPUs hundreds of cycles apart, far more than the window
// in which two threads' accesses race. So each thread waits a pseudo-random 0..kDelayMask
// loop turns before its code: over many iterations the threads then start at every small
// offset from each other. (A shared start time read with rdtsc would be tighter, but
// rdtsc traps on PVM and costs microseconds.)
constexpr uint32_t kDelayMask = 1023;

Barrier litmus_barrier;

abi::BlobHeader* header_at(uint64_t addr) { return reinterpret_cast<abi::BlobHeader*>(addr); }

uint32_t thread_of(const abi::BlobHeader* h, uint32_t cpu_index) {
  for (uint32_t t = 0; t < h->thread_count; ++t) {
    if (h->cpu_of_thread[t] == cpu_index) return t;
  }
  return kNoThread;
}

// xorshift: cheap, and different per thread and iteration.
uint32_t next_random(uint32_t* state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *state = x;
  return x;
}

void delay(uint32_t turns) {
  for (uint32_t i = 0; i < turns; ++i) asm volatile("" : : : "memory");
}

[[noreturn]] void finish(abi::BlobHeader* h) {
  h->done = abi::kBlobDone;
  Line().str("litmus done iterations=").dec(h->completed_iterations).str(" dropped=").dec(h->dropped).emit();
  exit_guest(TG_EXIT_PASS);
}

}  // namespace

const char* check_litmus_blob(uint64_t blob_addr, uint64_t boot_params, uint32_t cpu_count) {
  if (!e820_covers(boot_params, blob_addr, blob_addr + abi::kPageSize)) return "litmus blob is not in RAM";
  return abi::check_blob(header_at(blob_addr), cpu_count);
}

void run_litmus(uint32_t cpu_index, uint64_t blob_addr) {
  abi::BlobHeader* h = header_at(blob_addr);
  const uint32_t t = thread_of(h, cpu_index);
  if (t == kNoThread) park_cpu();
  const auto code = reinterpret_cast<void (*)()>(h->code_addr[t]);
  uint32_t random = 0x9E3779B9U * (t + 1);
  bool sense = false;
  for (uint64_t i = 0; i < h->iterations; ++i) {
    if (t == 0) abi::reset_locations(h);
    const uint32_t turns = next_random(&random) & kDelayMask;
    litmus_barrier.wait(h->thread_count, &sense);
    delay(turns);
    code();
    litmus_barrier.wait(h->thread_count, &sense);
    if (t == 0) abi::record_outcome(h);
  }
  if (t != 0) park_cpu();
  finish(h);
}

}  // namespace heca::firmware::guest
