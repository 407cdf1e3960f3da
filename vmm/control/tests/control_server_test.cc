// The control server over a real UNIX socket in a temporary directory: its file mode, peers of
// another UID refused, several requests per connection, over-long lines, and path checks.
#include "vmm/control/control_server.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "vmm/control/control_client.h"
#include "vmm/control/tests/fake_target.h"
#include "vmm/control/unix_socket.h"

namespace heca::vmm::control {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr uid_t kNobody = 65534;

// Everything the peer sends until it closes the connection (or 5 s pass).
std::string read_until_closed(const Fd& fd) {
  std::string text;
  std::array<char, 4096> buffer{};
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{.fd = fd.get(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, poll_ms_until(deadline)) <= 0) break;
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    if (n > 0) text.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return text;
}

// The first `count` lines the peer sends (waits at most 5 s).
std::vector<std::string> read_lines(const Fd& fd, std::size_t count) {
  std::string text;
  std::array<char, 4096> buffer{};
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) < count &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd p{.fd = fd.get(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, poll_ms_until(deadline)) <= 0) break;
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n == 0) break;
    if (n > 0) text.append(buffer.data(), static_cast<std::size_t>(n));
  }
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  return lines;
}

std::string error_class_of(const std::string& line) {
  const json reply = json::parse(line, nullptr, false);
  if (!reply.is_object() || !reply.contains("error")) return "<no error reply: " + line + ">";
  return reply["error"].value("class", "");
}

// What a client running as `uid` gets: "connect: <errno>" or everything the server sent.
// Forked, so that only the child changes its user; it uses only async-signal-safe calls.
std::string connect_as(uid_t uid, const std::string& path) {
  const sockaddr_un address = unix_address(path).value();
  auto pipe = make_pipe().value();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const gid_t gid = static_cast<gid_t>(uid);
    if (::setgroups(1, &gid) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(3);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      const char* text = errno == EACCES ? "connect: EACCES" : "connect: other error";
      [[maybe_unused]] const ssize_t w = ::write(pipe.write.get(), text, std::strlen(text));
      ::_exit(0);
    }
    std::array<char, 1024> buffer{};
    ssize_t n = 0;
    while ((n = ::read(fd, buffer.data(), buffer.size())) > 0) {
      [[maybe_unused]] const ssize_t w =
          ::write(pipe.write.get(), buffer.data(), static_cast<std::size_t>(n));
    }
    ::_exit(0);
  }
  pipe.write.reset();
  const std::string text = read_until_closed(pipe.read);
  // A server that lets the client in keeps it waiting for a reply: it goes after 5 s.
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const bool no_user_change = WIFEXITED(status) && WEXITSTATUS(status) == 3;
  return no_user_change ? "child failed to change user" : text;
}

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "heca-ctl-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    // Others may enter the directory (the test's other-UID client), not list or write it.
    ASSERT_EQ(::chmod(dir_.c_str(), 0711), 0);
    path_ = (dir_ / "heca.sock").string();
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start_server() {
    auto server = ControlServer::bind(path_);
    ASSERT_TRUE(server.has_value()) << server.error().message();
    server_ = std::move(*server);
    server_->serve(target_);
  }

  Fd connect_client() {
    auto fd = connect_unix(path_);
    EXPECT_TRUE(fd.has_value()) << fd.error().message();
    return fd ? std::move(*fd) : Fd();
  }

  std::filesystem::path dir_;
  std::string path_;
  FakeTarget target_;
  std::unique_ptr<ControlServer> server_;
};

TEST_F(ControlServerTest, TheSocketFileIsMode0600) {
  start_server();

  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);

  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(ControlServerTest, AnotherUserCannotEvenConnectThroughTheFileMode) {
  if (::geteuid() != 0) GTEST_SKIP() << "only root can run a client as another user";
  start_server();

  const std::string got = connect_as(kNobody, path_);

  EXPECT_EQ(got, "connect: EACCES");
}

TEST_F(ControlServerTest, APeerOfAnotherUidIsRefusedByItsCredentials) {
  if (::geteuid() != 0) GTEST_SKIP() << "only root can run a client as another user";
  start_server();
  // Opened up by hand, so that only SO_PEERCRED stands between uid 65534 and the target.
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);

  const std::string got = connect_as(kNobody, path_);

  EXPECT_EQ(error_class_of(got.substr(0, got.find('\n'))), "AccessDenied") << got;
  EXPECT_NE(got.find("uid 65534 may not use this control socket"), std::string::npos) << got;
  EXPECT_EQ(target_.status_calls, 0);
}

TEST_F(ControlServerTest, TwoRequestsOnOneConnectionAreBothAnswered) {
  start_server();
  Fd fd = connect_client();
  const std::string requests =
      "{\"execute\":\"status\",\"id\":1}\n{\"execute\":\"pause\",\"id\":2}\n";

  ASSERT_TRUE(write_all(fd, requests, std::chrono::steady_clock::now() + 5s));
  const auto lines = read_lines(fd, 2);

  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[0]),
            json::parse(R"({"return": {"node": 3, "guest": {"state": "running"}}, "id": 1})"));
  EXPECT_EQ(json::parse(lines[1]), json::parse(R"({"return": {}, "id": 2})"));
}

