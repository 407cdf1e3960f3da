#include "bench/bench_support.h"

#include <cstdio>
#include <cstdlib>

namespace heca::bench {

namespace {

std::optional<testing::ProcessResult> run_heca(const std::vector<std::string>& args) {
  auto result = testing::run_process(HECA_BINARY, args, std::chrono::seconds(400));
  if (!result) {
    std::fprintf(stderr, "bench: %s\n", result.error().message().c_str());
    return std::nullopt;
  }
  if (result->exit_code != 0) {
    std::fprintf(stderr, "bench: heca exited with %d\n%s%s", result->exit_code, result->out.c_str(),
                 result->err.c_str());
    return std::nullopt;
  }
  return *result;
}

}  // namespace

std::optional<testing::ProcessResult> run_test_guest(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"run", "--guest", "test", "--timeout", "300"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_heca(args);
}

std::optional<testing::ProcessResult> run_cluster(const std::string& description) {
  return run_heca({"run", description, "--timeout", "300"});
}

std::string unprefixed(const std::string& text) {
  std::string out;
  for (const auto& line : testing::split_lines(text)) {
    const auto close = line.find("] ");
    out += line.starts_with("[node ") && close != std::string::npos ? line.substr(close + 2) : line;
    out += '\n';
  }
  return out;
}

std::optional<double> find_number(const std::string& text, std::string_view line_prefix,
                                  std::string_view key) {
  for (const auto& line : testing::split_lines(text)) {
    if (!line.starts_with(line_prefix)) continue;
    const auto at = line.find(key);
    if (at == std::string::npos) continue;
    const std::string rest = line.substr(at + key.size());
    char* end = nullptr;
    const double value = std::strtod(rest.c_str(), &end);
    if (end != rest.c_str()) return value;
  }
  return std::nullopt;
}

}  // namespace heca::bench
