// EventLoop: the epoll reactor of one node (fds, one-shot timers, cross-thread posts).
// One thread runs it; post() and stop() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernel/base/fd.h"
#include "kernel/base/result.h"

namespace heca::coherence {

// Thread-safety: post() and stop() from any thread; everything else only from the thread
// running the loop (or before it runs). Callbacks run on the loop thread and may call any
// method, including remove_fd() of another fd reported in the same batch.
class EventLoop {
 public:
  [[nodiscard]] static Result<EventLoop> create();
  EventLoop(EventLoop&&) noexcept;
  EventLoop& operator=(EventLoop&&) noexcept;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop();

  using FdCallback = std::function<void(std::uint32_t epoll_events)>;
  // The fd stays owned by the caller, who must remove_fd() it before closing it.
  [[nodiscard]] Status add_fd(int fd, std::uint32_t events, FdCallback cb);
  [[nodiscard]] Status modify_fd(int fd, std::uint32_t events);
  void remove_fd(int fd);

  using TimerId = std::uint64_t;
  // One-shot; timers due at the same instant fire in the order they were added.
  TimerId add_timer(std::chrono::nanoseconds delay, std::function<void()> cb);
  void cancel_timer(TimerId id);

  void post(std::function<void()> fn);
  // Runs until stop(); a stop() issued before run() makes it return at once.
  [[nodiscard]] Status run();
  // Waits at most `timeout` for events, then dispatches fds, due timers and posts once.
  [[nodiscard]] Status run_once(std::chrono::milliseconds timeout);
  void stop();

 private:
  struct Shared;  // state touched from other threads (posts, stop flag, wake-up eventfd)
  struct FdEntry {
    int fd = -1;
    FdCallback cb;
  };
  using Clock = std::chrono::steady_clock;
  using TimerKey = std::pair<Clock::time_point, TimerId>;

  EventLoop(Fd epoll, std::unique_ptr<Shared> shared);
  [[nodiscard]] Status wait_and_dispatch(std::chrono::nanoseconds timeout);
  void run_due_timers();
  void run_posted();
  void drain_wakeup();

  Fd epoll_;
  std::unique_ptr<Shared> shared_;
  // epoll data carries a token, not the fd, so a stale event for a removed (and maybe
  // reused) fd is recognised and dropped.
  std::unordered_map<std::uint64_t, std::shared_ptr<FdEntry>> entries_;
  std::unordered_map<int, std::uint64_t> token_of_fd_;
  std::uint64_t next_token_ = 1;
  std::map<TimerKey, std::function<void()>> timers_;
  std::unordered_map<TimerId, Clock::time_point> timer_deadline_;
  TimerId next_timer_ = 1;
};

}  // namespace heca::coherence
