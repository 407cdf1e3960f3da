// Test guest entry points: the BSP's 64-bit entry, the AP real-mode trampoline and its
// protected/long-mode continuation, exception stubs and the ring-3 transition.
#include "firmware/testguest/layout.h"

#define EFER_MSR 0xC0000080
#define EFER_LME 0x100
#define CR4_PAE 0x20
#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR0_NW_CD 0x60000000

// ---- BSP: entered at the load address in long mode, RSI = boot_params ----
  .section .text.entry, "ax"
  .code64
  .globl _start
_start:
  cli
  cld
  mov $(TG_KERNEL_STACK_BASE + TG_KERNEL_STACK_SIZE), %rsp
  mov %rsi, %rdi
  call bsp_main
1:
  hlt
  jmp 1b

// ---- AP trampoline: copied to TG_TRAMPOLINE_ADDR, entered in real mode at CS:0 ----
// Only position-independent 16-bit code here; it jumps straight into the image.
  .text
  .code16
  .globl ap_trampoline_start, ap_trampoline_gdtr, ap_trampoline_end
ap_trampoline_start:
  cli
  cld
  mov %cs, %ax
  mov %ax, %ds
  lgdtl (ap_trampoline_gdtr - ap_trampoline_start)
  mov %cr0, %eax
  or $CR0_PE, %eax
  mov %eax, %cr0
  ljmpl $TG_SEL_CODE32, $ap_protected_mode
  .balign 8
ap_trampoline_gdtr:  // filled in by the BSP: 16-bit limit, 32-bit base of the guest GDT
  .word 0
  .long 0
ap_trampoline_end:

// ---- AP: 32-bit protected mode, flat segments; take the next slot (kept in EBX), enable
// PAE + LME + paging on that slot's own page tables (built by the BSP) ----
  .code32
ap_protected_mode:
  mov $TG_SEL_DATA, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  mov $1, %ebx
  lock xadd %ebx, ap_next_slot
  mov %cr4, %eax
  or $CR4_PAE, %eax
  mov %eax, %cr4
  imul $TG_PAGE_TABLES_SIZE, %ebx, %eax
  add $TG_PAGE_TABLES_BASE, %eax
  mov %eax, %cr3
  mov $EFER_MSR, %ecx
  rdmsr
  or $EFER_LME, %eax
  wrmsr
  mov %cr0, %eax
  and $~CR0_NW_CD, %eax  // INIT leaves caching disabled
  or $CR0_PG, %eax
  mov %eax, %cr0
  ljmp $TG_SEL_CODE64, $ap_long_mode

// ---- AP woken through the ACPI wakeup mailbox: already in long mode on the wakeup
// firmware's GDT and identity map, interrupts off; take the next slot (kept in EBX) and that
// slot's own page tables, then continue as the trampoline does ----
  .code64
  .globl ap_wakeup_entry
ap_wakeup_entry:
  cli
  cld
  mov $1, %ebx
  lock xadd %ebx, ap_next_slot(%rip)
  imul $TG_PAGE_TABLES_SIZE, %ebx, %eax
  add $TG_PAGE_TABLES_BASE, %eax
  mov %rax, %cr3
  jmp ap_long_mode

// ---- AP: long mode; the slot's kernel stack, then join C++ ----
ap_long_mode:
  mov $TG_SEL_DATA, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  mov %ebx, %eax
  mov %eax, %edi
  inc %eax
  imul $TG_KERNEL_STACK_SIZE, %rax, %rax
  add $TG_KERNEL_STACK_BASE, %rax
  mov %rax, %rsp
  call ap_main
2:
  hlt
  jmp 2b

// ---- enter_user(rip, rsp, arg): iretq to ring 3, interrupts off ----
  .globl enter_user
enter_user:
  pushq $TG_SEL_USER_DATA
  pushq %rsi
  pushq $TG_USER_RFLAGS
  pushq $TG_SEL_USER_CODE
  pushq %rdi
  mov %rdx, %rdi
  iretq

// ---- exception stubs: frame = vector, error code, then the CPU's iretq frame ----
.macro ISR_NOERR n
isr\n:
  pushq $0
  pushq $\n
  jmp isr_common
.endm
.macro ISR_ERR n
isr\n:
  pushq $\n
  jmp isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR 8
ISR_NOERR 9
ISR_ERR 10
ISR_ERR 11
ISR_ERR 12
ISR_ERR 14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR 17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR 21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR 29
ISR_ERR 30
ISR_NOERR 31

// #GP. From ring 3 it is how ring 3 does port I/O and halts: perform the instruction
// at RIP here and return past it. Anything else is a real fault. Few instructions on
// purpose: ring 0 is emulated. Stack on entry: error code, RIP, CS, RFLAGS, RSP, SS.
isr13:
  testb $3, 16(%rsp)
  jz 9f
  push %rbx
  mov 16(%rsp), %rbx
  cmpb $0xEE, (%rbx)
  je 10f
  cmpb $0xEF, (%rbx)
  je 11f
  cmpw $0x6EF3, (%rbx)
  je 12f
  cmpb $0xF4, (%rbx)
  je 14f
  cmpw $0xF4FB, (%rbx)
  je 16f
  cmpw $0x300F, (%rbx)
  je 17f
  pop %rbx
