// The control protocol without sockets: every command's reply shape against a fake target, and
// every malformed request answered with an error reply instead of a crash.
#include "vmm/control/control_protocol.h"

#include <gtest/gtest.h>

#include <string>

#include "vmm/control/node_status.h"
#include "vmm/control/tests/fake_target.h"

namespace heca::vmm::control {
namespace {

using nlohmann::json;

std::string error_class_of(const json& reply) {
  return reply.at("error").at("class").get<std::string>();
}

TEST(ControlProtocol, StatusReturnsTheTargetsStatus) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"execute": "status"})", target);

  EXPECT_EQ(reply, json::parse(R"({"return": {"node": 3, "guest": {"state": "running"}}})"));
}

TEST(ControlProtocol, StatsReturnsTheTargetsStats) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"execute": "stats"})", target);

  EXPECT_EQ(reply.at("return").at("memory").at("page_faults"), 42);
}

TEST(ControlProtocol, PauseCallsTheTargetAndReturnsAnEmptyObject) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"execute": "pause"})", target);

  EXPECT_EQ(reply, json::parse(R"({"return": {}})"));
  EXPECT_EQ(target.pauses, 1);
}

TEST(ControlProtocol, ResumeCallsTheTargetAndReturnsAnEmptyObject) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"execute": "resume"})", target);

  EXPECT_EQ(reply, json::parse(R"({"return": {}})"));
  EXPECT_EQ(target.resumes, 1);
}

TEST(ControlProtocol, StopCallsTheTargetAndReturnsAnEmptyObject) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"execute": "stop", "arguments": {}})", target);

  EXPECT_EQ(reply, json::parse(R"({"return": {}})"));
  EXPECT_EQ(target.stops, 1);
}

TEST(ControlProtocol, CommandsListsEveryCommand) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"execute": "commands"})", target);

  EXPECT_EQ(reply.at("return"),
            json::parse(R"(["status", "stats", "pause", "resume", "stop", "commands"])"));
}

TEST(ControlProtocol, AFailingTargetGivesCommandFailedWithItsReason) {
  FakeTarget target;
  target.fail_with = "the guest is still booting";

  const json reply = dispatch_line(R"({"execute": "pause"})", target);

  EXPECT_EQ(error_class_of(reply), "CommandFailed");
  EXPECT_EQ(reply.at("error").at("desc"), "the guest is still booting");
}

TEST(ControlProtocol, ATargetThatThrowsFailsThatRequestOnly) {
  FakeTarget target;
  target.throw_in_status = true;

  const json reply = dispatch_line(R"({"execute": "status"})", target);

  EXPECT_EQ(error_class_of(reply), "CommandFailed");
  EXPECT_EQ(reply.at("error").at("desc"), "status blew up");
}

TEST(ControlProtocol, MalformedJsonIsAParseError) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"execute": "status")", target);

  EXPECT_EQ(error_class_of(reply), "ParseError");
  EXPECT_EQ(target.status_calls, 0);
}

TEST(ControlProtocol, AnEmptyLineIsAParseError) {
  FakeTarget target;

  const json reply = dispatch_line("", target);

  EXPECT_EQ(error_class_of(reply), "ParseError");
}

TEST(ControlProtocol, AnArrayIsAnInvalidRequest) {
  FakeTarget target;

  const json reply = dispatch_line(R"(["status"])", target);

  EXPECT_EQ(error_class_of(reply), "InvalidRequest");
  EXPECT_EQ(reply.at("error").at("desc"), "a request is a JSON object, not array");
}

TEST(ControlProtocol, AStringIsAnInvalidRequest) {
  FakeTarget target;

  const json reply = dispatch_line(R"("status")", target);

  EXPECT_EQ(error_class_of(reply), "InvalidRequest");
}

TEST(ControlProtocol, AMissingExecuteIsAnInvalidRequestNamingTheField) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"arguments": {}})", target);

  EXPECT_EQ(error_class_of(reply), "InvalidRequest");
  EXPECT_EQ(reply.at("error").at("desc"), "the request has no \"execute\" field");
}

