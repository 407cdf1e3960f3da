// Polling for tests: wait until a condition holds, with a deadline.
#pragma once

#include <chrono>
#include <thread>

namespace heca::testing {

// Polls `done` every millisecond until it holds or `timeout` passes; returns its final value.
template <class Predicate>
bool wait_for(Predicate done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace heca::testing
