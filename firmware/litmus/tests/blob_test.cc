// Runs generated thread code on the host: the blob is mapped at its guest address, the
// threads run one after another (each order is one sequentially consistent interleaving)
// and the guest's own reset/record helpers fill the histogram that read_histogram() decodes.
#include "firmware/litmus/blob.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <string>
#include <thread>

#include "firmware/litmus/model.h"
#include "firmware/litmus/parser.h"

namespace heca::firmware::litmus {
namespace {

constexpr std::uint64_t kHostGpa = 0x30000000;

// The blob mapped read-write-execute at its guest address in this process.
class MappedBlob {
 public:
  explicit MappedBlob(const Blob& blob) : size_(blob.bytes.size()) {
    void* want = reinterpret_cast<void*>(blob.gpa);
    base_ = ::mmap(want, size_, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (base_ != want) {
      base_ = MAP_FAILED;
      return;
    }
    std::memcpy(base_, blob.bytes.data(), size_);
  }
  ~MappedBlob() {
    if (base_ != MAP_FAILED) ::munmap(base_, size_);
  }
  MappedBlob(const MappedBlob&) = delete;
  MappedBlob& operator=(const MappedBlob&) = delete;

  bool ok() const { return base_ != MAP_FAILED; }
  abi::BlobHeader* header() const { return static_cast<abi::BlobHeader*>(base_); }
  void run_thread(std::size_t t) const { reinterpret_cast<void (*)()>(header()->code_addr[t])(); }
  void finish() const { header()->done = abi::kBlobDone; }
  std::span<const std::uint8_t> bytes() const { return {static_cast<const std::uint8_t*>(base_), size_}; }

 private:
  std::size_t size_;
  void* base_;
};

LitmusTest parse(const std::string& text) {
  auto test = parse_litmus(text);
  EXPECT_TRUE(test.has_value()) << test.error().message();
  return test.value_or(LitmusTest{});
}

Blob build(const LitmusTest& test) {
  auto blob = build_blob(test, BlobOptions{.gpa = kHostGpa, .iterations = 1});
  EXPECT_TRUE(blob.has_value()) << blob.error().message();
  return blob.value_or(Blob{});
}

const char* kSb =
    "X86_64 SB\n{ x=0; y=0; 0:rsi=y; }\n P0 | P1 ;\n movq $1,(x) | movq $1,(y) ;\n"
    " movq (%rsi),%rax | movq (x),%rax ;\nexists (0:rax=0 /\\ 1:rax=0)\n";

TEST(LitmusBlob, SequentialRunsGiveTheOutcomesOfBothOrders) {
  const auto test = parse(kSb);
  MappedBlob mapped(build(test));
  if (!mapped.ok()) GTEST_SKIP() << "cannot map the blob at its guest address here";

  for (const std::size_t first : {0U, 1U}) {
    abi::reset_locations(mapped.header());
    mapped.run_thread(first);
    mapped.run_thread(1 - first);
    abi::record_outcome(mapped.header());
  }
  mapped.finish();
  auto histogram = read_histogram(mapped.bytes(), test);

  ASSERT_TRUE(histogram.has_value()) << histogram.error().message();
  EXPECT_EQ(histogram->iterations, 2U);
  EXPECT_EQ(histogram->counts, (std::map<Outcome, std::uint64_t>{{{0, 1}, 1}, {{1, 0}, 1}}));
}

TEST(LitmusBlob, LockedInstructionsComputeWhatTheModelSays) {
  const auto test = parse(
      "X86 L\n{ x=5; y=0; z=0; 0:EAX=1; 0:ECX=9; }\n P0 ;\n LOCK XADD [x],EAX ;\n LOCK ADD [x],$3 ;\n"
      " XCHG [y],ECX ;\n MOV EAX,$2 ;\n MOV EBX,$4 ;\n LOCK CMPXCHG [z],EBX ;\n MOV EDX,[z] ;\n"
      "exists (0:EAX=0 /\\ 0:ECX=0 /\\ 0:EDX=0 /\\ x=0 /\\ y=0 /\\ z=0)\n");
  MappedBlob mapped(build(test));
  if (!mapped.ok()) GTEST_SKIP() << "cannot map the blob at its guest address here";

  abi::reset_locations(mapped.header());
  mapped.run_thread(0);
  abi::record_outcome(mapped.header());
  mapped.finish();
  auto histogram = read_histogram(mapped.bytes(), test);

  ASSERT_TRUE(histogram.has_value()) << histogram.error().message();
  const OutcomeSet allowed = allowed_outcomes(test);
  ASSERT_EQ(allowed.size(), 1U);
  ASSERT_EQ(histogram->counts.size(), 1U);
  EXPECT_EQ(histogram->counts.begin()->first, *allowed.begin());  // cmpxchg failed: eax = z = 0
}

TEST(LitmusBlob, ConcurrentHostRunsSeeOnlyTsoOutcomes) {
  const auto test = parse(kSb);
  MappedBlob mapped(build(test));
  if (!mapped.ok()) GTEST_SKIP() << "cannot map the blob at its guest address here";

  for (int i = 0; i < 200; ++i) {
    abi::reset_locations(mapped.header());
    std::thread other([&] { mapped.run_thread(1); });
    mapped.run_thread(0);
    other.join();
    abi::record_outcome(mapped.header());
  }
  mapped.finish();
  auto histogram = read_histogram(mapped.bytes(), test);

  ASSERT_TRUE(histogram.has_value()) << histogram.error().message();
  const OutcomeSet allowed = allowed_outcomes(test);
  for (const auto& [outcome, count] : histogram->counts) EXPECT_TRUE(allowed.contains(outcome));
  EXPECT_EQ(histogram->iterations, 200U);
}

TEST(LitmusBlob, RefusesAnUnfinishedRun) {
  const auto test = parse(kSb);
  const Blob blob = build(test);

  auto histogram = read_histogram(blob.bytes, test);

  ASSERT_FALSE(histogram.has_value());
  EXPECT_EQ(histogram.error().message(), "the guest did not finish the litmus run");
}

TEST(LitmusBlob, ChecksThreadPlacementAgainstTheVcpuCount) {
  const auto test = parse(kSb);
  const Blob blob = build(test);
  abi::BlobHeader header{};
  std::memcpy(&header, blob.bytes.data(), sizeof header);

  EXPECT_EQ(abi::check_blob(&header, 2), nullptr);
  EXPECT_STREQ(abi::check_blob(&header, 1), "litmus test has more threads than the guest has vCPUs");
}

}  // namespace
}  // namespace heca::firmware::litmus
