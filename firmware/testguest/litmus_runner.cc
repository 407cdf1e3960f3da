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
// Threads on one node: the barrier's release reaches the CPUs hundreds of cycles apart, more
// than the window in which their accesses race, so each waits a random 0..kDelayMask loop
// turns before its code and over many iterations they start at every small offset.
constexpr uint32_t kDelayMask = 1023;

// Threads on different nodes (timed_start) leave a barrier a page transfer apart (milliseconds on the
// virtual cluster), far more than the window in which their accesses race: starting each
// thread's code right after the barrier, the first thread out would almost always finish
// first. So the leader (thread 0) sets a start time on the TSC, which heca keeps aligned
// across nodes, a margin ahead: long enough for the barrier's release and that time to reach
// every thread. Each thread then waits for it plus its own random offset in [0, window), the
// window being about as long as the threads' code took in the previous iterations (their
// accesses' page transfers included), so the threads start at every small offset from each
// other. The margin follows what the threads needed: each leaves the TSC at which it got to
// its start, the leader takes the longest time from setting the start to a thread's arrival,
// and the next margin is half as much again (at once after an iteration in which a thread got
// there late, by an eighth of the way otherwise). Against a margin that doubled on a late start
// and shrank by 1/16 otherwise, on the same 12 tests across four nodes (litmus_sample, one
// seed): late starts fell from 20-40 to 6-13 in 100 iterations, in the same time.
struct StartLine {
  Barrier barrier;
  alignas(64) uint64_t start;   // TSC: the earliest planned thread start of this iteration
  uint64_t window;              // cycles over which the thread starts are spread
};
// One page of its own: the barrier's release and the start time travel in one transfer.
OwnPage<StartLine> start_line_page;
StartLine& start_line = start_line_page.value;
// Every CPU meets here after each test of a chain: the next test may use other CPUs.
OwnPage<Barrier> chain_barrier_page;
Barrier& chain_barrier = chain_barrier_page.value;

constexpr uint64_t kMinMarginUs = 20;
constexpr uint64_t kMaxMarginUs = 200'000;
constexpr uint64_t kMaxWaitUs = 1'000'000;  // a thread never waits longer for its start

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

abi::SlotSync* sync_of(const abi::BlobHeader* h, uint32_t t) {
  return reinterpret_cast<abi::SlotSync*>(h->slot_addr[t] + abi::kSlotSyncOffset);
}

// What the leader knows between iterations.
struct Pace {
  uint64_t cycles_per_us = 0;
  uint64_t margin = 0;
  uint64_t set_at = 0;  // TSC when the leader set this iteration's start
  uint64_t window = 0;
  uint64_t late_starts = 0;
};

// Leader, after an iteration: the next margin and window from what each thread left.
void adapt(abi::BlobHeader* h, Pace* pace) {
  bool late = false;
  uint64_t longest = 0;
  uint64_t need = 0;  // the longest time from setting the start to a thread's arrival
  for (uint32_t t = 0; t < h->thread_count; ++t) {
    const abi::SlotSync* s = sync_of(h, t);
    if (s->late != 0) {
      late = true;
      ++pace->late_starts;
    }
    if (s->duration > longest) longest = s->duration;
    if (s->arrived > pace->set_at && s->arrived - pace->set_at > need) need = s->arrived - pace->set_at;
  }
  const uint64_t min_margin = kMinMarginUs * pace->cycles_per_us;
  const uint64_t max_margin = kMaxMarginUs * pace->cycles_per_us;
  const uint64_t wanted = need + need / 2;
  pace->margin = late ? wanted : (pace->margin * 7 + wanted) / 8;
  if (pace->margin < min_margin) pace->margin = min_margin;
  if (pace->margin > max_margin) pace->margin = max_margin;
  pace->window = (pace->window * 7 + longest) / 8;
}

// Every thread: waits until `target` (at most max_wait), runs its code, and leaves in its
// result page how late it got there (beyond `slack`) and how long the code took.
void run_at(uint64_t target, void (*code)(), abi::SlotSync* sync, uint64_t max_wait,
            uint64_t slack) {
  const uint64_t arrived = rdtsc();
  if (target > arrived + max_wait) target = arrived + max_wait;  // a clock far off: start anyway
  uint64_t now = arrived;
  while (now < target) {
    cpu_relax();
    now = rdtsc();
  }
  code();
  const uint64_t end = rdtsc();
  sync->late = arrived > target + slack ? arrived - target : 0;
  sync->duration = end - now;
  sync->arrived = arrived;
}

