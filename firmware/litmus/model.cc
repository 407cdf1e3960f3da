#include "firmware/litmus/model.h"

#include <deque>
#include <utility>

namespace heca::firmware::litmus {
namespace {

struct BufferedStore {
  int loc = 0;
  std::uint64_t value = 0;
  auto operator<=>(const BufferedStore&) const = default;
};

struct ThreadState {
  std::size_t pc = 0;
  std::array<std::uint64_t, kRegisterCount> regs{};
  std::deque<BufferedStore> buffer;  // front = oldest
  auto operator<=>(const ThreadState&) const = default;
};

struct State {
  std::vector<ThreadState> threads;
  std::vector<std::uint64_t> memory;
  auto operator<=>(const State&) const = default;
};

constexpr int kRax = 0;

class Explorer {
 public:
  Explorer(const LitmusTest& test, MemoryModel model) : test_(test), model_(model), vars_(observed_vars(test)) {}

  OutcomeSet run() {
    State initial;
    for (const auto& location : test_.locations) initial.memory.push_back(location.init);
    for (const auto& thread : test_.threads) initial.threads.push_back(ThreadState{.regs = thread.reg_init});
    std::vector<State> stack{std::move(initial)};
    while (!stack.empty()) {
      State state = std::move(stack.back());
      stack.pop_back();
      if (!seen_.insert(state).second) continue;
      expand(state, &stack);
    }
    return std::move(outcomes_);
  }

 private:
  void expand(const State& state, std::vector<State>* stack) {
    bool any = false;
    for (std::size_t t = 0; t < state.threads.size(); ++t) {
      const ThreadState& thread = state.threads[t];
      if (!thread.buffer.empty()) {
        State next = state;
        const BufferedStore store = next.threads[t].buffer.front();
        next.threads[t].buffer.pop_front();
        next.memory[static_cast<std::size_t>(store.loc)] = store.value;
        stack->push_back(std::move(next));
        any = true;
      }
      const auto& code = test_.threads[t].code;
      if (thread.pc == code.size()) continue;
      const Instruction& in = code[thread.pc];
      const bool needs_drain = in.kind == OpKind::kMfence || in.is_locked();
      if (needs_drain && !thread.buffer.empty()) continue;  // the drain step above comes first
      State next = state;
      step(in, &next.threads[t], &next.memory);
      ++next.threads[t].pc;
      stack->push_back(std::move(next));
      any = true;
    }
    if (!any) record(state);
  }

  void step(const Instruction& in, ThreadState* thread, std::vector<std::uint64_t>* memory) const {
    const auto loc = static_cast<std::size_t>(in.loc);
    auto& reg = thread->regs[static_cast<std::size_t>(in.reg < 0 ? 0 : in.reg)];
    const std::uint64_t source = in.has_imm ? in.imm : reg;
    switch (in.kind) {
      case OpKind::kStore:
        if (model_ == MemoryModel::kSc) {
          (*memory)[loc] = source;
        } else {
          thread->buffer.push_back({in.loc, source});
        }
        break;
      case OpKind::kLoad:
        reg = load(*thread, *memory, in.loc);
        break;
      case OpKind::kMovImm:
        reg = in.imm;
        break;
      case OpKind::kMfence:
        break;
      case OpKind::kXchg:
        std::swap(reg, (*memory)[loc]);
        break;
      case OpKind::kLockAdd:
        (*memory)[loc] += source;
        break;
      case OpKind::kLockXadd: {
        const std::uint64_t old = (*memory)[loc];
        (*memory)[loc] = old + reg;
        reg = old;
        break;
      }
      case OpKind::kLockCmpxchg: {
        auto& rax = thread->regs[kRax];
        if ((*memory)[loc] == rax) {
          (*memory)[loc] = reg;
        } else {
          rax = (*memory)[loc];
        }
        break;
      }
    }
  }

  static std::uint64_t load(const ThreadState& thread, const std::vector<std::uint64_t>& memory, int loc) {
    for (auto it = thread.buffer.rbegin(); it != thread.buffer.rend(); ++it) {
      if (it->loc == loc) return it->value;
    }
    return memory[static_cast<std::size_t>(loc)];
  }

  void record(const State& state) {
    Outcome outcome;
    for (const Var& var : vars_) {
      outcome.push_back(var.thread < 0 ? state.memory[static_cast<std::size_t>(var.index)]
                                       : state.threads[static_cast<std::size_t>(var.thread)]
                                             .regs[static_cast<std::size_t>(var.index)]);
    }
    outcomes_.insert(std::move(outcome));
  }

  const LitmusTest& test_;
  MemoryModel model_;
  std::vector<Var> vars_;
  std::set<State> seen_;
  OutcomeSet outcomes_;
};

}  // namespace

OutcomeSet allowed_outcomes(const LitmusTest& test, MemoryModel model) {
  return Explorer(test, model).run();
}

}  // namespace heca::firmware::litmus
