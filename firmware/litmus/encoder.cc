#include "firmware/litmus/encoder.h"

#include "kernel/base/check.h"

namespace heca::firmware::litmus {
namespace {

constexpr std::uint8_t kLock = 0xF0;
constexpr std::uint8_t kTwoByte = 0x0F;

std::uint8_t low3(int reg) { return static_cast<std::uint8_t>(reg & 7); }

}  // namespace

void Encoder::rex_w(int reg_field, int rm_field) {
  HECA_CHECK(reg_field >= 0 && reg_field < 16 && rm_field >= 0 && rm_field < 16);
  bytes_.push_back(static_cast<std::uint8_t>(0x48 | ((reg_field >> 3) << 2) | (rm_field >> 3)));
}

// ModRM mod=00 rm=100 + SIB (no index, base=101): a bare disp32, sign-extended.
void Encoder::memory_operand(int reg_field, std::uint32_t addr) {
  HECA_CHECK(addr < 0x80000000U);
  bytes_.push_back(static_cast<std::uint8_t>((low3(reg_field) << 3) | 0x04));
  bytes_.push_back(0x25);
  imm32(addr);
}

void Encoder::imm32(std::uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

void Encoder::store_imm(std::uint32_t addr, std::uint32_t imm) {
  HECA_CHECK(imm < 0x80000000U);
  rex_w(0, 0);
  bytes_.push_back(0xC7);
  memory_operand(0, addr);
  imm32(imm);
}

void Encoder::store_reg(std::uint32_t addr, int reg) {
  rex_w(reg, 0);
  bytes_.push_back(0x89);
  memory_operand(reg, addr);
}

void Encoder::load(int reg, std::uint32_t addr) {
  rex_w(reg, 0);
  bytes_.push_back(0x8B);
  memory_operand(reg, addr);
}

void Encoder::mov_imm(int reg, std::uint32_t imm) {
  HECA_CHECK(imm < 0x80000000U);
  rex_w(0, reg);
  bytes_.push_back(0xC7);
  bytes_.push_back(static_cast<std::uint8_t>(0xC0 | low3(reg)));
  imm32(imm);
}

void Encoder::mfence() { bytes_.insert(bytes_.end(), {kTwoByte, 0xAE, 0xF0}); }

void Encoder::xchg(std::uint32_t addr, int reg) {
  rex_w(reg, 0);
  bytes_.push_back(0x87);
  memory_operand(reg, addr);
}

void Encoder::lock_add_imm(std::uint32_t addr, std::uint32_t imm) {
  HECA_CHECK(imm < 0x80000000U);
  bytes_.push_back(kLock);
  rex_w(0, 0);
  bytes_.push_back(0x81);
  memory_operand(0, addr);
  imm32(imm);
}

void Encoder::lock_add_reg(std::uint32_t addr, int reg) {
  bytes_.push_back(kLock);
  rex_w(reg, 0);
  bytes_.push_back(0x01);
  memory_operand(reg, addr);
}

void Encoder::lock_xadd(std::uint32_t addr, int reg) {
  bytes_.push_back(kLock);
  rex_w(reg, 0);
  bytes_.insert(bytes_.end(), {kTwoByte, 0xC1});
  memory_operand(reg, addr);
}

void Encoder::lock_cmpxchg(std::uint32_t addr, int reg) {
  bytes_.push_back(kLock);
  rex_w(reg, 0);
  bytes_.insert(bytes_.end(), {kTwoByte, 0xB1});
  memory_operand(reg, addr);
}

void Encoder::push(int reg) {
  if (reg >= 8) bytes_.push_back(0x41);
  bytes_.push_back(static_cast<std::uint8_t>(0x50 | low3(reg)));
}

void Encoder::pop(int reg) {
  if (reg >= 8) bytes_.push_back(0x41);
  bytes_.push_back(static_cast<std::uint8_t>(0x58 | low3(reg)));
}

void Encoder::ret() { bytes_.push_back(0xC3); }

}  // namespace heca::firmware::litmus
