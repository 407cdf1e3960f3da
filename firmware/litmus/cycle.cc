#include "firmware/litmus/cycle.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <random>
#include <set>

namespace heca::firmware::litmus {
namespace {

enum class Access { kRead, kWrite };

struct EdgeKind {
  Access source = Access::kWrite;
  Access target = Access::kWrite;
  bool external = false;          // the target is on the next thread
  bool changes_location = false;  // the target is on the next location
  bool fenced = false;            // an MFENCE between source and target
  bool orders_writes = false;     // Wse/Wsi: only the final value shows this coherence order
};

struct Edge {
  std::string_view name;  // as the cycle spells it
  EdgeKind kind;
};

struct NamedKind {
  std::string_view name;
  EdgeKind kind;
};

constexpr Access kR = Access::kRead;
constexpr Access kW = Access::kWrite;

// Communication edges; the program-order ones (Pod, Pos, MFenced, MFences + XY) are built.
constexpr std::array<NamedKind, 8> kCommunicationEdges = {{
    {"Rfe", {.source = kW, .target = kR, .external = true}},
    {"Fre", {.source = kR, .target = kW, .external = true}},
    {"Wse", {.source = kW, .target = kW, .external = true, .orders_writes = true}},
    {"Coe", {.source = kW, .target = kW, .external = true, .orders_writes = true}},
    {"Rfi", {.source = kW, .target = kR}},
    {"Fri", {.source = kR, .target = kW}},
    {"Wsi", {.source = kW, .target = kW, .orders_writes = true}},
    {"Coi", {.source = kW, .target = kW, .orders_writes = true}},
}};

// Register order of each thread's reads: EAX, EBX, ECX, EDX, ESI, EDI (hardware numbering).
constexpr std::array<int, 6> kReadRegisters = {0, 3, 1, 2, 6, 7};
constexpr std::array<std::string_view, kMaxLocations> kLocationNames = {"x", "y", "z", "a",
                                                                        "b", "c", "d", "e"};

std::optional<Access> access_of(char letter) {
  if (letter == 'R') return kR;
  if (letter == 'W') return kW;
  return std::nullopt;
}

char letter_of(Access access) {
  return access == kR ? 'R' : 'W';
}

std::optional<EdgeKind> program_order_edge(std::string_view name) {
  struct Prefix {
    std::string_view text;
    bool changes_location;
    bool fenced;
  };
  static constexpr std::array<Prefix, 4> kPrefixes = {{{"Pod", true, false},
                                                       {"Pos", false, false},
                                                       {"MFenced", true, true},
                                                       {"MFences", false, true}}};
  for (const auto& prefix : kPrefixes) {
    if (!name.starts_with(prefix.text) || name.size() != prefix.text.size() + 2) continue;
    const auto source = access_of(name[prefix.text.size()]);
    const auto target = access_of(name[prefix.text.size() + 1]);
    if (!source || !target) return std::nullopt;
    return EdgeKind{.source = *source,
                    .target = *target,
                    .changes_location = prefix.changes_location,
                    .fenced = prefix.fenced};
  }
  return std::nullopt;
}

std::optional<EdgeKind> edge_kind(std::string_view name) {
  for (const auto& known : kCommunicationEdges) {
    if (known.name == name) return known.kind;
  }
  return program_order_edge(name);
}

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t start = 0;
  while (start < text.size()) {
    while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
    std::size_t end = start;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    if (end > start) words.push_back(text.substr(start, end - start));
    start = end;
  }
  return words;
}

std::string join(const std::vector<std::string_view>& words) {
  std::string out;
  for (const auto word : words) out += (out.empty() ? "" : " ") + std::string(word);
  return out;
}

std::unexpected<Error> cycle_error(std::string_view cycle, std::string_view what) {
  return make_error(fmt::format("cycle '{}': {}", join(split_words(cycle)), what));
}

// "edge 3 'Fre'" (edges count from 1).
std::string label(const std::vector<Edge>& edges, std::size_t i) {
  return fmt::format("edge {} '{}'", i + 1, edges[i].name);
}

Result<std::vector<Edge>> parse_edges(std::string_view cycle) {
  std::vector<Edge> edges;
  for (const auto name : split_words(cycle)) {
    const auto kind = edge_kind(name);
    if (!kind) {
      return cycle_error(cycle, fmt::format("unknown edge '{}' (edge {})", name, edges.size() + 1));
    }
    edges.push_back(Edge{.name = name, .kind = *kind});
  }
  if (edges.empty()) return cycle_error(cycle, "no edges");
  return edges;
}

// INVARIANT after success: every edge ends on the kind of event the next one starts from.
Status check_chaining(std::string_view cycle, const std::vector<Edge>& edges) {
  const auto noun = [](Access access) { return access == kR ? "a read" : "a write"; };
  for (std::size_t i = 0; i < edges.size(); ++i) {
    const std::size_t next = (i + 1) % edges.size();
    if (edges[i].kind.target == edges[next].kind.source) continue;
    return cycle_error(cycle, fmt::format("{} starts at {}, but {} before it ends at {}",
                                          label(edges, next), noun(edges[next].kind.source),
                                          label(edges, i), noun(edges[i].kind.target)));
  }
  return {};
}

Status check_threads(std::string_view cycle, const std::vector<Edge>& edges) {
  std::vector<std::size_t> external;
  for (std::size_t i = 0; i < edges.size(); ++i) {
    if (edges[i].kind.external) external.push_back(i);
  }
  if (external.empty()) {
    return cycle_error(cycle, "no external edge (Rfe, Fre, Wse or Coe), so no second thread");
  }
  if (external.size() == 1) {
    return cycle_error(
        cycle, fmt::format("{} is the only external edge: both its ends would be on one thread",
                           label(edges, external[0])));
  }
  if (external.size() > kMaxThreads) {
    return cycle_error(
        cycle, fmt::format("{} starts thread {}: at most {} threads",
                           label(edges, external[kMaxThreads]), kMaxThreads + 1, kMaxThreads));
  }
  return {};
}

// A cycle that changes location once cannot come back to its first location; one that never
// does is a one-location (uniproc) test, which diy does not generate by default either.
Status check_locations(std::string_view cycle, const std::vector<Edge>& edges) {
  std::vector<std::size_t> changes;
  for (std::size_t i = 0; i < edges.size(); ++i) {
    if (edges[i].kind.changes_location) changes.push_back(i);
  }
  if (changes.empty()) {
    return cycle_error(cycle, "no edge changes location (Pod or MFenced): one-location cycle");
  }
  if (changes.size() == 1) {
    return cycle_error(
        cycle, fmt::format("{} is the only edge that changes location: the cycle cannot return "
                           "to its first location",
                           label(edges, changes[0])));
  }
  if (changes.size() > kMaxLocations) {
    return cycle_error(
        cycle, fmt::format("{} moves to location {}: at most {} locations",
                           label(edges, changes[kMaxLocations]), kMaxLocations + 1, kMaxLocations));
  }
  return {};
}

struct Event {
  Access access = kW;
  std::size_t location = 0;
  std::uint64_t value = 0;  // written, or read
  bool fence_before = false;
};

struct LocationFacts {
  std::uint64_t writes = 0;
  bool orders_writes = false;
};

// A validated cycle laid out as events: event i is the source of edges[i].
struct Layout {
  std::vector<Event> events;
  std::vector<std::vector<std::size_t>> threads;  // event indices in program order
  std::vector<LocationFacts> locations;
};

// Just after the last edge with `flag`: a walk from there starts a new thread (or location).
std::size_t start_after_last(const std::vector<Edge>& edges, bool EdgeKind::*flag) {
  std::size_t last = 0;
  for (std::size_t i = 0; i < edges.size(); ++i) {
    if (edges[i].kind.*flag) last = i;
  }
  return (last + 1) % edges.size();
}

// Events after the last external edge precede event 0 on its thread, so the walk starts there.
std::vector<std::vector<std::size_t>> assign_threads(const std::vector<Edge>& edges) {
  const std::size_t n = edges.size();
  const std::size_t start = start_after_last(edges, &EdgeKind::external);
  std::vector<std::vector<std::size_t>> threads(1);
  for (std::size_t step = 0; step < n; ++step) {
    const std::size_t i = (start + step) % n;
    threads.back().push_back(i);
    if (edges[i].kind.external && step + 1 < n) threads.emplace_back();
  }
  return threads;
}

// Each location is one run of events between location changes; a run is walked from its
// start, so writes count up in coherence order and a read sees the last write before it.
std::vector<LocationFacts> assign_locations(const std::vector<Edge>& edges,
                                            std::vector<Event>* events) {
  const std::size_t n = edges.size();
  const std::size_t start = start_after_last(edges, &EdgeKind::changes_location);
  std::vector<std::size_t> run_of(n);
  std::size_t runs = 0;
  for (std::size_t step = 0; step < n; ++step) {
    const std::size_t i = (start + step) % n;
    run_of[i] = runs;
    if (edges[i].kind.changes_location) ++runs;
  }
  std::vector<std::optional<std::size_t>> location_of_run(runs);
  std::size_t named = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!location_of_run[run_of[i]]) location_of_run[run_of[i]] = named++;
    (*events)[i].location = *location_of_run[run_of[i]];
  }
  std::vector<LocationFacts> facts(runs);
  for (std::size_t step = 0; step < n; ++step) {
    const std::size_t i = (start + step) % n;
    Event& event = (*events)[i];
    LocationFacts& fact = facts[event.location];
    event.value = event.access == kW ? ++fact.writes : fact.writes;
    fact.orders_writes = fact.orders_writes || edges[i].kind.orders_writes;
  }
  return facts;
}

