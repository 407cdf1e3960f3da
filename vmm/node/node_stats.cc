#include "vmm/node/node_stats.h"

#include <fmt/format.h>

#include <chrono>

#include "coherence/wire.h"

namespace heca::vmm::node {
namespace {

using nlohmann::json;

double micros(std::chrono::nanoseconds n) {
  return std::chrono::duration<double, std::micro>(n).count();
}

std::string proxy_line(const ProxyReport& p) {
  const proxy::ProxyStats& s = p.stats;
  return fmt::format(
      "proxy {}: interrupts={} nmis={} inits={} sipis={} faults={} escapes={} kicks={}", p.apic_id,
      s.interrupts, s.nmis, s.inits, s.sipis, s.faults, s.escapes, s.kicks);
}

std::string tsc_line(const TscReport& t) {
  if (!t.aligned) return "tsc: NOT aligned (KVM refused the TSC offset)";
  return fmt::format("tsc: every vCPU at host TSC {:+} (host TSC vs node {}: {:+} +- {} cycles)",
                     t.vcpu_offset, t.reference_node, t.host_offset, t.uncertainty);
}

// "hot pages (grants received): 0x2a5b000 x812 ...": where this node's grants went.
std::string hot_pages_line(const std::vector<HotPageReport>& hot) {
  std::string line = "hot pages (grants received):";
  for (const auto& page : hot) {
    line += page.gpa ? fmt::format(" {:#x} x{}", *page.gpa, page.grants)
                     : fmt::format(" page {} x{}", page.page, page.grants);
  }
  return line;
}

json proxy_json(const ProxyReport& p) {
  const proxy::ProxyStats& s = p.stats;
  return {{"apic_id", p.apic_id}, {"interrupts", s.interrupts}, {"nmis", s.nmis},
          {"inits", s.inits},     {"sipis", s.sipis},           {"faults", s.faults},
          {"escapes", s.escapes}, {"spurious", s.spurious},     {"kicks", s.kicks}};
}

json tsc_json(const TscReport& t) {
  return {{"aligned", t.aligned},
          {"vcpu_offset", t.vcpu_offset},
          {"host_offset", t.host_offset},
          {"uncertainty", t.uncertainty},
          {"reference_node", t.reference_node}};
}

json memory_json(const coherence::NodeStats& mem) {
  const coherence::ProtocolStats& p = mem.protocol;
  return {
      {"page_faults", p.read_faults + p.write_faults},
      {"faults",
       {{"read", p.read_faults},
        {"write", p.write_faults},
        {"coalesced", p.coalesced_faults},
        {"spurious", p.spurious_faults}}},
      {"requests",
       {{"read", p.read_requests}, {"write", p.write_requests}, {"prefetch", p.prefetch_requests}}},
      {"grants_received", p.grants_received},
      {"served",
       {{"invalidations", p.invalidations_served},
        {"fetches", p.fetches_served},
        {"deferred", p.hold_deferrals}}},
      {"home", {{"transactions", p.transactions}, {"queued", p.queued_requests}}},
      {"hold_us", micros(mem.hold)}};
}

json messages_json(const coherence::NodeCounters& m) {
  json by_type = json::object();
  for (std::uint8_t type = 1; type <= coherence::wire::kMaxMessageType; ++type) {
    const auto name = coherence::wire::type_name(static_cast<coherence::wire::MessageType>(type));
    by_type[std::string(name)] = {{"sent", m.sent[type]}, {"received", m.received[type]}};
  }
  return {{"by_type", std::move(by_type)}, {"zero_copy_payloads", m.zero_copy_payloads}};
}

json latency_json(const coherence::FaultLatency& l) {
  return {{"faults", l.faults},
          {"p50_us", micros(l.p50)},
          {"p90_us", micros(l.p90)},
          {"p99_us", micros(l.p99)},
          {"max_us", micros(l.max)}};
}

json hot_pages_json(const std::vector<HotPageReport>& hot) {
  json pages = json::array();
  for (const auto& page : hot) {
    json entry = {{"page", page.page}, {"grants", page.grants}};
    if (page.gpa) entry["gpa"] = *page.gpa;
    pages.push_back(std::move(entry));
  }
  return pages;
}

json ipis_json(const NodeLinksStats& links) {
  json ipis = json::object();
  for (std::size_t k = 0; k < kIpiKindCount; ++k) {
    ipis[ipi_kind_name(static_cast<IpiKind>(k))] = {{"sent", links.ipis_sent[k]},
                                                    {"received", links.ipis_received[k]}};
  }
  return ipis;
}

json forwarded_io_json(const io::IoForwarderStats& s) {
  return {{"reads", s.reads},
          {"writes", s.writes},
          {"unclaimed", s.unclaimed},
          {"failed", s.failed},
          {"late_replies", s.late_replies},
          {"round_trip_p50_us", micros(s.round_trip.p50)},
          {"round_trip_p99_us", micros(s.round_trip.p99)}};
}

json served_io_json(const io::IoServerStats& s) {
  return {{"reads", s.reads},
          {"writes", s.writes},
          {"unclaimed_reads", s.unclaimed_reads},
          {"unclaimed_writes", s.unclaimed_writes},
          {"malformed", s.malformed},
          {"guest_exits_sent", s.guest_exits_sent},
          {"send_failures", s.send_failures}};
}

}  // namespace

std::vector<std::string> stats_lines(const NodeStatsReport& report) {
  std::vector<std::string> lines;
  for (const auto& vcpu : report.vcpus) lines.push_back(stats_line(vcpu));
  for (const auto& proxy : report.proxies) lines.push_back(proxy_line(proxy));
  lines.push_back(tsc_line(report.tsc));
  if (const auto& mem = report.memory) {
    lines.push_back("memory: " + mem->protocol.to_string());
    lines.push_back("messages: " + mem->messages.to_string());
    lines.push_back(mem->fault_latency.to_string() +
                    fmt::format("; pages held {:.0f} us after a grant", micros(mem->hold)));
  }
  if (!report.hot_pages.empty()) lines.push_back(hot_pages_line(report.hot_pages));
  for (auto& line : stats_lines(report.links)) lines.push_back(std::move(line));
  lines.push_back(stats_line(report.unclaimed_io));
  return lines;
}

json to_json(const NodeStatsReport& report) {
  json vcpus = json::array();
  for (const auto& vcpu : report.vcpus) vcpus.push_back(to_json(vcpu));
  json proxies = json::array();
  for (const auto& proxy : report.proxies) proxies.push_back(proxy_json(proxy));
  json out = {{"node", report.node},
              {"vcpus", std::move(vcpus)},
              {"proxies", std::move(proxies)},
              {"tsc", tsc_json(report.tsc)},
              {"hot_pages", hot_pages_json(report.hot_pages)},
              {"ipis", ipis_json(report.links)},
              {"unclaimed_io", to_json(report.unclaimed_io)}};
  if (const auto& mem = report.memory) {
    out["memory"] = memory_json(*mem);
    out["messages"] = messages_json(mem->messages);
    out["fault_latency"] = latency_json(mem->fault_latency);
  }
  if (report.links.forwarded_io)
    out["forwarded_io"] = forwarded_io_json(*report.links.forwarded_io);
  if (report.links.served_io) out["served_io"] = served_io_json(*report.links.served_io);
  return out;
}

}  // namespace heca::vmm::node
