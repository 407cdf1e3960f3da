#include "vmm/cluster/netns_cluster.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <utility>

#include "kernel/base/log.h"
#include "vmm/cluster/child_process.h"

namespace heca::vmm::cluster {
namespace {

constexpr int kScriptNotPermitted = 3;  // netns-cluster's exit code when namespaces are refused

std::atomic<unsigned> g_instances{0};

std::string base36(unsigned long value, std::size_t width) {
  constexpr std::string_view kDigits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[value % 36]);
    value /= 36;
  } while (value != 0);
  if (out.size() < width) out.insert(0, width - out.size(), '0');
  return out;
}

// "hc" + the pid in five base-36 digits + a per-process counter: at most 10 characters, so
// parallel tests and processes never share a name.
std::string unique_prefix() {
  const unsigned instance = g_instances.fetch_add(1) % (36 * 36 * 36);
  return "hc" + base36(static_cast<unsigned long>(::getpid()), 5) + base36(instance, 1);
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

Status run_script(const std::string& script, const std::string& verb, std::size_t nodes,
                  const std::string& prefix) {
  auto result = run_command({script, verb, std::to_string(nodes), prefix});
  if (!result) return wrap_error(result.error(), fmt::format("running {}", script));
  if (result->status.success()) return {};
  const std::string what = fmt::format("netns-cluster {} {} {}: {}", verb, nodes, prefix,
                                       result->status.describe());
  const std::string output = trimmed(std::move(result->output));
  const bool refused = !result->status.signaled && result->status.value == kScriptNotPermitted;
  return make_error(output.empty() ? what : fmt::format("{} ({})", what, output),
                    refused ? EPERM : 0);
}

}  // namespace

Result<NetnsCluster> NetnsCluster::create(std::size_t nodes, NetnsClusterOptions options) {
  std::string prefix = options.prefix.empty() ? unique_prefix() : std::move(options.prefix);
  std::string script = options.script.empty() ? std::string(HECA_NETNS_CLUSTER_SCRIPT)
                                              : std::move(options.script);
  if (auto s = run_script(script, "up", nodes, prefix); !s) return std::unexpected(s.error());
  return NetnsCluster(nodes, std::move(prefix), std::move(script));
}

NetnsCluster::NetnsCluster(NetnsCluster&& other) noexcept
    : nodes_(other.nodes_),
      prefix_(std::exchange(other.prefix_, {})),
      script_(std::move(other.script_)) {}

NetnsCluster& NetnsCluster::operator=(NetnsCluster&& other) noexcept {
  if (this != &other) {
    (void)destroy();
    nodes_ = other.nodes_;
    prefix_ = std::exchange(other.prefix_, {});
    script_ = std::move(other.script_);
  }
  return *this;
}

NetnsCluster::~NetnsCluster() {
  if (auto s = destroy(); !s) spdlog::error("removing network namespaces: {}", s.error().message());
}

Status NetnsCluster::destroy() {
  if (prefix_.empty()) return {};
  const std::string prefix = std::exchange(prefix_, {});
  return run_script(script_, "down", nodes_, prefix);
}

std::string NetnsCluster::namespace_name(std::size_t node) const {
  return fmt::format("{}-{}", prefix_, node);
}

std::string NetnsCluster::address(std::size_t node) { return fmt::format("10.77.0.{}", 1 + node); }

bool namespaces_not_permitted(const Error& error) { return error.code == EPERM; }

}  // namespace heca::vmm::cluster
