#include "firmware/litmus/parser.h"

#include <gtest/gtest.h>

#include <string>

namespace heca::firmware::litmus {
namespace {

constexpr const char* kIntelSb = R"(X86 SB
"Fre PodWR Fre PodWR"
Generator=diycross7 (version 7.56)
Prefetch=0:x=F,0:y=T,1:y=F,1:x=T
Com=Fr Fr
Orig=Fre PodWR Fre PodWR
(* a comment
   over two lines *)
{ x=0; y=0; 0:EAX=0;
  1:EAX=0; }
 P0          | P1          ;
 MOV [x],$1  | MOV [y],$1  ;
 MOV EAX,[y] | MOV EAX,[x] ;
exists (0:EAX=0 /\ 1:EAX=0)
)";

std::string error_of(const std::string& text) {
  auto test = parse_litmus(text);
  return test ? std::string("(parsed)") : test.error().message();
}

// A two-thread X86_64 test with `cell` as P0's only instruction.
std::string with_cell(const std::string& cell) {
  return "X86_64 T\n{ x=0; 0:rdi=x; }\n P0 | P1 ;\n " + cell + " | mfence ;\nexists (x=1)\n";
}

TEST(LitmusParser, ReadsTheIntelDialectAndSkipsMetadata) {
  auto test = parse_litmus(kIntelSb);

  ASSERT_TRUE(test.has_value()) << test.error().message();
  EXPECT_EQ(test->dialect, Dialect::kX86);
  EXPECT_EQ(test->name, "SB");
  ASSERT_EQ(test->locations.size(), 2U);
  ASSERT_EQ(test->threads.size(), 2U);
  ASSERT_EQ(test->threads[0].code.size(), 2U);
  EXPECT_EQ(test->threads[0].code[0].kind, OpKind::kStore);
  EXPECT_TRUE(test->threads[0].code[0].has_imm);
  EXPECT_EQ(test->threads[0].code[1].kind, OpKind::kLoad);
  EXPECT_EQ(test->threads[1].code[1].loc, 0);
  EXPECT_EQ(test->quantifier, Quantifier::kExists);
  EXPECT_EQ(test->condition.kind, Expr::Kind::kAnd);
}

TEST(LitmusParser, ReadsTheAttDialectWithTypedInitAndAddressRegisters) {
  const char* text = R"(X86_64 T
{ uint64_t x = 3; int y; int64_t 0:rax = 7; 0:rdi=y; }
 P0                      | P1             ;
 movl $1,(x)             | lock addq $2,(x) ;
 movq (%rdi),%rax        | mfence         ;
 xchgq %rbx,(x)          | lock cmpxchgq %rcx,(y) ;
 lock xaddq %rdx,(%rdi)  | movq %rax,(y) ;
~exists (0:rax=1 \/ ~(x=2) /\ [y]=0 \/ true)
)";

  auto test = parse_litmus(text);

  ASSERT_TRUE(test.has_value()) << test.error().message();
  EXPECT_EQ(test->locations[0].init, 3U);
  EXPECT_EQ(test->threads[0].reg_init[0], 7U);
  const auto& p0 = test->threads[0].code;
  EXPECT_EQ(p0[1].kind, OpKind::kLoad);
  EXPECT_EQ(p0[1].loc, 1);  // (%rdi) holds y
  EXPECT_EQ(p0[2].kind, OpKind::kXchg);
  EXPECT_EQ(p0[2].reg, 3);  // rbx
  EXPECT_EQ(p0[3].kind, OpKind::kLockXadd);
  const auto& p1 = test->threads[1].code;
  EXPECT_EQ(p1[0].kind, OpKind::kLockAdd);
  EXPECT_EQ(p1[0].imm, 2U);
  EXPECT_EQ(p1[2].kind, OpKind::kLockCmpxchg);
  EXPECT_EQ(p1[3].kind, OpKind::kStore);
  EXPECT_FALSE(p1[3].has_imm);
  EXPECT_EQ(test->quantifier, Quantifier::kNotExists);
  EXPECT_EQ(test->condition.kind, Expr::Kind::kOr);
}

TEST(LitmusParser, ReadsIntelLockedInstructionsAndForall) {
  const char* text = R"(X86 L
{ x=0; }
 P0                | P1              ;
 LOCK XADD [x],EAX | XCHG EBX,[x]    ;
 LOCK CMPXCHG [x],ECX | LOCK ADD [x],EDX ;
forall (x=0 \/ false)
)";

  auto test = parse_litmus(text);

  ASSERT_TRUE(test.has_value()) << test.error().message();
  EXPECT_EQ(test->threads[0].code[0].kind, OpKind::kLockXadd);
  EXPECT_EQ(test->threads[0].code[1].kind, OpKind::kLockCmpxchg);
  EXPECT_EQ(test->threads[1].code[0].kind, OpKind::kXchg);
  EXPECT_EQ(test->threads[1].code[1].kind, OpKind::kLockAdd);
  EXPECT_EQ(test->quantifier, Quantifier::kForall);
}

TEST(LitmusParser, AcceptsCompactHeadersUppercaseAttAndBareConditions) {
  const char* text = "X86_64 A\n\n(* c *)\n{\n  uint64_t x;\n  0:RBX=0x2;\n}\n  P0            ;\n  MOVQ %RBX,(x) ;\n"
                     "forall [x] = 2\n";

  auto test = parse_litmus(text);

  ASSERT_TRUE(test.has_value()) << test.error().message();
  EXPECT_EQ(test->threads[0].reg_init[3], 2U);
  EXPECT_EQ(test->threads[0].code[0].kind, OpKind::kStore);
  EXPECT_EQ(test->condition.kind, Expr::Kind::kEq);
  EXPECT_EQ(test->condition.value, 2U);
}

