#include "tests/cluster/dsm_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace heca::tests {

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& output_path)
    : output_path_(output_path) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int fd = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), output_path_(std::move(other.output_path_)), status_(other.status_) {
  other.pid_ = -1;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    kill_now();
    (void)wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  }
}

std::optional<int> ChildProcess::wait_until(std::chrono::steady_clock::time_point deadline) {
  if (status_) return status_;
  poll_until(deadline, [this] {
    int raw = 0;
    if (::waitpid(pid_, &raw, WNOHANG) != pid_) return false;
    status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    return true;
  });
  return status_;
}

void ChildProcess::kill_now() {
  if (pid_ > 0 && !status_) ::kill(pid_, SIGKILL);
}

std::string ChildProcess::output() const {
  std::ifstream in(output_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string make_temp_dir() {
  std::string pattern = "/tmp/heca-dsm-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

}  // namespace heca::tests
