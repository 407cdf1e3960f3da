// The memory-bandwidth copy loop shared by the test guest (timed in ring 3) and host
// benchmarks (run natively): plain C++ plus one inline-asm instruction, no dependencies.
#pragma once

#include <stddef.h>

namespace heca::firmware {

// One pass = one `rep movsb` of `bytes` bytes. Deliberately not a C++ loop or memcpy():
// the compiler and libc cannot change it, so guest and host run the identical instruction
// (fast-strings / ERMSB microcode on current x86), whatever their flags or libraries.
inline void mbw_copy(void* dst, const void* src, size_t bytes) {
  asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(bytes) : : "memory");
}

// `reps` back-to-back passes over the same buffers; the caller times the call.
inline void mbw_copy_passes(void* dst, const void* src, size_t bytes, size_t reps) {
  for (size_t i = 0; i < reps; ++i) mbw_copy(dst, src, bytes);
}

}  // namespace heca::firmware
