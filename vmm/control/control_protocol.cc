#include "vmm/control/control_protocol.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <exception>
#include <functional>
#include <optional>

namespace heca::vmm::control {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 6> kCommands = {"status", "stats", "pause",
                                                       "resume", "stop",  "commands"};

json from_status(const Status& s) {
  if (!s) return error_reply(ErrorClass::kCommandFailed, s.error().message());
  return return_reply(json::object());
}

json from_result(const Result<json>& r) {
  if (!r) return error_reply(ErrorClass::kCommandFailed, r.error().message());
  return return_reply(*r);
}

json run_command(std::string_view command, ControlTarget& target) {
  if (command == "status") return from_result(target.status());
  if (command == "stats") return from_result(target.stats());
  if (command == "pause") return from_status(target.pause());
  if (command == "resume") return from_status(target.resume());
  if (command == "stop") return from_status(target.stop());
  if (command == "commands") return return_reply(json(kCommands));
  return error_reply(
      ErrorClass::kCommandNotFound,
      fmt::format("unknown command '{}' (commands: {})", command, fmt::join(kCommands, ", ")));
}

// The command a request object names, or the error reply that says why it names none.
std::optional<json> check_request(const json& request) {
  if (!request.is_object()) {
    return error_reply(ErrorClass::kInvalidRequest,
                       fmt::format("a request is a JSON object, not {}", request.type_name()));
  }
  for (const auto& [key, value] : request.items()) {
    if (key != "execute" && key != "arguments" && key != "id") {
      return error_reply(ErrorClass::kInvalidRequest,
                         fmt::format("unknown key '{}' (known: execute, arguments, id)", key));
    }
  }
  const auto execute = request.find("execute");
  if (execute == request.end()) {
    return error_reply(ErrorClass::kInvalidRequest, "the request has no \"execute\" field");
  }
  if (!execute->is_string()) {
    return error_reply(ErrorClass::kInvalidRequest, "\"execute\" must be a string");
  }
  const auto arguments = request.find("arguments");
  if (arguments != request.end() && !arguments->is_object()) {
    return error_reply(ErrorClass::kInvalidRequest, "\"arguments\" must be an object");
  }
  return std::nullopt;
}

json dispatch_object(const json& request, ControlTarget& target) {
  if (auto invalid = check_request(request)) return *invalid;
  return run_command(request.at("execute").get_ref<const std::string&>(), target);
}

}  // namespace

std::string_view error_class_name(ErrorClass error_class) {
  switch (error_class) {
    case ErrorClass::kParseError:
      return "ParseError";
    case ErrorClass::kInvalidRequest:
      return "InvalidRequest";
    case ErrorClass::kCommandNotFound:
      return "CommandNotFound";
    case ErrorClass::kCommandFailed:
      return "CommandFailed";
    case ErrorClass::kLineTooLong:
      return "LineTooLong";
    case ErrorClass::kAccessDenied:
      return "AccessDenied";
    case ErrorClass::kTooManyClients:
      return "TooManyClients";
  }
  return "Error";
}

json error_reply(ErrorClass error_class, std::string_view desc) {
  return {{"error", {{"class", error_class_name(error_class)}, {"desc", desc}}}};
}

json return_reply(json value) {
  return {{"return", std::move(value)}};
}

std::span<const std::string_view> command_names() {
  return kCommands;
}

json dispatch_line(std::string_view line, ControlTarget& target) {
  if (line.size() > kMaxLineBytes) {
    return error_reply(ErrorClass::kLineTooLong,
                       fmt::format("a request line may have at most {} bytes", kMaxLineBytes));
  }
  json request = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) {
    return error_reply(ErrorClass::kParseError, "the request line is not valid JSON");
  }
  json reply;
  try {
    reply = dispatch_object(request, target);
  } catch (const std::exception& e) {
    // A target that throws (a JSON type error in its reply, say) fails the one request only.
    reply = error_reply(ErrorClass::kCommandFailed, e.what());
  }
  if (request.is_object() && request.contains("id")) reply["id"] = request["id"];
  return reply;
}

std::string reply_line(const json& reply) {
  return reply.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace heca::vmm::control
