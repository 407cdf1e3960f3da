#include "kernel/base/size.h"

#include <fmt/format.h>

#include <cctype>
#include <limits>
#include <optional>
#include <string>

namespace heca {
namespace {

std::optional<std::uint64_t> size_multiplier(std::string suffix) {
  for (auto& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suffix.ends_with("IB")) {
    suffix.resize(suffix.size() - 2);
  } else if (suffix.size() > 1 && suffix.ends_with("B")) {
    suffix.resize(suffix.size() - 1);
  }
  if (suffix.empty() || suffix == "B") return 1;
  if (suffix == "K") return 1ULL << 10;
  if (suffix == "M") return 1ULL << 20;
  if (suffix == "G") return 1ULL << 30;
  if (suffix == "T") return 1ULL << 40;
  return std::nullopt;
}

}  // namespace

Result<std::uint64_t> parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return make_error(fmt::format("invalid size '{}': expected e.g. 256M", text));
  const auto multiplier = size_multiplier(std::string(text.substr(digits)));
  if (!multiplier) return make_error(fmt::format("invalid size '{}': unknown suffix", text));
  std::uint64_t value = 0;
  for (const char c : text.substr(0, digits)) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return make_error(fmt::format("invalid size '{}': too large", text));
    }
    value = value * 10 + digit;
  }
  if (value > std::numeric_limits<std::uint64_t>::max() / *multiplier) {
    return make_error(fmt::format("invalid size '{}': too large", text));
  }
  return value * *multiplier;
}

}  // namespace heca
