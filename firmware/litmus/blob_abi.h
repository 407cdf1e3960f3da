// The litmus blob: the layout heca writes into guest memory and the test guest executes
// and fills in. Freestanding (stdint.h only) so the guest can include it.
#pragma once

#include <stdint.h>

namespace heca::firmware::litmus::abi {

inline constexpr uint64_t kBlobMagic = 0x3154494c41434548;  // "HECALIT1"
inline constexpr uint64_t kBlobDone = 0x454e4f4454494c;     // "LITDONE"
// Default guest-physical address: above the test guest's stacks and default buffers.
inline constexpr uint64_t kDefaultBlobGpa = 0x2000000;
inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint32_t kMaxThreads = 4;
inline constexpr uint32_t kMaxLocations = 8;
inline constexpr uint32_t kMaxOutcomeWords = 16;
inline constexpr uint32_t kHistogramCapacity = 1024;  // a power of two
// Blobs chained by next_blob (several tests in one boot): at most this many.
inline constexpr uint32_t kMaxChainedBlobs = 1024;

// Page 0 of the blob. Locations, result slots, code and the histogram follow on their own
// pages; every address below is absolute (guest-physical == guest-virtual, below 2 GiB).
struct BlobHeader {
  uint64_t magic;
  uint64_t blob_addr;  // where this header is
  uint32_t thread_count;
  uint32_t location_count;
  uint32_t outcome_words;
  uint32_t histogram_capacity;
  uint64_t iterations;
  uint32_t cpu_of_thread[kMaxThreads];  // the vCPU index (MADT order) that runs thread t
  uint32_t timed_start;  // 1: threads on several nodes start at a shared TSC time (see the runner)
  uint32_t reserved;
  uint64_t code_addr[kMaxThreads];      // thread t's code: a function `void()`
  uint64_t slot_addr[kMaxThreads];      // thread t's result page (its observed registers)
  uint64_t location_addr[kMaxLocations];
  uint64_t location_init[kMaxLocations];
  uint64_t outcome_source[kMaxOutcomeWords];  // where each outcome word's final value is
  uint64_t histogram_addr;                    // kHistogramCapacity HistogramEntry
  uint64_t next_blob;  // the next test's blob, run after this one (0: this is the last)
  // Written by the guest.
  uint64_t completed_iterations;
  uint64_t dropped;  // outcomes not recorded because the table was full
  uint64_t done;     // kBlobDone once the run finished
};

// At this offset of each thread's result page, the thread leaves what the leader adapts the
// start of the next iteration from (the registers take the page's first 128 bytes).
inline constexpr uint64_t kSlotSyncOffset = 2048;
struct SlotSync {
  uint64_t late;      // cycles after its planned start that the thread got there (0: in time)
  uint64_t duration;  // cycles its code took
  uint64_t arrived;   // TSC when it got to its start (after the barrier's release reached it)
};

// Open addressing (linear probing); count == 0 marks a free slot.
struct HistogramEntry {
  uint64_t count;
  uint64_t values[kMaxOutcomeWords];
};

// The slot for an outcome starts at hash % capacity.
inline uint64_t outcome_hash(const uint64_t* values, uint32_t words) {
  uint64_t h = 0xcbf29ce484222325;
  for (uint32_t i = 0; i < words; ++i) h = (h ^ values[i]) * 0x100000001b3;
  return h;
}

inline volatile uint64_t* word_at(uint64_t addr) { return reinterpret_cast<volatile uint64_t*>(addr); }

// nullptr if the blob is usable on a guest with `cpu_count` vCPUs, else why not.
inline const char* check_blob(const BlobHeader* h, uint32_t cpu_count) {
  if (h->magic != kBlobMagic) return "litmus blob: bad magic";
  if (h->thread_count == 0 || h->thread_count > kMaxThreads) return "litmus blob: bad thread count";
  if (h->location_count > kMaxLocations || h->outcome_words > kMaxOutcomeWords) return "litmus blob: bad sizes";
  if (h->histogram_capacity == 0 || (h->histogram_capacity & (h->histogram_capacity - 1)) != 0) {
    return "litmus blob: bad histogram capacity";
  }
  for (uint32_t t = 0; t < h->thread_count; ++t) {
    if (h->cpu_of_thread[t] >= cpu_count) return "litmus test has more threads than the guest has vCPUs";
    for (uint32_t u = 0; u < t; ++u) {
      if (h->cpu_of_thread[u] == h->cpu_of_thread[t]) return "litmus blob: two threads on one vCPU";
    }
  }
  return nullptr;
}

// Before each iteration, with every test thread waiting: locations back to their init values.
inline void reset_locations(const BlobHeader* h) {
  for (uint32_t i = 0; i < h->location_count; ++i) *word_at(h->location_addr[i]) = h->location_init[i];
}

// After each iteration, with every test thread done: counts the outcome in the histogram.
inline void record_outcome(BlobHeader* h) {
  uint64_t values[kMaxOutcomeWords] = {};
  for (uint32_t k = 0; k < h->outcome_words; ++k) values[k] = *word_at(h->outcome_source[k]);
  auto* table = reinterpret_cast<HistogramEntry*>(h->histogram_addr);
  const uint64_t mask = h->histogram_capacity - 1;
  uint64_t slot = outcome_hash(values, h->outcome_words) & mask;
  ++h->completed_iterations;
  for (uint64_t probe = 0; probe <= mask; ++probe, slot = (slot + 1) & mask) {
    HistogramEntry* e = &table[slot];
    bool same = e->count != 0;
    for (uint32_t k = 0; same && k < h->outcome_words; ++k) same = e->values[k] == values[k];
    if (same) {
      ++e->count;
      return;
    }
    if (e->count == 0) {
      for (uint32_t k = 0; k < h->outcome_words; ++k) e->values[k] = values[k];
      e->count = 1;
      return;
    }
  }
  ++h->dropped;
}

}  // namespace heca::firmware::litmus::abi
