#include "firmware/litmus/session.h"

#include <fmt/format.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "firmware/litmus/parser.h"

namespace heca::firmware::litmus {
namespace {

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return errno_error(fmt::format("cannot open litmus file '{}'", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// How much of the allowed set the run saw, and of the outcomes the model allows beyond
// sequential consistency (those need the threads to really overlap): a weak run shows here.
std::string coverage_line(const LitmusSetup& setup, const Histogram& histogram) {
  const OutcomeSet sc = allowed_outcomes(setup.test, MemoryModel::kSc);
  std::size_t seen = 0;
  std::size_t relaxed = 0;
  std::size_t relaxed_seen = 0;
  for (const auto& outcome : setup.allowed) {
    const bool was_seen = histogram.counts.contains(outcome);
    seen += was_seen ? 1 : 0;
    if (sc.contains(outcome)) continue;
    ++relaxed;
    relaxed_seen += was_seen ? 1 : 0;
  }
  return fmt::format("litmus {}: coverage: saw {} of the {} allowed outcomes; {} of the {} that "
                     "only a relaxed order gives",
                     setup.test.name, seen, setup.allowed.size(), relaxed_seen, relaxed);
}

void add_table(const LitmusSetup& setup, const Histogram& histogram, LitmusVerdict* verdict) {
  const auto vars = observed_vars(setup.test);
  const std::string model = model_name(setup.model);
  verdict->lines.push_back(fmt::format("litmus {}: {} iterations, {} allows {} outcomes", setup.test.name,
                                       histogram.iterations, model, setup.allowed.size()));
  verdict->lines.push_back(fmt::format("litmus {}: {}", setup.test.name, setup.placement.describe()));
  for (const auto& [outcome, count] : histogram.counts) {
    const bool allowed = setup.allowed.contains(outcome);
    verdict->lines.push_back(fmt::format("  {:>10}  {}  {}", count, allowed ? "allowed  " : "FORBIDDEN",
                                         format_outcome(setup.test, vars, outcome)));
  }
  for (const auto& outcome : setup.allowed) {
    if (!histogram.counts.contains(outcome)) {
      verdict->lines.push_back(fmt::format("  {:>10}  allowed    {}", 0, format_outcome(setup.test, vars, outcome)));
    }
  }
}

}  // namespace

std::string model_name(MemoryModel model) { return model == MemoryModel::kTso ? "x86-TSO" : "SC"; }

Result<MemoryModel> parse_model_name(const std::string& name) {
  if (name == "tso") return MemoryModel::kTso;
  if (name == "sc") return MemoryModel::kSc;
  return make_error(fmt::format("unknown memory model '{}': expected tso or sc", name));
}

Result<LitmusSetup> prepare_litmus(const std::string& path, std::uint64_t iterations, MemoryModel model,
                                   std::span<const std::uint32_t> node_of_vcpu, std::uint64_t gpa) {
  auto text = read_text(path);
  if (!text) return std::unexpected(text.error());
  auto test = parse_litmus(*text);
  if (!test) return wrap_error(test.error(), path);
  auto placement = place_threads(test->threads.size(), node_of_vcpu);
  if (!placement) return wrap_error(placement.error(), path);
  if (iterations == 0) return make_error("--iterations must be at least 1");
  const std::set<std::uint32_t> thread_nodes(placement->node_of_thread.begin(),
                                             placement->node_of_thread.begin() +
                                                 static_cast<std::ptrdiff_t>(placement->threads));
  auto blob = build_blob(*test, BlobOptions{.gpa = gpa,
                                            .iterations = iterations,
                                            .cpu_of_thread = placement->cpu_of_thread,
                                            .timed_start = thread_nodes.size() > 1});
  if (!blob) return wrap_error(blob.error(), path);
  const std::set<std::uint32_t> nodes(node_of_vcpu.begin(), node_of_vcpu.end());
  LitmusSetup setup{.test = std::move(*test),
                    .model = model,
                    .placement = *placement,
                    .placement_warning = placement->shared_node_warning(nodes.size()),
                    .blob = std::move(*blob)};
  setup.allowed = allowed_outcomes(setup.test, model);
  setup.cmdline_key = fmt::format(" litmus={:#x}", setup.blob.gpa);
  return setup;
}

Result<LitmusVerdict> judge_litmus(const LitmusSetup& setup, std::span<const std::uint8_t> guest_blob) {
  auto histogram = read_histogram(guest_blob, setup.test);
  if (!histogram) return std::unexpected(histogram.error());
  LitmusVerdict verdict;
  add_table(setup, *histogram, &verdict);
  verdict.lines.push_back(coverage_line(setup, *histogram));
  const bool holds = condition_holds(setup.test, setup.allowed);
  verdict.lines.push_back(fmt::format("litmus {}: the model says the {} clause {}", setup.test.name,
                                      quantifier_name(setup.test.quantifier), holds ? "holds" : "does not hold"));
  std::uint64_t forbidden = 0;
  for (const auto& [outcome, count] : histogram->counts) {
    if (!setup.allowed.contains(outcome)) forbidden += count;
  }
  if (histogram->dropped != 0) {
    return make_error(fmt::format("litmus {}: {} outcomes did not fit the guest's histogram", setup.test.name,
                                  histogram->dropped));
  }
  if (forbidden != 0) {
    verdict.exit_code = kLitmusForbiddenSeen;
    verdict.lines.push_back(fmt::format("litmus {}: FAIL: {} iterations ended in an outcome {} forbids",
                                        setup.test.name, forbidden, model_name(setup.model)));
  } else {
    verdict.lines.push_back(fmt::format("litmus {}: OK: every observed outcome is allowed by {}", setup.test.name,
                                        model_name(setup.model)));
  }
  return verdict;
}

Result<LitmusRun> prepare_litmus_run(std::span<const std::string> paths, std::uint64_t iterations,
                                     const std::string& model,
                                     std::span<const std::uint32_t> node_of_vcpu,
                                     std::uint64_t ram_bytes) {
  auto parsed = parse_model_name(model);
  if (!parsed) return std::unexpected(parsed.error());
  if (paths.empty()) return make_error("no litmus test to run");
  if (paths.size() > abi::kMaxChainedBlobs) {
    return make_error(fmt::format("{} litmus tests in one run: at most {}", paths.size(),
                                  abi::kMaxChainedBlobs));
  }
  LitmusRun run;
  std::uint64_t gpa = abi::kDefaultBlobGpa;
  for (const auto& path : paths) {
    auto setup = prepare_litmus(path, iterations, *parsed, node_of_vcpu, gpa);
    if (!setup) {
      if (paths.size() == 1) return std::unexpected(setup.error());
      run.refused.push_back(setup.error().message());
      continue;
    }
    gpa += setup->blob.bytes.size();
    if (!run.tests.empty()) {
      // The previous blob's header names this one.
      auto& previous = run.tests.back().blob.bytes;
      const std::uint64_t next = setup->blob.gpa;
      std::memcpy(previous.data() + offsetof(abi::BlobHeader, next_blob), &next, sizeof next);
    }
    run.tests.push_back(std::move(*setup));
  }
  if (run.tests.empty()) return make_error(fmt::format("none of the {} litmus tests can run", paths.size()));
  if (gpa > ram_bytes) {
    return make_error(fmt::format("{} litmus tests need guest RAM up to {} MiB; the guest has {} MiB",
                                  run.tests.size(), (gpa + (1 << 20) - 1) >> 20, ram_bytes >> 20));
  }
  run.cmdline_key = run.tests.front().cmdline_key;
  return run;
}

int run_exit_code(std::span<const int> verdict_codes, std::size_t refused) {
  for (const int code : verdict_codes) {
    if (code == kLitmusForbiddenSeen) return kLitmusForbiddenSeen;
  }
  return refused != 0 ? kLitmusBadTest : kLitmusAllAllowed;
}

Result<int> report_litmus(const LitmusSetup& setup, std::span<const std::uint8_t> guest_blob) {
  auto verdict = judge_litmus(setup, guest_blob);
  if (!verdict) return std::unexpected(verdict.error());
  for (const auto& line : verdict->lines) std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  return verdict->exit_code;
}

}  // namespace heca::firmware::litmus