void delay(uint32_t turns) {
  for (uint32_t i = 0; i < turns; ++i) asm volatile("" : : : "memory");
}

// Threads on one node: the short random spin, then the code.
void run_after_spin(uint32_t* random, void (*code)()) {
  delay(next_random(random) & kDelayMask);
  code();
}

// Thread 0, after the test's last iteration: the blob is done, and one line says how it went.
void finish(abi::BlobHeader* h, const Pace& pace, bool timed) {
  __atomic_store_n(&h->done, abi::kBlobDone, __ATOMIC_RELEASE);
  Line line;
  line.str("litmus done iterations=").dec(h->completed_iterations).str(" dropped=").dec(h->dropped);
  if (timed) {
    line.str(" late_starts=").dec(pace.late_starts).str(" margin_us=").dec(pace.margin / pace.cycles_per_us)
        .str(" window_us=").dec(pace.window / pace.cycles_per_us);
  }
  line.emit();
}

// One test of the chain on CPU `cpu_index`: its iterations if the test has a thread there.
void run_test(abi::BlobHeader* h, uint32_t cpu_index, uint64_t tsc_khz) {
  const uint32_t t = thread_of(h, cpu_index);
  if (t == kNoThread) return;
  // Read once: the leader writes the header page at every iteration.
  const uint64_t iterations = h->iterations;
  const uint32_t threads = h->thread_count;
  const bool timed = h->timed_start != 0;
  const auto code = reinterpret_cast<void (*)()>(h->code_addr[t]);
  abi::SlotSync* sync = sync_of(h, t);
  Pace pace{.cycles_per_us = tsc_khz / 1000 != 0 ? tsc_khz / 1000 : 1};
  pace.margin = kMinMarginUs * pace.cycles_per_us;
  const uint64_t max_wait = kMaxWaitUs * pace.cycles_per_us;
  uint32_t random = 0x9E3779B9U * (t + 1);
  // The start line is at rest between tests (every CPU met at the chain barrier), and an earlier
  // test may have had other threads: take its current sense.
  bool sense = false;
  start_line.barrier.join(&sense);
  for (uint64_t i = 0; i < iterations; ++i) {
    if (t == 0) abi::reset_locations(h);
    if (t == 0 && timed) {
      start_line.window = pace.window;
      pace.set_at = rdtsc();
      start_line.start = pace.set_at + pace.margin;
    }
    start_line.barrier.wait(threads, &sense);
    if (timed) {
      const uint64_t window = start_line.window;
      const uint64_t offset = window != 0 ? next_random(&random) % window : 0;
      run_at(start_line.start + offset, code, sync, max_wait, pace.cycles_per_us);
    } else {
      run_after_spin(&random, code);
    }
    start_line.barrier.wait(threads, &sense);
    if (t == 0) {
      abi::record_outcome(h);
      if (timed) adapt(h, &pace);
    }
  }
  if (t == 0) finish(h, pace, timed);
}

}  // namespace

const char* check_litmus_blob(uint64_t blob_addr, uint64_t boot_params, uint32_t cpu_count) {
  uint32_t blobs = 0;
  for (uint64_t addr = blob_addr; addr != 0; addr = header_at(addr)->next_blob) {
    if (++blobs > abi::kMaxChainedBlobs) return "litmus blobs: too many chained (or a loop)";
    if (addr % abi::kPageSize != 0) return "litmus blob is not page-aligned";
    if (!e820_covers(boot_params, addr, addr + abi::kPageSize)) return "litmus blob is not in RAM";
    if (const char* error = abi::check_blob(header_at(addr), cpu_count)) return error;
  }
  return nullptr;
}

void run_litmus(uint32_t cpu_index, uint32_t cpu_count, uint32_t exit_cpu, uint64_t blob_addr,
                uint64_t tsc_khz) {
  bool sense = false;
  for (uint64_t addr = blob_addr; addr != 0;) {
    abi::BlobHeader* h = header_at(addr);
    const uint64_t next = h->next_blob;  // read before the test: its leader writes this page
    run_test(h, cpu_index, tsc_khz);
    chain_barrier.wait(cpu_count, &sense);
    addr = next;
  }
  if (cpu_index != exit_cpu) park_cpu();
  exit_guest(TG_EXIT_PASS);
}

}  // namespace heca::firmware::guest
