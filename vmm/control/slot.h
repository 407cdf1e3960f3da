// Slot<T>: an object the main thread lends to the control server's thread for a while (a VM
// once it is built, a supervisor once its nodes run); the loan ends before the object does.
#pragma once

#include <mutex>
#include <utility>

namespace heca::vmm::control {

// THREADS: lend() and the Loan's end on the owning thread; with() on any thread.
// LOCKING: mu_ guards value_ and is held across with()'s call, so ending a loan waits for a call
// in progress and no call can reach the object afterwards.
template <class T>
class Slot {
 public:
  class Loan {
   public:
    explicit Loan(Slot* slot) : slot_(slot) {}
    Loan(Loan&& other) noexcept : slot_(std::exchange(other.slot_, nullptr)) {}
    Loan& operator=(Loan&&) = delete;
    ~Loan() {
      if (slot_ == nullptr) return;
      const std::lock_guard lock(slot_->mu_);
      slot_->value_ = nullptr;
    }

   private:
    Slot* slot_;
  };

  // `value` is reachable through with() until the Loan goes.
  [[nodiscard]] Loan lend(T& value) {
    const std::lock_guard lock(mu_);
    value_ = &value;
    return Loan(this);
  }

  // call(T*) under the lock; the pointer is null when nothing is lent.
  template <class Call>
  auto with(Call&& call) {
    const std::lock_guard lock(mu_);
    return std::forward<Call>(call)(value_);
  }

 private:
  std::mutex mu_;
  T* value_ = nullptr;
};

}  // namespace heca::vmm::control
