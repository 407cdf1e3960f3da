#include "vmm/cluster/toml_fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "kernel/base/size.h"
#include "vmm/cluster/guest_description.h"

namespace heca::vmm::cluster {

std::string location_of(std::string_view source, const toml::source_region& region) {
  if (region.begin.line == 0) return fmt::format("{}: ", source);
  return fmt::format("{}:{}:{}: ", source, region.begin.line, region.begin.column);
}

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

TableReader::TableReader(const toml::table& table, std::string path, std::string_view source)
    : table_(&table), path_(std::move(path)), source_(source) {}

std::string TableReader::key_path(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return fmt::format("{}.{}", path_, key);
}

std::unexpected<Error> TableReader::error_at(std::string_view key, std::string_view msg) const {
  const toml::node* node = key.empty() ? nullptr : table_->get(key);
  const auto& region = node != nullptr ? node->source() : table_->source();
  const std::string name = key.empty() ? path_ : key_path(key);
  if (name.empty()) return make_error(fmt::format("{}{}", location_of(source_, region), msg));
  return make_error(fmt::format("{}{}: {}", location_of(source_, region), name, msg));
}

std::unexpected<Error> TableReader::missing(std::string_view key) const {
  const std::string where = path_.empty() ? std::string("the top level") : "[" + path_ + "]";
  return error_at(key, fmt::format("required key is missing from {}", where));
}

std::unexpected<Error> TableReader::wrong_type(std::string_view key, std::string_view expected,
                                               const toml::node& got) const {
  return error_at(key, fmt::format("expected {}, got {}", expected, type_name(got)));
}

Status TableReader::check_keys(std::initializer_list<std::string_view> allowed) const {
  for (auto&& [key, value] : *table_) {
    if (std::ranges::find(allowed, key.str()) != allowed.end()) continue;
    std::string known;
    for (const auto name : allowed) known += fmt::format("{}{}", known.empty() ? "" : ", ", name);
    return make_error(fmt::format("{}{}: unknown key (known keys here: {})",
                                  location_of(source_, key.source()), key_path(key.str()), known));
  }
  return {};
}

Result<std::optional<std::string>> TableReader::string(std::string_view key) const {
  const toml::node* node = table_->get(key);
  if (node == nullptr) return std::nullopt;
  if (!node->is_string()) return wrong_type(key, "a string", *node);
  return std::optional(node->as_string()->get());
}

Result<std::optional<std::int64_t>> TableReader::integer(std::string_view key) const {
  const toml::node* node = table_->get(key);
  if (node == nullptr) return std::nullopt;
  if (!node->is_integer()) return wrong_type(key, "an integer", *node);
  return std::optional(node->as_integer()->get());
}

Result<std::optional<std::uint64_t>> TableReader::size(std::string_view key) const {
  const toml::node* node = table_->get(key);
  if (node == nullptr) return std::nullopt;
  if (node->is_integer()) {
    const std::int64_t value = node->as_integer()->get();
    if (value < 0) return error_at(key, "a size must not be negative");
    return std::optional(static_cast<std::uint64_t>(value));
  }
  if (!node->is_string()) return wrong_type(key, "a size (e.g. \"512M\") or integer", *node);
  auto bytes = heca::parse_size(node->as_string()->get());
  if (!bytes) return error_at(key, bytes.error().what);
  return std::optional(*bytes);
}

Result<std::optional<std::vector<std::string>>> TableReader::strings(std::string_view key) const {
  const toml::node* node = table_->get(key);
  if (node == nullptr) return std::nullopt;
  if (!node->is_array()) return wrong_type(key, "an array of strings", *node);
  std::vector<std::string> out;
  for (const toml::node& element : *node->as_array()) {
    if (!element.is_string()) return wrong_type(key, "an array of strings", element);
    out.push_back(element.as_string()->get());
  }
  return std::optional(std::move(out));
}

Result<std::optional<std::vector<std::int64_t>>> TableReader::integers(
    std::string_view key) const {
  const toml::node* node = table_->get(key);
  if (node == nullptr) return std::nullopt;
  if (!node->is_array()) return wrong_type(key, "an array of integers", *node);
  std::vector<std::int64_t> out;
  for (const toml::node& element : *node->as_array()) {
    if (!element.is_integer()) return wrong_type(key, "an array of integers", element);
    out.push_back(element.as_integer()->get());
  }
  return std::optional(std::move(out));
}

Result<const toml::table*> TableReader::table(std::string_view key) const {
  const toml::node* node = table_->get(key);
  if (node == nullptr) return nullptr;
  if (!node->is_table()) return wrong_type(key, fmt::format("a table ([{}])", key), *node);
  return node->as_table();
}

Result<std::vector<TableReader>> TableReader::tables(std::string_view key) const {
  std::vector<TableReader> out;
  const toml::node* node = table_->get(key);
  if (node == nullptr) return out;
  if (!node->is_array()) return wrong_type(key, "an array of tables", *node);
  std::size_t index = 0;
  for (const toml::node& element : *node->as_array()) {
    if (!element.is_table()) return wrong_type(key, "an array of tables", element);
    out.emplace_back(*element.as_table(), fmt::format("{}[{}]", key_path(key), index++), source_);
  }
  return out;
}

}  // namespace heca::vmm::cluster