9:
  pushq $13
  jmp isr_common
10:  // out %al, (%dx)
  outb %al, %dx
  jmp 15f
11:  // out %eax, (%dx)
  outl %eax, %dx
  jmp 15f
12:  // rep outsb: bytes [rsi, rsi + rcx) to port dx
  test %rcx, %rcx
  jz 13f
  movb (%rsi), %bl
  xchg %bl, %al
  outb %al, %dx
  xchg %bl, %al
  inc %rsi
  dec %rcx
  jmp 12b
13:
  addq $1, 16(%rsp)
  jmp 15f
14:  // hlt: ring 3 is done on this CPU; halt it for good
  cli
  hlt
  jmp 14b
15:
  addq $1, 16(%rsp)
  pop %rbx
  add $8, %rsp
  iretq
16:  // sti; hlt: wait here for one interrupt, return to ring 3 with interrupts still off
  sti
  hlt
  cli
  jmp 13b
17:  // wrmsr: only the x2APIC ICR and the timer's initial count, so ring 3 can send IPIs
  cmp $0x830, %ecx
  je 18f
  cmp $0x838, %ecx
  jne 19f
18:
  wrmsr
  jmp 13b
19:
  pop %rbx
  jmp 9b

// ---- IPI phase interrupt handlers (ring 0; see layout.h) ----
// Kernel-stack slots are TG_KERNEL_STACK_SIZE-aligned and each CPU keeps the address of its
// per-CPU page in the first quadword of its slot, so rsp leads to it in three instructions.
// The counters are bumped with a locked instruction before the pong goes out: the x2APIC
// ICR write is not ordered after plain stores, a locked one is.
.macro CPU_PAGE reg
  mov %rsp, \reg
  and $-TG_KERNEL_STACK_SIZE, \reg
  mov (\reg), \reg
.endm

  .globl ipi_ping_isr, ipi_pong_isr, ipi_eoi_isr, ipi_nmi_isr
ipi_ping_isr:
  push %rax
  push %rcx
  push %rdx
  CPU_PAGE %rax
  lock incq TG_IPI_PING_COUNT(%rax)
  call send_reply
eoi_and_return:
  cmpl $0, TG_IPI_X2APIC
  je 1f
  mov $0x80B, %ecx  // x2APIC EOI
  xor %eax, %eax
  xor %edx, %edx
  wrmsr
  jmp 2f
1:
  mov $TG_XAPIC_BASE, %ecx  // xAPIC EOI
  movl $0, 0xB0(%rcx)
2:
  pop %rdx
  pop %rcx
  pop %rax
  iretq

ipi_pong_isr:
  push %rax
  push %rcx
  push %rdx
  CPU_PAGE %rcx
  rdtsc
  mov %eax, TG_IPI_PONG_TSC(%rcx)
  mov %edx, (TG_IPI_PONG_TSC + 4)(%rcx)
  lock incq TG_IPI_PONG_COUNT(%rcx)
  jmp eoi_and_return

ipi_eoi_isr:
  push %rax
  push %rcx
  push %rdx
  jmp eoi_and_return

// An NMI has no EOI.
ipi_nmi_isr:
  push %rax
  push %rcx
  push %rdx
  CPU_PAGE %rax
  lock incq TG_IPI_NMI_COUNT(%rax)
  call send_reply
  pop %rdx
  pop %rcx
  pop %rax
  iretq

// Sends the pong the control page describes; clobbers rax, rcx, rdx.
send_reply:
  mov TG_IPI_REPLY_ICR_LOW, %eax
  mov TG_IPI_REPLY_ICR_DEST, %edx
  cmpl $0, TG_IPI_X2APIC
  je 1f
  mov $0x830, %ecx
  wrmsr
  ret
1:  // xAPIC: destination in ICR high bits 24-31, then the write to ICR low sends
  shl $24, %edx
  mov $TG_XAPIC_BASE, %ecx
  mov %edx, 0x310(%rcx)
  mov %eax, 0x300(%rcx)
  ret

isr_common:
  mov %rsp, %rdi
  and $-16, %rsp
  call trap_handler
3:
  hlt
  jmp 3b

  .section .rodata
  .balign 8
  .globl isr_stub_table
isr_stub_table:
  .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  .quad isr\n
  .endr

  .data
  .balign 4096  // a page of its own: every AP takes a slot (arch.h, OwnPage)
ap_next_slot:  // slot 0 is the BSP's
  .long 1
  .balign 4096

  .section .note.GNU-stack, "", @progbits
