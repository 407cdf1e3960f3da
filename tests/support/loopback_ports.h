// Loopback TCP ports for tests and benchmarks that start nodes on one machine: one allocator
// that keeps its ports reserved until the test is done, so tests under `ctest -j` never meet.
// Header-only so that any test or benchmark target can use it without another library.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernel/base/fd.h"
#include "vmm/cluster/guest_description.h"

namespace heca::testing {

// How a reservation keeps its ports: a socket bound to each with SO_REUSEADDR and never
// listening. The node that later binds the port with SO_REUSEADDR and listens (as heca's
// TcpTransport does) gets it, while the kernel gives it to no one else meanwhile: no other
// bind without SO_REUSEADDR, no ephemeral port (bind to port 0, connect). Allocators in other
// processes, which bind with SO_REUSEADDR themselves, are kept out by a lock file per block
// (flock: released by the kernel when the process ends, so a crashed test leaves nothing).
//
// Blocks of kBlockSpan ports start at kFirstBlock, below Linux's ephemeral range (32768-60999),
// so no outgoing connection lands on a port between its reservation and its node's bind.
class ReservedPorts {
 public:
  static constexpr std::uint16_t kFirstBlock = 20000;
  static constexpr std::uint16_t kBlockSpan = 200;
  static constexpr int kBlocks = 60;

  // The ports base + offset for each offset (offsets below kBlockSpan), base chosen so that
  // every one of them is free and held. Throws std::runtime_error when no block is free.
  static ReservedPorts reserve(const std::vector<std::uint16_t>& offsets) {
    const int first = static_cast<int>(::getpid()) % kBlocks;
    for (int i = 0; i < kBlocks; ++i) {
      const auto base = static_cast<std::uint16_t>(kFirstBlock + ((first + i) % kBlocks) * kBlockSpan);
      ReservedPorts ports;
      if (ports.take(base, offsets)) return ports;
    }
    throw std::runtime_error("no block of loopback ports is free (all are reserved or in use)");
  }

  // `count` consecutive ports.
  static ReservedPorts consecutive(std::size_t count) {
    std::vector<std::uint16_t> offsets;
    for (std::size_t i = 0; i < count; ++i) offsets.push_back(static_cast<std::uint16_t>(i));
    return reserve(offsets);
  }

  // What a guest description's `base_port` needs for `nodes` nodes: the coherence mesh at
  // base + id and the node links at base + kLinkPortOffset + id.
  static ReservedPorts for_cluster(std::size_t nodes) {
    std::vector<std::uint16_t> offsets;
    for (std::size_t i = 0; i < nodes; ++i) offsets.push_back(static_cast<std::uint16_t>(i));
    for (std::size_t i = 0; i < nodes; ++i) offsets.push_back(static_cast<std::uint16_t>(vmm::cluster::kLinkPortOffset + i));
    return reserve(offsets);
  }

  [[nodiscard]] std::uint16_t base() const { return base_; }
  [[nodiscard]] const std::vector<std::uint16_t>& ports() const { return ports_; }
  [[nodiscard]] std::uint16_t operator[](std::size_t i) const { return ports_.at(i); }

 private:
  bool take(std::uint16_t base, const std::vector<std::uint16_t>& offsets) {
    ::mkdir("/tmp/heca-test-ports", 0755);
    const std::string lock_path = "/tmp/heca-test-ports/" + std::to_string(base) + ".lock";
    lock_ = Fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!lock_ || ::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) return false;
    for (const std::uint16_t offset : offsets) {
      const auto port = static_cast<std::uint16_t>(base + offset);
      Fd holder = hold(port);
      if (!holder) return false;
      holders_.push_back(std::move(holder));
      ports_.push_back(port);
    }
    base_ = base;
    return true;
  }

  static Fd hold(std::uint16_t port) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return Fd();
    return fd;
  }

  Fd lock_;
  std::vector<Fd> holders_;
  std::vector<std::uint16_t> ports_;
  std::uint16_t base_ = 0;
};

}  // namespace heca::testing