TEST_F(ControlServerTest, AMalformedLineIsAnsweredAndTheConnectionStaysUsable) {
  start_server();
  Fd fd = connect_client();

  ASSERT_TRUE(write_all(fd, "nonsense\n[1,2]\n{\"execute\":\"resume\"}\n",
                        std::chrono::steady_clock::now() + 5s));
  const auto lines = read_lines(fd, 3);

  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(error_class_of(lines[0]), "ParseError");
  EXPECT_EQ(error_class_of(lines[1]), "InvalidRequest");
  EXPECT_EQ(json::parse(lines[2]), json::parse(R"({"return": {}})"));
}

TEST_F(ControlServerTest, AnOverLongLineIsRefusedAndTheConnectionClosed) {
  start_server();
  Fd fd = connect_client();

  (void)write_all(fd, std::string(kMaxLineBytes + 1, 'x'), std::chrono::steady_clock::now() + 5s);
  const std::string got = read_until_closed(fd);

  EXPECT_EQ(error_class_of(got.substr(0, got.find('\n'))), "LineTooLong") << got;
  EXPECT_EQ(got.find('\n'), got.size() - 1) << "one reply, then the connection is closed";
}

TEST_F(ControlServerTest, ALastRequestWithoutNewlineIsAnsweredWhenThePeerStopsSending) {
  start_server();
  Fd fd = connect_client();

  ASSERT_TRUE(write_all(fd, "{\"execute\":\"stop\"}", std::chrono::steady_clock::now() + 5s));
  ASSERT_EQ(::shutdown(fd.get(), SHUT_WR), 0);
  const std::string got = read_until_closed(fd);

  EXPECT_EQ(json::parse(got), json::parse(R"({"return": {}})"));
  EXPECT_EQ(target_.stops, 1);
}

TEST_F(ControlServerTest, TheClientQueriesTheTarget) {
  start_server();

  auto stats = query(path_, "stats", 5000ms);

  ASSERT_TRUE(stats.has_value()) << stats.error().message();
  EXPECT_EQ(stats->at("memory").at("page_faults"), 42);
}

TEST_F(ControlServerTest, TheClientTurnsAnErrorReplyIntoAnError) {
  start_server();
  target_.fail_with = "not now";

  auto reply = query(path_, "pause", 5000ms);

  ASSERT_FALSE(reply.has_value());
  EXPECT_EQ(reply.error().message(), "CommandFailed: not now");
}

TEST_F(ControlServerTest, ALivePathIsRefusedNamingIt) {
  start_server();

  auto second = ControlServer::bind(path_);

  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message().find(path_), std::string::npos) << second.error().message();
  EXPECT_NE(second.error().message().find("is in use"), std::string::npos);
}

TEST_F(ControlServerTest, AFileThatIsNoSocketIsRefused) {
  { std::ofstream(path_) << "x"; }

  auto server = ControlServer::bind(path_);

  ASSERT_FALSE(server.has_value());
  EXPECT_NE(server.error().message().find("exists and is not a socket"), std::string::npos);
}

TEST_F(ControlServerTest, AStaleSocketOfAGoneProcessIsReplaced) {
  {
    // Bound, never listening, closed: the file stays and connect() is refused, as after a crash.
    Fd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
    const sockaddr_un address = unix_address(path_).value();
    ASSERT_EQ(::bind(stale.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  }

  auto server = ControlServer::bind(path_);

  EXPECT_TRUE(server.has_value()) << server.error().message();
}

TEST_F(ControlServerTest, AMissingDirectoryIsRefusedNamingThePath) {
  const std::string path = (dir_ / "no-such-dir" / "heca.sock").string();

  auto server = ControlServer::bind(path);

  ASSERT_FALSE(server.has_value());
  EXPECT_EQ(server.error().message(), "control socket '" + path + "': directory '" +
                                          (dir_ / "no-such-dir").string() + "' does not exist");
}

TEST_F(ControlServerTest, ATooLongPathIsRefused) {
  const std::string path = (dir_ / std::string(120, 's')).string();

  auto server = ControlServer::bind(path);

  ASSERT_FALSE(server.has_value());
  EXPECT_NE(server.error().message().find("a socket path must have 1 to 107 bytes"),
            std::string::npos);
}

TEST_F(ControlServerTest, TheSocketFileIsRemovedWhenTheServerEnds) {
  start_server();

  server_.reset();

  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(ControlServerTest, AMissingSocketIsAnErrorNamingItsPath) {
  auto reply = query(path_, "status", 1000ms);

  ASSERT_FALSE(reply.has_value());
  EXPECT_EQ(reply.error().code, ENOENT);
  EXPECT_NE(reply.error().message().find(path_), std::string::npos);
}

}  // namespace
}  // namespace heca::vmm::control
