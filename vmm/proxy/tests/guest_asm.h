// GuestAsm: a few hand-encoded x86-64 instructions for the tiny ring-0 guests of the proxy
// tests; each method emits exactly the instruction it names.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace heca::vmm::proxy::testing {

class GuestAsm {
 public:
  void raw(std::initializer_list<std::uint8_t> b) { code_.insert(code_.end(), b); }
  void imm32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) raw({static_cast<std::uint8_t>(v >> (8 * i))});
  }
  void mov_eax(std::uint32_t v) { raw({0xB8}), imm32(v); }
  void mov_ecx(std::uint32_t v) { raw({0xB9}), imm32(v); }
  void mov_edx(std::uint32_t v) { raw({0xBA}), imm32(v); }
  void mov_rsp(std::uint32_t v) { raw({0x48, 0xC7, 0xC4}), imm32(v); }  // sign-extended
  void or_eax(std::uint32_t v) { raw({0x0D}), imm32(v); }
  void rdmsr() { raw({0x0F, 0x32}); }
  void wrmsr() { raw({0x0F, 0x30}); }
  void rdtsc() { raw({0x0F, 0x31}); }
  void iretq() { raw({0x48, 0xCF}); }
  // mov %eax, (addr) / mov %edx, (addr) with a 32-bit absolute address.
  void store_eax(std::uint32_t addr) { raw({0x89, 0x04, 0x25}), imm32(addr); }
  void store_edx(std::uint32_t addr) { raw({0x89, 0x14, 0x25}), imm32(addr); }
  // movl $value, (addr)
  void store_imm(std::uint32_t addr, std::uint32_t value) {
    raw({0xC7, 0x04, 0x25}), imm32(addr), imm32(value);
  }
  // 1: mov (addr), %eax; cmp $value, %eax; jb 1b  (waits until *addr >= value)
  void wait_at_least(std::uint32_t addr, std::uint32_t value) {
    raw({0x8B, 0x04, 0x25}), imm32(addr);
    raw({0x3D}), imm32(value);
    raw({0x72, 0xF2});
  }
  // mov $value, %eax; mov $port, %dx; out %eax, %dx
  void out32(std::uint16_t port, std::uint32_t value) {
    mov_eax(value);
    raw({0x66, 0xBA, static_cast<std::uint8_t>(port), static_cast<std::uint8_t>(port >> 8)});
    raw({0xEF});
  }
  void x2apic_enable() {
    mov_ecx(0x1B), rdmsr(), or_eax(0xC00), wrmsr();       // IA32_APIC_BASE: EN | EXTD
    mov_ecx(0x80F), mov_eax(0x1FF), mov_edx(0), wrmsr();  // SVR: software-enabled
  }
  // wrmsr to the x2APIC ICR: destination in EDX, command in EAX.
  void send_ipi(std::uint32_t apic_id, std::uint32_t command) {
    mov_ecx(0x830), mov_edx(apic_id), mov_eax(command), wrmsr();
  }
  void eoi() { mov_ecx(0x80B), mov_eax(0), mov_edx(0), wrmsr(); }
  void sti_hlt_loop() { raw({0xFB, 0xF4, 0xEB, 0xFC}); }
  void cli_hlt_loop() { raw({0xFA, 0xF4, 0xEB, 0xFC}); }
  void pad_to(std::size_t offset) { code_.resize(offset, 0xCC); }
  [[nodiscard]] std::size_t size() const { return code_.size(); }
  [[nodiscard]] const std::vector<std::uint8_t>& code() const { return code_; }

 private:
  std::vector<std::uint8_t> code_;
};

}  // namespace heca::vmm::proxy::testing
