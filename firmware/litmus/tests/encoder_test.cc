#include "firmware/litmus/encoder.h"

#include <gtest/gtest.h>

#include <vector>

namespace heca::firmware::litmus {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr std::uint32_t kAddr = 0x2001000;

// Expected bytes are GNU as output for the AT&T form in each comment.
TEST(LitmusEncoder, EncodesAbsoluteMemoryOperandsThroughSib) {
  Encoder e;

  e.store_imm(kAddr, 1);  // movq $1, 0x2001000
  e.store_reg(kAddr, 9);  // movq %r9, 0x2001000
  e.load(3, kAddr);       // movq 0x2001000, %rbx

  EXPECT_EQ(e.bytes(), (Bytes{0x48, 0xc7, 0x04, 0x25, 0x00, 0x10, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00,
                              0x4c, 0x89, 0x0c, 0x25, 0x00, 0x10, 0x00, 0x02,
                              0x48, 0x8b, 0x1c, 0x25, 0x00, 0x10, 0x00, 0x02}));
}

TEST(LitmusEncoder, EncodesFencesAndLockedInstructions) {
  Encoder e;

  e.mfence();
  e.xchg(kAddr, 0);           // xchg %rax, 0x2001000
  e.lock_add_reg(kAddr, 2);   // lock add %rdx, 0x2001000
  e.lock_xadd(kAddr, 15);     // lock xadd %r15, 0x2001000
  e.lock_cmpxchg(kAddr, 3);   // lock cmpxchg %rbx, 0x2001000

  EXPECT_EQ(e.bytes(), (Bytes{0x0f, 0xae, 0xf0,
                              0x48, 0x87, 0x04, 0x25, 0x00, 0x10, 0x00, 0x02,
                              0xf0, 0x48, 0x01, 0x14, 0x25, 0x00, 0x10, 0x00, 0x02,
                              0xf0, 0x4c, 0x0f, 0xc1, 0x3c, 0x25, 0x00, 0x10, 0x00, 0x02,
                              0xf0, 0x48, 0x0f, 0xb1, 0x1c, 0x25, 0x00, 0x10, 0x00, 0x02}));
}

TEST(LitmusEncoder, EncodesRegisterImmediatesAndTheFrame) {
  Encoder e;

  e.mov_imm(12, 7);  // mov $7, %r12
  e.push(13);
  e.pop(3);
  e.ret();

  EXPECT_EQ(e.bytes(), (Bytes{0x49, 0xc7, 0xc4, 0x07, 0x00, 0x00, 0x00, 0x41, 0x55, 0x5b, 0xc3}));
}

}  // namespace
}  // namespace heca::firmware::litmus