TEST(ControlProtocol, ANumericExecuteIsAnInvalidRequest) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"execute": 7})", target);

  EXPECT_EQ(error_class_of(reply), "InvalidRequest");
  EXPECT_EQ(reply.at("error").at("desc"), "\"execute\" must be a string");
}

TEST(ControlProtocol, ArgumentsThatAreNoObjectAreAnInvalidRequest) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"execute": "stop", "arguments": [1]})", target);

  EXPECT_EQ(error_class_of(reply), "InvalidRequest");
  EXPECT_EQ(target.stops, 0);
}

TEST(ControlProtocol, AnUnknownKeyIsAnInvalidRequestNamingIt) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"execute": "stop", "force": true})", target);

  EXPECT_EQ(error_class_of(reply), "InvalidRequest");
  EXPECT_EQ(reply.at("error").at("desc"), "unknown key 'force' (known: execute, arguments, id)");
  EXPECT_EQ(target.stops, 0);
}

TEST(ControlProtocol, AnUnknownCommandIsCommandNotFoundListingTheCommands) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"execute": "reboot"})", target);

  EXPECT_EQ(error_class_of(reply), "CommandNotFound");
  EXPECT_EQ(reply.at("error").at("desc"),
            "unknown command 'reboot' (commands: status, stats, pause, resume, stop, commands)");
}

TEST(ControlProtocol, AnOverLongLineIsRefusedUnread) {
  FakeTarget target;
  const std::string line =
      R"({"execute": "status", "id": ")" + std::string(kMaxLineBytes, 'x') + R"("})";

  const json reply = dispatch_line(line, target);

  EXPECT_EQ(error_class_of(reply), "LineTooLong");
  EXPECT_EQ(target.status_calls, 0);
}

TEST(ControlProtocol, TheRequestsIdIsEchoedOnReturns) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"execute": "resume", "id": "r-17"})", target);

  EXPECT_EQ(reply, json::parse(R"({"return": {}, "id": "r-17"})"));
}

TEST(ControlProtocol, TheRequestsIdIsEchoedOnErrors) {
  FakeTarget target;

  const json reply = dispatch_line(R"({"execute": "reboot", "id": 9})", target);

  EXPECT_EQ(reply.at("id"), 9);
}

TEST(ControlProtocol, AReplyLineIsOneLineEvenWithInvalidUtf8) {
  const json reply = error_reply(ErrorClass::kCommandFailed, "bad \xff byte\nsecond line");

  const std::string line = reply_line(reply);

  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_NE(line.find("bad \xEF\xBF\xBD byte"), std::string::npos) << line;
}

TEST(NodeStatusJson, AStoppedNodeCarriesItsExitCodeAndReason) {
  const NodeStatus status{.node = 1,
                          .roles = {"compute", "memory"},
                          .guest = GuestState::kStopped,
                          .exit_code = 122,
                          .reason = "stopped by heca ctl stop",
                          .vcpus = {{.index = 2, .apic_id = 2, .state = "stopped"}},
                          .proxies = {{.apic_id = 0, .node = 0}}};

  const json j = to_json(status);

  EXPECT_EQ(j, json::parse(R"({"node": 1, "roles": ["compute", "memory"],
      "guest": {"state": "stopped", "exit_code": 122, "reason": "stopped by heca ctl stop"},
      "vcpus": [{"index": 2, "apic_id": 2, "state": "stopped"}],
      "proxies": [{"apic_id": 0, "node": 0}]})"));
}

TEST(NodeStatusJson, ABootingNodeHasNoExitCode) {
  const NodeStatus status{.node = 0, .roles = {"io"}, .guest = GuestState::kBooting};

  const json j = to_json(status);

  EXPECT_EQ(j.at("guest"), json::parse(R"({"state": "booting"})"));
}

}  // namespace
}  // namespace heca::vmm::control