TEST(LitmusParser, ReadsNotAsNegationOverNestedDisjunctions) {
  const char* text = "X86_64 CoRW2\n{ uint64_t x; uint64_t 1:rax; }\n P0 | P1 ;\n"
                     " movq $1,(x) | movq (x),%rax ;\n | movq $2,(x) ;\n"
                     "exists (not (1:rax=0 /\\ (x=2 \\/ x=1) \\/ 1:rax=1 /\\ x=2))\n";

  auto test = parse_litmus(text);

  ASSERT_TRUE(test.has_value()) << test.error().message();
  EXPECT_EQ(test->condition.kind, Expr::Kind::kNot);
  ASSERT_EQ(test->condition.kids.size(), 1U);
  EXPECT_EQ(test->condition.kids[0].kind, Expr::Kind::kOr);
  EXPECT_EQ(test->condition.kids[0].kids[0].kids[1].kind, Expr::Kind::kOr);
}

TEST(LitmusParser, KeepsNotAsAPrefixOfALocationName) {
  const char* text = "X86_64 N\n{ uint64_t note; }\n P0 ;\n movq $1,(note) ;\nexists (note=1)\n";

  auto test = parse_litmus(text);

  ASSERT_TRUE(test.has_value()) << test.error().message();
  EXPECT_EQ(test->condition.kind, Expr::Kind::kEq);
}

TEST(LitmusParser, RejectsSubWordLocationTypes) {
  const char* text = "X86_64 A\n{\n int8_t x=0;\n}\n P0 ;\n movq $2,(x) ;\nexists ([x]=2)\n";

  EXPECT_EQ(error_of(text), "unsupported: type 'int8_t' at line 3");
}

TEST(LitmusParser, RejectsInstructionsOutsideTheSubset) {
  EXPECT_EQ(error_of(with_cell("addq $1,(x)")), "unsupported: add with these operands at line 4");
  EXPECT_EQ(error_of(with_cell("jmp L0")), "unsupported: instruction 'jmp' at line 4");
  EXPECT_EQ(error_of(with_cell("L0: movq $1,(x)")), "unsupported: labels at line 4");
  EXPECT_EQ(error_of(with_cell("movb $1,(x)")), "unsupported: sub-word access 'movb' at line 4");
  EXPECT_EQ(error_of(with_cell("movq (x,%rax),%rbx")), "unsupported: addressing mode 'x,%rax' at line 4");
  EXPECT_EQ(error_of(with_cell("movq $1,%rdi")), "unsupported: overwriting a register that holds an address at line 4");
  EXPECT_EQ(error_of(with_cell("movq $70000,(x)")), "unsupported: value '70000' above 65535 at line 4");
  EXPECT_EQ(error_of(with_cell("movq %rsp,(x)")), "unsupported: the stack pointer as an operand at line 4");
}

TEST(LitmusParser, RejectsAConditionOnAnAddressRegister) {
  const char* text = "X86_64 T\n{ x=0; 0:rdi=x; }\n P0 ;\n movq $1,(%rdi) ;\nexists (0:rdi=0)\n";

  EXPECT_EQ(error_of(text), "unsupported: condition on address register '0:rdi' at line 5");
}

TEST(LitmusParser, RejectsNonImmediateDataInTheIntelDialect) {
  const char* text = "X86 T\n{ x=0; }\n P0 ;\n MOV [x],y ;\nexists (x=1)\n";

  EXPECT_EQ(error_of(text), "unsupported: non-immediate data 'y' at line 4");
}

TEST(LitmusParser, RejectsMoreThanFourThreads) {
  const char* text = "X86 T\n{ }\n P0 | P1 | P2 | P3 | P4 ;\n MFENCE | MFENCE | MFENCE | MFENCE | MFENCE ;\nexists (true)\n";

  EXPECT_EQ(error_of(text), "unsupported: 5 threads (at most 4) at line 3");
}

TEST(LitmusParser, RejectsOtherArchitecturesAndClauses) {
  EXPECT_EQ(error_of("AArch64 MP\n{ }\n P0 ;\n"), "unsupported: architecture 'AArch64' at line 1");
  EXPECT_EQ(error_of("X86 T\n{ x=0; }\n P0 ;\n MFENCE ;\nlocations [x;]\nexists (x=0)\n"),
            "unsupported: 'locations' clause at line 5");
  EXPECT_EQ(error_of("X86 T\n{ x=0; }\n P0 ;\n MFENCE ;\nexists (x=0) junk\n"),
            "unsupported: text after the condition: 'junk' at line 5");
}

TEST(LitmusParser, ReportsMalformedInputWithItsLine) {
  EXPECT_EQ(error_of("X86 T\n{ x=0; }\n P0 | P1 ;\n MFENCE ;\nexists (x=0)\n"),
            "parse error: row has 1 cells for 2 threads at line 4");
  EXPECT_EQ(error_of("X86 T\n{ x=0; }\n P0 ;\n MFENCE ;\n"),
            "parse error: no final condition (exists, ~exists or forall) at line 5");
  EXPECT_EQ(error_of("X86 T\n{ x=0; }\n P0 ;\n MFENCE ;\nexists (0:EAX=1\n"),
            "parse error: expected ')' in the condition at line 5");
  EXPECT_EQ(error_of("X86 T\n{ x=0; }\n P0 ;\n MFENCE ;\nexists (3:EAX=1)\n"),
            "unsupported: condition variable '3:EAX' at line 5");
}

}  // namespace
}  // namespace heca::firmware::litmus
