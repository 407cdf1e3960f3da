// The handshake's pieces: key files, hello encoding, and the MACs each side sends.
#include "coherence/peer_auth.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace heca::coherence {
namespace {

class KeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("heca-key-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& text, mode_t mode = 0600) {
    const auto path = (dir_ / "cluster.key").string();
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::filesystem::path dir_;
};

const std::string kHexKey = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

TEST_F(KeyFile, SixtyFourHexDigitsWithANewlineLoad) {
  auto key = load_cluster_key(write(kHexKey + "\n"));
  ASSERT_TRUE(key.has_value()) << key.error().message();
  EXPECT_EQ(key->bytes[0], 0x00);
  EXPECT_EQ(key->bytes[1], 0x11);
  EXPECT_EQ(key->bytes[31], 0xff);
}

TEST_F(KeyFile, AFileOthersCanReadIsRefusedWithTheFixInTheMessage) {
  auto key = load_cluster_key(write(kHexKey, 0644));
  ASSERT_FALSE(key.has_value());
  EXPECT_NE(key.error().what.find("mode 0644"), std::string::npos) << key.error().what;
  EXPECT_NE(key.error().what.find("chmod 600"), std::string::npos) << key.error().what;
}

TEST_F(KeyFile, MissingShortNonHexAndZeroKeysAreRefusedNamingTheFile) {
  const std::string missing = (dir_ / "nothing.key").string();
  auto none = load_cluster_key(missing);
  ASSERT_FALSE(none.has_value());
  EXPECT_NE(none.error().what.find(missing), std::string::npos);
  for (const std::string& text : {kHexKey.substr(0, 62), kHexKey + "00", "zz" + kHexKey.substr(2),
                                  std::string(64, '0'), std::string()}) {
    const std::string path = write(text);
    auto key = load_cluster_key(path);
    EXPECT_FALSE(key.has_value()) << "accepted '" << text << "'";
    if (!key) {
      EXPECT_NE(key.error().what.find(path), std::string::npos) << key.error().what;
    }
  }
}

TEST_F(KeyFile, ANewKeyIsOwnerOnlyRandomAndNeverOverwritesAFile) {
  const std::string path = (dir_ / "new.key").string();
  ASSERT_TRUE(write_new_cluster_key(path).has_value());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto first = load_cluster_key(path);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  EXPECT_FALSE(write_new_cluster_key(path).has_value());
  const std::string other = (dir_ / "other.key").string();
  ASSERT_TRUE(write_new_cluster_key(other).has_value());
  EXPECT_NE(load_cluster_key(other)->bytes, first->bytes);
}

TEST(Hello, RoundTripsAndRefusesAnotherMagicOrVersion) {
  const Hello hello{.id = 513, .nonce = fresh_nonce()};
  auto bytes = encode_hello(hello);
  auto back = decode_hello(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->id, 513);
  EXPECT_EQ(back->nonce, hello.nonce);

  auto wrong_magic = bytes;
  wrong_magic[0] ^= 1;
  EXPECT_FALSE(decode_hello(wrong_magic).has_value());
  auto old_version = bytes;
  old_version[4] = 2;  // the frame header's version before the handshake became frames
  auto refused = decode_hello(old_version);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().what.find("version 2"), std::string::npos) << refused.error().what;
}

TEST(Hello, IsAFrameOfTheHandshakeFamilyAndRefusesAnyOther) {
  auto bytes = encode_hello({.id = 3, .nonce = fresh_nonce()});
  auto as_proof = bytes;
  as_proof[5] = kKeyProofType;
  auto as_coherence = bytes;
  as_coherence[5] = 0x01;
  auto with_flags = bytes;
  with_flags[6] = 1;

  EXPECT_EQ(bytes[5], kHelloType);
  EXPECT_NE(decode_hello(as_proof).error().what.find("KeyProof came first"), std::string::npos);
  EXPECT_NE(decode_hello(as_coherence).error().what.find("unknown handshake message type 1"),
            std::string::npos);
  EXPECT_NE(decode_hello(with_flags).error().what.find("flags is 0x1, must be 0"),
            std::string::npos);
}

TEST(KeyProof, RoundTripsAndNamesAnotherSender) {
  const Mac mac = accept_mac(ClusterKey{}, 0, 1, fresh_nonce(), fresh_nonce());
  const auto bytes = encode_proof(1, mac);

  const auto back = decode_proof(bytes, 1);
  const auto other = decode_proof(bytes, 2);

  ASSERT_TRUE(back.has_value()) << back.error().what;
  EXPECT_EQ(*back, mac);
  ASSERT_FALSE(other.has_value());
  EXPECT_NE(other.error().what.find("sender 1 on the link from node 2"), std::string::npos)
      << other.error().what;
}

TEST(HandshakeMac, DependsOnKeyNoncesIdsAndDirection) {
  ClusterKey key;
  key.bytes.fill(7);
  ClusterKey other = key;
  other.bytes[31] ^= 1;
  const Nonce c = fresh_nonce();
  const Nonce a = fresh_nonce();
  const Mac m = accept_mac(key, 0, 1, c, a);

  EXPECT_TRUE(mac_matches(m, accept_mac(key, 0, 1, c, a)));
  EXPECT_FALSE(mac_matches(m, accept_mac(other, 0, 1, c, a)));
  EXPECT_FALSE(mac_matches(m, accept_mac(key, 0, 2, c, a)));
  EXPECT_FALSE(mac_matches(m, accept_mac(key, 0, 1, fresh_nonce(), a)));
  EXPECT_FALSE(mac_matches(m, accept_mac(key, 0, 1, c, fresh_nonce())));
  // One direction's MAC does not answer the other's challenge.
  EXPECT_FALSE(mac_matches(m, connect_mac(key, 0, 1, c, a)));
  EXPECT_FALSE(mac_matches(connect_mac(key, 0, 1, c, a), connect_mac(key, 0, 1, a, c)));
}

}  // namespace
}  // namespace heca::coherence
