// FakeTarget: a ControlTarget that records what it was asked and answers what the test set,
// for the control protocol and server tests (no VM behind it).
#pragma once

#include <atomic>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "vmm/control/control_protocol.h"

namespace heca::vmm::control {

// THREADS: the server thread calls it; the test thread reads the counters (atomics).
class FakeTarget final : public ControlTarget {
 public:
  Result<nlohmann::json> status() override {
    ++status_calls;
    if (throw_in_status) throw std::runtime_error("status blew up");
    return nlohmann::json{{"node", 3}, {"guest", {{"state", "running"}}}};
  }
  Result<nlohmann::json> stats() override {
    return nlohmann::json{{"node", 3}, {"memory", {{"page_faults", 42}}}};
  }
  Status pause() override {
    ++pauses;
    return fail_with ? Status(make_error(*fail_with)) : Status{};
  }
  Status resume() override {
    ++resumes;
    return {};
  }
  Status stop() override {
    ++stops;
    return {};
  }

  std::atomic<int> status_calls{0};
  std::atomic<int> pauses{0};
  std::atomic<int> resumes{0};
  std::atomic<int> stops{0};
  std::optional<std::string> fail_with;  // pause() fails with this
  bool throw_in_status = false;
};

}  // namespace heca::vmm::control
