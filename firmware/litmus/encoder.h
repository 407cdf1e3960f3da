// A tiny x86-64 encoder for the instructions litmus threads use. Memory operands are
// absolute 32-bit addresses ([disp32] through a SIB byte, not RIP-relative); all operations
// are 64 bits wide.
#pragma once

#include <cstdint>
#include <vector>

namespace heca::firmware::litmus {

class Encoder {
 public:
  void store_imm(std::uint32_t addr, std::uint32_t imm);  // mov qword [addr], imm32
  void store_reg(std::uint32_t addr, int reg);           // mov [addr], reg
  void load(int reg, std::uint32_t addr);                // mov reg, [addr]
  void mov_imm(int reg, std::uint32_t imm);              // mov reg, imm32
  void mfence();
  void xchg(std::uint32_t addr, int reg);                 // xchg [addr], reg
  void lock_add_imm(std::uint32_t addr, std::uint32_t imm);  // lock add qword [addr], imm32
  void lock_add_reg(std::uint32_t addr, int reg);         // lock add [addr], reg
  void lock_xadd(std::uint32_t addr, int reg);            // lock xadd [addr], reg
  void lock_cmpxchg(std::uint32_t addr, int reg);         // lock cmpxchg [addr], reg
  void push(int reg);
  void pop(int reg);
  void ret();

  [[nodiscard]] const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  void rex_w(int reg_field, int rm_field);
  void memory_operand(int reg_field, std::uint32_t addr);
  void imm32(std::uint32_t value);
  std::vector<std::uint8_t> bytes_;
};

}  // namespace heca::firmware::litmus
