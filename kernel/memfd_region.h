// MemfdRegion: guest RAM as one memfd mapped twice, a guest view and an engine view.
// The guest view is what KVM (and later userfaultfd) sees; the engine view is never registered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernel/base/fd.h"
#include "kernel/base/mapping.h"
#include "kernel/base/result.h"

namespace heca::kernel {

// Thread-safety: immutable after create(); the views may be touched from any thread.
class MemfdRegion {
 public:
  // Creates a memfd of `size` bytes (a multiple of the page size) and maps it twice, shared.
  [[nodiscard]] static Result<MemfdRegion> create(std::size_t size, const char* name);

  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] int fd() const { return memfd_.get(); }
  // The view given to KVM as memslots; every guest access goes through it.
  [[nodiscard]] std::uint8_t* guest_view() const { return guest_.data(); }
  // The view the engine (loader, coherence) reads and writes page contents through.
  [[nodiscard]] std::uint8_t* engine_view() const { return engine_.data(); }
  [[nodiscard]] std::span<std::uint8_t> engine_bytes() const { return engine_.bytes(); }

 private:
  MemfdRegion(Fd memfd, Mapping guest, Mapping engine, std::size_t size)
      : memfd_(std::move(memfd)), guest_(std::move(guest)), engine_(std::move(engine)),
        size_(size) {}
  Fd memfd_;
  Mapping guest_;
  Mapping engine_;
  std::size_t size_ = 0;
};

}  // namespace heca::kernel
