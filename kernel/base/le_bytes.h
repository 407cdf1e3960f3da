// Little-endian field access on byte buffers: firmware tables, wire frames, handshakes.
// INVARIANT: every access is bounds-checked; an out-of-range offset is a programming error.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "kernel/base/check.h"

namespace heca {

template <std::unsigned_integral T>
void put_le(std::span<std::uint8_t> bytes, std::size_t offset, T value) {
  HECA_CHECK(offset <= bytes.size() && sizeof(T) <= bytes.size() - offset);
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    bytes[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
  }
}

template <std::unsigned_integral T>
[[nodiscard]] T get_le(std::span<const std::uint8_t> bytes, std::size_t offset) {
  HECA_CHECK(offset <= bytes.size() && sizeof(T) <= bytes.size() - offset);
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value = static_cast<T>(value | static_cast<T>(static_cast<T>(bytes[offset + i]) << (8 * i)));
  }
  return value;
}

// Appends a value to a growing table.
template <std::unsigned_integral T>
void append_le(std::vector<std::uint8_t>& bytes, T value) {
  const std::size_t offset = bytes.size();
  bytes.resize(offset + sizeof(T));
  put_le<T>(bytes, offset, value);
}

inline void put_ascii(std::span<std::uint8_t> bytes, std::size_t offset, std::string_view text) {
  HECA_CHECK(offset <= bytes.size() && text.size() <= bytes.size() - offset);
  for (std::size_t i = 0; i < text.size(); ++i) bytes[offset + i] = static_cast<std::uint8_t>(text[i]);
}

}  // namespace heca
