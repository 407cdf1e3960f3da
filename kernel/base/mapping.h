// Mapping: the move-only owner of one mmap'd range; unmaps it on destruction.
// Built only by its factories, so every mapping in heca has an owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "kernel/base/result.h"

namespace heca {

class Mapping {
 public:
  Mapping() = default;
  ~Mapping() { reset(); }
  Mapping(Mapping&& other) noexcept
      : addr_(std::exchange(other.addr_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept {
    if (this != &other) {
      reset();
      addr_ = std::exchange(other.addr_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  // mmap(nullptr, size, prot, flags, fd, offset); fd may be -1 for anonymous maps.
  [[nodiscard]] static Result<Mapping> map(std::size_t size, int prot, int flags, int fd,
                                           std::size_t offset, const char* what);
  // A private, anonymous, read-write mapping.
  [[nodiscard]] static Result<Mapping> anonymous(std::size_t size, const char* what);

  [[nodiscard]] std::uint8_t* data() const { return static_cast<std::uint8_t*>(addr_); }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::span<std::uint8_t> bytes() const { return {data(), size_}; }
  void reset();

 private:
  Mapping(void* addr, std::size_t size) : addr_(addr), size_(size) {}
  void* addr_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace heca
