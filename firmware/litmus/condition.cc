#include "firmware/litmus/condition.h"

#include <fmt/format.h>

#include <cctype>

namespace heca::firmware::litmus {
namespace {

// Recursive descent over the condition text; `line_` follows the newlines it skips.
class ConditionParser {
 public:
  ConditionParser(std::string_view text, int line, LitmusTest* test) : text_(text), line_(line), test_(test) {}

  Status parse() {
    skip_space();
    if (eat("~exists")) {
      test_->quantifier = Quantifier::kNotExists;
    } else if (eat("exists")) {
      test_->quantifier = Quantifier::kExists;
    } else if (eat("forall")) {
      test_->quantifier = Quantifier::kForall;
    } else {
      return syntax_error("expected exists, ~exists or forall", line_);
    }
    auto expr = parse_or();
    if (!expr) return std::unexpected(expr.error());
    skip_space();
    eat(";");
    skip_space();
    if (pos_ != text_.size()) return unsupported(fmt::format("text after the condition: '{}'", rest(20)), line_);
    test_->condition = std::move(*expr);
    return {};
  }

 private:
  Result<Expr> parse_or() { return parse_binary(Expr::Kind::kOr, "\\/"); }
  Result<Expr> parse_and() { return parse_binary(Expr::Kind::kAnd, "/\\"); }

  Result<Expr> parse_binary(Expr::Kind kind, std::string_view op) {
    auto first = kind == Expr::Kind::kOr ? parse_and() : parse_unary();
    if (!first) return first;
    Expr node{.kind = kind};
    node.kids.push_back(std::move(*first));
    while (eat(op)) {
      auto next = kind == Expr::Kind::kOr ? parse_and() : parse_unary();
      if (!next) return next;
      node.kids.push_back(std::move(*next));
    }
    if (node.kids.size() == 1) return std::move(node.kids[0]);
    return node;
  }

  Result<Expr> parse_unary() {
    if (eat("~") || eat_word("not")) {
      auto kid = parse_unary();
      if (!kid) return kid;
      Expr node{.kind = Expr::Kind::kNot};
      node.kids.push_back(std::move(*kid));
      return node;
    }
    if (eat("(")) {
      auto inner = parse_or();
      if (!inner) return inner;
      if (!eat(")")) return syntax_error("expected ')' in the condition", line_);
      return inner;
    }
    if (eat_word("true")) return Expr{.kind = Expr::Kind::kTrue};
    if (eat_word("false")) return Expr{.kind = Expr::Kind::kFalse};
    return parse_atom();
  }

  Result<Expr> parse_atom() {
    auto var = parse_var();
    if (!var) return std::unexpected(var.error());
    if (!eat("=")) return unsupported(fmt::format("condition atom near '{}'", rest(20)), line_);
    skip_space();
    const std::size_t start = pos_;
    while (pos_ < text_.size() && std::isalnum(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    auto value = parse_value(text_.substr(start, pos_ - start), line_);
    if (!value) return std::unexpected(value.error());
    return Expr{.kind = Expr::Kind::kEq, .var = *var, .value = *value};
  }

  Result<Var> parse_var() {
    skip_space();
    const bool bracket = eat("[");
    const std::string_view word = take_word();
    if (bracket && !eat("]")) return syntax_error("expected ']' in the condition", line_);
    if (word.empty()) return syntax_error(fmt::format("expected a variable near '{}'", rest(20)), line_);
    const auto colon = word.find(':');
    if (colon == std::string_view::npos) {
      auto loc = LocationTable{&test_->locations}.lookup(word, line_);
      if (!loc) return std::unexpected(loc.error());
      return Var{.thread = -1, .index = *loc};
    }
    auto thread = parse_value(word.substr(0, colon), line_);
    std::string_view reg_name = word.substr(colon + 1);
    if (reg_name.starts_with('%')) reg_name.remove_prefix(1);  // "0:%rax"
    const auto reg = parse_register(reg_name);
    if (!thread || *thread >= test_->threads.size() || !reg) {
      return unsupported(fmt::format("condition variable '{}'", word), line_);
    }
    return Var{.thread = static_cast<int>(*thread), .index = *reg};
  }

  std::string_view take_word() {
    skip_space();
    const std::size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_' ||
                                   text_[pos_] == ':' || text_[pos_] == '%')) {
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }

  bool eat(std::string_view token) {
    skip_space();
    if (text_.substr(pos_).starts_with(token)) {
      pos_ += token.size();
      return true;
    }
    return false;
  }

  bool eat_word(std::string_view word) {
    skip_space();
    if (!text_.substr(pos_).starts_with(word)) return false;
    const std::size_t end = pos_ + word.size();
    if (end < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_')) return false;
    pos_ = end;
    return true;
  }

  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) {
      if (text_[pos_] == '\n') ++line_;
      ++pos_;
    }
  }

  // Up to `n` characters of what follows, cut at the first whitespace.
  std::string rest(std::size_t n) const {
    const std::string_view tail = text_.substr(pos_, n);
    return std::string(tail.substr(0, tail.find_first_of(" \t\n")));
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int line_;
  LitmusTest* test_;
};

}  // namespace

Status parse_condition(std::string_view text, int first_line, LitmusTest* test) {
  return ConditionParser(text, first_line, test).parse();
}

}  // namespace heca::firmware::litmus
