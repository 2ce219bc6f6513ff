// The policy signature check that ferryd and `ferryctl policy lint --signers`
// share: valid by any one of the keys, and every way of not being validly
// signed told apart (missing, malformed, another key, other bytes, another
// distinguishing ID), with messages that name the files and the keys.
#include "policy/signature.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/sm3.h"

namespace ferry::policy {
namespace {

using ::testing::HasSubstr;
namespace stdfs = std::filesystem;

constexpr std::string_view kPolicy =
    "schema: ferry-policy/1\n"
    "serial: 3\n"
    "channels:\n"
    "  - name: docs-in\n"
    "    direction: inbound\n"
    "    kind: file\n"
    "    allow_types: [pdf]\n"
    "    max_size: 1MiB\n";

class SignatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (stdfs::temp_directory_path() / "ferry-signature-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    for (int i = 0; i < 3; ++i) {
      auto k = crypto::Sm2PrivateKey::generate();
      ASSERT_TRUE(k.ok());
      keys_.push_back(std::move(k).value());
      const std::string pub = path("officer" + std::to_string(i) + ".pub");
      write(pub, keys_.back().public_key().to_pem());
      auto s = load_signer(pub);
      ASSERT_TRUE(s.ok()) << s.error().message;
      signers_.push_back(std::move(s).value());
    }
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  static void write(const std::string& p, std::string_view content) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
  }
  void sign(const crypto::Sm2PrivateKey& key, std::string_view bytes, std::string_view id = crypto::kSm2DefaultId) {
    auto sig = crypto::sm2_sign(key, crypto::as_bytes(bytes), id);
    ASSERT_TRUE(sig.ok());
    write(signature_path(policy()), std::string(sig->begin(), sig->end()));
  }
  std::string policy() const { return path("policy.yaml"); }
  // The first two keys are the officers'; the third is someone else's.
  std::span<const Signer> officers() const { return std::span<const Signer>(signers_).first(2); }
  SignatureCheck check(std::string_view bytes = kPolicy) const {
    return check_signature(policy(), crypto::as_bytes(bytes), officers());
  }

  std::string dir_;
  std::vector<crypto::Sm2PrivateKey> keys_;
  std::vector<Signer> signers_;
};

TEST_F(SignatureTest, SignatureSitsBesideThePolicy) { EXPECT_EQ(signature_path("/etc/ferry/p.yaml"), "/etc/ferry/p.yaml.sig"); }

TEST_F(SignatureTest, ValidByEitherOfficerKeyAndSaysWhich) {
  sign(keys_[0], kPolicy);
  SignatureCheck c = check();
  ASSERT_TRUE(c.ok()) << c.message;
  EXPECT_EQ(*c.signer, 0u);
  sign(keys_[1], kPolicy);
  c = check();
  ASSERT_TRUE(c.ok()) << c.message;
  EXPECT_EQ(*c.signer, 1u);
  EXPECT_EQ(signers_[1].name, path("officer1.pub"));
}

TEST_F(SignatureTest, MissingSignatureFileIsUnsigned) {
  const SignatureCheck c = check();
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.problem, SignatureProblem::missing);
  EXPECT_EQ(c.message, signature_path(policy()) + ": missing signature file; " + policy() + " is not signed");
  EXPECT_EQ(to_string(c.problem), "unsigned");
}

TEST_F(SignatureTest, AnotherKeysSignatureNamesTheKeysTried) {
  sign(keys_[2], kPolicy);
  const SignatureCheck c = check();
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.problem, SignatureProblem::not_by_signers);
  EXPECT_EQ(c.message, signature_path(policy()) + ": " + policy() + " is not signed by any of the given keys (" +
                           path("officer0.pub") + ", " + path("officer1.pub") + ", ID \"1234567812345678\")");
  EXPECT_TRUE(check_signature(policy(), crypto::as_bytes(kPolicy), signers_).ok());
}

TEST_F(SignatureTest, NoSignersMeansNothingIsValid) {
  sign(keys_[0], kPolicy);
  EXPECT_EQ(check_signature(policy(), crypto::as_bytes(kPolicy), {}).problem, SignatureProblem::not_by_signers);
}

// Every single byte changed after signing, and every truncation, fails.
TEST_F(SignatureTest, AnyChangedOrMissingByteFails) {
  sign(keys_[0], kPolicy);
  for (std::size_t i = 0; i < kPolicy.size(); ++i) {
    std::string changed(kPolicy);
    changed[i] = static_cast<char>(changed[i] ^ 0x01);
    const SignatureCheck c = check(changed);
    EXPECT_EQ(c.problem, SignatureProblem::not_by_signers) << "byte " << i;
    EXPECT_FALSE(c.ok()) << "byte " << i;
    EXPECT_FALSE(check(kPolicy.substr(0, i)).ok()) << "first " << i << " bytes";
  }
  EXPECT_FALSE(check(std::string(kPolicy) + "\n").ok());
  EXPECT_TRUE(check().ok());
}

TEST_F(SignatureTest, AnotherDistinguishingIdFails) {
  sign(keys_[0], kPolicy, "officer@example");
  EXPECT_FALSE(check().ok());
  EXPECT_TRUE(check_signature(policy(), crypto::as_bytes(kPolicy), officers(), "officer@example").ok());
}

TEST_F(SignatureTest, MalformedOrUnreadableSignatureIsToldApart) {
  for (std::string_view garbage : {std::string_view(""), std::string_view("not a signature\n"),
                                   std::string_view("\x30\x02\x02\x00", 4)}) {
    write(signature_path(policy()), garbage);
    const SignatureCheck c = check();
    EXPECT_EQ(c.problem, SignatureProblem::malformed);
    EXPECT_EQ(c.message, signature_path(policy()) + ": malformed signature (not a DER SM2 signature); " + policy() +
                             " is not validly signed");
  }
  write(signature_path(policy()), std::string(kMaxSignatureFileSize + 1, '0'));
  EXPECT_EQ(check().problem, SignatureProblem::unreadable);
  stdfs::remove(signature_path(policy()));
  stdfs::create_directory(signature_path(policy()));
  const SignatureCheck dir = check();
  EXPECT_EQ(dir.problem, SignatureProblem::unreadable);
  EXPECT_THAT(dir.message, HasSubstr(signature_path(policy())));
}

TEST_F(SignatureTest, SignerKeyErrorsNameTheFile) {
  auto missing = load_signer(path("nope.pub"));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.error().message, HasSubstr(path("nope.pub") + ": cannot read"));
  write(path("bad.pub"), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  auto bad = load_signer(path("bad.pub"));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr(path("bad.pub") + ": "));
}

TEST_F(SignatureTest, FingerprintIsTheSm3OfThePublicPoint) {
  EXPECT_EQ(fingerprint(signers_[0].key), crypto::to_hex(crypto::Sm3::digest(keys_[0].public_point())));
  EXPECT_EQ(fingerprint(signers_[0].key).size(), 64u);
}

}  // namespace
}  // namespace ferry::policy
