// The contract between heca and its freestanding test guests: ports and cmdline keys.
// Included by the VMM (C++) and by the test guest (freestanding C++), so keep it plain.
#pragma once

#include <stdint.h>

namespace heca::firmware::abi {

// 32-bit OUT: the guest is done; the value is heca's exit code (0 = pass).
inline constexpr uint16_t kDebugExitPort = 0x501;
// 32-bit OUT: a progress event; the VMM timestamps it (for start-up figures).
inline constexpr uint16_t kDebugEventPort = 0x502;
inline constexpr uint32_t kEventAllCheckedIn = 1;
inline constexpr uint32_t kEventWorkloadsDone = 2;

// COM1, the console.
inline constexpr uint16_t kUartPort = 0x3F8;

}  // namespace heca::firmware::abi
