// Every bad `heca run` input ends in exit code 2 and exactly one "heca: error: ..." line.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/kvm.h"
#include "kernel/base/fd.h"
#include "tests/support/subprocess.h"

namespace heca::testing {
namespace {

constexpr std::chrono::seconds kTimeout{30};

ProcessResult run_heca(const std::vector<std::string>& args) {
  auto result = run_process(HECA_BINARY, args, kTimeout);
  EXPECT_TRUE(result.has_value()) << result.error().message();
  return result.value_or(ProcessResult{});
}

// Asserts the usage-error contract: exit 2, one stderr line naming the problem.
void expect_usage_error(const ProcessResult& result, const std::string& mentions) {
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.exit_code, 2) << result.err;
  const auto lines = split_lines(result.err);
  ASSERT_EQ(lines.size(), 1u) << result.err;
  EXPECT_TRUE(lines[0].starts_with("heca: error: ")) << lines[0];
  EXPECT_NE(lines[0].find(mentions), std::string::npos)
      << "'" << lines[0] << "' does not mention '" << mentions << "'";
}

// A temporary directory holding generated bzImage files; removed at the end of the test.
class HecaCliErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "heca-cli-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write_file(const std::string& name, const std::vector<std::uint8_t>& bytes) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return path.string();
  }

  std::filesystem::path dir_;
};

// 64 KiB that pass the size check; each test adds the header fields it needs.
std::vector<std::uint8_t> blank_image() {
  return std::vector<std::uint8_t>(64 * 1024, 0);
}

void put16(std::vector<std::uint8_t>& image, std::size_t offset, std::uint16_t value) {
  image[offset] = static_cast<std::uint8_t>(value);
  image[offset + 1] = static_cast<std::uint8_t>(value >> 8);
}

std::vector<std::uint8_t> image_with_boot_flag() {
  auto image = blank_image();
  put16(image, 0x1FE, 0xAA55);
  return image;
}

std::vector<std::uint8_t> image_with_protocol(std::uint16_t version) {
  auto image = image_with_boot_flag();
  const std::string magic = "HdrS";
  std::copy(magic.begin(), magic.end(), image.begin() + 0x202);
  put16(image, 0x206, version);
  return image;
}

TEST_F(HecaCliErrors, DemoRejectsAnUnknownOptionBeforeStartingAnything) {
  const auto result = run_heca({"demo", "--no-such-option"});

  expect_usage_error(result, "unknown option '--no-such-option'");
}

TEST_F(HecaCliErrors, MissingKernelFile) {
  const auto result = run_heca({"run", "--kernel", (dir_ / "no-such-bzImage").string()});

  expect_usage_error(result, "no-such-bzImage");
}

TEST_F(HecaCliErrors, MissingInitrdFile) {
  const auto kernel = write_file("bzImage", image_with_protocol(0x020F));

  const auto result =
      run_heca({"run", "--kernel", kernel, "--initrd", (dir_ / "no-such-initrd").string()});

  expect_usage_error(result, "initrd");
}

TEST_F(HecaCliErrors, TruncatedBzImage) {
  const auto kernel = write_file("bzImage", std::vector<std::uint8_t>(300, 0));

  const auto result = run_heca({"run", "--kernel", kernel});

  expect_usage_error(result, "too small");
}

TEST_F(HecaCliErrors, GarbageBzImage) {
  const auto kernel = write_file("bzImage", std::vector<std::uint8_t>(64 * 1024, 0x5A));

  const auto result = run_heca({"run", "--kernel", kernel});

  expect_usage_error(result, "0xAA55");
}

TEST_F(HecaCliErrors, BzImageWithoutHeaderMagic) {
  const auto kernel = write_file("bzImage", image_with_boot_flag());

  const auto result = run_heca({"run", "--kernel", kernel});

  expect_usage_error(result, "HdrS");
}

TEST_F(HecaCliErrors, BzImageWithTooOldBootProtocol) {
  const auto kernel = write_file("bzImage", image_with_protocol(0x0200));

  const auto result = run_heca({"run", "--kernel", kernel});

  expect_usage_error(result, "older than 2.12");
}

TEST_F(HecaCliErrors, ZeroVcpus) {
  expect_usage_error(run_heca({"run", "--guest", "test", "--vcpus", "0"}), "--vcpus");
}

TEST_F(HecaCliErrors, MoreVcpusThanKvmAllows) {
  if (!kvm_available()) GTEST_SKIP() << "/dev/kvm cannot be opened; the limit comes from KVM";

  expect_usage_error(run_heca({"run", "--guest", "test", "--vcpus", "100000"}), "--vcpus");
}

TEST_F(HecaCliErrors, ZeroMemory) {
  expect_usage_error(run_heca({"run", "--guest", "test", "--memory", "0"}), "--memory");
}

TEST_F(HecaCliErrors, MemoryNotPageAligned) {
  expect_usage_error(run_heca({"run", "--guest", "test", "--memory", "1000001"}), "page");
}

TEST_F(HecaCliErrors, MemoryWithUnknownSuffix) {
  expect_usage_error(run_heca({"run", "--guest", "test", "--memory", "12Q"}), "12Q");
}

