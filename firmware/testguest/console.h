// UART console for the test guest: whole lines, serialised across CPUs by a spinlock.
// Usable from ring 0 and from ring 3.
#pragma once

#include <stdint.h>

namespace heca::firmware::guest {

// Test-and-test-and-set lock on an xchg; spins with pause.
class SpinLock {
 public:
  void lock();
  // Takes the lock unless it stays held until the TSC reaches `deadline`; true if taken.
  [[nodiscard]] bool try_lock_until(uint64_t deadline);
  void unlock();

 private:
  uint32_t word_ = 0;
};

// Builds one line, then writes it out in one go.
class Line {
 public:
  Line& str(const char* text);
  Line& dec(uint64_t value);
  Line& hex(uint64_t value);
  // Takes the console lock so lines from different CPUs never interleave.
  void emit();
  // For the exception path: the crashing CPU may hold the lock itself, so it waits only a
  // bounded time for it (then writes anyway), so its report is whole when another CPU prints.
  void emit_from_exception();

 private:
  void put(char c);
  void write_out();
  char buf_[200];
  uint32_t len_ = 0;
};

// Reports a setup failure ("result: FAIL <reason>") and exits with `code`.
[[noreturn]] void fail_and_exit(const char* reason, uint32_t code);
// Writes `code` to the debug-exit port, then halts or (ring 3) parks this CPU.
[[noreturn]] void exit_guest(uint32_t code);

}  // namespace heca::firmware::guest
