#include "vmm/stop_latch.h"

#include <gtest/gtest.h>

#include <thread>

namespace heca::vmm {
namespace {

TEST(StopLatch, FirstFinishWins) {
  StopLatch latch;

  EXPECT_TRUE(latch.finish({3, "first"}));
  EXPECT_FALSE(latch.finish({4, "second"}));

  EXPECT_EQ(latch.outcome()->exit_code, 3);
}

TEST(StopLatch, WaitForTimesOutWithoutFinish) {
  StopLatch latch;

  EXPECT_FALSE(latch.wait_for(std::chrono::milliseconds(1)));
}

TEST(StopLatch, WaitReturnsOnceAnotherThreadFinishes) {
  StopLatch latch;
  std::thread finisher([&latch] { latch.finish({0, {}}); });

  latch.wait();
  finisher.join();

  EXPECT_EQ(latch.outcome()->exit_code, 0);
}

}  // namespace
}  // namespace heca::vmm
