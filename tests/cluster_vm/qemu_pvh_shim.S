// A PVH entry for QEMU TCG that boots the embedded test guest the way heca does: boot_params
// at 0x7000 (cmdline, RSDP, e820 from QEMU's hvm_start_info), identity-mapped page tables at
// 0x9000-0xEFFF (4 GiB, 2 MiB pages, user-accessible), heca's boot GDT selectors, then the
// 64-bit entry at 1 MiB with RSI = boot_params. It lets the guest run without /dev/kvm.

#define BOOT_PARAMS 0x7000
#define PML4 0x9000
#define PDPT 0xA000
#define PD0 0xB000

  .section .note.Xen, "a"
  .balign 4
  .long 4, 4, 18  // name size, descriptor size, XEN_ELFNOTE_PHYS32_ENTRY
  .asciz "Xen"
  .balign 4
  .long pvh_entry

// ---- 32-bit protected mode, paging off, EBX = hvm_start_info ----
  .text
  .code32
  .globl pvh_entry
pvh_entry:
  cli
  cld
  mov $0xFF, %al  // mask both 8259s: the firmware left the PIT on vector 8
  out %al, $0x21
  out %al, $0xA1
  xor %eax, %eax
  mov $BOOT_PARAMS, %edi
  mov $1024, %ecx
  rep stosl
  mov $PML4, %edi
  mov $(6 * 1024), %ecx
  rep stosl
  mov 24(%ebx), %eax  // cmdline_paddr
  mov %eax, BOOT_PARAMS + 0x228
  mov 32(%ebx), %eax  // rsdp_paddr
  mov %eax, BOOT_PARAMS + 0x70
  mov 36(%ebx), %eax
  mov %eax, BOOT_PARAMS + 0x74
  mov 48(%ebx), %ecx  // memmap_entries (start_info version 1)
  cmp $128, %ecx
  jbe 1f
  mov $128, %ecx
1:
  mov %cl, BOOT_PARAMS + 0x1e8
  mov 40(%ebx), %esi  // memmap_paddr: 24-byte entries to 20-byte e820 entries
  mov $(BOOT_PARAMS + 0x2d0), %edi
2:
  test %ecx, %ecx
  jz 3f
  movsl
  movsl
  movsl
  movsl
  movsl
  add $4, %esi
  dec %ecx
  jmp 2b
3:
  movl $(PDPT | 7), PML4
  movl $(PD0 | 7), PDPT
  movl $((PD0 + 0x1000) | 7), PDPT + 8
  movl $((PD0 + 0x2000) | 7), PDPT + 16
  movl $((PD0 + 0x3000) | 7), PDPT + 24
  mov $PD0, %edi
  mov $0x87, %eax  // present, writable, user, 2 MiB
  mov $2048, %ecx
4:
  mov %eax, (%edi)
  add $8, %edi
  add $0x200000, %eax
  loop 4b
  lgdt gdtr
  mov %cr4, %eax
  or $0x20, %eax  // PAE
  mov %eax, %cr4
  mov $PML4, %eax
  mov %eax, %cr3
  mov $0xC0000080, %ecx
  rdmsr
  or $0x100, %eax  // EFER.LME
  wrmsr
  mov %cr0, %eax
  or $0x80000001, %eax  // PG, PE
  mov %eax, %cr0
  ljmp $0x10, $long_mode

  .code64
long_mode:
  mov $0x18, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  mov $BOOT_PARAMS, %esi
  mov $0x100000, %eax
  jmp *%rax

  .data
  .balign 16
gdt:  // heca's boot GDT: 0x08 code32, 0x10 code64, 0x18 data
  .quad 0
  .quad 0x00CF9A000000FFFF
  .quad 0x00AF9A000000FFFF
  .quad 0x00CF92000000FFFF
gdtr:
  .word 31
  .long gdt

  .section .guest, "ax"
  .incbin HECA_TESTGUEST_BIN_PATH

  .section .note.GNU-stack, "", @progbits
