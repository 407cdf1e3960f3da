#include "firmware/litmus/outcome.h"

#include <fmt/format.h>

#include <algorithm>

#include "kernel/base/check.h"

namespace heca::firmware::litmus {
namespace {

void collect(const Expr& expr, std::vector<Var>* vars) {
  if (expr.kind == Expr::Kind::kEq && std::find(vars->begin(), vars->end(), expr.var) == vars->end()) {
    vars->push_back(expr.var);
  }
  for (const auto& kid : expr.kids) collect(kid, vars);
}

}  // namespace

std::string_view quantifier_name(Quantifier quantifier) {
  switch (quantifier) {
    case Quantifier::kExists:
      return "exists";
    case Quantifier::kNotExists:
      return "~exists";
    case Quantifier::kForall:
      return "forall";
  }
  return "exists";
}

std::string var_name(const LitmusTest& test, const Var& var) {
  if (var.thread < 0) return test.locations[static_cast<std::size_t>(var.index)].name;
  return fmt::format("{}:{}", var.thread, register_name(test.dialect, var.index));
}

std::vector<Var> observed_vars(const LitmusTest& test) {
  std::vector<Var> vars;
  collect(test.condition, &vars);
  if (!vars.empty()) return vars;
  for (std::size_t t = 0; t < test.threads.size(); ++t) {
    for (const auto& in : test.threads[t].code) {
      if (in.kind != OpKind::kLoad) continue;
      const Var var{.thread = static_cast<int>(t), .index = in.reg};
      if (std::find(vars.begin(), vars.end(), var) == vars.end()) vars.push_back(var);
    }
  }
  for (std::size_t i = 0; i < test.locations.size(); ++i) vars.push_back(Var{.thread = -1, .index = static_cast<int>(i)});
  return vars;
}

bool evaluate(const Expr& expr, const std::vector<Var>& vars, const Outcome& outcome) {
  switch (expr.kind) {
    case Expr::Kind::kTrue:
      return true;
    case Expr::Kind::kFalse:
      return false;
    case Expr::Kind::kEq: {
      const auto it = std::find(vars.begin(), vars.end(), expr.var);
      HECA_CHECK(it != vars.end());
      return outcome[static_cast<std::size_t>(it - vars.begin())] == expr.value;
    }
    case Expr::Kind::kNot:
      return !evaluate(expr.kids[0], vars, outcome);
    case Expr::Kind::kAnd:
      return std::all_of(expr.kids.begin(), expr.kids.end(),
                         [&](const Expr& kid) { return evaluate(kid, vars, outcome); });
    case Expr::Kind::kOr:
      return std::any_of(expr.kids.begin(), expr.kids.end(),
                         [&](const Expr& kid) { return evaluate(kid, vars, outcome); });
  }
  return false;
}

bool condition_holds(const LitmusTest& test, const OutcomeSet& outcomes) {
  const auto vars = observed_vars(test);
  const auto satisfies = [&](const Outcome& o) { return evaluate(test.condition, vars, o); };
  switch (test.quantifier) {
    case Quantifier::kExists:
      return std::any_of(outcomes.begin(), outcomes.end(), satisfies);
    case Quantifier::kNotExists:
      return std::none_of(outcomes.begin(), outcomes.end(), satisfies);
    case Quantifier::kForall:
      return std::all_of(outcomes.begin(), outcomes.end(), satisfies);
  }
  return false;
}

std::string format_outcome(const LitmusTest& test, const std::vector<Var>& vars, const Outcome& outcome) {
  std::string out;
  for (std::size_t i = 0; i < vars.size(); ++i) {
    if (i != 0) out += ' ';
    out += fmt::format("{}={}", var_name(test, vars[i]), outcome[i]);
  }
  return out;
}

}  // namespace heca::firmware::litmus
