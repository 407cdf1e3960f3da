// `heca ctl`'s renderings for people: the status table and the aligned stats blocks, for one
// node's reply and for a supervisor's (one entry per node, some unreachable).
#include <gtest/gtest.h>

#include <string>

#include "vmm/control/ctl_command.h"

namespace heca::vmm::control {
namespace {

using nlohmann::json;

TEST(CtlRender, StatusHasOneRowPerVcpu) {
  const json status = json::parse(R"({"node": 1, "roles": ["compute", "memory"],
      "guest": {"state": "running"},
      "vcpus": [{"index": 2, "apic_id": 2, "state": "running"},
                {"index": 3, "apic_id": 3, "state": "paused"}],
      "proxies": [{"apic_id": 0, "node": 0}]})");

  const std::string table = render_status(status);

  EXPECT_EQ(table,
            "node  roles           guest    vCPU  APIC  state\n"
            "1     compute,memory  running  2     2     running\n"
            "1     compute,memory  running  3     3     paused\n"
            "node 1: proxies of vCPUs 0 (node 0)\n");
}

TEST(CtlRender, SupervisorStatusShowsWhichNodesAreAliveAndWhyOneIsUnreachable) {
  const json status = json::parse(R"({"nodes": [
      {"node": 0, "alive": true, "status": {"node": 0, "roles": ["io"],
       "guest": {"state": "stopped", "exit_code": 122, "reason": "stopped by heca ctl stop"},
       "vcpus": [], "proxies": []}},
      {"node": 1, "alive": false, "error": "connection refused"}]})");

  const std::string table = render_status(status);

  EXPECT_EQ(table,
            "node  alive  roles  guest        vCPU  APIC  state\n"
            "0     yes    io     stopped      -     -     -\n"
            "1     no     -      unreachable  -     -     -\n"
            "node 0: stopped, exit code 122: stopped by heca ctl stop\n"
            "node 1: connection refused\n");
}

TEST(CtlRender, StatsAreAlignedPerSectionAndSkipZeroCountersOfVcpus) {
  const json stats = json::parse(R"({"node": 2,
      "vcpus": [{"index": 4, "exits": {"io": 12, "hlt": 0, "interrupted": 3}}],
      "memory": {"page_faults": 7, "faults": {"read": 5, "write": 2}}})");

  const std::string text = render_stats(stats);

  EXPECT_EQ(text,
            "node  2\n"
            "memory\n"
            "  faults.read   5\n"
            "  faults.write  2\n"
            "  page_faults   7\n"
            "vcpus\n"
            "  vcpu 4 exits.interrupted  3\n"
            "  vcpu 4 exits.io           12\n");
}

TEST(CtlRender, SupervisorStatsHaveOneBlockPerNode) {
  const json stats = json::parse(R"({"nodes": [
      {"node": 0, "alive": true, "stats": {"node": 0, "hot_pages": [{"gpa": 8192, "grants": 4}]}},
      {"node": 1, "alive": true, "error": "did not reply"}]})");

  const std::string text = render_stats(stats);

  EXPECT_EQ(text,
            "== node 0 ==\n"
            "  node  0\n"
            "  hot_pages\n"
            "    0x2000 grants  4\n"
            "== node 1 ==\n"
            "  unreachable: did not reply\n");
}

}  // namespace
}  // namespace heca::vmm::control
