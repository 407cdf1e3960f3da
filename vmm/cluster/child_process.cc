#include "vmm/cluster/child_process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace heca::vmm::cluster {
namespace {

// What the child reports through the status pipe when it cannot exec.
struct ChildFailure {
  int stage = 0;  // index into kStages
  int error = 0;
};
constexpr std::array<const char*, 4> kStages = {"prctl", "setns", "dup2", "exec"};

// Everything the child needs, prepared before fork: after fork only async-signal-safe calls.
struct Prepared {
  std::vector<char*> argv;
  Fd netns;
  Fd dev_null;
  Pipe out;
  Pipe err;
  Pipe status;
  pid_t parent = 0;
};

[[noreturn]] void fail_in_child(const Prepared& p, int stage) {
  const ChildFailure failure{stage, errno};
  [[maybe_unused]] const ssize_t n = ::write(p.status.write.get(), &failure, sizeof failure);
  ::_exit(127);
}

[[noreturn]] void exec_child(const Prepared& p) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail_in_child(p, 0);
  if (::getppid() != p.parent) ::_exit(127);  // the supervisor is already gone
  ::setpgid(0, 0);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  if (p.netns && ::setns(p.netns.get(), CLONE_NEWNET) != 0) fail_in_child(p, 1);
  if (::dup2(p.dev_null.get(), 0) < 0 || ::dup2(p.out.write.get(), 1) < 0 ||
      ::dup2(p.err.write.get(), 2) < 0) {
    fail_in_child(p, 2);
  }
  ::execvp(p.argv[0], p.argv.data());
  fail_in_child(p, 3);
}

Result<Prepared> prepare(const ChildSpec& spec, std::vector<std::string>& storage) {
  if (spec.argv.empty()) return make_error("starting a child: empty argv");
  Prepared p;
  storage = spec.argv;
  for (auto& arg : storage) p.argv.push_back(arg.data());
  p.argv.push_back(nullptr);
  if (!spec.netns.empty()) {
    const std::string path = "/run/netns/" + spec.netns;
    p.netns = Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!p.netns) return errno_error(fmt::format("opening network namespace {}", path));
  }
  p.dev_null = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!p.dev_null) return errno_error("opening /dev/null");
  for (Pipe* pipe : {&p.out, &p.err, &p.status}) {
    auto made = make_pipe();
    if (!made) return std::unexpected(made.error());
    *pipe = std::move(*made);
  }
  p.parent = ::getpid();
  return p;
}

Status set_nonblocking(const Fd& fd) {
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
    return errno_error("fcntl O_NONBLOCK");
  }
  return {};
}

// Reads the child's exec report: EOF means exec succeeded (the pipe was close-on-exec).
Status await_exec(Prepared& p, pid_t pid, const std::string& what) {
  p.status.write.reset();
  ChildFailure failure;
  ssize_t n = 0;
  do {
    n = ::read(p.status.read.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == 0) return {};
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  const auto stage = static_cast<std::size_t>(failure.stage);
  const char* name = stage < kStages.size() ? kStages[stage] : "start";
  return make_error(fmt::format("starting {}: {}", what, name), n < 0 ? errno : failure.error);
}

// glibc 2.36's <sys/pidfd.h> lacks C linkage for C++, so go through syscall(2).
int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U)); }

}  // namespace

std::string ExitStatus::describe() const {
  if (signaled) return fmt::format("killed by signal {} ({})", value, ::sigabbrev_np(value));
  return fmt::format("exited with code {}", value);
}

Result<ChildProcess> ChildProcess::spawn(const ChildSpec& spec) {
  std::vector<std::string> storage;
  auto prepared = prepare(spec, storage);
  if (!prepared) return std::unexpected(prepared.error());
  const pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork");
  if (pid == 0) exec_child(*prepared);
  prepared->out.write.reset();
  prepared->err.write.reset();
  if (auto s = await_exec(*prepared, pid, spec.argv[0]); !s) return std::unexpected(s.error());
  Fd pidfd(open_pidfd(pid));
  if (!pidfd) {
    const auto error = errno_error(fmt::format("pidfd_open for {}", spec.argv[0]));
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return error;
  }
  if (auto s = set_nonblocking(prepared->out.read); !s) return std::unexpected(s.error());
  if (auto s = set_nonblocking(prepared->err.read); !s) return std::unexpected(s.error());
  return ChildProcess(pid, std::move(pidfd), std::move(prepared->out.read),
                      std::move(prepared->err.read));
}

ChildProcess::~ChildProcess() {
  if (reaped()) return;
  signal_group(SIGKILL);
  (void)reap();
}

void ChildProcess::signal_group(int signo) const {
  // INVARIANT: the group id is ours only while the leader is unreaped.
  if (!reaped()) ::kill(-pid_, signo);
}

Result<ExitStatus> ChildProcess::reap() {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED) != 0) {
    if (errno != EINTR) return errno_error(fmt::format("waitid {}", pid_));
  }
  pidfd_.reset();
  const bool signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  return ExitStatus{.signaled = signaled, .value = info.si_status};
}

Result<CommandResult> run_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return make_error("run_command: empty argv");
  auto pipe = make_pipe();
  if (!pipe) return std::unexpected(pipe.error());
  std::vector<std::string> storage = argv;
  std::vector<char*> args;
  for (auto& arg : storage) args.push_back(arg.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, pipe->write.get(), 1);
  ::posix_spawn_file_actions_adddup2(&actions, pipe->write.get(), 2);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return make_error(fmt::format("posix_spawn {}", argv[0]), rc);
  pipe->write.reset();
  CommandResult result;
  std::array<char, 4096> buffer{};
  for (;;) {
    const ssize_t n = ::read(pipe->read.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buffer.data(), static_cast<std::size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errno_error(fmt::format("waitpid {}", argv[0]));
  }
  result.status = WIFSIGNALED(status) ? ExitStatus{true, WTERMSIG(status)}
                                      : ExitStatus{false, WEXITSTATUS(status)};
  return result;
}

}  // namespace heca::vmm::cluster
