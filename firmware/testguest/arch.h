// Thin wrappers over the x86 instructions the test guest needs (port I/O, MSRs, CPUID, TSC).
// Ring-3 safe unless marked ring 0.
#pragma once

#include <stdint.h>

#include "firmware/testguest/layout.h"

namespace heca::firmware::guest {

// A variable on guest pages of its own. Across nodes a page moves whole: data that CPUs keep
// writing (a lock, a barrier, check-in flags) must not share a page with data every CPU needs
// to read (the IDT, GDT and TSSes, the configuration), or each write takes those away from
// every other node and each read brings them back.
template <typename T>
struct alignas(4096) OwnPage {
  T value;
};

inline bool in_ring0() {
  uint16_t cs = 0;
  asm volatile("mov %%cs, %0" : "=r"(cs));
  return (cs & 3) == 0;
}

// Port output from either ring. In ring 3 these raise #GP and the ring-0 handler performs
// them (entry.S); `rep outsb` makes that one trap per string instead of one per byte.
inline void out_bytes(uint16_t port, const char* bytes, uint64_t count) {
  if (in_ring0()) {
    for (uint64_t i = 0; i < count; ++i) asm volatile("outb %0, %1" : : "a"(bytes[i]), "Nd"(port));
    return;
  }
  asm volatile("rep outsb" : "+S"(bytes), "+c"(count) : "d"(port) : "memory");
}
inline void out32(uint16_t port, uint32_t value) { asm volatile("outl %0, %1" : : "a"(value), "d"(port)); }
// Ring 3: halts this CPU for good (hlt traps to the #GP handler, which halts in ring 0).
[[noreturn]] inline void park_cpu() {
  for (;;) asm volatile("hlt" : : : "memory");
}

inline uint64_t rdtsc() {
  uint32_t lo = 0;
  uint32_t hi = 0;
  asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// Spin-wait hint; the vCPUs share few host cores, so every spin loop must use it.
inline void cpu_relax() { asm volatile("pause" : : : "memory"); }

struct CpuidRegs {
  uint32_t eax, ebx, ecx, edx;
};
inline CpuidRegs cpuid(uint32_t leaf, uint32_t subleaf = 0) {
  CpuidRegs r{};
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
  return r;
}

// Ring 0 only.
inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo = 0;
  uint32_t hi = 0;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}
inline void wrmsr(uint32_t msr, uint64_t value) {
  asm volatile("wrmsr" : : "c"(msr), "a"(static_cast<uint32_t>(value)), "d"(static_cast<uint32_t>(value >> 32)) : "memory");
}
inline uint64_t read_cr3() {
  uint64_t value = 0;
  asm volatile("mov %%cr3, %0" : "=r"(value));
  return value;
}
inline uint64_t read_cr2() {
  uint64_t value = 0;
  asm volatile("mov %%cr2, %0" : "=r"(value));
  return value;
}
// Ring 0: an empty IDT, then an exception: neither it nor the double fault can be delivered,
// so the CPU shuts down (the VMM sees a triple fault).
[[noreturn]] inline void triple_fault() {
  struct [[gnu::packed]] {
    uint16_t limit;
    uint64_t base;
  } empty{0, 0};
  asm volatile("lidt %0; ud2" : : "m"(empty) : "memory");
  __builtin_unreachable();
}

// Ring 0: a non-canonical stack, then an exception. Delivering it faults on the stack (#SS),
// delivering that faults again: a double fault, which its own stack (IST 1) still delivers.
[[noreturn]] inline void double_fault() {
  asm volatile("movabs $0x8000000000001000, %%rsp; ud2" : : : "memory");
  __builtin_unreachable();
}

[[noreturn]] inline void halt_forever() {
  for (;;) asm volatile("cli; hlt");
}

inline void mmio_write32(uint64_t addr, uint32_t value) { *reinterpret_cast<volatile uint32_t*>(addr) = value; }
inline uint32_t mmio_read32(uint64_t addr) { return *reinterpret_cast<volatile uint32_t*>(addr); }

// Unaligned little-endian loads from firmware tables.
inline uint8_t load8(uint64_t addr) { return *reinterpret_cast<const volatile uint8_t*>(addr); }
inline uint32_t load32(uint64_t addr) {
  uint32_t v = 0;
  __builtin_memcpy(&v, reinterpret_cast<const void*>(addr), sizeof v);
  return v;
}
inline uint64_t load64(uint64_t addr) {
  uint64_t v = 0;
  __builtin_memcpy(&v, reinterpret_cast<const void*>(addr), sizeof v);
  return v;
}

// Ring 0 only. This CPU's APIC id, from its local APIC (x2APIC ID MSR or xAPIC ID register).
// Not from CPUID: on this KVM flavour CPUID may report the host CPU's APIC id.
inline uint32_t current_apic_id() {
  constexpr uint32_t kIa32ApicBase = 0x1B;
  constexpr uint64_t kApicBaseX2 = 1U << 10;
  constexpr uint32_t kX2ApicId = 0x802;
  constexpr uint64_t kXApicId = 0xFEE00020;
  if ((rdmsr(kIa32ApicBase) & kApicBaseX2) != 0) return static_cast<uint32_t>(rdmsr(kX2ApicId));
  return mmio_read32(kXApicId) >> 24;
}

}  // namespace heca::firmware::guest
