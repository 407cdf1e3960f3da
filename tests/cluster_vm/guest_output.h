// Helpers shared by the multi-node guest tests: the three-node guest description they run and
// counting lines of the guests' combined output.
#pragma once

#include <fcntl.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/kvm.h"
#include "kernel/base/fd.h"
#include "tests/support/subprocess.h"

namespace heca::testing {

// Three nodes, five vCPUs (2 + 2 + 1), node 0 boots and hosts the devices; written to the
// temporary directory as NAME.toml.
inline std::string write_description(const std::string& name, int base_port,
                                     const std::string& cmdline) {
  const auto path = std::filesystem::temp_directory_path() / (name + ".toml");
  std::ofstream out(path);
  out << "[guest]\nmemory = \"256M\"\nkind = \"test\"\ncmdline = \"" << cmdline << "\"\n"
      << "[transport]\nbase_port = " << base_port << "\n"
      << "[[node]]\nid = 0\nroles = [\"compute\", \"memory\", \"io\"]\nvcpus = [0, 1]\n"
      << "[[node]]\nid = 1\nroles = [\"compute\", \"memory\"]\nvcpus = [2, 3]\n"
      << "[[node]]\nid = 2\nroles = [\"compute\", \"memory\"]\nvcpus = [4]\n";
  return path.string();
}

// Lines of `text` equal to `line`.
inline std::size_t count_lines(const std::string& text, const std::string& line) {
  const auto lines = split_lines(text);
  return static_cast<std::size_t>(std::count(lines.begin(), lines.end(), line));
}

// Lines of `text` that contain `part`.
inline std::size_t count_containing(const std::string& text, const std::string& part) {
  const auto lines = split_lines(text);
  return static_cast<std::size_t>(std::count_if(
      lines.begin(), lines.end(), [&](const std::string& l) { return l.find(part) != l.npos; }));
}

}  // namespace heca::testing
