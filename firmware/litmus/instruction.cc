#include "firmware/litmus/instruction.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <algorithm>
#include <charconv>

namespace heca::firmware::litmus {
namespace {

constexpr int kRsp = 4;
constexpr int kRax = 0;

constexpr std::array<std::string_view, kRegisterCount> kNames64 = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
constexpr std::array<std::string_view, kRegisterCount> kNames32 = {
    "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
    "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"};

struct Operand {
  enum class Kind { kMem, kReg, kImm };
  Kind kind = Kind::kImm;
  int loc = -1;
  int reg = -1;
  std::uint64_t imm = 0;
};

bool is_identifier(std::string_view text) {
  if (text.empty() || std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  for (const char c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// The inside of a memory operand: a location name, or a register holding a location's address.
Result<Operand> memory_operand(std::string_view inner, int line, const LocationTable& locations,
                               const ThreadContext& context) {
  inner = trim(inner);
  if (!inner.empty() && inner[0] == '%') inner.remove_prefix(1);
  if (const auto reg = parse_register(inner)) {
    const int loc = context.address_of[static_cast<std::size_t>(*reg)] - 1;
    if (loc < 0) return unsupported(fmt::format("address register '{}' without a location", inner), line);
    return Operand{.kind = Operand::Kind::kMem, .loc = loc};
  }
  if (!is_identifier(inner)) return unsupported(fmt::format("addressing mode '{}'", inner), line);
  auto loc = locations.lookup(inner, line);
  if (!loc) return std::unexpected(loc.error());
  return Operand{.kind = Operand::Kind::kMem, .loc = *loc};
}

Result<Operand> parse_operand(Dialect dialect, std::string_view text, int line,
                              const LocationTable& locations, const ThreadContext& context) {
  text = trim(text);
  if (text.empty()) return syntax_error("empty operand", line);
  const char open = dialect == Dialect::kX86 ? '[' : '(';
  const char close = dialect == Dialect::kX86 ? ']' : ')';
  if (text.front() == open && text.back() == close) {
    return memory_operand(text.substr(1, text.size() - 2), line, locations, context);
  }
  if (text.find_first_of("[]()") != std::string_view::npos) {
    return unsupported(fmt::format("addressing mode '{}'", text), line);
  }
  if (text.front() == '$') {
    auto value = parse_value(text.substr(1), line);
    if (!value) return std::unexpected(value.error());
    return Operand{.kind = Operand::Kind::kImm, .imm = *value};
  }
  const bool percent = text.front() == '%';
  if (dialect == Dialect::kX86_64 && !percent) return unsupported(fmt::format("operand '{}'", text), line);
  if (const auto reg = parse_register(percent ? text.substr(1) : text)) {
    if (*reg == kRsp) return unsupported("the stack pointer as an operand", line);
    return Operand{.kind = Operand::Kind::kReg, .reg = *reg};
  }
  if (dialect == Dialect::kX86 && is_identifier(text)) {
    return unsupported(fmt::format("non-immediate data '{}'", text), line);
  }
  return unsupported(fmt::format("operand '{}'", text), line);
}

// "movq" -> "mov"; size suffixes b/w (sub-word accesses) are outside the subset.
Result<std::string> base_mnemonic(Dialect dialect, std::string mnemonic, int line) {
  static constexpr std::array<std::string_view, 6> kBases = {"mov", "xchg", "add", "xadd", "cmpxchg",
                                                             "mfence"};
  for (const auto base : kBases) {
    if (mnemonic == base) return mnemonic;
  }
  if (dialect == Dialect::kX86_64 && mnemonic.size() > 1) {
    const char suffix = mnemonic.back();
    const std::string stem = mnemonic.substr(0, mnemonic.size() - 1);
    for (const auto base : kBases) {
      if (stem != base || base == "mfence") continue;
      if (suffix == 'q' || suffix == 'l') return stem;
      if (suffix == 'b' || suffix == 'w') return unsupported(fmt::format("sub-word access '{}'", mnemonic), line);
    }
  }
  return unsupported(fmt::format("instruction '{}'", mnemonic), line);
}

// Splits on the commas outside brackets: "(x,%rax),%rbx" is two operands.
std::vector<std::string_view> split_operands(std::string_view text) {
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(' || text[i] == '[') ++depth;
    if (text[i] == ')' || text[i] == ']') --depth;
    if (text[i] == ',' && depth == 0) {
      pieces.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  pieces.push_back(text.substr(start));
  return pieces;
}

using Kind = Operand::Kind;

Result<Instruction> build(const std::string& op, bool locked, const std::vector<Operand>& ops, int line) {
  Instruction in{.line = line};
  const auto two = [&](Kind a, Kind b) { return ops.size() == 2 && ops[0].kind == a && ops[1].kind == b; };
  if (op == "mfence" && ops.empty() && !locked) {
    in.kind = OpKind::kMfence;
  } else if (op == "mov" && !locked && (two(Kind::kMem, Kind::kImm) || two(Kind::kMem, Kind::kReg))) {
    in = {.kind = OpKind::kStore, .loc = ops[0].loc, .reg = ops[1].reg, .has_imm = ops[1].kind == Kind::kImm,
          .imm = ops[1].imm, .line = line};
  } else if (op == "mov" && !locked && two(Kind::kReg, Kind::kMem)) {
    in = {.kind = OpKind::kLoad, .loc = ops[1].loc, .reg = ops[0].reg, .line = line};
  } else if (op == "mov" && !locked && two(Kind::kReg, Kind::kImm)) {
    in = {.kind = OpKind::kMovImm, .reg = ops[0].reg, .has_imm = true, .imm = ops[1].imm, .line = line};
  } else if (op == "xchg" && (two(Kind::kMem, Kind::kReg) || two(Kind::kReg, Kind::kMem))) {
    const bool mem_first = ops[0].kind == Kind::kMem;
    in = {.kind = OpKind::kXchg, .loc = ops[mem_first ? 0 : 1].loc, .reg = ops[mem_first ? 1 : 0].reg,
          .line = line};
  } else if (op == "add" && locked && (two(Kind::kMem, Kind::kImm) || two(Kind::kMem, Kind::kReg))) {
    in = {.kind = OpKind::kLockAdd, .loc = ops[0].loc, .reg = ops[1].reg, .has_imm = ops[1].kind == Kind::kImm,
          .imm = ops[1].imm, .line = line};
  } else if ((op == "xadd" || op == "cmpxchg") && locked && two(Kind::kMem, Kind::kReg)) {
    in = {.kind = op == "xadd" ? OpKind::kLockXadd : OpKind::kLockCmpxchg, .loc = ops[0].loc, .reg = ops[1].reg,
          .line = line};
  } else {
    return unsupported(fmt::format("{}{} with these operands", locked ? "lock " : "", op), line);
  }
  return in;
}

// Registers the instruction writes must not be ones that hold addresses.
Status check_written_registers(const Instruction& in, const ThreadContext& context) {
  std::vector<int> written;
  if (in.kind == OpKind::kLoad || in.kind == OpKind::kMovImm || in.kind == OpKind::kXchg ||
      in.kind == OpKind::kLockXadd) {
    written.push_back(in.reg);
  }
  if (in.kind == OpKind::kLockCmpxchg) written.push_back(kRax);
  for (const int reg : written) {
    if (context.address_of[static_cast<std::size_t>(reg)] != 0) {
      return unsupported("overwriting a register that holds an address", in.line);
    }
  }
  return {};
}

}  // namespace

std::unexpected<Error> unsupported(std::string_view what, int line) {
  return make_error(fmt::format("unsupported: {} at line {}", what, line));
}

std::unexpected<Error> syntax_error(std::string_view what, int line) {
  return make_error(fmt::format("parse error: {} at line {}", what, line));
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

std::string lower(std::string_view text) {
  std::string out(trim(text));
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<std::uint64_t> parse_value(std::string_view text, int line) {
  text = trim(text);
  if (!text.empty() && text.front() == '-') return unsupported(fmt::format("negative value '{}'", text), line);
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    base = 16;
    text.remove_prefix(2);
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size()) {
    return syntax_error(fmt::format("bad value '{}'", text), line);
  }
  if (ec == std::errc::result_out_of_range || value > kMaxValue) {
    return unsupported(fmt::format("value '{}' above {}", text, kMaxValue), line);
  }
  return value;
}

std::optional<int> parse_register(std::string_view text) {
  const std::string name = lower(text);
  for (std::size_t i = 0; i < kRegisterCount; ++i) {
    if (name == kNames64[i] || name == kNames32[i]) return static_cast<int>(i);
  }
  return std::nullopt;
}

std::string register_name(Dialect dialect, int reg) {
  const auto index = static_cast<std::size_t>(reg);
  if (dialect == Dialect::kX86_64) return std::string(kNames64[index]);
  std::string name(kNames32[index]);
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

Result<int> LocationTable::lookup(std::string_view name, int line) const {
  for (std::size_t i = 0; i < locations->size(); ++i) {
    if ((*locations)[i].name == name) return static_cast<int>(i);
  }
  if (parse_register(name)) return unsupported(fmt::format("register '{}' used as a location", name), line);
  if (locations->size() == kMaxLocations) {
    return unsupported(fmt::format("more than {} locations", kMaxLocations), line);
  }
  locations->push_back(Location{.name = std::string(name)});
  return static_cast<int>(locations->size() - 1);
}

Result<Instruction> parse_instruction(Dialect dialect, std::string_view text, int line,
                                      const LocationTable& locations, const ThreadContext& context) {
  std::string_view source = trim(text);
  bool locked = false;
  if (const std::string head = lower(source.substr(0, 5)); head == "lock" || head == "lock;") {
    locked = true;
    source = trim(source.substr(std::min<std::size_t>(5, source.size())));
  }
  if (source.find(':') != std::string_view::npos) return unsupported("labels", line);
  const auto space = source.find_first_of(" \t");
  auto mnemonic = base_mnemonic(dialect, lower(source.substr(0, space)), line);
  if (!mnemonic) return std::unexpected(mnemonic.error());
  std::vector<Operand> ops;
  const std::string_view rest = space == std::string_view::npos ? std::string_view{} : trim(source.substr(space));
  for (const auto piece : split_operands(rest)) {
    auto operand = parse_operand(dialect, piece, line, locations, context);
    if (!operand) return std::unexpected(operand.error());
    ops.push_back(*operand);
  }
  if (dialect == Dialect::kX86_64 && ops.size() == 2) std::swap(ops[0], ops[1]);  // AT&T: src, dst
  auto in = build(*mnemonic, locked, ops, line);
  if (!in) return in;
  if (auto s = check_written_registers(*in, context); !s) return std::unexpected(s.error());
  return in;
}

}  // namespace heca::firmware::litmus
