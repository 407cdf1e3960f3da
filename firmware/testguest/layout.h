// Where the test guest keeps its stacks, buffers and AP trampoline, and its exit codes.
// Shared by the guest's assembly entry code and its C++ (so: macros only, no C++ syntax).
#pragma once

// The AP trampoline page (SIPI vector kTrampolineAddr >> 12). 0x7000 is boot_params and
// 0x9000-0xEFFF are the page tables, so 0x8000 is the one free page in between.
#define TG_TRAMPOLINE_ADDR 0x8000

// Ring-0 stacks, one per arrival slot (slot 0 = BSP): [base + slot*size, base + (slot+1)*size).
#define TG_KERNEL_STACK_BASE 0x200000
#define TG_KERNEL_STACK_SIZE 0x4000
// Ring-3 stacks, one per CPU index.
#define TG_USER_STACK_BASE 0x300000
#define TG_USER_STACK_SIZE 0x4000
// Per-CPU memcpy buffers start here (after the image, the stacks and headroom).
#define TG_BUFFER_BASE 0x400000
#define TG_MAX_CPUS 64

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
#define TG_EXIT_EXCEPTION_BASE 64  // + vector: a CPU exception (never silent)
