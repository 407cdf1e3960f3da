#include "firmware/litmus/parser.h"

#include <fmt/format.h>

#include <array>
#include <cctype>

#include "firmware/litmus/condition.h"
#include "firmware/litmus/instruction.h"
#include "firmware/litmus/outcome.h"

namespace heca::firmware::litmus {
namespace {

struct SourceLine {
  int number = 0;
  std::string text;
};

// Drops `(* ... *)` comments (they may span lines) and splits into numbered lines.
Result<std::vector<SourceLine>> split_lines(std::string_view text) {
  std::vector<SourceLine> lines(1, SourceLine{.number = 1});
  int depth = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.substr(i, 2) == "(*") {
      ++depth;
      ++i;
    } else if (depth > 0 && text.substr(i, 2) == "*)") {
      --depth;
      ++i;
    } else if (text[i] == '\n') {
      lines.push_back(SourceLine{.number = lines.back().number + 1});
    } else if (depth == 0) {
      lines.back().text += text[i];
    }
  }
  if (depth != 0) return syntax_error("unterminated comment", lines.back().number);
  return lines;
}

// Lines plus a cursor, skipping blank lines.
class Cursor {
 public:
  explicit Cursor(std::vector<SourceLine> lines) : lines_(std::move(lines)) {}
  const SourceLine* next() {
    while (index_ < lines_.size() && trim(lines_[index_].text).empty()) ++index_;
    return index_ < lines_.size() ? &lines_[index_++] : nullptr;
  }
  void back() { --index_; }
  int last_line() const { return lines_.empty() ? 0 : lines_.back().number; }
  // Everything from the current line on, newline-joined, without trailing blank lines.
  std::string rest() const {
    std::string out;
    for (std::size_t i = index_; i < lines_.size(); ++i) out += lines_[i].text + "\n";
    return std::string(trim(out));
  }

 private:
  std::vector<SourceLine> lines_;
  std::size_t index_ = 0;
};

Status parse_header(Cursor& cursor, LitmusTest* test) {
  const SourceLine* line = cursor.next();
  if (line == nullptr) return syntax_error("empty file", 1);
  const std::string_view text = trim(line->text);
  const auto space = text.find_first_of(" \t");
  const std::string arch(text.substr(0, space));
  if (arch == "X86") {
    test->dialect = Dialect::kX86;
  } else if (arch == "X86_64") {
    test->dialect = Dialect::kX86_64;
  } else {
    return unsupported(fmt::format("architecture '{}'", arch), line->number);
  }
  test->name = space == std::string_view::npos ? "" : std::string(trim(text.substr(space)));
  return {};
}

// Pending init of a thread register (the thread count is not known yet).
struct RegisterInit {
  int thread = 0;
  int reg = 0;
  std::string value;
  int line = 0;
};

// Every access is 32 or 64 bits wide, so only such types are accepted.
Status check_type(std::string_view type, int line) {
  static constexpr std::array<std::string_view, 8> kTypes = {"int",     "long",     "int32_t", "uint32_t",
                                                             "int64_t", "uint64_t", "unsigned", "unsigned long"};
  for (const auto known : kTypes) {
    if (type == known) return {};
  }
  return unsupported(fmt::format("type '{}'", type), line);
}