Layout lay_out(const std::vector<Edge>& edges) {
  Layout layout;
  for (std::size_t i = 0; i < edges.size(); ++i) {
    const Edge& incoming = edges[(i + edges.size() - 1) % edges.size()];
    layout.events.push_back(
        Event{.access = edges[i].kind.source, .fence_before = incoming.kind.fenced});
  }
  layout.threads = assign_threads(edges);
  layout.locations = assign_locations(edges, &layout.events);
  return layout;
}

Expr equals(Var var, std::uint64_t value) {
  return Expr{.kind = Expr::Kind::kEq, .var = var, .value = value};
}

// One thread's code; each read goes to the thread's next register and is pinned in `atoms`.
Result<Thread> build_thread(std::string_view cycle, const std::vector<Edge>& edges,
                            const Layout& layout, std::size_t thread_index,
                            std::vector<Expr>* atoms) {
  Thread thread;
  std::size_t reads = 0;
  for (const std::size_t i : layout.threads[thread_index]) {
    const Event& event = layout.events[i];
    const int loc = static_cast<int>(event.location);
    if (event.fence_before) thread.code.push_back(Instruction{.kind = OpKind::kMfence});
    if (event.access == kW) {
      thread.code.push_back(
          Instruction{.kind = OpKind::kStore, .loc = loc, .has_imm = true, .imm = event.value});
      continue;
    }
    if (reads == kReadRegisters.size()) {
      return cycle_error(
          cycle, fmt::format("{} leads to read {} of thread {}: at most {} reads per thread",
                             label(edges, (i + edges.size() - 1) % edges.size()), reads + 1,
                             thread_index, kReadRegisters.size()));
    }
    const int reg = kReadRegisters[reads++];
    thread.code.push_back(Instruction{.kind = OpKind::kLoad, .loc = loc, .reg = reg});
    atoms->push_back(
        equals(Var{.thread = static_cast<int>(thread_index), .index = reg}, event.value));
  }
  return thread;
}

