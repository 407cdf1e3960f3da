#include "vmm/control/ctl_command.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>
#include <utility>
#include <vector>

#include "vmm/control/control_client.h"
#include "vmm/control/control_protocol.h"

namespace heca::vmm::control {
namespace {

using nlohmann::json;

// Bad input (a socket that is not there or refuses): the CLI's usage-error code (vmm/cli.h).
constexpr int kExitBadInput = 2;
// A supervisor asks each of its nodes in turn, so its replies may take a few seconds.
constexpr std::chrono::seconds kReplyTimeout{30};

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "heca: error: %s\n", message.c_str());
  return code;
}

std::string text_of(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_null()) return "-";
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// value[key] as text, or "-" when `value` is no object or has no such key.
std::string field(const json& value, const char* key) {
  if (!value.is_object()) return "-";
  const auto it = value.find(key);
  return it == value.end() ? "-" : text_of(*it);
}

const json& member(const json& value, const char* key) {
  static const json kNull;
  if (!value.is_object()) return kNull;
  const auto it = value.find(key);
  return it == value.end() ? kNull : *it;
}

// value[key] when it is an array, else an empty array.
const json& array_member(const json& value, const char* key) {
  static const json kEmpty = json::array();
  const json& m = member(value, key);
  return m.is_array() ? m : kEmpty;
}

// Rows of cells, printed with every column as wide as its widest cell.
std::string aligned(const std::vector<std::vector<std::string>>& rows, const std::string& indent) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += c + 1 < row.size() ? fmt::format("{:<{}}  ", row[c], width[c]) : row[c];
    }
    out += line + "\n";
  }
  return out;
}

std::string joined(const json& list, const char* separator) {
  std::vector<std::string> parts;
  if (list.is_array()) {
    for (const auto& item : list) parts.push_back(text_of(item));
  }
  return parts.empty() ? "-" : fmt::format("{}", fmt::join(parts, separator));
}

struct StatusEntry {
  std::string node;
  std::string alive;   // empty for a node's own socket
  const json* status;  // null when the supervisor could not reach the node
  std::string error;
};

void add_status_rows(const StatusEntry& e, std::vector<std::vector<std::string>>& rows,
                     std::vector<std::string>& notes) {
  const auto row = [&](std::vector<std::string> cells) {
    if (!e.alive.empty()) cells.insert(cells.begin() + 1, e.alive);
    rows.push_back(std::move(cells));
  };
  if (e.status == nullptr) {
    row({e.node, "-", "unreachable", "-", "-", "-"});
    notes.push_back(fmt::format("node {}: {}", e.node, e.error));
    return;
  }
  const json& s = *e.status;
  const std::string roles = joined(member(s, "roles"), ",");
  const std::string guest = field(member(s, "guest"), "state");
  for (const auto& v : array_member(s, "vcpus")) {
    row({e.node, roles, guest, field(v, "index"), field(v, "apic_id"), field(v, "state")});
  }
  if (array_member(s, "vcpus").empty()) row({e.node, roles, guest, "-", "-", "-"});
  if (guest == "stopped") {
    const std::string reason = field(member(s, "guest"), "reason");
    notes.push_back(fmt::format("node {}: stopped, exit code {}{}", e.node,
                                field(member(s, "guest"), "exit_code"),
                                reason.empty() || reason == "-" ? "" : ": " + reason));
  }
  std::vector<std::string> proxies;
  for (const auto& p : array_member(s, "proxies")) {
    proxies.push_back(fmt::format("{} (node {})", field(p, "apic_id"), field(p, "node")));
  }
  if (!proxies.empty()) {
    notes.push_back(fmt::format("node {}: proxies of vCPUs {}", e.node, fmt::join(proxies, ", ")));
  }
}

std::vector<StatusEntry> status_entries(const json& status) {
  const json& nodes = member(status, "nodes");
  if (!nodes.is_array()) return {{field(status, "node"), "", &status, ""}};
  std::vector<StatusEntry> entries;
  for (const auto& n : nodes) {
    const json& s = member(n, "status");
    entries.push_back({field(n, "node"), member(n, "alive").is_boolean() ? field(n, "alive") : "-",
                       s.is_object() ? &s : nullptr, field(n, "error")});
  }
  return entries;
}

// One line per leaf: dotted keys, array elements named by their id ("vcpu 2", "proxy 0", a
// hot page's address). Zero counters inside array elements are left out.
using Lines = std::vector<std::vector<std::string>>;

