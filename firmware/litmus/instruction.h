// Decodes one cell of a litmus thread table (one x86 instruction in either dialect) and
// the register names both dialects use.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firmware/litmus/test.h"
#include "kernel/base/result.h"

namespace heca::firmware::litmus {

// Resolves a symbolic address ("x") to a location index, adding the location if new.
struct LocationTable {
  std::vector<Location>* locations;
  [[nodiscard]] Result<int> lookup(std::string_view name, int line) const;
};

// What a thread knows while its code is decoded: registers that hold a location's address.
struct ThreadContext {
  std::array<int, kRegisterCount> address_of{};  // location index + 1; 0: not an address
};

// Register number for "EAX", "eax", "%rax", "r8d", ...; nullopt if not a register name.
[[nodiscard]] std::optional<int> parse_register(std::string_view text);

// One instruction; errors are "unsupported: ..." or "parse error: ..." naming `line`.
[[nodiscard]] Result<Instruction> parse_instruction(Dialect dialect, std::string_view text, int line,
                                                    const LocationTable& locations,
                                                    const ThreadContext& context);

// Error helpers shared by the parser files.
[[nodiscard]] std::unexpected<Error> unsupported(std::string_view what, int line);
[[nodiscard]] std::unexpected<Error> syntax_error(std::string_view what, int line);

// Lowercase copy; trims ASCII whitespace.
[[nodiscard]] std::string lower(std::string_view text);
[[nodiscard]] std::string_view trim(std::string_view text);
// Decimal or 0x-hex value in [0, kMaxValue].
[[nodiscard]] Result<std::uint64_t> parse_value(std::string_view text, int line);

}  // namespace heca::firmware::litmus
