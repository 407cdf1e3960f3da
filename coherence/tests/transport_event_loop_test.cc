#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "coherence/event_loop.h"

namespace heca::coherence {
namespace {

using std::chrono::milliseconds;

EventLoop make_loop() {
  auto loop = EventLoop::create();
  EXPECT_TRUE(loop.has_value());
  return std::move(*loop);
}

// Runs the loop until `done` holds or 5 s pass.
template <class Pred>
bool run_until(EventLoop& loop, Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    EXPECT_TRUE(loop.run_once(milliseconds(10)).has_value());
  }
  return done();
}

TEST(EventLoop, ReadableFdInvokesCallback) {
  EventLoop loop = make_loop();
  Fd efd{::eventfd(0, EFD_NONBLOCK)};
  std::uint32_t seen = 0;
  ASSERT_TRUE(loop.add_fd(efd.get(), EPOLLIN, [&](std::uint32_t ev) { seen = ev; }).has_value());
  const std::uint64_t one = 1;

  ASSERT_EQ(::write(efd.get(), &one, sizeof(one)), 8);

  EXPECT_TRUE(run_until(loop, [&] { return seen != 0; }));
  EXPECT_TRUE(seen & EPOLLIN);
}

TEST(EventLoop, RemovedFdIsNotReportedAgain) {
  EventLoop loop = make_loop();
  Fd a{::eventfd(1, EFD_NONBLOCK)};
  Fd b{::eventfd(1, EFD_NONBLOCK)};
  int calls = 0;
  auto remove_both = [&](std::uint32_t) {
    ++calls;
    loop.remove_fd(a.get());
    loop.remove_fd(b.get());
  };
  ASSERT_TRUE(loop.add_fd(a.get(), EPOLLIN, remove_both).has_value());
  ASSERT_TRUE(loop.add_fd(b.get(), EPOLLIN, remove_both).has_value());

  ASSERT_TRUE(loop.run_once(milliseconds(100)).has_value());
  ASSERT_TRUE(loop.run_once(milliseconds(10)).has_value());

  EXPECT_EQ(calls, 1);
}

TEST(EventLoop, TimersFireInDeadlineOrderAndCancelledOnesDoNot) {
  EventLoop loop = make_loop();
  std::vector<int> order;
  loop.add_timer(milliseconds(20), [&] { order.push_back(2); });
  loop.add_timer(milliseconds(1), [&] { order.push_back(1); });
  const auto cancelled = loop.add_timer(milliseconds(5), [&] { order.push_back(99); });

  loop.cancel_timer(cancelled);

  EXPECT_TRUE(run_until(loop, [&] { return order.size() == 2; }));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(EventLoop, TimerWakesRunOnceBeforeItsTimeout) {
  EventLoop loop = make_loop();
  bool fired = false;
  loop.add_timer(milliseconds(5), [&] { fired = true; });
  const auto start = std::chrono::steady_clock::now();

  ASSERT_TRUE(loop.run_once(milliseconds(2000)).has_value());

  EXPECT_TRUE(fired);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1000));
}

TEST(EventLoop, PostFromOtherThreadsRunsOnLoopThreadAndStopEndsRun) {
  EventLoop loop = make_loop();
  std::atomic<int> count{0};
  std::thread::id loop_thread;
  std::thread runner([&] {
    loop_thread = std::this_thread::get_id();
    EXPECT_TRUE(loop.run().has_value());
  });
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < 250; ++i) loop.post([&] { count.fetch_add(1); });
    });
  }
  for (auto& p : posters) p.join();

  loop.post([&] { loop.stop(); });
  runner.join();

  EXPECT_EQ(count.load(), 1000);
}

TEST(EventLoop, StopBeforeRunReturnsImmediately) {
  EventLoop loop = make_loop();

  loop.stop();

  EXPECT_TRUE(loop.run().has_value());
}

TEST(EventLoop, AddingSameFdTwiceIsAnError) {
  EventLoop loop = make_loop();
  Fd efd{::eventfd(0, EFD_NONBLOCK)};
  ASSERT_TRUE(loop.add_fd(efd.get(), EPOLLIN, [](std::uint32_t) {}).has_value());

  const auto again = loop.add_fd(efd.get(), EPOLLIN, [](std::uint32_t) {});

  EXPECT_FALSE(again.has_value());
}

}  // namespace
}  // namespace heca::coherence
