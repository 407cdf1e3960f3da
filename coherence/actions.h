// What the pure protocol core asks its runtime to do: send, store, map, protect, zap, arm a timer.
// The runtime executes a list of Actions strictly in order; the order carries meaning.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <variant>
#include <vector>

#include "coherence/types.h"
#include "coherence/wire.h"

namespace heca::coherence {

// Monotonic time since an arbitrary epoch; the runtime feeds steady_clock, tests feed fakes.
using Nanos = std::chrono::nanoseconds;

enum class PageState : std::uint8_t { kInvalid, kShared, kModified };
enum class Access : std::uint8_t { kRead, kWrite };

// Sends `message`. When message.has_page_data, the page is read from this node's engine view
// at execution time, so every earlier WriteProtect/Zap in the list has already taken effect.
struct SendAction {
  NodeId to = 0;
  wire::Message message;
};
// Copies the payload of the message being handled into the engine view page (a no-op when
// the transport already placed it there).
struct StorePayloadAction {
  PageIndex page = 0;
};
// Maps the page into the guest view as S (write-protected) or M, waking faulting threads.
// The engine view already holds the data. Idempotent: re-installing wakes late faulters.
struct InstallAction {
  PageIndex page = 0;
  PageState state = PageState::kShared;
};
struct WriteProtectAction {  // M -> S: no store may land after this returns
  PageIndex page = 0;
};
struct ZapAction {  // -> I: drop the guest-view PTE
  PageIndex page = 0;
};
struct ArmTimerAction {  // call Protocol::on_timer(page, t) at some t >= at
  PageIndex page = 0;
  Nanos at{0};
};

using Action = std::variant<SendAction, StorePayloadAction, InstallAction, WriteProtectAction,
                            ZapAction, ArmTimerAction>;
using Actions = std::vector<Action>;

struct Envelope {
  NodeId from = 0;
  wire::Message message;
};

// Routes the sends of the protocol: a send to this node itself is queued for local delivery
// (the home's own accesses use the same directory, without a message on any transport).
class Outbox {
 public:
  Outbox(NodeId self, Actions& actions, std::deque<Envelope>& loopback)
      : self_(self), actions_(actions), loopback_(loopback) {}

  void send(NodeId to, wire::Message message) {
    message.sender = self_;
    if (to == self_) {
      loopback_.push_back({self_, message});
    } else {
      actions_.push_back(SendAction{to, message});
    }
  }
  void emit(Action action) { actions_.push_back(action); }
  [[nodiscard]] NodeId self() const { return self_; }

 private:
  NodeId self_;
  Actions& actions_;
  std::deque<Envelope>& loopback_;
};

}  // namespace heca::coherence
