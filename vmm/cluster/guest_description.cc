#include "vmm/cluster/guest_description.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "kernel/base/check.h"
#include "vmm/cluster/description_checks.h"
#include "vmm/cluster/toml_fields.h"

namespace heca::vmm::cluster {
namespace {

constexpr std::int64_t kMaxNodeId = 1 << 16;
constexpr std::int64_t kMaxVcpuId = 1 << 16;

// Resolves `path` against `base_dir` and checks that it names an existing regular file.
Result<std::string> existing_file(const TableReader& reader, std::string_view key,
                                  const std::string& path, const std::filesystem::path& base_dir) {
  std::filesystem::path resolved(path);
  if (resolved.is_relative() && !base_dir.empty()) resolved = base_dir / resolved;
  struct stat info {};
  if (::stat(resolved.c_str(), &info) != 0) {
    const Error cause = errno_error(resolved.string()).error();
    return reader.error_at(key, fmt::format("cannot use file {}", cause.message()));
  }
  if (!S_ISREG(info.st_mode)) {
    return reader.error_at(key, fmt::format("{} is not a regular file", resolved.string()));
  }
  return resolved.string();
}

Status read_guest_kind(const TableReader& guest, GuestDescription& d) {
  auto kind = guest.string("kind");
  if (!kind) return std::unexpected(kind.error());
  if (!*kind || **kind == "test") {
    d.kind = GuestKind::kTest;
  } else if (**kind == "linux") {
    d.kind = GuestKind::kLinux;
  } else {
    return guest.error_at("kind", fmt::format("must be \"test\" or \"linux\", got \"{}\"", **kind));
  }
  return {};
}

Status read_guest_files(const TableReader& guest, const std::filesystem::path& base_dir,
                        GuestDescription& d) {
  auto kernel = guest.string("kernel");
  if (!kernel) return std::unexpected(kernel.error());
  auto initrd = guest.string("initrd");
  if (!initrd) return std::unexpected(initrd.error());
  if (d.kind == GuestKind::kTest) {
    if (*kernel) return guest.error_at("kernel", "only allowed with kind = \"linux\"");
    if (*initrd) return guest.error_at("initrd", "only allowed with kind = \"linux\"");
    return {};
  }
  if (!*kernel) return guest.error_at("kernel", "required when kind = \"linux\"");
  auto kernel_path = existing_file(guest, "kernel", **kernel, base_dir);
  if (!kernel_path) return std::unexpected(kernel_path.error());
  d.kernel = *kernel_path;
  if (*initrd) {
    auto initrd_path = existing_file(guest, "initrd", **initrd, base_dir);
    if (!initrd_path) return std::unexpected(initrd_path.error());
    d.initrd = *initrd_path;
  }
  return {};
}

Status read_guest(const TableReader& root, const std::filesystem::path& base_dir,
                  GuestDescription& d) {
  auto table = root.table("guest");
  if (!table) return std::unexpected(table.error());
  if (*table == nullptr) return root.missing("guest");
  const TableReader guest(**table, "guest", root.source());
  if (auto s = guest.check_keys({"memory", "kind", "cmdline", "kernel", "initrd", "time_dilation"});
      !s) {
    return s;
  }
  auto memory = guest.size("memory");
  if (!memory) return std::unexpected(memory.error());
  if (!*memory) return guest.missing("memory");
  if (**memory == 0) return guest.error_at("memory", "must not be zero");
  if (**memory % kGuestPageSize != 0) {
    return guest.error_at("memory", fmt::format("{} bytes is not a multiple of the 4 KiB page",
                                                **memory));
  }
  d.memory_bytes = **memory;
  auto cmdline = guest.string("cmdline");
  if (!cmdline) return std::unexpected(cmdline.error());
  d.cmdline = cmdline->value_or("");
  auto dilation = guest.integer("time_dilation");
  if (!dilation) return std::unexpected(dilation.error());
  if (*dilation) {
    if (**dilation < 1 || **dilation > kMaxTimeDilation) {
      return guest.error_at("time_dilation",
                            fmt::format("must be 1..{}, got {}", kMaxTimeDilation, **dilation));
    }
    d.time_dilation = static_cast<std::uint32_t>(**dilation);
  }
  if (auto s = read_guest_kind(guest, d); !s) return s;
  return read_guest_files(guest, base_dir, d);
}

Status read_transport(const TableReader& root, const std::filesystem::path& base_dir,
                      GuestDescription& d) {
  auto table = root.table("transport");
  if (!table) return std::unexpected(table.error());
  if (*table == nullptr) return {};
  const TableReader transport(**table, "transport", root.source());
  if (auto s = transport.check_keys({"kind", "base_port", "key_file"}); !s) return s;
  auto kind = transport.string("kind");
  if (!kind) return std::unexpected(kind.error());
  if (*kind && **kind == "rdma") {
    return transport.error_at("kind", "\"rdma\" is not built into this heca; use \"tcp\"");
  }
  if (*kind && **kind != "tcp") {
    return transport.error_at("kind", fmt::format("must be \"tcp\" or \"rdma\", got \"{}\"", **kind));
  }
  auto port = transport.integer("base_port");
  if (!port) return std::unexpected(port.error());
  if (*port && (**port < 1 || **port > std::numeric_limits<std::uint16_t>::max())) {
    return transport.error_at("base_port", fmt::format("must be 1..65535, got {}", **port));
  }
  if (*port) d.base_port = static_cast<std::uint16_t>(**port);
  auto key_file = transport.string("key_file");
  if (!key_file) return std::unexpected(key_file.error());
  if (*key_file) {
    auto path = existing_file(transport, "key_file", **key_file, base_dir);
    if (!path) return std::unexpected(path.error());
    d.key_file = *path;
  }
  return {};
}

Result<std::uint32_t> hold_us(const TableReader& coherence, std::string_view key,
                              std::uint32_t fallback) {
  auto value = coherence.integer(key);
  if (!value) return std::unexpected(value.error());
  if (!*value) return fallback;
  if (**value < 1 || **value > kMaxHoldUs) {
    return coherence.error_at(key, fmt::format("must be 1..{} microseconds, got {}", kMaxHoldUs,
                                               **value));
  }
  return static_cast<std::uint32_t>(**value);
}

Status read_coherence(const TableReader& root, GuestDescription& d) {
  auto table = root.table("coherence");
  if (!table) return std::unexpected(table.error());
  if (*table == nullptr) return {};
  const TableReader coherence(**table, "coherence", root.source());
  if (auto s = coherence.check_keys({"min_hold_us", "max_hold_us"}); !s) return s;
  auto min_hold = hold_us(coherence, "min_hold_us", kDefaultMinHoldUs);
  if (!min_hold) return std::unexpected(min_hold.error());
  auto max_hold = hold_us(coherence, "max_hold_us", kDefaultMaxHoldUs);
  if (!max_hold) return std::unexpected(max_hold.error());
  if (*min_hold > *max_hold) {
    return coherence.error_at("min_hold_us", fmt::format("{} is above max_hold_us ({})",
                                                         *min_hold, *max_hold));
  }
  d.min_hold_us = *min_hold;
  d.max_hold_us = *max_hold;
  return {};
}

Status read_roles(const TableReader& node, NodeRoles& roles) {
  auto names = node.strings("roles");
  if (!names) return std::unexpected(names.error());
  if (!*names) return node.missing("roles");
  if ((*names)->empty()) return node.error_at("roles", "a node needs at least one role");
  for (const auto& name : **names) {
    bool* flag = name == "compute" ? &roles.compute
                 : name == "memory" ? &roles.memory
                 : name == "io"     ? &roles.io
                                    : nullptr;
    if (flag == nullptr) {
      return node.error_at("roles", fmt::format("unknown role \"{}\" (roles are \"compute\", "
                                                "\"memory\" and \"io\")", name));
    }
    if (*flag) return node.error_at("roles", fmt::format("role \"{}\" is listed twice", name));
    *flag = true;
  }
  return {};
}

Status read_vcpus(const TableReader& node, NodeDescription& out) {
  auto vcpus = node.integers("vcpus");
  if (!vcpus) return std::unexpected(vcpus.error());
  if (!out.roles.compute) {
    if (*vcpus) return node.error_at("vcpus", "vCPUs on a node without the \"compute\" role");
    return {};
  }
  if (!*vcpus || (*vcpus)->empty()) {
    return node.error_at("vcpus", "a \"compute\" node needs a non-empty list of vCPUs");
  }
  for (const std::int64_t id : **vcpus) {
    if (id < 0 || id >= kMaxVcpuId) {
      return node.error_at("vcpus", fmt::format("vCPU id {} is out of range", id));
    }
    const auto vcpu = static_cast<std::uint32_t>(id);
    if (std::ranges::find(out.vcpus, vcpu) != out.vcpus.end()) {
      return node.error_at("vcpus", fmt::format("vCPU {} is listed twice", vcpu));
    }
    out.vcpus.push_back(vcpu);
  }
  return {};
}

Status read_home(const TableReader& node, ParsedNode& parsed) {
  auto ranges = node.tables("home");
  if (!ranges) return std::unexpected(ranges.error());
  if (!ranges->empty() && !parsed.node.roles.memory) {
    return node.error_at("home", "home ranges on a node without the \"memory\" role");
  }
  for (auto& range : *ranges) {
    if (auto s = range.check_keys({"start", "size"}); !s) return s;
    auto start = range.size("start");
    if (!start) return std::unexpected(start.error());
    if (!*start) return range.missing("start");
    auto size = range.size("size");
    if (!size) return std::unexpected(size.error());
    if (!*size) return range.missing("size");
    parsed.node.home.push_back(MemoryRange{.start = **start, .size = **size});
    parsed.home_readers.push_back(std::move(range));
  }
  return {};
}

Status read_node_scalars(const TableReader& node, NodeDescription& out) {
  auto id = node.integer("id");
  if (!id) return std::unexpected(id.error());
  if (!*id) return node.missing("id");
  if (**id < 0 || **id >= kMaxNodeId) {
    return node.error_at("id", fmt::format("node id {} is out of range", **id));
  }
  out.id = static_cast<std::uint32_t>(**id);
  auto address = node.string("address");
  if (!address) return std::unexpected(address.error());
  out.address = address->value_or("");
  auto share = node.integer("memory_share");
  if (!share) return std::unexpected(share.error());
  if (*share && !out.roles.memory) {
    return node.error_at("memory_share", "memory_share on a node without the \"memory\" role");
  }
  if (*share && **share < 1) return node.error_at("memory_share", "must be at least 1");
  out.memory_share = static_cast<std::uint64_t>(share->value_or(1));
  return {};
}

Result<ParsedNode> read_node(TableReader node) {
  if (auto s = node.check_keys({"id", "address", "roles", "vcpus", "memory_share", "home"}); !s) {
    return std::unexpected(s.error());
  }
  ParsedNode parsed{.node = {}, .reader = node, .home_readers = {}};
  if (auto s = read_roles(node, parsed.node.roles); !s) return std::unexpected(s.error());
  if (auto s = read_node_scalars(node, parsed.node); !s) return std::unexpected(s.error());
  if (auto s = read_vcpus(node, parsed.node); !s) return std::unexpected(s.error());
  if (auto s = read_home(node, parsed); !s) return std::unexpected(s.error());
  return parsed;
}

Result<toml::table> parse_toml(std::string_view text, std::string_view source_name) {
#if TOML_EXCEPTIONS
  try {
    return toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return make_error(fmt::format("{}TOML syntax error: {}", location_of(source_name, e.source()),
                                  e.description()));
  }
#else
  toml::parse_result result = toml::parse(text, source_name);
  if (!result) {
    return make_error(fmt::format("{}TOML syntax error: {}",
                                  location_of(source_name, result.error().source()),
                                  result.error().description()));
  }
  return std::move(result).table();
#endif
}

Result<GuestDescription> parse_in(std::string_view text, std::string_view source_name,
                                  const std::filesystem::path& base_dir) {
  auto table = parse_toml(text, source_name);
  if (!table) return std::unexpected(table.error());
  const TableReader root(*table, "", source_name);
  if (auto s = root.check_keys({"guest", "transport", "coherence", "node"}); !s) {
    return std::unexpected(s.error());
  }
  GuestDescription d;
  d.source = std::string(source_name);
  if (auto s = read_guest(root, base_dir, d); !s) return std::unexpected(s.error());
  if (auto s = read_transport(root, base_dir, d); !s) return std::unexpected(s.error());
  if (auto s = read_coherence(root, d); !s) return std::unexpected(s.error());
  auto entries = root.tables("node");
  if (!entries) return std::unexpected(entries.error());
  if (entries->empty()) return root.error_at("", "node: at least one [[node]] is required");
  std::vector<ParsedNode> parsed;
  for (auto& entry : *entries) {
    auto node = read_node(std::move(entry));
    if (!node) return std::unexpected(node.error());
    parsed.push_back(std::move(*node));
  }
  if (auto s = finish_nodes(root, std::move(parsed), d); !s) return std::unexpected(s.error());
  return d;
}

}  // namespace

Result<GuestDescription> parse_guest_description(std::string_view text,
                                                 std::string_view source_name) {
  return parse_in(text, source_name, {});
}

Result<GuestDescription> load_guest_description(const std::string& path) {
  std::ifstream in(path);
  if (!in) return errno_error(fmt::format("opening guest description {}", path));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return errno_error(fmt::format("reading guest description {}", path));
  const auto base_dir = std::filesystem::path(path).parent_path();
  return parse_in(text.str(), path, base_dir);
}

std::uint32_t GuestDescription::vcpu_count() const {
  std::size_t count = 0;
  for (const auto& node : nodes) count += node.vcpus.size();
  return static_cast<std::uint32_t>(count);
}

std::vector<std::string> NodeRoles::names() const {
  std::vector<std::string> out;
  if (compute) out.emplace_back("compute");
  if (memory) out.emplace_back("memory");
  if (io) out.emplace_back("io");
  return out;
}

std::uint32_t GuestDescription::io_node() const {
  const auto it = std::ranges::find_if(nodes, [](const auto& n) { return n.roles.io; });
  HECA_CHECK(it != nodes.end());
  return it->id;
}

std::uint32_t GuestDescription::node_of_vcpu(std::uint32_t vcpu) const {
  for (const auto& node : nodes) {
    if (std::ranges::find(node.vcpus, vcpu) != node.vcpus.end()) return node.id;
  }
  HECA_CHECK(false && "vCPU out of range");
  return 0;
}

std::vector<HomeAssignment> GuestDescription::home_assignments() const {
  std::vector<HomeAssignment> out;
  for (const auto& node : nodes) {
    for (const auto& range : node.home) out.push_back({range, node.id});
  }
  std::ranges::sort(out, {}, [](const HomeAssignment& a) { return a.range.start; });
  return out;
}

std::optional<std::uint32_t> GuestDescription::home_of(std::uint64_t offset) const {
  for (const auto& node : nodes) {
    for (const auto& range : node.home) {
      if (offset >= range.start && offset < range.end()) return node.id;
    }
  }
  return std::nullopt;
}

}  // namespace heca::vmm::cluster