Status check_name(std::string_view name) {
  const auto allowed = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '_' ||
           c == '.';
  };
  if (name.empty() || !std::all_of(name.begin(), name.end(), allowed)) {
    return make_error(
        fmt::format("test name '{}': only letters, digits, '+', '-', '_' and '.'", name));
  }
  return {};
}

Result<LitmusTest> build_test(std::string_view cycle, const std::vector<Edge>& edges,
                              std::string name) {
  const Layout layout = lay_out(edges);
  LitmusTest test{.dialect = Dialect::kX86, .name = std::move(name)};
  for (std::size_t loc = 0; loc < layout.locations.size(); ++loc) {
    test.locations.push_back(Location{.name = std::string(kLocationNames[loc])});
  }
  std::vector<Expr> atoms;
  for (std::size_t t = 0; t < layout.threads.size(); ++t) {
    auto thread = build_thread(cycle, edges, layout, t, &atoms);
    if (!thread) return std::unexpected(thread.error());
    test.threads.push_back(std::move(*thread));
  }
  for (std::size_t loc = 0; loc < layout.locations.size(); ++loc) {
    const LocationFacts& fact = layout.locations[loc];
    if (fact.orders_writes && fact.writes >= 2) {
      atoms.push_back(equals(Var{.index = static_cast<int>(loc)}, fact.writes));
    }
  }
  test.quantifier = Quantifier::kExists;
  test.condition =
      atoms.size() == 1 ? atoms[0] : Expr{.kind = Expr::Kind::kAnd, .kids = std::move(atoms)};
  return test;
}

}  // namespace

