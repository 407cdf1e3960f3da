#include "coherence/node.h"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "kernel/base/check.h"
#include "kernel/base/log.h"

namespace heca::coherence {
namespace {

std::uint64_t offset_of(PageIndex page) {
  return page * kPageSize;
}

}  // namespace

std::string NodeCounters::to_string() const {
  std::string out = "messages sent/received:";
  for (std::uint8_t type = 1; type <= wire::kMaxMessageType; ++type) {
    out += fmt::format(" {}={}/{}", wire::type_name(static_cast<wire::MessageType>(type)),
                       sent[type], received[type]);
  }
  return out + fmt::format(" | zero-copy payloads={}", zero_copy_payloads);
}

Node::Node(EventLoop& loop, kernel::MemfdRegion& region, kernel::Uffd& uffd, Options options)
    : loop_(loop),
      region_(region),
      uffd_(uffd),
      options_(std::move(options)),
      protocol_(options_.protocol),
      peer_epoch_(options_.protocol.homes.node_count(), 0),
      peer_leaving_(options_.protocol.homes.node_count(), false) {
}

Node::~Node() {
  loop_.remove_fd(uffd_.fd());
}

Status Node::start() {
  HECA_CHECK(transport_ != nullptr);
  if (protocol_.config().home_starts_owner) {
    if (auto s = map_home_pages(); !s) return s;
  }
  return loop_.add_fd(uffd_.fd(), EPOLLIN, [this](std::uint32_t) { on_uffd_readable(); });
}

// The pages this node is home of start Modified here: map them writable, run by run, before
// any fault can be read (nothing else has touched them yet).
Status Node::map_home_pages() {
  const HomeMap& homes = protocol_.config().homes;
  const NodeId self = protocol_.config().self;
  PageIndex page = 0;
  while (page < homes.page_count()) {
    if (homes.home_of(page) != self) {
      ++page;
      continue;
    }
    const PageIndex first = page;
    while (page < homes.page_count() && homes.home_of(page) == self) ++page;
    if (auto s = uffd_.map_range_writable(offset_of(first), (page - first) * kPageSize); !s) {
      return wrap_error(s.error(), "mapping the pages this node is home of");
    }
  }
  return {};
}

Nanos Node::now() {
  return std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now().time_since_epoch());
}

std::span<std::uint8_t> Node::engine_page(PageIndex page) const {
  return region_.engine_bytes().subspan(offset_of(page), kPageSize);
}

// One fault per readiness event: the fd is level-triggered, so further faults come back with
// the next epoll_wait, and the common single fault costs no extra read that would return EAGAIN.
void Node::on_uffd_readable() {
  if (failed_) return;
  auto fault = uffd_.read_fault();
  if (!fault) return fatal("reading userfaultfd: " + fault.error().message());
  if (!fault->has_value()) return;
  const PageIndex page = (*fault)->offset / kPageSize;
  fault_started_.try_emplace(page, now());
  Actions actions;
  protocol_.on_fault(page, (*fault)->write ? Access::kWrite : Access::kRead, now(), actions);
  execute(actions, {});
}

std::span<std::uint8_t> Node::payload_destination(NodeId from, const wire::Header& header) {
  if (header.payload_length != kPageSize) return {};
  auto message = wire::decode(header, protocol_.config().homes.page_count());
  if (!message || !protocol_.expects_page_data(from, *message)) return {};
  return engine_page(message->page);
}

void Node::on_message(NodeId from, const wire::Header& header,
                      std::span<const std::uint8_t> payload) {
  if (failed_) return;
  auto message = wire::decode(header, protocol_.config().homes.page_count());
  if (!message || message->sender != from) {
    return reject_peer(from, fmt::format("node {} ({}) sent a malformed message: {}", from,
                                         options_.peer_names.at(from),
                                         message ? "wrong sender field" : message.error().what));
  }
  ++counters_.received[header.type];
  if (message->type == wire::MessageType::kBarrier) return on_barrier_message(from, *message);
  if (message->has_page_data && payload.data() == engine_page(message->page).data()) {
    ++counters_.zero_copy_payloads;
  }
  Actions actions;
  auto status = protocol_.on_message(from, *message, now(), actions);
  execute(actions, payload);
  if (!status) {
    return reject_peer(from, fmt::format("node {} ({}) broke the protocol: {}", from,
                                         options_.peer_names.at(from), status.error().what));
  }
  advance_barrier();
}

void Node::on_peer_lost(NodeId peer, const Error& why) {
  if (peer < peer_leaving_.size() && peer_leaving_[peer]) return;  // it left after the barrier
  fatal(fmt::format("lost node {} ({}): {}", peer, options_.peer_names.at(peer), why.message()));
}

