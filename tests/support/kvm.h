// Whether a test can use KVM here. Tests that need /dev/kvm skip where it cannot be opened,
// except under tests/vcluster/kvm-run (HECA_REQUIRE_KVM=1), which sends them where KVM is:
// there a missing KVM is a failure, so a KVM test never passes CI by skipping.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "kernel/base/fd.h"

namespace heca::testing {

inline bool kvm_available() {
  if (Fd(::open("/dev/kvm", O_RDWR | O_CLOEXEC)).valid()) return true;
  if (std::getenv("HECA_REQUIRE_KVM") != nullptr) {
    ADD_FAILURE() << "/dev/kvm cannot be opened, yet kvm-run sent this test where KVM should be";
  }
  return false;
}

}  // namespace heca::testing
