// Error and Result: the one way fallible calls report failure across heca.
// An Error carries the errno (or 0) and a sentence saying what was being done.
#pragma once

#include <cerrno>
#include <expected>
#include <string>
#include <utility>

namespace heca {

struct Error {
  int code = 0;      // errno value, or 0 for errors that are not syscall failures
  std::string what;  // what was being done, e.g. "KVM_CREATE_VCPU 3"

  // "what: strerror(code)" or just "what" when code is 0.
  [[nodiscard]] std::string message() const;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

// An Error built from the current errno, for use right after a failed syscall.
[[nodiscard]] std::unexpected<Error> errno_error(std::string what);
// An Error that is not a syscall failure (bad input, protocol violation, ...).
[[nodiscard]] std::unexpected<Error> make_error(std::string what, int code = 0);

// Adds context in front of an error's message: "loading kernel: open foo: ENOENT".
[[nodiscard]] std::unexpected<Error> wrap_error(const Error& inner, const std::string& context);

}  // namespace heca
