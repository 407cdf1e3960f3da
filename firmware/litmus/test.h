// The in-memory form of one x86 litmus test (herdtools7 `.litmus`, X86 or X86_64 dialect):
// shared locations with initial values, per-thread straight-line code, and the final condition.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace heca::firmware::litmus {

inline constexpr std::size_t kMaxThreads = 4;
inline constexpr std::size_t kMaxLocations = 8;
inline constexpr std::size_t kRegisterCount = 16;  // hardware numbering: rax=0 ... r15=15
inline constexpr std::uint64_t kMaxValue = 0xFFFF;  // immediates and initial values

enum class Dialect { kX86, kX86_64 };

enum class OpKind {
  kStore,        // [loc] <- imm | reg
  kLoad,         // reg <- [loc]
  kMovImm,       // reg <- imm
  kMfence,
  kXchg,         // atomic swap [loc] <-> reg
  kLockAdd,      // atomic [loc] += imm | reg
  kLockXadd,     // atomic: tmp = [loc]; [loc] = tmp + reg; reg = tmp
  kLockCmpxchg,  // atomic: if [loc] == rax { [loc] = reg } else { rax = [loc] }
};

struct Instruction {
  OpKind kind = OpKind::kMfence;
  int loc = -1;               // location index, for memory instructions
  int reg = -1;               // the register operand (destination for kLoad / kMovImm)
  bool has_imm = false;       // kStore / kLockAdd / kMovImm: source is `imm`, not `reg`
  std::uint64_t imm = 0;
  int line = 0;
  [[nodiscard]] bool is_locked() const {
    return kind == OpKind::kXchg || kind == OpKind::kLockAdd || kind == OpKind::kLockXadd ||
           kind == OpKind::kLockCmpxchg;
  }
};

struct Thread {
  std::vector<Instruction> code;
  std::array<std::uint64_t, kRegisterCount> reg_init{};  // registers start at 0 unless set
  // Registers initialised to a location's address (`0:rdi=x`); the parser has already
  // resolved `(%rdi)` to that location, and such registers are never written or observed.
  std::array<bool, kRegisterCount> holds_address{};
};

struct Location {
  std::string name;
  std::uint64_t init = 0;
};

// One variable of the final state: a register of a thread, or a shared location.
struct Var {
  int thread = -1;  // -1: a location
  int index = 0;    // register number, or location index
  friend bool operator==(const Var&, const Var&) = default;
};

struct Expr {
  enum class Kind { kTrue, kFalse, kEq, kNot, kAnd, kOr };
  Kind kind = Kind::kTrue;
  Var var;
  std::uint64_t value = 0;
  std::vector<Expr> kids;
};

enum class Quantifier { kExists, kNotExists, kForall };

struct LitmusTest {
  Dialect dialect = Dialect::kX86;
  std::string name;
  std::vector<Location> locations;
  std::vector<Thread> threads;
  Quantifier quantifier = Quantifier::kExists;
  Expr condition;
};

// The register's name as the dialect spells it in conditions ("EAX" / "rax").
[[nodiscard]] std::string register_name(Dialect dialect, int reg);
// "0:EAX" or "x".
[[nodiscard]] std::string var_name(const LitmusTest& test, const Var& var);
// The condition's keyword as herdtools7 writes it: "exists", "~exists" or "forall".
[[nodiscard]] std::string_view quantifier_name(Quantifier quantifier);

}  // namespace heca::firmware::litmus