Result<LitmusTest> test_from_cycle(std::string_view cycle, std::string name) {
  if (auto s = check_name(name); !s) return std::unexpected(s.error());
  auto edges = parse_edges(cycle);
  if (!edges) return std::unexpected(edges.error());
  if (auto s = check_chaining(cycle, *edges); !s) return std::unexpected(s.error());
  if (auto s = check_threads(cycle, *edges); !s) return std::unexpected(s.error());
  if (auto s = check_locations(cycle, *edges); !s) return std::unexpected(s.error());
  return build_test(cycle, *edges, std::move(name));
}

// ---- herdtools7 text ----

namespace {

std::string x86_var(const LitmusTest& test, const Var& var) {
  if (var.thread < 0) return test.locations[static_cast<std::size_t>(var.index)].name;
  return fmt::format("{}:{}", var.thread, register_name(Dialect::kX86, var.index));
}

std::string format_instruction(const LitmusTest& test, const Instruction& in) {
  const std::string mem =
      in.loc >= 0 ? fmt::format("[{}]", test.locations[static_cast<std::size_t>(in.loc)].name) : "";
  const std::string reg = in.reg >= 0 ? register_name(Dialect::kX86, in.reg) : "";
  const std::string source = in.has_imm ? fmt::format("${}", in.imm) : reg;
  switch (in.kind) {
    case OpKind::kStore:
      return fmt::format("MOV {},{}", mem, source);
    case OpKind::kLoad:
      return fmt::format("MOV {},{}", reg, mem);
    case OpKind::kMovImm:
      return fmt::format("MOV {},{}", reg, source);
    case OpKind::kMfence:
      return "MFENCE";
    case OpKind::kXchg:
      return fmt::format("XCHG {},{}", mem, reg);
    case OpKind::kLockAdd:
      return fmt::format("LOCK ADD {},{}", mem, source);
    case OpKind::kLockXadd:
      return fmt::format("LOCK XADD {},{}", mem, reg);
    case OpKind::kLockCmpxchg:
      return fmt::format("LOCK CMPXCHG {},{}", mem, reg);
  }
  return "";
}

std::string format_expr(const LitmusTest& test, const Expr& expr);

// Compound operands are parenthesised, so the parser rebuilds the same tree.
std::string format_operand(const LitmusTest& test, const Expr& expr) {
  const bool compound = expr.kind == Expr::Kind::kAnd || expr.kind == Expr::Kind::kOr;
  return compound ? "(" + format_expr(test, expr) + ")" : format_expr(test, expr);
}

std::string format_expr(const LitmusTest& test, const Expr& expr) {
  switch (expr.kind) {
    case Expr::Kind::kTrue:
      return "true";
    case Expr::Kind::kFalse:
      return "false";
    case Expr::Kind::kEq:
      return fmt::format("{}={}", x86_var(test, expr.var), expr.value);
    case Expr::Kind::kNot:
      return "~(" + format_expr(test, expr.kids.at(0)) + ")";
    case Expr::Kind::kAnd:
    case Expr::Kind::kOr: {
      std::string out;
      for (const auto& kid : expr.kids) {
        if (!out.empty()) out += expr.kind == Expr::Kind::kAnd ? " /\\ " : " \\/ ";
        out += format_operand(test, kid);
      }
      return out;
    }
  }
  return "";
}

std::string format_init(const LitmusTest& test) {
  std::string out = "{";
  for (const auto& location : test.locations) {
    out += fmt::format(" {}={};", location.name, location.init);
  }
  for (std::size_t t = 0; t < test.threads.size(); ++t) {
    for (std::size_t r = 0; r < kRegisterCount; ++r) {
      const std::uint64_t value = test.threads[t].reg_init[r];
      if (value == 0) continue;
      out += fmt::format(" {}:{}={};", t, register_name(Dialect::kX86, static_cast<int>(r)), value);
    }
  }
  return out + " }\n";
}

// The thread table, each column as wide as its widest cell.
std::string format_table(const LitmusTest& test) {
  std::size_t rows = 0;
  for (const auto& thread : test.threads) rows = std::max(rows, thread.code.size());
  std::vector<std::vector<std::string>> cells(rows + 1);
  std::vector<std::size_t> widths;
  for (std::size_t t = 0; t < test.threads.size(); ++t) {
    cells[0].push_back(fmt::format("P{}", t));
    for (std::size_t r = 0; r < rows; ++r) {
      const auto& code = test.threads[t].code;
      cells[r + 1].push_back(r < code.size() ? format_instruction(test, code[r]) : "");
    }
    std::size_t width = 0;
    for (const auto& row : cells) width = std::max(width, row.back().size());
    widths.push_back(width);
  }
  std::string out;
  for (const auto& row : cells) {
    for (std::size_t t = 0; t < row.size(); ++t) {
      out += fmt::format(" {:<{}} {}", row[t], widths[t], t + 1 == row.size() ? ";" : "|");
    }
    out += "\n";
  }
  return out;
}

}  // namespace

