// Fd: the move-only owner of one file descriptor; closes it on destruction.
// Every fd in heca lives in one of these (or in a type built on it).
#pragma once

#include <utility>

#include "kernel/base/result.h"

namespace heca {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  [[nodiscard]] int release() { return std::exchange(fd_, -1); }
  void reset();

 private:
  int fd_ = -1;
};

// Both ends of a pipe, close-on-exec.
struct Pipe {
  Fd read;
  Fd write;
};
[[nodiscard]] Result<Pipe> make_pipe();

}  // namespace heca
