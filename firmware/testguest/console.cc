#include "firmware/testguest/console.h"

#include "firmware/test_guest_abi.h"
#include "firmware/testguest/arch.h"

namespace heca::firmware::guest {
namespace {

OwnPage<SpinLock> console_lock_page;  // every CPU takes it to print
SpinLock& console_lock = console_lock_page.value;

}  // namespace

void SpinLock::lock() {
  for (;;) {
    if (__atomic_exchange_n(&word_, 1U, __ATOMIC_ACQUIRE) == 0) return;
    while (__atomic_load_n(&word_, __ATOMIC_RELAXED) != 0) cpu_relax();
  }
}

bool SpinLock::try_lock_until(uint64_t deadline) {
  do {
    if (__atomic_load_n(&word_, __ATOMIC_RELAXED) == 0 &&
        __atomic_exchange_n(&word_, 1U, __ATOMIC_ACQUIRE) == 0) {
      return true;
    }
    cpu_relax();
  } while (rdtsc() < deadline);
  return false;
}

void SpinLock::unlock() { __atomic_store_n(&word_, 0U, __ATOMIC_RELEASE); }

void Line::put(char c) {
  if (len_ < sizeof buf_) buf_[len_++] = c;
}

Line& Line::str(const char* text) {
  while (*text != '\0') put(*text++);
  return *this;
}

Line& Line::dec(uint64_t value) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) put(digits[--n]);
  return *this;
}

Line& Line::hex(uint64_t value) {
  char digits[16];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[value & 0xF];
    value >>= 4;
  } while (value != 0);
  while (n > 0) put(digits[--n]);
  return *this;
}

void Line::write_out() {
  put('\n');
  if (buf_[len_ - 1] != '\n') buf_[len_ - 1] = '\n';  // truncated: still end the line
  out_bytes(abi::kUartPort, buf_, len_);
}

void Line::emit() {
  console_lock.lock();
  write_out();
  console_lock.unlock();
}

void Line::emit_from_exception() {
  // Another CPU holds the lock for one line's port writes; each can be a round trip to the
  // I/O node, so allow it plenty: 2^30 TSC cycles, a second or less at 1 GHz and up.
  constexpr uint64_t kWaitCycles = 1ULL << 30;
  const bool locked = console_lock.try_lock_until(rdtsc() + kWaitCycles);
  write_out();
  if (locked) console_lock.unlock();
}

void exit_guest(uint32_t code) {
  out32(abi::kDebugExitPort, code);
  // Not reached when the VMM stops on the exit port; otherwise stop this CPU.
  if (in_ring0()) halt_forever();
  park_cpu();
}

void fail_and_exit(const char* reason, uint32_t code) {
  Line().str("result: FAIL ").str(reason).emit();
  exit_guest(code);
}

}  // namespace heca::firmware::guest