void Node::execute(const Actions& actions, std::span<const std::uint8_t> payload) {
  for (const Action& action : actions) {
    if (failed_) return;
    if (const auto* send = std::get_if<SendAction>(&action)) {
      execute_send(*send);
    } else if (const auto* store = std::get_if<StorePayloadAction>(&action)) {
      const auto page = engine_page(store->page);
      HECA_CHECK(payload.size() == kPageSize);
      if (payload.data() != page.data()) std::memcpy(page.data(), payload.data(), kPageSize);
    } else if (const auto* install = std::get_if<InstallAction>(&action)) {
      check(uffd_.map_page(offset_of(install->page), install->state == PageState::kShared),
            "mapping a page");
      fault_resolved(install->page);
    } else if (const auto* protect = std::get_if<WriteProtectAction>(&action)) {
      check(uffd_.set_write_protect(offset_of(protect->page), true), "write-protecting a page");
    } else if (const auto* zap = std::get_if<ZapAction>(&action)) {
      check(uffd_.zap(offset_of(zap->page)), "invalidating a page");
    } else if (const auto* timer = std::get_if<ArmTimerAction>(&action)) {
      arm_timer(*timer);
    }
  }
}

void Node::fault_resolved(PageIndex page) {
  const auto it = fault_started_.find(page);
  if (it == fault_started_.end()) return;
  const Nanos took = now() - it->second;
  fault_started_.erase(it);
  if (latency_samples_.size() < kLatencySamples) {
    latency_samples_.push_back(took);
  } else {
    latency_samples_[timed_faults_ % kLatencySamples] = took;
  }
  ++timed_faults_;
}

FaultLatency Node::fault_latency() const {
  FaultLatency result{.faults = timed_faults_};
  if (latency_samples_.empty()) return result;
  std::vector<Nanos> sorted = latency_samples_;
  std::sort(sorted.begin(), sorted.end());
  const auto at = [&](std::size_t percent) { return sorted[(sorted.size() - 1) * percent / 100]; };
  result.p50 = at(50);
  result.p90 = at(90);
  result.p99 = at(99);
  result.max = sorted.back();
  return result;
}

std::string FaultLatency::to_string() const {
  const auto us = [](Nanos n) { return static_cast<double>(n.count()) / 1000.0; };
  return fmt::format("fault latency: {} faults, p50={:.1f} us p90={:.1f} us p99={:.1f} us "
                     "max={:.1f} us",
                     faults, us(p50), us(p90), us(p99), us(max));
}

void Node::execute_send(const SendAction& send) {
  const wire::Header header = wire::to_header(send.message);
  std::span<const std::uint8_t> payload;
  if (send.message.has_page_data) payload = engine_page(send.message.page);
  ++counters_.sent[header.type];
  check(transport_->send(send.to, header, payload),
        fmt::format("sending {} to node {}", wire::type_name(send.message.type), send.to).c_str());
}

void Node::arm_timer(const ArmTimerAction& timer) {
  const Nanos delay = std::max(Nanos{0}, timer.at - now());
  loop_.add_timer(delay, [this, page = timer.page] {
    if (failed_) return;
    Actions actions;
    protocol_.on_timer(page, now(), actions);
    execute(actions, {});
    advance_barrier();
  });
}

void Node::arrive(std::uint64_t epoch, bool final, std::function<void()> done) {
  HECA_CHECK(!barrier_.has_value());
  barrier_ = Barrier{.epoch = epoch, .final = final, .done = std::move(done)};
  advance_barrier();
}

void Node::on_barrier_message(NodeId from, const wire::Message& message) {
  peer_epoch_[from] = std::max(peer_epoch_[from], message.request_id);
  if ((message.flags & wire::kFlagFinalBarrier) != 0) peer_leaving_[from] = true;
  advance_barrier();
}

// INVARIANT: a node announces a barrier only when none of its requests is outstanding, and
// its threads make no access after arriving; so once every node has announced, no protocol
// message is in flight anywhere and every node may stop serving its pages.
void Node::advance_barrier() {
  if (!barrier_ || failed_) return;
  const NodeId self = protocol_.config().self;
  if (!barrier_->announced) {
    if (!protocol_.quiescent()) return;
    barrier_->announced = true;
    const wire::Message message{
        .type = wire::MessageType::kBarrier,
        .flags = barrier_->final ? wire::kFlagFinalBarrier : std::uint16_t{0},
        .sender = self,
        .request_id = barrier_->epoch};
    for (NodeId peer = 0; peer < peer_epoch_.size(); ++peer) {
      if (peer != self) execute_send(SendAction{peer, message});
    }
  }
  for (NodeId peer = 0; peer < peer_epoch_.size(); ++peer) {
    if (peer != self && peer_epoch_[peer] < barrier_->epoch) return;
  }
  auto done = std::move(barrier_->done);
  barrier_.reset();
  done();
}

void Node::check(const Status& status, const char* what) {
  if (!status) fatal(std::string(what) + ": " + status.error().message());
}

void Node::reject_peer(NodeId peer, const std::string& why) {
  // Close only that connection first, so nothing more from it is read into a page.
  if (transport_ != nullptr) transport_->disconnect(peer, Error{EPROTO, why});
  fatal(why);
}

void Node::fatal(const std::string& why) {
  if (failed_) return;
  failed_ = true;
  spdlog::error("{}", why);
  if (options_.on_fatal) options_.on_fatal(why);
}

}  // namespace heca::coherence