// One `[type] name [= value]` statement of the init block.
Status parse_init_statement(std::string_view statement, int line, LitmusTest* test,
                            std::vector<RegisterInit>* registers) {
  const auto eq = statement.find('=');
  std::string_view lhs = trim(statement.substr(0, eq));
  const std::string_view rhs = eq == std::string_view::npos ? "0" : trim(statement.substr(eq + 1));
  if (lhs.find('*') != std::string_view::npos) return unsupported("pointer-typed init", line);
  if (const auto space = lhs.find_last_of(" \t"); space != std::string_view::npos) {
    if (auto s = check_type(trim(lhs.substr(0, space)), line); !s) return s;
    lhs = lhs.substr(space + 1);
  }
  if (lhs.starts_with('[') && lhs.ends_with(']')) lhs = lhs.substr(1, lhs.size() - 2);
  if (const auto colon = lhs.find(':'); colon != std::string_view::npos) {
    auto thread = parse_value(lhs.substr(0, colon), line);
    std::string_view name = lhs.substr(colon + 1);
    if (name.starts_with('%')) name.remove_prefix(1);
    const auto reg = parse_register(name);
    if (!thread || *thread >= kMaxThreads || !reg) return unsupported(fmt::format("init of '{}'", lhs), line);
    registers->push_back({static_cast<int>(*thread), *reg, std::string(rhs), line});
    return {};
  }
  auto loc = LocationTable{&test->locations}.lookup(lhs, line);
  if (!loc) return std::unexpected(loc.error());
  auto value = parse_value(rhs, line);
  if (!value) return std::unexpected(value.error());
  test->locations[static_cast<std::size_t>(*loc)].init = *value;
  return {};
}

Status parse_init(Cursor& cursor, LitmusTest* test, std::vector<RegisterInit>* registers) {
  const SourceLine* line = cursor.next();
  // Metadata (name/description strings, Generator=, Com=, Orig=, ...) sits before '{'.
  while (line != nullptr && line->text.find('{') == std::string::npos) line = cursor.next();
  if (line == nullptr) return syntax_error("no init block '{'", cursor.last_line());
  std::string_view text = line->text;
  text.remove_prefix(text.find('{') + 1);
  for (;;) {
    const auto close = text.find('}');
    std::string_view body = text.substr(0, close);
    for (std::size_t start = 0; start <= body.size();) {
      const auto semi = body.find(';', start);
      const auto statement = trim(body.substr(start, semi == std::string_view::npos ? body.npos : semi - start));
      if (!statement.empty()) {
        if (auto s = parse_init_statement(statement, line->number, test, registers); !s) return s;
      }
      if (semi == std::string_view::npos) break;
      start = semi + 1;
    }
    if (close != std::string_view::npos) {
      if (!trim(text.substr(close + 1)).empty()) return unsupported("text after '}'", line->number);
      return {};
    }
    line = cursor.next();
    if (line == nullptr) return syntax_error("unterminated init block", cursor.last_line());
    text = line->text;
  }
}

// "P0 | P1 ;" -> cells; the trailing ';' is required.
Result<std::vector<std::string_view>> split_row(const SourceLine& line) {
  std::string_view text = trim(line.text);
  if (!text.ends_with(';')) return syntax_error("thread table row without ';'", line.number);
  text.remove_suffix(1);
  std::vector<std::string_view> cells;
  for (std::size_t start = 0;;) {
    const auto bar = text.find('|', start);
    cells.push_back(trim(text.substr(start, bar == std::string_view::npos ? text.npos : bar - start)));
    if (bar == std::string_view::npos) return cells;
    start = bar + 1;
  }
}

Status apply_register_inits(const std::vector<RegisterInit>& inits, LitmusTest* test,
                            std::vector<ThreadContext>* contexts) {
  for (const auto& init : inits) {
    if (static_cast<std::size_t>(init.thread) >= test->threads.size()) {
      return syntax_error(fmt::format("init names thread {} of {}", init.thread, test->threads.size()), init.line);
    }
    const auto t = static_cast<std::size_t>(init.thread);
    const auto r = static_cast<std::size_t>(init.reg);
    if (!init.value.empty() && std::isdigit(static_cast<unsigned char>(init.value[0]))) {
      auto value = parse_value(init.value, init.line);
      if (!value) return std::unexpected(value.error());
      test->threads[t].reg_init[r] = *value;
      continue;
    }
    auto loc = LocationTable{&test->locations}.lookup(init.value, init.line);
    if (!loc) return std::unexpected(loc.error());
    (*contexts)[t].address_of[r] = *loc + 1;
    test->threads[t].holds_address[r] = true;
  }
  return {};
}

