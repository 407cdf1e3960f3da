#include "kernel/base/result.h"

#include <cstring>

namespace heca {

std::string Error::message() const {
  if (code == 0) return what;
  return what + ": " + std::strerror(code);
}

std::unexpected<Error> errno_error(std::string what) {
  const int saved = errno;
  return std::unexpected(Error{saved, std::move(what)});
}

std::unexpected<Error> make_error(std::string what, int code) {
  return std::unexpected(Error{code, std::move(what)});
}

std::unexpected<Error> wrap_error(const Error& inner, const std::string& context) {
  return std::unexpected(Error{inner.code, context + ": " + inner.what});
}

}  // namespace heca
