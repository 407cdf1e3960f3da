// The test guest's flow: BSP setup in ring 0, AP start, then the phases in ring 3 on
// every CPU and the BSP's verdict on the UART and the debug-exit port.
#include "firmware/test_guest_abi.h"
#include "firmware/testguest/arch.h"
#include "firmware/testguest/boot_info.h"
#include "firmware/testguest/console.h"
#include "firmware/testguest/cpu.h"
#include "firmware/testguest/ipi_phase.h"
#include "firmware/testguest/litmus_runner.h"
#include "firmware/testguest/workloads.h"

namespace heca::firmware::guest {
namespace {

constexpr uint64_t kAssumedTscKhz = 3'000'000;  // only for the check-in timeout
constexpr uint64_t kMaxMbwKib = uint64_t{1} << 20;

// Written by the BSP in ring 0 before any AP starts; read-only afterwards.
GuestConfig config;
CpuTable cpus;
uint32_t bsp_index = 0;

// Written by every CPU: each on pages of its own (arch.h, OwnPage).
OwnPage<uint32_t[TG_MAX_CPUS]> checked_in_page;
OwnPage<Barrier> phase_barrier_page;
OwnPage<MbwResult[TG_MAX_CPUS]> mbw_results_page;
auto& checked_in = checked_in_page.value;
Barrier& phase_barrier = phase_barrier_page.value;
auto& mbw_results = mbw_results_page.value;

uint32_t index_of_apic(uint32_t apic_id) {
  for (uint32_t i = 0; i < cpus.count; ++i) {
    if (cpus.apic_ids[i] == apic_id) return i;
  }
  return TG_MAX_CPUS;
}

void read_boot_info(uint64_t boot_params) {
  const auto* cmdline = reinterpret_cast<const char*>(uint64_t{load32(boot_params + kBpCmdLinePtr)});
  if (const char* error = parse_cmdline(cmdline, &config)) fail_and_exit(error, TG_EXIT_SETUP_ERROR);
  if (config.mbw_kib > kMaxMbwKib) fail_and_exit("mbw_kib too large", TG_EXIT_SETUP_ERROR);
  if (const char* error = parse_madt(load64(boot_params + kBpAcpiRsdpAddr), &cpus)) {
    fail_and_exit(error, TG_EXIT_SETUP_ERROR);
  }
  bsp_index = index_of_apic(current_apic_id());
  if (bsp_index == TG_MAX_CPUS) {
    Line().str("bsp apic ").dec(current_apic_id()).str(" is not among the MADT's ").dec(cpus.count).str(" cpus").emit();
    fail_and_exit("BSP APIC id not in MADT", TG_EXIT_SETUP_ERROR);
  }
  if (!e820_covers(boot_params, TG_PAGE_TABLES_BASE,
                   TG_PAGE_TABLES_BASE + uint64_t{cpus.count} * TG_PAGE_TABLES_SIZE)) {
    fail_and_exit("ram too small for the APs' page tables", TG_EXIT_SETUP_ERROR);
  }
  if (config.ipi_rounds != 0) {
    if (const char* error = prepare_ipi_phase_bsp(cpus, bsp_index, config, boot_params)) {
      fail_and_exit(error, TG_EXIT_SETUP_ERROR);
    }
  }
  if (config.litmus_blob != 0) {
    if (const char* error = check_litmus_blob(config.litmus_blob, boot_params, cpus.count)) {
      fail_and_exit(error, TG_EXIT_SETUP_ERROR);
    }
    return;  // litmus mode runs no memcpy phase, so needs no buffers
  }
  const uint64_t need_end = TG_BUFFER_BASE + mbw_buffer_bytes(cpus.count, config);
  if (!e820_covers(boot_params, TG_BUFFER_BASE, need_end)) {
    Line().str("ram too small: buffers need up to 0x").hex(need_end).str(", e820 RAM ends at 0x")
        .hex(e820_ram_end(boot_params)).emit();
    fail_and_exit("ram too small for mbw buffers", TG_EXIT_SETUP_ERROR);
  }
}

void wait_for_check_ins() {
  const uint64_t khz = config.tsc_khz != 0 ? config.tsc_khz : kAssumedTscKhz;
  const uint64_t deadline = rdtsc() + config.checkin_s * khz * 1000;
  for (;;) {
    uint32_t arrived = 0;
    for (uint32_t i = 0; i < cpus.count; ++i) arrived += __atomic_load_n(&checked_in[i], __ATOMIC_ACQUIRE);
    if (arrived == cpus.count) break;
    if (rdtsc() > deadline) {
      for (uint32_t i = 0; i < cpus.count; ++i) {
        if (__atomic_load_n(&checked_in[i], __ATOMIC_ACQUIRE) == 0) {
          Line().str("cpu ").dec(i).str(" apic ").dec(cpus.apic_ids[i]).str(" did not check in").emit();
        }
      }
      fail_and_exit("ap did not check in", TG_EXIT_AP_MISSING);
    }
    cpu_relax();
  }
  out32(abi::kDebugEventPort, abi::kEventAllCheckedIn);
}

uint64_t mib_per_s(const MbwResult& r) {
  if (config.tsc_khz == 0 || r.cycles == 0) return 0;
  const uint64_t kib_ms = r.kib * r.reps * config.tsc_khz;  // KiB * cycles/ms
  if (kib_ms < ~uint64_t{0} / 1000) return kib_ms * 1000 / 1024 / r.cycles;
  return kib_ms / r.cycles * 1000 / 1024;
}

[[noreturn]] void report() {
  const uint64_t expected = config.iters * cpus.count;
  const uint64_t xadd = xadd_total();
  const uint64_t spin = spinlock_total();
  Line().str("xadd total=").dec(xadd).str(" expected=").dec(expected).emit();
  Line().str("spinlock total=").dec(spin).str(" expected=").dec(expected).emit();
  for (uint32_t i = 0; i < cpus.count; ++i) {
    const MbwResult& r = mbw_results[i];
    Line().str("mbw cpu=").dec(i).str(" kib=").dec(r.kib).str(" reps=").dec(r.reps).str(" cycles=")
        .dec(r.cycles).str(" mib_per_s=").dec(mib_per_s(r)).emit();
  }
  if (xadd != expected) fail_and_exit("xadd total mismatch", TG_EXIT_WRONG_TOTAL);
  if (spin != expected) fail_and_exit("spinlock total mismatch", TG_EXIT_WRONG_TOTAL);
  Line().str("result: PASS").emit();
  exit_guest(TG_EXIT_PASS);
}

// Ring 3, every CPU. INVARIANT: all CPUs pass the same barriers in the same order.
[[noreturn]] void user_main(uint64_t arg) {
  const auto index = static_cast<uint32_t>(arg);
  Line().str("cpu ").dec(index).str(" apic ").dec(cpus.apic_ids[index]).str(" checked in").emit();
  __atomic_store_n(&checked_in[index], 1U, __ATOMIC_RELEASE);
  if (config.ipi_rounds != 0) reset_ipi_counters(index);
  if (index == bsp_index) wait_for_check_ins();
  bool sense = false;
  phase_barrier.wait(cpus.count, &sense);
  if (config.ipi_rounds != 0) {
    run_ipi_phase(index, cpus, bsp_index, config);
    phase_barrier.wait(cpus.count, &sense);
  }
  if (config.litmus_blob != 0) {
    run_litmus(index, cpus.count, bsp_index, config.litmus_blob,
               config.tsc_khz != 0 ? config.tsc_khz : kAssumedTscKhz);
  }
  run_xadd_phase(index, config);
  phase_barrier.wait(cpus.count, &sense);
  run_spinlock_phase(index, config);
  phase_barrier.wait(cpus.count, &sense);
  mbw_results[index] = run_mbw_phase(index, config);
  phase_barrier.wait(cpus.count, &sense);
  if (index != bsp_index) park_cpu();
  out32(abi::kDebugEventPort, abi::kEventWorkloadsDone);
  report();
}

void user_entry(uint64_t arg) { user_main(arg); }

}  // namespace
}  // namespace heca::firmware::guest

using namespace heca::firmware::guest;

extern "C" [[noreturn]] void bsp_main(uint64_t boot_params) {
  init_descriptor_tables();
  load_cpu_tables(0);
  read_boot_info(boot_params);
  start_aps(cpus, cpus.apic_ids[bsp_index], config.tsc_khz != 0 ? config.tsc_khz : kAssumedTscKhz,
            config.checkin_s);
  run_in_ring3(user_entry, bsp_index, bsp_index);
}

extern "C" [[noreturn]] void ap_main(uint32_t slot) {
  load_cpu_tables(slot);
  const uint32_t apic_id = current_apic_id();
  const uint32_t index = index_of_apic(apic_id);
  if (index == TG_MAX_CPUS) {
    Line().str("apic ").dec(apic_id).str(" is not in the MADT; parked").emit();
    halt_forever();
  }
  if (config.triple_fault && index == cpus.count - 1) triple_fault();
  if (config.double_fault && index == cpus.count - 1) double_fault();
  if (config.ipi_rounds != 0 && !prepare_ipi_phase_ap(slot, index)) {
    fail_and_exit("ipi=: APIC mode differs from the BSP's", TG_EXIT_SETUP_ERROR);
  }
  run_in_ring3(user_entry, index, index);
}
