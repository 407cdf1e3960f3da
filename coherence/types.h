// Basic vocabulary types shared by the coherence protocol and its transports.
// Node ids, page indices and the coherence granule size.
#pragma once

#include <cstddef>
#include <cstdint>

namespace heca::coherence {

using NodeId = std::uint16_t;
using PageIndex = std::uint64_t;
inline constexpr std::size_t kPageSize = 4096;

}  // namespace heca::coherence
