#include "vmm/cli.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "vmm/control/control_protocol.h"
#include "vmm/control/ctl_command.h"

namespace heca::vmm {

int fail(const std::string& message) {
  std::fprintf(stderr, "heca: error: %s\n", message.c_str());
  return kExitUsage;
}

namespace {

void add_run_options(CLI::App& run, RunArgs& options) {
  run.add_option("--guest", options.guest,
                 "Flat 64-bit guest: 'test' for the built-in SMP test guest, or an image file");
  run.add_option("--kernel", options.kernel, "Linux bzImage to boot");
  run.add_option("--initrd", options.initrd, "Initial ramdisk for --kernel");
  run.add_option("--cmdline", options.cmdline, "Guest kernel command line");
  run.add_option("--vcpus", options.vcpus, "Number of vCPUs")->capture_default_str();
  run.add_option("--memory", options.memory, "Guest RAM, e.g. 256M, 1G, 4096K or bytes")
      ->capture_default_str();
  run.add_option("--timeout", options.timeout_s,
                 "Stop the guest after SECONDS (exit 124); 0: never")
      ->capture_default_str();
  run.add_flag("--stats", options.stats, "Print every counter at exit (vCPU exits, memory, I/O)");
  run.add_option("--stats-json", options.stats_json,
                 "Write the same counters as one JSON object to PATH at exit (the control "
                 "socket's stats); with a guest description node K writes PATH.nodeK");
  run.add_option("--progress", options.progress_s,
                 "Print a progress line (guest time, page faults, pages moved) every SECONDS; "
                 "with a guest description, every node does")
      ->check(CLI::NonNegativeNumber);
  run.add_option("--litmus", options.litmus,
                 "Run this x86 .litmus test on the test guest; exit 1 if a forbidden outcome is "
                 "seen. Given several times: the tests run one after the other in one boot, a "
                 "test that cannot run is named and left out (exit 2 if none saw a forbidden "
                 "outcome)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  run.add_option("--iterations", options.iterations, "Iterations of the --litmus test")
      ->capture_default_str();
  run.add_option(
         "--litmus-model", options.litmus_model,
         "Model that decides the allowed outcomes: tso, or sc (too strict; for testing heca)")
      ->capture_default_str();
  run.add_option("--control", options.control,
                 "Serve a control socket at PATH (heca ctl PATH status|stats|pause|resume|stop); "
                 "with a guest description node K serves PATH.nodeK");
}

void add_node_options(CLI::App& node, RunArgs& args) {
  node.add_option("--config", args.config, "Guest description (TOML) shared by every node")
      ->required();
  node.add_option("--id", args.id, "This node's id in the description")->required();
  node.add_option("--timeout", args.timeout_s, "Stop the guest after SECONDS (exit 124); 0: never")
      ->capture_default_str();
  node.add_flag("--stats", args.stats, "Print this node's counters at exit");
  node.add_option("--stats-json", args.stats_json,
                  "Write this node's counters as one JSON object to PATH at exit");
  node.add_option("--progress", args.progress_s,
                  "Print a progress line (guest time, page faults, pages received) every SECONDS; "
                  "0: never")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  node.add_option("--litmus", args.litmus, "Run this x86 .litmus test on the test guest (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  node.add_option("--iterations", args.iterations, "Iterations of the --litmus test");
  node.add_option("--litmus-model", args.litmus_model, "tso or sc");
  node.add_option("--control", args.control,
                  "Serve this node's control socket at PATH (heca ctl PATH status)");
}

void add_ctl_options(CLI::App& ctl, control::CtlArgs& args, double& watch_s) {
  std::vector<std::string> commands;
  for (const auto name : control::command_names()) commands.emplace_back(name);
  ctl.add_option("socket", args.socket, "The control socket (--control PATH of heca run/node)")
      ->required();
  ctl.add_option("command", args.command, "status, stats, pause, resume, stop or commands")
      ->required()
      ->check(CLI::IsMember(commands));
  ctl.add_flag("--json", args.json, "Print the raw JSON reply");
  ctl.add_option("--watch", watch_s, "Repeat every SECONDS (default 2) until interrupted")
      ->expected(0, 1)
      ->default_str("2");
}

// `heca demo ARGS`: the virtual-cluster demo of the source tree, run with this heca binary.
int run_demo(const std::vector<std::string>& args) {
  const std::string script = HECA_DEMO_SCRIPT;
  if (::access(script.c_str(), X_OK) != 0) {
    return fail(fmt::format("heca demo runs {}, which is not there or not executable: {}", script,
                            std::strerror(errno)));
  }
  std::string self(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n > 0) {
    self.resize(static_cast<std::size_t>(n));
    ::setenv("HECA_BINARY", self.c_str(), 1);
  }
  ::setenv("HECA_ERROR_PREFIX", "heca: error: ", 1);
  std::vector<char*> argv{const_cast<char*>(script.c_str())};
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ::execv(script.c_str(), argv.data());
  return fail(fmt::format("cannot run {}: {}", script, std::strerror(errno)));
}

}  // namespace

int run_cli(int argc, char** argv, const RunCommands& commands) {
  const auto start = std::chrono::steady_clock::now();
  // A closed console pipe must not kill the VM; the UART sink sees EPIPE instead.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"heca: one x86-64 guest VM whose vCPUs may span several KVM hosts", "heca"};
  app.require_subcommand(1);
  RunArgs args;
  CLI::App* run =
      app.add_subcommand("run", "Boot a guest on this host, or a cluster from GUEST.toml");
  add_run_options(*run, args);
  run->add_option("description", args.config,
                  "Guest description (TOML): run every node of it on this machine");
  CLI::App* node = app.add_subcommand("node", "Run one node of a multi-node guest");
  add_node_options(*node, args);
  CLI::App* demo = app.add_subcommand(
      "demo",
      "Boot one Linux guest across a virtual cluster of QEMU hosts, one heca node each "
      "(options: heca demo --help)");
  demo->prefix_command();
  demo->set_help_flag();  // `heca demo --help` is the demo's own help
  CLI::App* ctl = app.add_subcommand(
      "ctl", "Send one command to a running heca's control socket (--control PATH)");
  control::CtlArgs ctl_args;
  double watch_s = 0;
  add_ctl_options(*ctl, ctl_args, watch_s);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(e.what());
  }
  args.start = start;
  if (demo->parsed()) return run_demo(demo->remaining());
  if (ctl->parsed()) {
    if (ctl->count("--watch") > 0) ctl_args.watch_s = watch_s;
    return control::run_ctl(ctl_args);
  }
  if (node->parsed()) return commands.node(args);
  if (!args.config.empty()) {
    if (!args.guest.empty() || !args.kernel.empty()) {
      return fail("give either a guest description or --guest/--kernel, not both");
    }
    return commands.run_cluster(args);
  }
  return commands.run_one_node(args);
}

}  // namespace heca::vmm
