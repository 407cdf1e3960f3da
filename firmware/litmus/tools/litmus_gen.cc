// heca-litmus-gen: writes seeded x86 litmus tests built from random critical cycles (cycle.h),
// one DIR/gen-SEED-I.litmus each. Exit status: 0 all written, 2 bad usage or an unwritable DIR.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <system_error>

#include "firmware/litmus/cycle.h"
#include "kernel/base/result.h"

namespace heca::firmware::litmus::tools {
namespace {

constexpr int kBadUsage = 2;
constexpr std::size_t kMaxCount = 100000;

struct Args {
  std::uint64_t seed = 0;
  std::size_t count = 0;
  std::size_t max_threads = kMaxThreads;
  std::string dir;
};

// Parsed here, not by CLI11, which wraps "-1" and saturates past 2^64-1.
Result<std::uint64_t> parse_seed(const std::string& text) {
  std::uint64_t seed = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seed);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    return make_error(fmt::format("--seed: '{}' is not a decimal number from 0 to {}", text,
                                  std::numeric_limits<std::uint64_t>::max()));
  }
  return seed;
}

int fail(const std::string& message) {
  fmt::print(stderr, "heca-litmus-gen: {}\n", message);
  return kBadUsage;
}

Status make_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    return make_error(fmt::format("'{}' exists and is not a directory", dir.string()));
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(fmt::format("cannot create directory '{}'", dir.string()), ec.value());
  return {};
}

Status write_file(const std::filesystem::path& path, const std::string& text) {
  errno = 0;
  std::ofstream out(path, std::ios::trunc);
  if (!out) return errno_error(fmt::format("cannot write '{}'", path.string()));
  out << text;
  out.close();
  if (!out) return errno_error(fmt::format("cannot write '{}'", path.string()));
  return {};
}

// "gen-7-03": zero-padded so that a directory listing keeps the draw order.
std::string test_name(const Args& args, std::size_t index) {
  const std::size_t digits = fmt::format("{}", args.count - 1).size();
  return fmt::format("gen-{}-{:0{}}", args.seed, index, digits);
}

int run(const Args& args) {
  const auto cycles = random_cycles(args.seed, args.count, args.max_threads);
  if (cycles.size() < args.count) {
    return fail(fmt::format("only {} distinct cycles of at most {} threads found for --count {}",
                            cycles.size(), args.max_threads, args.count));
  }
  if (auto s = make_directory(args.dir); !s) return fail(s.error().message());
  for (std::size_t i = 0; i < cycles.size(); ++i) {
    auto test = test_from_cycle(cycles[i], test_name(args, i));
    if (!test) return fail(test.error().message());  // a generator bug: random_cycles() builds
    const auto path = std::filesystem::path(args.dir) / (test->name + ".litmus");
    const auto written = write_file(path, format_litmus(*test, cycles[i]));
    if (!written) return fail(written.error().message());
    fmt::print("{}: {}\n", path.string(), cycles[i]);
  }
  return 0;
}

}  // namespace
}  // namespace heca::firmware::litmus::tools

int main(int argc, char** argv) {
  namespace litmus = heca::firmware::litmus;
  litmus::tools::Args args;
  CLI::App app{"heca-litmus-gen: write x86 litmus tests built from seeded random critical cycles"};
  std::string seed;
  app.add_option("--seed", seed,
                 "seed of the draw, 0 to 2^64-1 (the same seed gives the same tests)")
      ->required();
  app.add_option("--count", args.count, "number of tests")
      ->required()
      ->check(CLI::Range(std::size_t{1}, litmus::tools::kMaxCount));
  app.add_option("--max-threads", args.max_threads, "threads per test: 2 to this many")
      ->check(CLI::Range(std::size_t{2}, litmus::kMaxThreads));
  app.add_option("dir", args.dir, "directory for the .litmus files (created if missing)")
      ->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return litmus::tools::fail(e.what());
  }
  const auto parsed_seed = litmus::tools::parse_seed(seed);
  if (!parsed_seed) return litmus::tools::fail(parsed_seed.error().message());
  args.seed = *parsed_seed;
  return litmus::tools::run(args);
}
