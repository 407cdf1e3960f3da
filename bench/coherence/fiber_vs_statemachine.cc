// bench_fiber_vs_statemachine: the cost of carrying in-flight coherence requests as explicit
// state-machine records (what heca's Protocol does) versus one Boost.Context fiber each.
// Each request waits for two events (e.g. a fetch reply, then an ack), delivered to random
// in-flight requests in the same order for both variants. Prints ns per request and bytes
// held per in-flight request.
#include <boost/context/fiber.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

namespace {

namespace ctx = boost::context;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kInFlight = 64;
constexpr std::uint64_t kRequests = 1'000'000;
constexpr std::size_t kFiberStack = 16 * 1024;

struct Record {  // what a state machine keeps per request
  std::uint8_t stage = 0;
  std::uint64_t request_id = 0;
};

double per_request_ns(Clock::time_point start) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kRequests;
}

double run_state_machine() {
  std::vector<Record> slots(kInFlight);
  std::mt19937_64 rng(1);
  std::uint64_t started = kInFlight;
  std::uint64_t completed = 0;
  for (std::size_t i = 0; i < kInFlight; ++i) slots[i] = Record{0, i};
  const auto start = Clock::now();
  while (completed < kRequests) {
    Record& record = slots[rng() % kInFlight];
    switch (record.stage) {
      case 0:
        record.stage = 1;  // first reply: now wait for the second
        break;
      default:
        ++completed;
        record = Record{0, started++};  // the slot takes the next request
    }
  }
  return per_request_ns(start);
}

double run_fibers() {
  ctx::pooled_fixedsize_stack pool(kFiberStack);
  std::vector<ctx::fiber> slots(kInFlight);
  std::mt19937_64 rng(1);
  std::uint64_t completed = 0;
  // The request reads top to bottom: send, wait for reply, wait for ack, done.
  auto spawn = [&] {
    ctx::fiber fiber(std::allocator_arg, pool, [&completed](ctx::fiber&& loop) {
      loop = std::move(loop).resume();  // wait: first reply
      loop = std::move(loop).resume();  // wait: second reply
      ++completed;
      return std::move(loop);
    });
    return std::move(fiber).resume();  // run to the first wait
  };
  for (auto& slot : slots) slot = spawn();
  const auto start = Clock::now();
  while (completed < kRequests) {
    ctx::fiber& slot = slots[rng() % kInFlight];
    slot = std::move(slot).resume();
    if (!slot) slot = spawn();
  }
  return per_request_ns(start);
}

}  // namespace

int main() {
  const double machine = run_state_machine();
  const double fibers = run_fibers();
  std::printf("state machine : %7.1f ns/request, %5zu bytes per in-flight request\n", machine,
              sizeof(Record));
  std::printf("fibers        : %7.1f ns/request, %5zu bytes per in-flight request (stack)\n",
              fibers, kFiberStack);
  std::printf("fibers / state machine: %.1fx time\n", fibers / machine);
  return 0;
}
