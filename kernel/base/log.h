// Logging: spdlog, with one logger per process whose pattern names the node.
// Hot paths must not log unless rate-limited.
#pragma once

#include <spdlog/spdlog.h>

namespace heca::log {

// Sets the process-wide pattern "[node N] level message" (node -1 prints no node).
void init(int node_id);

}  // namespace heca::log
