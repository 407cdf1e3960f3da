#include "kernel/base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <string>

namespace heca::log {

void init(int node_id) {
  auto logger = spdlog::stderr_color_mt("heca");
  const std::string node = node_id < 0 ? std::string() : "[node " + std::to_string(node_id) + "] ";
  logger->set_pattern("%H:%M:%S.%e " + node + "%^%l%$ %v");
  spdlog::set_default_logger(logger);
}

}  // namespace heca::log
