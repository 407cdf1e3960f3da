// ReservedPorts: the ports of one reservation are kept from everyone but the node that binds
// them as heca's transport does, and no two reservations share a port.
#include "tests/support/loopback_ports.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace heca::testing {
namespace {

// 0 when a TCP socket could bind 127.0.0.1:port (and listen, when `listen_too`), else errno.
int try_bind(std::uint16_t port, bool reuse_address, bool listen_too) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int one = 1;
  if (reuse_address) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return errno;
  if (listen_too && ::listen(fd.get(), 1) != 0) return errno;
  return 0;
}

TEST(ReservedPorts, AClusterGetsTheMeshAndLinkPortsOfOneBase) {
  const auto ports = ReservedPorts::for_cluster(3);

  const std::vector<std::uint16_t> expected{
      ports.base(), static_cast<std::uint16_t>(ports.base() + 1),
      static_cast<std::uint16_t>(ports.base() + 2), static_cast<std::uint16_t>(ports.base() + 100),
      static_cast<std::uint16_t>(ports.base() + 101), static_cast<std::uint16_t>(ports.base() + 102)};
  EXPECT_EQ(ports.ports(), expected);
  EXPECT_LT(ports.ports().back(), 32768) << "below the ephemeral range";
}

TEST(ReservedPorts, AReservedPortRefusesAPlainBindButTakesTheNodesListener) {
  const auto ports = ReservedPorts::consecutive(1);

  EXPECT_EQ(try_bind(ports[0], /*reuse_address=*/false, /*listen_too=*/false), EADDRINUSE);
  EXPECT_EQ(try_bind(ports[0], /*reuse_address=*/true, /*listen_too=*/true), 0);
}

TEST(ReservedPorts, TwoReservationsShareNoPort) {
  const auto first = ReservedPorts::for_cluster(4);
  const auto second = ReservedPorts::for_cluster(4);

  EXPECT_NE(first.base(), second.base());
  EXPECT_TRUE(std::none_of(first.ports().begin(), first.ports().end(), [&](std::uint16_t p) {
    return std::find(second.ports().begin(), second.ports().end(), p) != second.ports().end();
  }));
}

TEST(ReservedPorts, APortIsFreeAgainOnceItsReservationEnds) {
  std::uint16_t port = 0;
  {
    const auto ports = ReservedPorts::consecutive(1);
    port = ports[0];
  }

  EXPECT_EQ(try_bind(port, /*reuse_address=*/false, /*listen_too=*/false), 0);
}

}  // namespace
}  // namespace heca::testing
