#include "coherence/tests/sim_cluster.h"

#include <algorithm>

namespace heca::coherence::testing {

SimCluster::SimCluster(const SimConfig& config) : pages_(config.pages) {
  const HomeMap homes =
      config.homes ? *config.homes : HomeMap::even_ranges(config.pages, config.nodes);
  for (NodeId id = 0; id < config.nodes; ++id) {
    protocols_.push_back(
        std::make_unique<Protocol>(ProtocolConfig{.self = id,
                                                  .homes = homes,
                                                  .min_hold = config.min_hold,
                                                  .max_hold = config.max_hold,
                                                  .prefetch_window = config.prefetch_window,
                                                  .home_starts_owner = config.home_starts_owner,
                                                  .reads_take_ownership = config.reads_take_ownership}));
    mapped_.emplace_back(config.pages, PageState::kInvalid);
    for (PageIndex page = 0; config.home_starts_owner && page < config.pages; ++page) {
      if (homes.home_of(page) == id) mapped_.back()[page] = PageState::kModified;
    }
    memory_.emplace_back(config.pages, 0);
  }
  last_actions_.resize(config.nodes);
}

void SimCluster::fault(NodeId node, PageIndex page, Access access) {
  Actions actions;
  protocols_[node]->on_fault(page, access, now_, actions);
  apply(node, actions, std::nullopt);
}

bool SimCluster::deliver(NodeId from, NodeId to) {
  auto it = channels_.find({from, to});
  if (it == channels_.end() || it->second.empty()) return false;
  const SimMessage message = it->second.front();
  it->second.pop_front();
  Actions actions;
  auto status = protocols_[to]->on_message(from, message.message, now_, actions);
  EXPECT_TRUE(status.has_value()) << (status ? "" : status.error().what);
  apply(to, actions, message.payload);
  return true;
}

bool SimCluster::deliver_random(std::mt19937_64& rng) {
  std::vector<std::pair<NodeId, NodeId>> ready;
  for (const auto& [key, queue] : channels_) {
    if (!queue.empty()) ready.push_back(key);
  }
  if (ready.empty()) return false;
  const auto& [from, to] = ready[rng() % ready.size()];
  return deliver(from, to);
}

bool SimCluster::settle(Nanos step, int max_steps) {
  for (int i = 0; i < max_steps; ++i) {
    bool delivered = false;
    for (NodeId from = 0; from < size(); ++from) {
      for (NodeId to = 0; to < size(); ++to) delivered = deliver(from, to) || delivered;
    }
    if (!delivered && timers_.empty()) return true;
    if (!delivered) advance(step);
  }
  return false;
}

void SimCluster::advance(Nanos delta) {
  now_ += delta;
  fire_due_timers();
}

void SimCluster::fire_due_timers() {
  std::vector<Timer> due;
  std::erase_if(timers_, [&](const Timer& timer) {
    if (timer.at > now_) return false;
    due.push_back(timer);
    return true;
  });
  for (const Timer& timer : due) {
    Actions actions;
    protocols_[timer.node]->on_timer(timer.page, now_, actions);
    apply(timer.node, actions, std::nullopt);
  }
}

PageState SimCluster::mapped(NodeId node, PageIndex page) const {
  return mapped_[node][page];
}

const std::deque<SimMessage>& SimCluster::channel(NodeId from, NodeId to) const {
  static const std::deque<SimMessage> kEmpty;
  const auto it = channels_.find({from, to});
  return it == channels_.end() ? kEmpty : it->second;
}

std::size_t SimCluster::in_flight() const {
  std::size_t total = 0;
  for (const auto& [key, queue] : channels_) total += queue.size();
  return total;
}

::testing::AssertionResult SimCluster::swmr(PageIndex page) const {
  int writers = 0;
  int readers = 0;
  for (const auto& node : mapped_) {
    writers += node[page] == PageState::kModified ? 1 : 0;
    readers += node[page] == PageState::kShared ? 1 : 0;
  }
  if (writers > 1 || (writers == 1 && readers > 0)) {
    return ::testing::AssertionFailure()
           << "page " << page << ": " << writers << " writers, " << readers << " readers";
  }
  return ::testing::AssertionSuccess();
}

void SimCluster::apply(NodeId node, const Actions& actions,
                       const std::optional<std::uint64_t>& payload) {
  last_actions_[node] = actions;
  for (const Action& action : actions) {
    if (const auto* send = std::get_if<SendAction>(&action)) {
      SimMessage message{.from = node, .to = send->to, .message = send->message};
      if (send->message.has_page_data) message.payload = memory_[node][send->message.page];
      channels_[{node, send->to}].push_back(message);
    } else if (const auto* store = std::get_if<StorePayloadAction>(&action)) {
      EXPECT_TRUE(payload.has_value()) << "StorePayload without a payload";
      memory_[node][store->page] = payload.value_or(0);
    } else if (const auto* install = std::get_if<InstallAction>(&action)) {
      mapped_[node][install->page] = install->state;
    } else if (const auto* protect = std::get_if<WriteProtectAction>(&action)) {
      mapped_[node][protect->page] = PageState::kShared;
    } else if (const auto* zap = std::get_if<ZapAction>(&action)) {
      mapped_[node][zap->page] = PageState::kInvalid;
    } else if (const auto* timer = std::get_if<ArmTimerAction>(&action)) {
      timers_.push_back({node, timer->page, timer->at});
    }
  }
}

}  // namespace heca::coherence::testing
