// TableReader: strict, typed access to one TOML table of a guest description.
// Every error names the file, line:column and the dotted key (e.g. "node[1].vcpus").
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/base/result.h"

namespace heca::vmm::cluster {

// "file:line:column: " for a node, or "file: " when the region is unknown.
[[nodiscard]] std::string location_of(std::string_view source, const toml::source_region& region);

// A human name for a TOML value type: "string", "integer", "array", ...
[[nodiscard]] std::string_view type_name(const toml::node& node);

class TableReader {
 public:
  // `path` is the table's dotted key ("" for the root, "node[2]", "node[0].home[1]").
  TableReader(const toml::table& table, std::string path, std::string_view source);

  // Errors on the first key that is not in `allowed`.
  [[nodiscard]] Status check_keys(std::initializer_list<std::string_view> allowed) const;

  // Each returns nullopt when the key is absent and an error when it has the wrong type.
  [[nodiscard]] Result<std::optional<std::string>> string(std::string_view key) const;
  [[nodiscard]] Result<std::optional<std::int64_t>> integer(std::string_view key) const;
  // An integer byte count or a size string.
  [[nodiscard]] Result<std::optional<std::uint64_t>> size(std::string_view key) const;
  [[nodiscard]] Result<std::optional<std::vector<std::string>>> strings(std::string_view key) const;
  [[nodiscard]] Result<std::optional<std::vector<std::int64_t>>> integers(
      std::string_view key) const;
  // An optional sub-table or array of tables, checked for type.
  [[nodiscard]] Result<const toml::table*> table(std::string_view key) const;
  [[nodiscard]] Result<std::vector<TableReader>> tables(std::string_view key) const;

  // "file:line:col: key: message" placed at the key's value (or at the table when absent).
  [[nodiscard]] std::unexpected<Error> error_at(std::string_view key, std::string_view msg) const;
  [[nodiscard]] std::unexpected<Error> missing(std::string_view key) const;
  [[nodiscard]] std::string key_path(std::string_view key) const;
  [[nodiscard]] std::string_view source() const { return source_; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  [[nodiscard]] std::unexpected<Error> wrong_type(std::string_view key, std::string_view expected,
                                                  const toml::node& got) const;

  const toml::table* table_;
  std::string path_;
  std::string_view source_;
};

}  // namespace heca::vmm::cluster
