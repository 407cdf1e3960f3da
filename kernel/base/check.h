// CHECK: aborts on a programming error (a broken invariant), never on bad input.
// Bad input and syscall failures go through Result instead.
#pragma once

#include <cstdio>
#include <cstdlib>

#define HECA_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) [[unlikely]] {                                                       \
      std::fprintf(stderr, "CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)