Status parse_thread_header(Cursor& cursor, LitmusTest* test) {
  const SourceLine* line = cursor.next();
  if (line == nullptr) return syntax_error("no thread table", cursor.last_line());
  auto cells = split_row(*line);
  if (!cells) return std::unexpected(cells.error());
  for (std::size_t i = 0; i < cells->size(); ++i) {
    if ((*cells)[i] != fmt::format("P{}", i)) {
      return syntax_error(fmt::format("expected P{} in the thread header", i), line->number);
    }
  }
  if (cells->size() > kMaxThreads) {
    return unsupported(fmt::format("{} threads (at most {})", cells->size(), kMaxThreads), line->number);
  }
  test->threads.resize(cells->size());
  return {};
}

bool starts_condition(std::string_view text) {
  text = trim(text);
  return text.starts_with("exists") || text.starts_with("~exists") || text.starts_with("forall");
}

Status parse_code(Cursor& cursor, LitmusTest* test, const std::vector<ThreadContext>& contexts) {
  for (const SourceLine* line = cursor.next(); line != nullptr; line = cursor.next()) {
    const std::string_view text = trim(line->text);
    if (starts_condition(text)) {
      cursor.back();
      return {};
    }
    if (text.starts_with("locations") || text.starts_with("filter")) {
      return unsupported(fmt::format("'{}' clause", text.substr(0, text.find_first_of(" ["))), line->number);
    }
    auto cells = split_row(*line);
    if (!cells) return std::unexpected(cells.error());
    if (cells->size() != test->threads.size()) {
      return syntax_error(fmt::format("row has {} cells for {} threads", cells->size(), test->threads.size()),
                          line->number);
    }
    for (std::size_t t = 0; t < cells->size(); ++t) {
      if ((*cells)[t].empty()) continue;
      auto in = parse_instruction(test->dialect, (*cells)[t], line->number, LocationTable{&test->locations},
                                  contexts[t]);
      if (!in) return std::unexpected(in.error());
      test->threads[t].code.push_back(*in);
    }
  }
  return syntax_error("no final condition (exists, ~exists or forall)", cursor.last_line());
}

// The guest records registers, not addresses: a condition on an address register is refused.
Status check_condition_registers(const LitmusTest& test, int line) {
  for (const Var& var : observed_vars(test)) {
    if (var.thread >= 0 &&
        test.threads[static_cast<std::size_t>(var.thread)].holds_address[static_cast<std::size_t>(var.index)]) {
      return unsupported(fmt::format("condition on address register '{}'", var_name(test, var)), line);
    }
  }
  return {};
}

}  // namespace

Result<LitmusTest> parse_litmus(std::string_view text) {
  auto lines = split_lines(text);
  if (!lines) return std::unexpected(lines.error());
  Cursor cursor(std::move(*lines));
  LitmusTest test;
  std::vector<RegisterInit> register_inits;
  if (auto s = parse_header(cursor, &test); !s) return std::unexpected(s.error());
  if (auto s = parse_init(cursor, &test, &register_inits); !s) return std::unexpected(s.error());
  if (auto s = parse_thread_header(cursor, &test); !s) return std::unexpected(s.error());
  std::vector<ThreadContext> contexts(test.threads.size());
  if (auto s = apply_register_inits(register_inits, &test, &contexts); !s) return std::unexpected(s.error());
  if (auto s = parse_code(cursor, &test, contexts); !s) return std::unexpected(s.error());
  const SourceLine* condition_line = cursor.next();
  cursor.back();
  if (auto s = parse_condition(cursor.rest(), condition_line->number, &test); !s) return std::unexpected(s.error());
  if (auto s = check_condition_registers(test, condition_line->number); !s) return std::unexpected(s.error());
  return test;
}

}  // namespace heca::firmware::litmus