std::string format_litmus(const LitmusTest& test, std::string_view cycle) {
  std::string out = fmt::format("X86 {}\n\"{}\"\n", test.name, join(split_words(cycle)));
  out += format_init(test);
  out += format_table(test);
  out +=
      fmt::format("{} ({})\n", quantifier_name(test.quantifier), format_expr(test, test.condition));
  return out;
}

// ---- random cycles ----

namespace {

// std::mt19937_64 is specified bit for bit; the distributions are not, so draws are a modulo.
class Draw {
 public:
  explicit Draw(std::uint64_t seed) : rng_(seed) {}
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }

 private:
  std::mt19937_64 rng_;
};

// Each thread's accesses (2 or 3). No external edge joins two reads, so a thread that would
// follow one ending in a read starts with a write.
std::vector<std::vector<Access>> draw_threads(Draw& draw, std::size_t max_threads) {
  std::vector<std::vector<Access>> threads(2 + draw.below(max_threads - 1));
  for (auto& thread : threads) {
    const std::size_t events = 2 + draw.below(2);
    for (std::size_t i = 0; i < events; ++i) thread.push_back(draw.below(2) == 0 ? kR : kW);
  }
  for (std::size_t t = 0; t < threads.size(); ++t) {
    auto& next = threads[(t + 1) % threads.size()];
    if (threads[t].back() == kR && next.front() == kR) next.front() = kW;
  }
  return threads;
}

std::string_view external_edge(Access source, Access target) {
  if (source == kW && target == kR) return "Rfe";
  return source == kR ? "Fre" : "Wse";
}

std::string draw_cycle(Draw& draw, std::size_t max_threads) {
  const auto threads = draw_threads(draw, max_threads);
  std::string cycle;
  for (std::size_t t = 0; t < threads.size(); ++t) {
    const auto& thread = threads[t];
    for (std::size_t i = 1; i < thread.size(); ++i) {
      const std::string_view order = draw.below(4) == 0 ? "MFenced" : "Pod";
      cycle += fmt::format("{}{}{} ", order, letter_of(thread[i - 1]), letter_of(thread[i]));
    }
    cycle += external_edge(thread.back(), threads[(t + 1) % threads.size()].front());
    cycle += t + 1 < threads.size() ? " " : "";
  }
  return cycle;
}

// The least rotation: cycles that are rotations of each other give the same test.
std::string canonical_form(std::string_view cycle) {
  const auto words = split_words(cycle);
  std::string least;
  for (std::size_t shift = 0; shift < words.size(); ++shift) {
    std::vector<std::string_view> rotated(words.begin() + static_cast<std::ptrdiff_t>(shift),
                                          words.end());
    rotated.insert(rotated.end(), words.begin(),
                   words.begin() + static_cast<std::ptrdiff_t>(shift));
    const std::string candidate = join(rotated);
    if (shift == 0 || candidate < least) least = candidate;
  }
  return least;
}

}  // namespace

std::vector<std::string> random_cycles(std::uint64_t seed, std::size_t count,
                                       std::size_t max_threads) {
  max_threads = std::clamp<std::size_t>(max_threads, 2, kMaxThreads);
  Draw draw(seed);
  std::set<std::string> seen;
  std::vector<std::string> cycles;
  for (std::size_t tries = 0; cycles.size() < count && tries < 100 * count; ++tries) {
    std::string cycle = draw_cycle(draw, max_threads);
    if (seen.insert(canonical_form(cycle)).second) cycles.push_back(std::move(cycle));
  }
  return cycles;
}

}  // namespace heca::firmware::litmus
