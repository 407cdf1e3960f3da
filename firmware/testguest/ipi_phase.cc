#include "firmware/testguest/ipi_phase.h"

#include <stddef.h>

#include "firmware/testguest/arch.h"
#include "firmware/testguest/console.h"
#include "firmware/testguest/cpu.h"

namespace heca::firmware::guest {
namespace {

// The per-CPU page; the handlers in entry.S use the layout.h offsets.
struct CpuPage {
  uint64_t ping_count;  // pings this CPU handled
  uint64_t nmi_count;   // NMIs this CPU handled
  uint64_t pong_count;  // pongs this CPU handled (the BSP)
  uint64_t pong_tsc;    // TSC at the last pong
};
static_assert(offsetof(CpuPage, ping_count) == TG_IPI_PING_COUNT);
static_assert(offsetof(CpuPage, nmi_count) == TG_IPI_NMI_COUNT);
static_assert(offsetof(CpuPage, pong_count) == TG_IPI_PONG_COUNT);
static_assert(offsetof(CpuPage, pong_tsc) == TG_IPI_PONG_TSC);

struct ControlPage {
  uint32_t reply_icr_low;   // what the ping and NMI handlers send back...
  uint32_t reply_icr_dest;  // ...and to whom (the BSP's APIC id)
  uint32_t done;            // set by the BSP before its final wake-up IPIs
  uint32_t x2apic;          // nonzero: the handlers use the x2APIC MSRs, else xAPIC MMIO
};
static_assert(offsetof(ControlPage, reply_icr_low) == TG_IPI_REPLY_ICR_LOW - TG_IPI_BASE);
static_assert(offsetof(ControlPage, reply_icr_dest) == TG_IPI_REPLY_ICR_DEST - TG_IPI_BASE);
static_assert(offsetof(ControlPage, x2apic) == TG_IPI_X2APIC - TG_IPI_BASE);

constexpr uint32_t kIcrFixed = 0x000;
constexpr uint32_t kIcrNmi = 0x400;
constexpr uint32_t kX2ApicIcr = 0x830;
constexpr uint32_t kX2ApicTimerInitialCount = 0x838;
constexpr uint64_t kXApicIcrLow = TG_XAPIC_BASE + 0x300;
constexpr uint64_t kXApicIcrHigh = TG_XAPIC_BASE + 0x310;
constexpr uint64_t kXApicTimerInitialCount = TG_XAPIC_BASE + 0x380;
constexpr uint32_t kTimerPeriodNs = 5'000'000;  // KVM's APIC timer ticks in ns at divide 1
constexpr uint64_t kRoundTimeoutMs = 2000;
constexpr uint64_t kSettleMs = 20;  // after the last round: room for a late duplicate

ControlPage* control() {
  return reinterpret_cast<ControlPage*>(uint64_t{TG_IPI_BASE});
}
CpuPage* cpu_page(uint32_t index) {
  return reinterpret_cast<CpuPage*>(TG_IPI_CPU_PAGES + uint64_t{index} * 0x1000);
}
uint64_t* samples() {
  return reinterpret_cast<uint64_t*>(uint64_t{TG_IPI_SAMPLES});
}
uint64_t load(const uint64_t& word) {
  return __atomic_load_n(&word, __ATOMIC_ACQUIRE);
}

// Ring 3. x2APIC: the #GP handler performs the wrmsr (entry.S); xAPIC: plain MMIO stores.
void send_ipi(uint32_t apic_id, uint32_t icr_low) {
  if (control()->x2apic == 0) {
    mmio_write32(kXApicIcrHigh, apic_id << 24);
    mmio_write32(kXApicIcrLow, icr_low);
    return;
  }
  asm volatile("wrmsr" : : "c"(kX2ApicIcr), "a"(icr_low), "d"(apic_id) : "memory");
}
void set_timer(uint32_t initial_count) {
  if (control()->x2apic == 0) return mmio_write32(kXApicTimerInitialCount, initial_count);
  asm volatile("wrmsr" : : "c"(kX2ApicTimerInitialCount), "a"(initial_count), "d"(0U) : "memory");
}
// Returns after one interrupt was taken; ring 3 itself keeps interrupts off, so a test of
// memory followed by this wait cannot miss the interrupt that changed it.
void wait_for_interrupt() {
  asm volatile("sti; hlt" : : : "memory");
}

// Shell sort: freestanding, and fast enough for TG_IPI_MAX_SAMPLES.
void sort(uint64_t* v, uint64_t n) {
  for (uint64_t gap = n / 2; gap > 0; gap /= 2) {
    for (uint64_t i = gap; i < n; ++i) {
      const uint64_t x = v[i];
      uint64_t j = i;
      for (; j >= gap && v[j - gap] > x; j -= gap) v[j] = v[j - gap];
      v[j] = x;
    }
  }
}

enum class RoundEnd { kAnswered, kLost, kDoubled };

// The BSP's side of the phase.
class IpiRounds {
 public:
  IpiRounds(const CpuTable& cpus, uint32_t bsp_index, const GuestConfig& config)
      : cpus_(cpus), bsp_(bsp_index), config_(config), me_(cpu_page(bsp_index)) {}

