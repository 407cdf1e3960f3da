// Where the test guest keeps its stacks, buffers and AP trampoline, and its exit codes.
// Shared by the guest's assembly entry code and its C++ (so: macros only, no C++ syntax).
#pragma once

// The AP trampoline page (SIPI vector kTrampolineAddr >> 12). 0x7000 is boot_params and
// 0x9000-0xEFFF are the page tables, so 0x8000 is the one free page in between.
#define TG_TRAMPOLINE_ADDR 0x8000

// Ring-0 stacks, one per arrival slot (slot 0 = BSP): [base + slot*size, base + (slot+1)*size).
#define TG_KERNEL_STACK_BASE 0x200000
#define TG_KERNEL_STACK_SIZE 0x4000
// The double-fault stack (IST 1) of each slot: the slot's lowest page, below the ring-0 stack
// (above the slot's first quadword, see ipi_phase). A #DF raised because the ring-0 stack
// itself is unusable is then still delivered and reported, instead of ending the guest in a
// silent triple fault.
#define TG_DF_STACK_TOP_OFFSET 0x1000
// Ring-3 stacks, one per CPU index.
#define TG_USER_STACK_BASE 0x300000
#define TG_USER_STACK_SIZE 0x4000
#define TG_MAX_CPUS 64
// The IPI phase's pages (ipi=N), one 4 KiB page per writer so that no page is written from
// two nodes: the control page (BSP-written, read by every handler), then one page per CPU
// index (written only by that CPU's handlers, which find it through the first quadword of
// their kernel-stack slot), then the BSP's round-trip samples. Offsets inside the pages below.
#define TG_IPI_BASE 0x400000
#define TG_IPI_CPU_PAGES (TG_IPI_BASE + 0x1000)
#define TG_IPI_SAMPLES (TG_IPI_CPU_PAGES + TG_MAX_CPUS * 0x1000)
#define TG_IPI_MAX_SAMPLES 32768
#define TG_IPI_END (TG_IPI_SAMPLES + TG_IPI_MAX_SAMPLES * 8)
// Control page: the ICR the ping and NMI handlers send back (low word, destination word).
#define TG_IPI_REPLY_ICR_LOW (TG_IPI_BASE + 0)
#define TG_IPI_REPLY_ICR_DEST (TG_IPI_BASE + 4)
#define TG_IPI_X2APIC (TG_IPI_BASE + 12)  // nonzero: x2APIC MSRs, else xAPIC MMIO
#define TG_XAPIC_BASE 0xFEE00000
// Per-CPU page (64-bit counters, the TSC of the last pong).
#define TG_IPI_PING_COUNT 0
#define TG_IPI_NMI_COUNT 8
#define TG_IPI_PONG_COUNT 16
#define TG_IPI_PONG_TSC 24
// Interrupt vectors of the IPI phase (one priority class, below every exception).
#define TG_VECTOR_PING 0x40   // BSP -> target: count, answer with a pong
#define TG_VECTOR_PONG 0x41   // target -> BSP: count, stamp the TSC
#define TG_VECTOR_WAKE 0x42   // BSP -> target: end of the phase (EOI only)
#define TG_VECTOR_TIMER 0x43  // the BSP's LAPIC timer: bounds every wait (EOI only)
// Page tables of each AP (arrival slot >= 1): its own PML4, PDPT and first page directory,
// built by the BSP and loaded by the trampoline (build_ap_page_tables in cpu.cc), one
// TG_PAGE_TABLES_SIZE block per slot.
#define TG_PAGE_TABLES_BASE 0x500000
#define TG_PAGE_TABLES_SIZE 0x3000
// Per-CPU memcpy buffers start here (after the image, the stacks, the IPI pages, the page
// tables and headroom).
#define TG_BUFFER_BASE 0x600000

// GDT selectors. 0x10 / 0x18 match the VMM's boot GDT so the switch is seamless.
#define TG_SEL_CODE32 0x08
#define TG_SEL_CODE64 0x10
#define TG_SEL_DATA 0x18
#define TG_SEL_USER_DATA 0x23
#define TG_SEL_USER_CODE 0x2B
#define TG_SEL_TSS0 0x30
#define TG_GDT_ENTRIES (6 + 2 * TG_MAX_CPUS)

// RFLAGS for ring 3: IOPL=0, IF=0, bit 1 reserved. This KVM runs ring 3 natively: a guest
// IOPL of 3 is not honoured, `int n` raises #UD and `syscall` does not reach CPL 0, but
// exceptions are delivered faithfully. So ring 3 simply executes `out` / `rep outsb` /
// `hlt`; each raises #GP and the ring-0 #GP handler performs it (trap and emulate).
#define TG_USER_RFLAGS 0x0002

// Exit codes written to the debug-exit port.
#define TG_EXIT_PASS 0
#define TG_EXIT_WRONG_TOTAL 1
#define TG_EXIT_SETUP_ERROR 2
#define TG_EXIT_AP_MISSING 3
#define TG_EXIT_IPI_LOST 4  // a round of the IPI phase got no answer in time
#define TG_EXIT_EXCEPTION_BASE 64  // + vector: a CPU exception (never silent)