std::string element_label(json& element) {
  for (const auto& [key, prefix] : {std::pair{"index", "vcpu "}, std::pair{"apic_id", "proxy "}}) {
    if (element.contains(key)) {
      std::string label = prefix + text_of(element[key]);
      element.erase(key);
      return label;
    }
  }
  if (element.contains("gpa") && element["gpa"].is_number_unsigned()) {
    std::string label = fmt::format("{:#x}", element["gpa"].get<std::uint64_t>());
    element.erase("gpa");
    return label;
  }
  return "-";
}

// `after_label`: `name` ends with an element's label, so the next key joins with a space.
// `in_element`: inside an array element, where zero counters are left out.
void flatten(const json& value, const std::string& name, bool after_label, bool in_element,
             Lines& out) {
  const auto child = [&](const std::string& part, bool label) {
    if (name.empty()) return part;
    return name + (label || after_label ? " " : ".") + part;
  };
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      flatten(item, child(key, false), false, in_element, out);
    }
  } else if (value.is_array() &&
             std::ranges::any_of(value, [](const json& v) { return v.is_structured(); })) {
    for (json element : value) {
      const std::string label = element.is_object() ? element_label(element) : "-";
      flatten(element, child(label, true), true, true, out);
    }
  } else if (value.is_array()) {
    out.push_back({name, joined(value, " ")});
  } else if (!(in_element && value.is_number() && value == 0)) {
    out.push_back({name, text_of(value)});
  }
}

std::string render_node_stats(const json& stats, const std::string& indent) {
  std::string out;
  Lines scalars;
  for (const auto& [key, value] : stats.items()) {
    if (!value.is_structured()) scalars.push_back({key, text_of(value)});
  }
  out += aligned(scalars, indent);
  for (const auto& [key, value] : stats.items()) {
    if (!value.is_structured()) continue;
    Lines lines;
    flatten(value, "", false, false, lines);
    out += indent + key + "\n" + aligned(lines, indent + "  ");
  }
  return out;
}

std::string render_done(const std::string& command, const json& value) {
  if (command == "commands") return joined(value, "\n") + "\n";
  const json& nodes = member(value, "nodes");
  if (nodes.is_array()) return fmt::format("{}: done on nodes {}\n", command, joined(nodes, ", "));
  return command + ": done\n";
}

std::string render(const std::string& command, const json& value) {
  if (command == "status") return render_status(value);
  if (command == "stats") return render_stats(value);
  return render_done(command, value);
}

// Prints one reply; returns the exit code it calls for (0 for a "return").
int print_reply(const CtlArgs& args, const json& reply) {
  if (args.json) std::fputs(reply_line(reply).c_str(), stdout);
  const std::string error = error_text(reply);
  if (!error.empty()) {
    return fail(kExitErrorReply, fmt::format("control socket '{}': {}", args.socket, error));
  }
  if (!args.json) std::fputs(render(args.command, member(reply, "return")).c_str(), stdout);
  return 0;
}

}  // namespace

std::string render_status(const json& status) {
  std::vector<StatusEntry> entries = status_entries(status);
  const bool supervisor = member(status, "nodes").is_array();
  std::vector<std::vector<std::string>> rows;
  rows.push_back(
      supervisor
          ? std::vector<std::string>{"node", "alive", "roles", "guest", "vCPU", "APIC", "state"}
          : std::vector<std::string>{"node", "roles", "guest", "vCPU", "APIC", "state"});
  std::vector<std::string> notes;
  for (const auto& entry : entries) add_status_rows(entry, rows, notes);
  std::string out = aligned(rows, "");
  for (const auto& note : notes) out += note + "\n";
  return out;
}

std::string render_stats(const json& stats) {
  const json& nodes = member(stats, "nodes");
  if (!nodes.is_array()) return render_node_stats(stats, "");
  std::string out;
  for (const auto& n : nodes) {
    out += fmt::format("== node {} ==\n", field(n, "node"));
    const json& s = member(n, "stats");
    out += s.is_object() ? render_node_stats(s, "  ")
                         : fmt::format("  unreachable: {}\n", field(n, "error"));
  }
  return out;
}

int run_ctl(const CtlArgs& args) {
  if (args.watch_s && !(*args.watch_s > 0)) {
    return fail(kExitBadInput, "--watch needs a positive number of seconds");
  }
  auto client = ControlClient::connect(args.socket, kReplyTimeout);
  if (!client) return fail(kExitBadInput, client.error().message());
  const bool clear = args.watch_s && ::isatty(STDOUT_FILENO) == 1;
  while (true) {
    auto reply = client->execute(args.command);
    if (!reply) return fail(kExitErrorReply, reply.error().message());
    if (clear) std::fputs("\033[H\033[2J", stdout);
    if (const int code = print_reply(args, *reply); code != 0) return code;
    if (!args.watch_s) return 0;
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double>(*args.watch_s));
  }
}

}  // namespace heca::vmm::control
