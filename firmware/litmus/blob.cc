#include "firmware/litmus/blob.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "firmware/litmus/encoder.h"

namespace heca::firmware::litmus {
namespace {

constexpr std::uint64_t kPage = abi::kPageSize;
constexpr int kRax = 0;
constexpr std::array<int, 6> kCalleeSaved = {3, 5, 12, 13, 14, 15};  // rbx rbp r12-r15

std::uint64_t round_up(std::uint64_t n) { return (n + kPage - 1) / kPage * kPage; }

// Where each part of the blob lives, as offsets from its start.
struct Layout {
  std::uint64_t location(std::size_t i) const { return kPage * (1 + i); }
  std::uint64_t slot(std::size_t t) const { return kPage * (1 + locations + t); }
  std::uint64_t code_start() const { return kPage * (1 + locations + threads); }
  std::size_t locations = 0;
  std::size_t threads = 0;
};

std::vector<int> registers_of(const Thread& thread, std::size_t t, const std::vector<Var>& vars) {
  std::vector<int> regs;
  const auto add = [&](int r) {
    if (r >= 0 && std::find(regs.begin(), regs.end(), r) == regs.end()) regs.push_back(r);
  };
  for (const auto& in : thread.code) {
    add(in.reg);
    if (in.kind == OpKind::kLockCmpxchg) add(kRax);
  }
  for (const auto& var : vars) {
    if (var.thread == static_cast<int>(t)) add(var.index);
  }
  return regs;
}

void emit_instruction(Encoder& e, const Instruction& in, std::uint64_t base, const Layout& layout) {
  const auto addr = static_cast<std::uint32_t>(base + layout.location(static_cast<std::size_t>(in.loc < 0 ? 0 : in.loc)));
  const auto imm = static_cast<std::uint32_t>(in.imm);
  switch (in.kind) {
    case OpKind::kStore:
      in.has_imm ? e.store_imm(addr, imm) : e.store_reg(addr, in.reg);
      break;
    case OpKind::kLoad:
      e.load(in.reg, addr);
      break;
    case OpKind::kMovImm:
      e.mov_imm(in.reg, imm);
      break;
    case OpKind::kMfence:
      e.mfence();
      break;
    case OpKind::kXchg:
      e.xchg(addr, in.reg);
      break;
    case OpKind::kLockAdd:
      in.has_imm ? e.lock_add_imm(addr, imm) : e.lock_add_reg(addr, in.reg);
      break;
    case OpKind::kLockXadd:
      e.lock_xadd(addr, in.reg);
      break;
    case OpKind::kLockCmpxchg:
      e.lock_cmpxchg(addr, in.reg);
      break;
  }
}

// void thread_t(): saves the callee-saved registers, sets the thread's registers to their
// initial values, runs the test code, stores the observed registers to the result slot.
std::vector<std::uint8_t> thread_code(const LitmusTest& test, std::size_t t, const std::vector<Var>& vars,
                                      std::uint64_t base, const Layout& layout) {
  Encoder e;
  for (const int r : kCalleeSaved) e.push(r);
  const Thread& thread = test.threads[t];
  for (const int r : registers_of(thread, t, vars)) {
    e.mov_imm(r, static_cast<std::uint32_t>(thread.reg_init[static_cast<std::size_t>(r)]));
  }
  for (const auto& in : thread.code) emit_instruction(e, in, base, layout);
  for (const auto& var : vars) {
    if (var.thread != static_cast<int>(t)) continue;
    e.store_reg(static_cast<std::uint32_t>(base + layout.slot(t) + 8 * static_cast<std::uint64_t>(var.index)),
                var.index);
  }
  for (auto it = kCalleeSaved.rbegin(); it != kCalleeSaved.rend(); ++it) e.pop(*it);
  e.ret();
  return e.bytes();
}

void fill_header(abi::BlobHeader* h, const LitmusTest& test, const BlobOptions& options,
                 const std::vector<Var>& vars, const Layout& layout) {
  h->magic = abi::kBlobMagic;
  h->blob_addr = options.gpa;
  h->thread_count = static_cast<std::uint32_t>(test.threads.size());
  h->location_count = static_cast<std::uint32_t>(test.locations.size());
  h->outcome_words = static_cast<std::uint32_t>(vars.size());
  h->histogram_capacity = abi::kHistogramCapacity;
  h->iterations = options.iterations;
  for (std::size_t t = 0; t < abi::kMaxThreads; ++t) h->cpu_of_thread[t] = options.cpu_of_thread[t];
  h->timed_start = options.timed_start ? 1 : 0;
  for (std::size_t t = 0; t < test.threads.size(); ++t) h->slot_addr[t] = options.gpa + layout.slot(t);
  for (std::size_t i = 0; i < test.locations.size(); ++i) {
    h->location_addr[i] = options.gpa + layout.location(i);
    h->location_init[i] = test.locations[i].init;
  }
  for (std::size_t k = 0; k < vars.size(); ++k) {
    const Var& v = vars[k];
    const auto index = static_cast<std::size_t>(v.index);
    h->outcome_source[k] = v.thread < 0 ? options.gpa + layout.location(index)
                                        : options.gpa + layout.slot(static_cast<std::size_t>(v.thread)) + 8 * index;
  }
}

}  // namespace

Result<Blob> build_blob(const LitmusTest& test, const BlobOptions& options) {
  const auto vars = observed_vars(test);
  if (vars.size() > abi::kMaxOutcomeWords) {
    return make_error(fmt::format("unsupported: {} observed variables (at most {})", vars.size(), abi::kMaxOutcomeWords));
  }
  if (test.threads.empty() || test.threads.size() > abi::kMaxThreads || test.locations.size() > abi::kMaxLocations) {
    return make_error("unsupported: thread or location count outside the blob's limits");
  }
  const Layout layout{.locations = test.locations.size(), .threads = test.threads.size()};
  Blob blob{.gpa = options.gpa};
  blob.bytes.resize(layout.code_start());
  abi::BlobHeader header{};
  fill_header(&header, test, options, vars, layout);
  for (std::size_t t = 0; t < test.threads.size(); ++t) {
    header.code_addr[t] = options.gpa + blob.bytes.size();
    auto code = thread_code(test, t, vars, options.gpa, layout);
    blob.bytes.insert(blob.bytes.end(), code.begin(), code.end());
    blob.bytes.resize(round_up(blob.bytes.size()));
  }
  header.histogram_addr = options.gpa + blob.bytes.size();
  blob.bytes.resize(round_up(blob.bytes.size() + sizeof(abi::HistogramEntry) * abi::kHistogramCapacity));
  if (options.gpa % kPage != 0 || options.gpa + blob.bytes.size() > 0x80000000U) {
    return make_error(fmt::format("litmus blob at {:#x} must be page-aligned and below 2 GiB", options.gpa));
  }
  for (std::size_t i = 0; i < test.locations.size(); ++i) {
    std::memcpy(blob.bytes.data() + layout.location(i), &test.locations[i].init, sizeof(std::uint64_t));
  }
  std::memcpy(blob.bytes.data(), &header, sizeof header);
  return blob;
}

Result<Histogram> read_histogram(std::span<const std::uint8_t> memory, const LitmusTest& test) {
  abi::BlobHeader header{};
  if (memory.size() < sizeof header) return make_error("litmus blob too small");
  std::memcpy(&header, memory.data(), sizeof header);
  if (header.magic != abi::kBlobMagic) return make_error("litmus blob has a bad magic");
  if (header.done != abi::kBlobDone) return make_error("the guest did not finish the litmus run");
  const auto words = observed_vars(test).size();
  const std::uint64_t start = header.histogram_addr - header.blob_addr;
  if (header.outcome_words != words || header.histogram_addr < header.blob_addr || start + sizeof(abi::HistogramEntry) * abi::kHistogramCapacity > memory.size()) {
    return make_error("litmus blob does not match the test");
  }
  Histogram histogram{.iterations = header.completed_iterations, .dropped = header.dropped};
  for (std::size_t i = 0; i < abi::kHistogramCapacity; ++i) {
    abi::HistogramEntry entry{};
    std::memcpy(&entry, memory.data() + start + i * sizeof entry, sizeof entry);
    if (entry.count == 0) continue;
    histogram.counts[Outcome(entry.values, entry.values + words)] += entry.count;
  }
  return histogram;
}

}  // namespace heca::firmware::litmus