TEST_F(HecaCliErrors, MemoryTooSmallForTheTestGuest) {
  expect_usage_error(run_heca({"run", "--guest", "test", "--memory", "1M"}), "RAM");
}

TEST_F(HecaCliErrors, BothGuestAndKernel) {
  const auto kernel = write_file("bzImage", image_with_protocol(0x020F));

  expect_usage_error(run_heca({"run", "--guest", "test", "--kernel", kernel}), "exactly one");
}

TEST_F(HecaCliErrors, NeitherGuestNorKernel) {
  expect_usage_error(run_heca({"run", "--vcpus", "1"}), "exactly one");
}

TEST_F(HecaCliErrors, ProgressNeedsAGuestDescriptionAndANonNegativePeriod) {
  expect_usage_error(run_heca({"run", "--guest", "test", "--progress", "5"}),
                     "--progress needs a guest description");
  expect_usage_error(run_heca({"run", "--guest", "test", "--progress", "-1"}), "--progress");
}

TEST_F(HecaCliErrors, NodeWithoutAClusterKeyRefusesToStart) {
  const std::string text =
      "[guest]\nmemory = \"64M\"\n[transport]\nbase_port = 7990\n"
      "[[node]]\nid = 0\nroles = [\"compute\", \"memory\", \"io\"]\nvcpus = [0]\n"
      "[[node]]\nid = 1\nroles = [\"compute\", \"memory\"]\nvcpus = [1]\n";
  const std::string config = write_file("guest.toml", {text.begin(), text.end()});

  expect_usage_error(run_heca({"node", "--config", config, "--id", "1"}), "names no key_file");
}

TEST_F(HecaCliErrors, NodeRefusesAClusterKeyOthersCanRead) {
  const std::string key_text(64, 'a');
  const std::string key = write_file("cluster.key", {key_text.begin(), key_text.end()});
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  const std::string text =
      "[guest]\nmemory = \"64M\"\n[transport]\nbase_port = 7990\nkey_file = \"cluster.key\"\n"
      "[[node]]\nid = 0\nroles = [\"compute\", \"memory\", \"io\"]\nvcpus = [0]\n"
      "[[node]]\nid = 1\nroles = [\"compute\", \"memory\"]\nvcpus = [1]\n";
  const std::string config = write_file("guest.toml", {text.begin(), text.end()});

  expect_usage_error(run_heca({"node", "--config", config, "--id", "1"}), "chmod 600");
}

TEST_F(HecaCliErrors, CtlOnAMissingSocketNamesIt) {
  const auto result = run_heca({"ctl", "/nonexistent/sock", "status"});

  expect_usage_error(result, "cannot connect to control socket '/nonexistent/sock'");
}

TEST_F(HecaCliErrors, CtlRejectsAnUnknownCommand) {
  const auto result = run_heca({"ctl", (dir_ / "heca.sock").string(), "reboot"});

  expect_usage_error(result, "reboot not in {status,stats,pause,resume,stop,commands}");
}

TEST_F(HecaCliErrors, ControlSocketInAMissingDirectoryIsRefusedBeforeTheGuestStarts) {
  const std::string socket = (dir_ / "no-such-dir" / "heca.sock").string();

  const auto result = run_heca({"run", "--guest", "test", "--control", socket});

  expect_usage_error(result, "control socket '" + socket + "': directory '" +
                                 (dir_ / "no-such-dir").string() + "' does not exist");
}

TEST_F(HecaCliErrors, ControlSocketOfAGuestDescriptionInAMissingDirectoryIsRefused) {
  const std::string text =
      "[guest]\nmemory = \"64M\"\n[transport]\nbase_port = 7990\n"
      "[[node]]\nid = 0\nroles = [\"compute\", \"memory\", \"io\"]\nvcpus = [0]\n";
  const std::string config = write_file("guest.toml", {text.begin(), text.end()});
  const std::string socket = (dir_ / "no-such-dir" / "heca.sock").string();

  const auto result = run_heca({"run", config, "--control", socket});

  expect_usage_error(result, "control socket '" + socket + "'");
}

TEST_F(HecaCliErrors, ControlSocketThatIsNoSocketIsRefused) {
  const std::string file = write_file("not-a-socket", {1, 2, 3});

  const auto result = run_heca({"run", "--guest", "test", "--control", file});

  expect_usage_error(result, "control socket '" + file + "': the path exists and is not a socket");
}

TEST_F(HecaCliErrors, StatsJsonInAMissingDirectoryIsRefusedBeforeTheGuestStarts) {
  const std::string path = (dir_ / "no-such-dir" / "stats.json").string();

  const auto result = run_heca({"run", "--guest", "test", "--stats-json", path});

  expect_usage_error(result, "--stats-json: cannot create '" + path + "'");
}

TEST_F(HecaCliErrors, UnknownOption) {
  expect_usage_error(run_heca({"run", "--guest", "test", "--frobnicate"}), "frobnicate");
}

}  // namespace
}  // namespace heca::testing
