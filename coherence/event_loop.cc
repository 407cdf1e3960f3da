#include "coherence/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <ctime>
#include <string>

namespace heca::coherence {

struct EventLoop::Shared {
  Fd wakeup;
  std::atomic<bool> stop_requested{false};
  std::mutex mu;
  std::vector<std::function<void()>> posted;  // LOCKING: guarded by mu

  void wake() const {
    const std::uint64_t one = 1;
    // A full counter (EAGAIN) already guarantees a wake-up, so the result is ignored.
    [[maybe_unused]] const ssize_t n = ::write(wakeup.get(), &one, sizeof(one));
  }
};

namespace {
constexpr std::uint64_t kWakeupToken = 0;
}  // namespace

EventLoop::EventLoop(Fd epoll, std::unique_ptr<Shared> shared)
    : epoll_(std::move(epoll)), shared_(std::move(shared)) {}
EventLoop::EventLoop(EventLoop&&) noexcept = default;
EventLoop& EventLoop::operator=(EventLoop&&) noexcept = default;
EventLoop::~EventLoop() = default;

Result<EventLoop> EventLoop::create() {
  Fd epoll{::epoll_create1(EPOLL_CLOEXEC)};
  if (!epoll) return errno_error("epoll_create1");
  auto shared = std::make_unique<Shared>();
  shared->wakeup = Fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  if (!shared->wakeup) return errno_error("eventfd for event loop wake-up");
  epoll_event ev{.events = EPOLLIN, .data = {.u64 = kWakeupToken}};
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, shared->wakeup.get(), &ev) != 0) {
    return errno_error("epoll_ctl ADD wake-up eventfd");
  }
  return EventLoop(std::move(epoll), std::move(shared));
}

Status EventLoop::add_fd(int fd, std::uint32_t events, FdCallback cb) {
  if (token_of_fd_.contains(fd)) {
    return make_error("event loop: fd " + std::to_string(fd) + " is already registered", EEXIST);
  }
  const std::uint64_t token = next_token_++;
  epoll_event ev{.events = events, .data = {.u64 = token}};
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    return errno_error("epoll_ctl ADD fd " + std::to_string(fd));
  }
  entries_[token] = std::make_shared<FdEntry>(FdEntry{fd, std::move(cb)});
  token_of_fd_[fd] = token;
  return {};
}

Status EventLoop::modify_fd(int fd, std::uint32_t events) {
  const auto it = token_of_fd_.find(fd);
  if (it == token_of_fd_.end()) {
    return make_error("event loop: modify of unregistered fd " + std::to_string(fd), ENOENT);
  }
  epoll_event ev{.events = events, .data = {.u64 = it->second}};
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) {
    return errno_error("epoll_ctl MOD fd " + std::to_string(fd));
  }
  return {};
}

void EventLoop::remove_fd(int fd) {
  const auto it = token_of_fd_.find(fd);
  if (it == token_of_fd_.end()) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  entries_.erase(it->second);
  token_of_fd_.erase(it);
}

EventLoop::TimerId EventLoop::add_timer(std::chrono::nanoseconds delay, std::function<void()> cb) {
  const TimerId id = next_timer_++;
  const auto deadline = Clock::now() + delay;
  timers_.emplace(TimerKey{deadline, id}, std::move(cb));
  timer_deadline_.emplace(id, deadline);
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  const auto it = timer_deadline_.find(id);
  if (it == timer_deadline_.end()) return;
  timers_.erase(TimerKey{it->second, id});
  timer_deadline_.erase(it);
}

void EventLoop::post(std::function<void()> fn) {
  {
    const std::lock_guard lock(shared_->mu);
    shared_->posted.push_back(std::move(fn));
  }
  shared_->wake();
}

void EventLoop::stop() {
  shared_->stop_requested.store(true);
  shared_->wake();
}

Status EventLoop::run() {
  while (!shared_->stop_requested.load()) {
    if (auto s = wait_and_dispatch(std::chrono::nanoseconds::max()); !s) return s;
  }
  shared_->stop_requested.store(false);
  return {};
}

Status EventLoop::run_once(std::chrono::milliseconds timeout) {
  return wait_and_dispatch(timeout);
}

Status EventLoop::wait_and_dispatch(std::chrono::nanoseconds timeout) {
  if (!timers_.empty()) {
    const auto until_timer = timers_.begin()->first.first - Clock::now();
    timeout = std::max(std::chrono::nanoseconds::zero(), std::min(timeout, until_timer));
  }
  timespec ts{};
  const bool forever = timeout == std::chrono::nanoseconds::max();
  if (!forever) {
    ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
  }
  std::array<epoll_event, 64> events{};
  const int n = ::epoll_pwait2(epoll_.get(), events.data(), static_cast<int>(events.size()),
                               forever ? nullptr : &ts, nullptr);
  if (n < 0 && errno != EINTR) return errno_error("epoll_pwait2");
  for (int i = 0; i < n; ++i) {
    const auto& ev = events[static_cast<std::size_t>(i)];
    if (ev.data.u64 == kWakeupToken) {
      drain_wakeup();
      continue;
    }
    const auto it = entries_.find(ev.data.u64);
    if (it == entries_.end()) continue;  // removed by an earlier callback of this batch
    const std::shared_ptr<FdEntry> entry = it->second;  // survives remove_fd() from inside cb
    entry->cb(ev.events);
  }
  run_due_timers();
  run_posted();
  return {};
}

void EventLoop::run_due_timers() {
  const auto now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto node = timers_.extract(timers_.begin());
    timer_deadline_.erase(node.key().second);
    node.mapped()();
  }
}

void EventLoop::run_posted() {
  std::vector<std::function<void()>> batch;
  {
    const std::lock_guard lock(shared_->mu);
    batch.swap(shared_->posted);
  }
  for (auto& fn : batch) fn();
}

void EventLoop::drain_wakeup() {
  std::uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(shared_->wakeup.get(), &count, sizeof(count));
}

}  // namespace heca::coherence