  void run();

 private:
  RoundEnd round(uint32_t target, uint32_t icr_low, bool send, uint64_t* cycles);
  void ping_target(uint32_t target, uint32_t slot, bool inject_fault);
  void fail_round(uint32_t target, const char* what, RoundEnd end, uint64_t round_index);
  void settle();
  void finish();
  void report_target(uint32_t target, uint32_t slot);
  Line& us(Line& line, uint64_t cycles) const;

  const CpuTable& cpus_;
  uint32_t bsp_;
  const GuestConfig& config_;
  CpuPage* me_;
  uint64_t pongs_expected_ = 0;
  uint64_t nmi_cycles_[TG_MAX_CPUS] = {};
};

RoundEnd IpiRounds::round(uint32_t target, uint32_t icr_low, bool send, uint64_t* cycles) {
  const uint64_t want = ++pongs_expected_;
  const uint64_t start = rdtsc();
  const uint64_t deadline = start + kRoundTimeoutMs * config_.tsc_khz;
  if (send) send_ipi(cpus_.apic_ids[target], icr_low);
  for (;;) {
    const uint64_t pongs = load(me_->pong_count);
    if (pongs > want) return RoundEnd::kDoubled;
    if (pongs == want) break;
    if (rdtsc() > deadline) return RoundEnd::kLost;
    wait_for_interrupt();
  }
  *cycles = load(me_->pong_tsc) - start;
  return RoundEnd::kAnswered;
}

void IpiRounds::fail_round(uint32_t target, const char* what, RoundEnd end, uint64_t round_index) {
  const bool lost = end == RoundEnd::kLost;
  Line()
      .str("ipi ")
      .str(what)
      .str(" to cpu ")
      .dec(target)
      .str(" apic ")
      .dec(cpus_.apic_ids[target])
      .str(" round ")
      .dec(round_index)
      .str(lost ? ": no answer in time" : ": answered twice")
      .emit();
  if (lost) fail_and_exit("ipi lost", TG_EXIT_IPI_LOST);
  fail_and_exit("ipi doubled", TG_EXIT_WRONG_TOTAL);
}

// One NMI (it also warms up the target's pages), then the N timed pings, into slot `slot`.
void IpiRounds::ping_target(uint32_t target, uint32_t slot, bool inject_fault) {
  RoundEnd end = round(target, kIcrNmi, true, &nmi_cycles_[target]);
  if (end != RoundEnd::kAnswered) fail_round(target, "nmi", end, 0);
  uint64_t* out = samples() + uint64_t{slot} * config_.ipi_rounds;
  for (uint64_t r = 0; r < config_.ipi_rounds; ++r) {
    const bool skip = inject_fault && r == 0 && config_.ipi_fault == IpiFault::kLost;
    end = round(target, TG_VECTOR_PING | kIcrFixed, !skip, &out[r]);
    if (end != RoundEnd::kAnswered) fail_round(target, "ping", end, r);
    if (inject_fault && r == 0 && config_.ipi_fault == IpiFault::kDouble) {
      // The injected duplicate, answered before the next ping so that the target's LAPIC
      // cannot merge the two: the target's ping count comes out one above N.
      uint64_t ignored = 0;
      (void)round(target, TG_VECTOR_PING | kIcrFixed, true, &ignored);
    }
  }
}

void IpiRounds::settle() {
  const uint64_t until = rdtsc() + kSettleMs * config_.tsc_khz;
  while (rdtsc() < until) wait_for_interrupt();
}

Line& IpiRounds::us(Line& line, uint64_t cycles) const {
  const uint64_t tenths = cycles * 10'000 / config_.tsc_khz;
  return line.dec(tenths / 10).str(".").dec(tenths % 10);
}

void IpiRounds::report_target(uint32_t target, uint32_t slot) {
  const uint64_t n = config_.ipi_rounds;
  uint64_t* v = samples() + uint64_t{slot} * n;
  sort(v, n);
  const CpuPage* page = cpu_page(target);
  Line line;
  line.str("ipi cpu=")
      .dec(target)
      .str(" apic=")
      .dec(cpus_.apic_ids[target])
      .str(" pings=")
      .dec(load(page->ping_count))
      .str("/")
      .dec(n)
      .str(" nmis=")
      .dec(load(page->nmi_count))
      .str("/1");
  if (n != 0) {
    us(line.str(" rtt_us min="), v[0]);
    us(line.str(" p50="), v[(n - 1) / 2]);
    us(line.str(" p99="), v[(n - 1) * 99 / 100]);
  }
  us(line.str(" nmi_rtt_us="), nmi_cycles_[target]).emit();
}

// Ends the targets' wait, prints every figure and checks every count.
void IpiRounds::finish() {
  set_timer(0);
  __atomic_store_n(&control()->done, 1U, __ATOMIC_SEQ_CST);
  uint64_t pings = 0;
  uint64_t nmis = 0;
  uint32_t slot = 0;
  bool each_exact = true;
  for (uint32_t k = 0; k < cpus_.count; ++k) {
    if (k == bsp_) continue;
    send_ipi(cpus_.apic_ids[k], TG_VECTOR_WAKE | kIcrFixed);
    report_target(k, slot++);
    const uint64_t target_pings = load(cpu_page(k)->ping_count);
    const uint64_t target_nmis = load(cpu_page(k)->nmi_count);
    each_exact = each_exact && target_pings == config_.ipi_rounds && target_nmis == 1;
    pings += target_pings;
    nmis += target_nmis;
  }
  const uint64_t total = uint64_t{slot} * config_.ipi_rounds;
  if (total != 0) {
    sort(samples(), total);
    Line all;
    us(all.str("ipi all rtt_us min="), samples()[0]);
    us(all.str(" p50="), samples()[(total - 1) / 2]);
    us(all.str(" p99="), samples()[(total - 1) * 99 / 100]).emit();
  }
  const uint64_t pongs = load(me_->pong_count);
  Line()
      .str("ipi fixed total=")
      .dec(pings)
      .str(" expected=")
      .dec(total)
      .str(" nmi total=")
      .dec(nmis)
      .str(" expected=")
      .dec(slot)
      .str(" pongs=")
      .dec(pongs)
      .str(" expected=")
      .dec(pongs_expected_)
      .emit();
  if (!each_exact || pings != total || nmis != slot || pongs != pongs_expected_) {
    fail_and_exit("ipi total mismatch", TG_EXIT_WRONG_TOTAL);
  }
}

void IpiRounds::run() {
  set_timer(kTimerPeriodNs);
  uint32_t last = 0;  // the faults, if asked for, hit the last target
  for (uint32_t k = 0; k < cpus_.count; ++k) {
    if (k != bsp_) last = k;
  }
  uint32_t slot = 0;
  for (uint32_t k = 0; k < cpus_.count; ++k) {
    if (k != bsp_) ping_target(k, slot++, k == last);
  }
  settle();
  finish();
}

}  // namespace

const char* prepare_ipi_phase_bsp(const CpuTable& cpus, uint32_t bsp_index,
                                  const GuestConfig& config, uint64_t boot_params) {
  if (config.tsc_khz == 0) return "ipi= needs tsc_khz=";
  if (config.ipi_rounds * (cpus.count - 1) > TG_IPI_MAX_SAMPLES)
    return "ipi= too large for the samples";
  if (!e820_covers(boot_params, TG_IPI_BASE, TG_IPI_END)) return "ram too small for the ipi pages";
  const bool x2apic = prepare_ipi_cpu(0, reinterpret_cast<uint64_t>(cpu_page(bsp_index)));
  install_ipi_gates();
  prepare_ipi_timer(x2apic);
  control()->reply_icr_low = TG_VECTOR_PONG | kIcrFixed;
  control()->reply_icr_dest = cpus.apic_ids[bsp_index];
  control()->done = 0;
  control()->x2apic = x2apic ? 1 : 0;
  return nullptr;
}

bool prepare_ipi_phase_ap(uint32_t slot, uint32_t cpu_index) {
  const bool x2apic = prepare_ipi_cpu(slot, reinterpret_cast<uint64_t>(cpu_page(cpu_index)));
  return x2apic == (control()->x2apic != 0);
}

void reset_ipi_counters(uint32_t cpu_index) {
  CpuPage* page = cpu_page(cpu_index);
  __atomic_store_n(&page->ping_count, 0U, __ATOMIC_RELAXED);
  __atomic_store_n(&page->nmi_count, 0U, __ATOMIC_RELAXED);
  __atomic_store_n(&page->pong_count, 0U, __ATOMIC_RELAXED);
  __atomic_store_n(&page->pong_tsc, 0U, __ATOMIC_RELEASE);
}

void run_ipi_phase(uint32_t cpu_index, const CpuTable& cpus, uint32_t bsp_index,
                   const GuestConfig& config) {
  if (cpu_index == bsp_index) {
    IpiRounds rounds(cpus, bsp_index, config);
    rounds.run();
    return;
  }
  while (__atomic_load_n(&control()->done, __ATOMIC_ACQUIRE) == 0) wait_for_interrupt();
}

}  // namespace heca::firmware::guest
