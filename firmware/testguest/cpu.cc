#include "firmware/testguest/cpu.h"

#include "firmware/test_guest_abi.h"
#include "firmware/testguest/arch.h"
#include "firmware/testguest/console.h"

extern "C" {
extern void (*const isr_stub_table[32])();
void ipi_ping_isr();
void ipi_pong_isr();
void ipi_eoi_isr();
void ipi_nmi_isr();
extern char ap_trampoline_start[];
extern char ap_trampoline_gdtr[];
extern char ap_trampoline_end[];
extern char ap_wakeup_entry[];
[[noreturn]] void enter_user(uint64_t rip, uint64_t rsp, uint64_t arg);
}

namespace heca::firmware::guest {
namespace {

struct [[gnu::packed]] Tss {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
};

struct IdtGate {
  uint64_t low;
  uint64_t high;
};

struct [[gnu::packed]] DescriptorPointer {
  uint16_t limit;
  uint64_t base;
};

// What the CPU reads to deliver an exception: written before the APs start (and the GDT's
// TSS busy bits by each CPU's ltr), then only read.
OwnPage<uint64_t[TG_GDT_ENTRIES]> gdt_page;
OwnPage<IdtGate[256]> idt_page;
OwnPage<Tss[TG_MAX_CPUS]> tss_page;
auto& gdt = gdt_page.value;
auto& idt = idt_page.value;
auto& tss = tss_page.value;

constexpr uint64_t kIa32ApicBase = 0x1B;
constexpr uint64_t kApicBaseEnable = 1U << 11;
constexpr uint64_t kApicBaseX2 = 1U << 10;
constexpr uint32_t kX2ApicSvr = 0x80F;
constexpr uint32_t kX2ApicIcr = 0x830;
constexpr uint64_t kXApicBase = 0xFEE00000;
constexpr uint64_t kXApicSvr = 0xF0;
constexpr uint64_t kXApicIcrLow = 0x300;
constexpr uint64_t kXApicIcrHigh = 0x310;
constexpr uint32_t kIcrDeliveryPending = 1U << 12;
constexpr uint32_t kIcrInitAssert = 0x4500;
constexpr uint64_t kInitToSipiMs = 10;
constexpr uint32_t kIcrStartup = 0x4600;
constexpr uint32_t kSvrEnableSpurious = 0x1FF;
constexpr uint32_t kX2ApicLvtTimer = 0x832;
constexpr uint64_t kXApicLvtTimer = 0x320;
constexpr uint64_t kXApicTimerDivide = 0x3E0;
constexpr uint32_t kX2ApicTimerDivide = 0x83E;
constexpr uint32_t kTimerDivideBy1 = 0xB;
constexpr uint32_t kTimerPeriodic = 1U << 17;
constexpr uint32_t kNmiVector = 2;
constexpr uint8_t kGateInterrupt = 0x8E;      // present, DPL 0, 64-bit interrupt gate

constexpr uint32_t kDoubleFaultVector = 8;
constexpr uint8_t kDoubleFaultIst = 1;

// `ist` 0: the current stack (or the TSS's rsp0 from ring 3); 1..7: the TSS's stack of that number.
IdtGate make_gate(void (*handler)(), uint8_t attributes, uint8_t ist = 0) {
  const auto offset = reinterpret_cast<uint64_t>(handler);
  IdtGate gate{};
  gate.low = (offset & 0xFFFF) | (uint64_t{TG_SEL_CODE64} << 16) | (uint64_t{ist & 7U} << 32) |
             (uint64_t{attributes} << 40) | ((offset >> 16 & 0xFFFF) << 48);
  gate.high = offset >> 32;
  return gate;
}

// A 16-byte available 64-bit TSS descriptor at gdt[index], gdt[index + 1].
void set_tss_descriptor(uint32_t index, const Tss* t) {
  const auto base = reinterpret_cast<uint64_t>(t);
  const uint64_t limit = sizeof(Tss) - 1;
  gdt[index] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (uint64_t{0x89} << 40) |
               ((base >> 24 & 0xFF) << 56);
  gdt[index + 1] = base >> 32;
}

// Reloads CS through a far return and the data segments, after lgdt.
void reload_segments() {
  asm volatile(
      "pushq %[cs]\n"
      "leaq 1f(%%rip), %%rax\n"
      "pushq %%rax\n"
      "lretq\n"
      "1:\n"
      "mov %[ds], %%ax\n"
      "mov %%ax, %%ds\n"
      "mov %%ax, %%es\n"
      "mov %%ax, %%ss\n"
      :
      : [cs] "i"(TG_SEL_CODE64), [ds] "i"(TG_SEL_DATA)
      : "rax", "memory");
}

bool has_x2apic() { return (cpuid(1).ecx & (1U << 21)) != 0; }

void send_ipi(bool x2apic, uint32_t apic_id, uint32_t icr_low) {
  if (x2apic) {
    wrmsr(kX2ApicIcr, (uint64_t{apic_id} << 32) | icr_low);
    return;
  }
  mmio_write32(kXApicBase + kXApicIcrHigh, apic_id << 24);
  mmio_write32(kXApicBase + kXApicIcrLow, icr_low);
  for (int spins = 0; spins < 1000 && (mmio_read32(kXApicBase + kXApicIcrLow) & kIcrDeliveryPending) != 0; ++spins) {
    cpu_relax();
  }
}

bool enable_lapic() {
  const bool x2apic = has_x2apic();
  const uint64_t base = rdmsr(kIa32ApicBase);
  if (x2apic) {
    wrmsr(kIa32ApicBase, base | kApicBaseEnable | kApicBaseX2);
    wrmsr(kX2ApicSvr, kSvrEnableSpurious);
  } else {
    wrmsr(kIa32ApicBase, base | kApicBaseEnable);
    mmio_write32(kXApicBase + kXApicSvr, kSvrEnableSpurious);
  }
  return x2apic;
}

// Copies the trampoline to TG_TRAMPOLINE_ADDR and patches in the GDT pointer.
void install_trampoline() {
  const auto size = static_cast<uint64_t>(ap_trampoline_end - ap_trampoline_start);
  auto* target = reinterpret_cast<char*>(TG_TRAMPOLINE_ADDR);
  __builtin_memcpy(target, ap_trampoline_start, size);
  const uint16_t limit = sizeof gdt - 1;
  const auto base = static_cast<uint32_t>(reinterpret_cast<uint64_t>(gdt));
  char* gdtr = target + (ap_trampoline_gdtr - ap_trampoline_start);
  __builtin_memcpy(gdtr, &limit, sizeof limit);
  __builtin_memcpy(gdtr + 2, &base, sizeof base);
}

static_assert(TG_IPI_END <= TG_PAGE_TABLES_BASE);
static_assert(TG_PAGE_TABLES_BASE + TG_MAX_CPUS * TG_PAGE_TABLES_SIZE <= TG_BUFFER_BASE);

// The page tables of AP slot `slot`: a copy of the BSP's PML4, PDPT and first page directory
// (the first GiB, where the guest lives); the upper GiBs' directories, which only map MMIO,
// stay shared. The AP's trampoline loads them at once. A nested page walk treats the guest
// tables it reads as written, so tables that CPUs on several nodes walk would move between
// the nodes at every TLB miss.
void build_ap_page_tables(uint32_t slot) {
  constexpr uint64_t kAddressMask = 0x000FFFFFFFFFF000;
  constexpr uint64_t kPage = 0x1000;
  const uint64_t boot_pml4 = read_cr3() & kAddressMask;
  const uint64_t boot_pdpt = reinterpret_cast<const uint64_t*>(boot_pml4)[0] & kAddressMask;
  const uint64_t boot_pd = reinterpret_cast<const uint64_t*>(boot_pdpt)[0] & kAddressMask;
  const uint64_t pml4 = TG_PAGE_TABLES_BASE + uint64_t{slot} * TG_PAGE_TABLES_SIZE;
  const uint64_t pdpt = pml4 + kPage;
  const uint64_t pd = pdpt + kPage;
  __builtin_memcpy(reinterpret_cast<void*>(pml4), reinterpret_cast<const void*>(boot_pml4), kPage);
  __builtin_memcpy(reinterpret_cast<void*>(pdpt), reinterpret_cast<const void*>(boot_pdpt), kPage);
  __builtin_memcpy(reinterpret_cast<void*>(pd), reinterpret_cast<const void*>(boot_pd), kPage);
  auto* own_pml4 = reinterpret_cast<uint64_t*>(pml4);
  auto* own_pdpt = reinterpret_cast<uint64_t*>(pdpt);
  own_pml4[0] = pdpt | (own_pml4[0] & ~kAddressMask);
  own_pdpt[0] = pd | (own_pdpt[0] & ~kAddressMask);
}

}  // namespace

void init_descriptor_tables() {
  gdt[0] = 0;
  gdt[TG_SEL_CODE32 / 8] = 0x00CF9A000000FFFF;
  gdt[TG_SEL_CODE64 / 8] = 0x00AF9A000000FFFF;
  gdt[TG_SEL_DATA / 8] = 0x00CF92000000FFFF;
  gdt[TG_SEL_USER_DATA / 8] = 0x00CFF2000000FFFF;
  gdt[TG_SEL_USER_CODE / 8] = 0x00AFFA000000FFFF;
  for (uint32_t v = 0; v < 32; ++v) idt[v] = make_gate(isr_stub_table[v], kGateInterrupt);
  idt[kDoubleFaultVector] = make_gate(isr_stub_table[kDoubleFaultVector], kGateInterrupt, kDoubleFaultIst);
}

void load_cpu_tables(uint32_t slot) {
  Tss* t = &tss[slot];
  const uint64_t slot_base = TG_KERNEL_STACK_BASE + uint64_t{slot} * TG_KERNEL_STACK_SIZE;
  t->rsp[0] = slot_base + TG_KERNEL_STACK_SIZE;
  t->ist[kDoubleFaultIst - 1] = slot_base + TG_DF_STACK_TOP_OFFSET;
  t->iomap_base = sizeof(Tss);  // no I/O bitmap: ring-3 port I/O raises #GP (see entry.S)
  const uint32_t tss_index = TG_SEL_TSS0 / 8 + 2 * slot;
  set_tss_descriptor(tss_index, t);
  const DescriptorPointer gdtr{sizeof gdt - 1, reinterpret_cast<uint64_t>(gdt)};
  const DescriptorPointer idtr{sizeof idt - 1, reinterpret_cast<uint64_t>(idt)};
  asm volatile("lgdt %0" : : "m"(gdtr) : "memory");
  reload_segments();
  asm volatile("lidt %0" : : "m"(idtr) : "memory");
  asm volatile("ltr %w0" : : "r"(static_cast<uint16_t>(tss_index * 8)) : "memory");
}

namespace {

// Mailbox fields (ACPI 6.4 5.2.12.19): command u16, apic_id u32, wakeup_vector u64.
constexpr uint64_t kMailboxApicId = 4;
constexpr uint64_t kMailboxVector = 8;
constexpr uint16_t kMailboxWakeup = 1;

// Waits until the mailbox's command is 0 again: the AP it addressed has taken the request.
bool wait_for_mailbox(uint64_t mailbox, uint64_t deadline) {
  while (__atomic_load_n(reinterpret_cast<volatile uint16_t*>(mailbox), __ATOMIC_ACQUIRE) != 0) {
    if (rdtsc() > deadline) return false;
    cpu_relax();
  }
  return true;
}

// One request at a time: the mailbox has room for one, and only the addressed AP clears it.
// APs that their VMM parked in the ACPI wakeup firmware jump to ap_wakeup_entry in long mode.
void start_aps_by_mailbox(const CpuTable& cpus, uint32_t bsp_apic_id, uint64_t deadline) {
  const uint64_t mailbox = cpus.wakeup_mailbox;
  for (uint32_t i = 0; i < cpus.count; ++i) {
    if (cpus.apic_ids[i] == bsp_apic_id) continue;
    *reinterpret_cast<volatile uint32_t*>(mailbox + kMailboxApicId) = cpus.apic_ids[i];
    *reinterpret_cast<volatile uint64_t*>(mailbox + kMailboxVector) =
        reinterpret_cast<uint64_t>(ap_wakeup_entry);
    __atomic_store_n(reinterpret_cast<volatile uint16_t*>(mailbox), kMailboxWakeup, __ATOMIC_RELEASE);
    if (!wait_for_mailbox(mailbox, deadline)) {
      Line().str("cpu ").dec(i).str(" apic ").dec(cpus.apic_ids[i]).str(" did not take its wakeup").emit();
      fail_and_exit("ap did not answer the wakeup mailbox", TG_EXIT_AP_MISSING);
    }
  }
}

}  // namespace

void start_aps(const CpuTable& cpus, uint32_t bsp_apic_id, uint64_t tsc_khz, uint64_t timeout_s) {
  const bool x2apic = enable_lapic();
  for (uint32_t slot = 1; slot < cpus.count; ++slot) build_ap_page_tables(slot);
  if (cpus.wakeup_mailbox != 0) {
    start_aps_by_mailbox(cpus, bsp_apic_id, rdtsc() + timeout_s * tsc_khz * 1000);
    return;
  }
  install_trampoline();
  const uint32_t sipi = kIcrStartup | (TG_TRAMPOLINE_ADDR >> 12);
  for (uint32_t i = 0; i < cpus.count; ++i) {
    if (cpus.apic_ids[i] != bsp_apic_id) send_ipi(x2apic, cpus.apic_ids[i], kIcrInitAssert);
  }
  const uint64_t init_deassert_wait = rdtsc() + kInitToSipiMs * tsc_khz;
  while (rdtsc() < init_deassert_wait) cpu_relax();
  for (int round = 0; round < 2; ++round) {
    for (uint32_t i = 0; i < cpus.count; ++i) {
      if (cpus.apic_ids[i] != bsp_apic_id) send_ipi(x2apic, cpus.apic_ids[i], sipi);
    }
  }
}

void install_ipi_gates() {
  idt[kNmiVector] = make_gate(ipi_nmi_isr, kGateInterrupt);
  idt[TG_VECTOR_PING] = make_gate(ipi_ping_isr, kGateInterrupt);
  idt[TG_VECTOR_PONG] = make_gate(ipi_pong_isr, kGateInterrupt);
  idt[TG_VECTOR_WAKE] = make_gate(ipi_eoi_isr, kGateInterrupt);
  idt[TG_VECTOR_TIMER] = make_gate(ipi_eoi_isr, kGateInterrupt);
}

bool prepare_ipi_cpu(uint32_t slot, uint64_t cpu_page) {
  *reinterpret_cast<uint64_t*>(TG_KERNEL_STACK_BASE + uint64_t{slot} * TG_KERNEL_STACK_SIZE) = cpu_page;
  return enable_lapic();
}

void prepare_ipi_timer(bool x2apic) {
  if (x2apic) {
    wrmsr(kX2ApicTimerDivide, kTimerDivideBy1);
    wrmsr(kX2ApicLvtTimer, kTimerPeriodic | TG_VECTOR_TIMER);
    return;
  }
  mmio_write32(kXApicBase + kXApicTimerDivide, kTimerDivideBy1);
  mmio_write32(kXApicBase + kXApicLvtTimer, kTimerPeriodic | TG_VECTOR_TIMER);
}

void run_in_ring3(void (*entry)(uint64_t), uint32_t cpu_index, uint64_t arg) {
  // -8: the ABI's stack alignment at function entry (as if called).
  const uint64_t rsp = TG_USER_STACK_BASE + (uint64_t{cpu_index} + 1) * TG_USER_STACK_SIZE - 8;
  enter_user(reinterpret_cast<uint64_t>(entry), rsp, arg);
}

}  // namespace heca::firmware::guest

struct TrapFrame {
  uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

// Every CPU exception ends the run loudly: vector, RIP and error code on the UART.
extern "C" [[noreturn]] void trap_handler(const TrapFrame* frame) {
  using namespace heca::firmware::guest;
  Line()
      .str("exception vector=")
      .dec(frame->vector)
      .str(" rip=0x")
      .hex(frame->rip)
      .str(" error=0x")
      .hex(frame->error)
      .str(" cs=0x")
      .hex(frame->cs)
      .str(" rsp=0x")
      .hex(frame->rsp)
      .str(" cr2=0x")
      .hex(read_cr2())
      .str(" apic=")
      .dec(current_apic_id())
      .emit_from_exception();
  out32(heca::firmware::abi::kDebugExitPort, TG_EXIT_EXCEPTION_BASE + static_cast<uint32_t>(frame->vector));
  halt_forever();
}
