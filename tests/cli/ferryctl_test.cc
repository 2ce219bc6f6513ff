// ferryctl as an operator uses it: real processes, real files in a temp
// directory, exit codes and messages checked.
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/selftest.h"
#include "crypto/sm2.h"
#include "crypto/sm3.h"
#include "tests/support/subprocess.h"

namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace stdfs = std::filesystem;

class FerryctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (stdfs::temp_directory_path() / "ferryctl-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  ferry::test::ProcessOutcome ctl(std::vector<std::string> args, std::string_view in = {}) {
    args.insert(args.begin(), FERRYCTL_PATH);
    ferry::test::ProcessOptions opts;
    opts.stdin_bytes = ferry::crypto::as_bytes(in);
    opts.working_directory = dir_;
    return ferry::test::run_process(args, opts);
  }

  std::string path(const std::string& name) const { return (stdfs::path(dir_) / name).string(); }

  void write(const std::string& name, std::string_view content, mode_t mode = 0644) {
    std::ofstream(path(name), std::ios::binary) << content;
    ASSERT_EQ(::chmod(path(name).c_str(), mode), 0);
  }

  std::string read(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  void keygen(const std::string& prefix) {
    auto r = ctl({"keygen", "--out", prefix});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A PEM private key of another algorithm, made with OpenSSL.
  void write_foreign_key(const std::string& name, const char* type, std::size_t bits_or_zero) {
    EVP_PKEY* pkey = bits_or_zero != 0 ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, bits_or_zero)
                                       : EVP_PKEY_Q_keygen(nullptr, nullptr, type, "P-256");
    ASSERT_NE(pkey, nullptr);
    FILE* f = std::fopen(path(name).c_str(), "w");
    ASSERT_NE(f, nullptr);
    PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    EVP_PKEY_free(pkey);
    ASSERT_EQ(::chmod(path(name).c_str(), 0600), 0);
  }

  std::string dir_;
};

TEST_F(FerryctlTest, TopLevelHelpListsEveryCommand) {
  auto r = ctl({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"selftest", "keygen", "digest", "sign", "verify", "policy"}) {
    EXPECT_THAT(r.out, HasSubstr(cmd));
  }
}

TEST_F(FerryctlTest, EveryCommandHasHelp) {
  for (const char* cmd : {"selftest", "keygen", "digest", "sign", "verify", "policy"}) {
    auto r = ctl({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_THAT(r.out, StartsWith(std::string("usage: ferryctl ") + cmd)) << cmd;
  }
}

TEST_F(FerryctlTest, NoCommandOrUnknownCommandIsUsageError) {
  EXPECT_EQ(ctl({}).exit_code, 2);
  auto r = ctl({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'frobnicate'"));
}

TEST_F(FerryctlTest, UnknownOptionIsOneLineAndExit2) {
  auto r = ctl({"digest", "--bogus", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ferryctl digest: unknown option '--bogus'\n");
}

TEST_F(FerryctlTest, SelftestPrintsEveryTestAndPasses) {
  auto r = ctl({"selftest"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  for (const auto& t : ferry::crypto::power_on_selftests()) {
    EXPECT_THAT(r.out, HasSubstr(t.name));
    EXPECT_THAT(r.out, HasSubstr(t.source));
  }
  EXPECT_THAT(r.out, HasSubstr(std::to_string(ferry::crypto::power_on_selftests().size()) + " passed, 0 failed"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("FAIL")));
}

TEST_F(FerryctlTest, SelftestJson) {
  auto r = ctl({"selftest", "--json"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, StartsWith("{\"device\":\"software (OpenSSL 3."));
  EXPECT_THAT(r.out, HasSubstr("\"passed\":true,\"tests\":["));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("\"passed\":false")));
}

TEST_F(FerryctlTest, KeygenWritesPkcs8KeyOwnerOnlyAndPublicKey) {
  keygen("site");
  struct stat st;
  ASSERT_EQ(::stat(path("site.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat(path("site.pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_THAT(read("site.key"), StartsWith("-----BEGIN PRIVATE KEY-----\n"));
  EXPECT_THAT(read("site.pub"), StartsWith("-----BEGIN PUBLIC KEY-----\n"));

  auto key = ferry::crypto::Sm2PrivateKey::from_pem(read("site.key"));
  ASSERT_TRUE(key.ok());
  auto pub = ferry::crypto::Sm2PublicKey::from_pem(read("site.pub"));
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(key->public_key().point(), pub->point());
}

TEST_F(FerryctlTest, KeygenIgnoresUmaskForTheKeyFile) {
  // Even a careless umask of 0 must not leave a world-readable key.
  ferry::test::ProcessOptions opts;
  opts.working_directory = dir_;
  auto r = ferry::test::run_process({"sh", "-c", std::string("umask 000; exec ") + FERRYCTL_PATH + " keygen --out k"},
                                    opts);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st;
  ASSERT_EQ(::stat(path("k.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(FerryctlTest, KeygenRefusesToOverwriteEitherFile) {
  keygen("site");
  const std::string before = read("site.key");
  auto r = ctl({"keygen", "--out", "site"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("site.key: exists; refusing to overwrite"));
  EXPECT_EQ(read("site.key"), before);

  write("other.pub", "keep me");
  r = ctl({"keygen", "--out", "other"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("other.pub: exists"));
  EXPECT_FALSE(stdfs::exists(path("other.key"))) << "a refused keygen must leave nothing behind";
  EXPECT_EQ(read("other.pub"), "keep me");
}

TEST_F(FerryctlTest, KeygenUsageErrors) {
  EXPECT_EQ(ctl({"keygen"}).exit_code, 2);
  auto r = ctl({"keygen", "--out", "no/such/dir/k"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("No such file or directory"));
}

TEST_F(FerryctlTest, DigestMatchesGmt0004VectorsLikeSha256sum) {
  write("abc", "abc");
  write("empty", "");
  auto r = ctl({"digest", "abc", "empty"});
  EXPECT_EQ(r.exit_code, 0);
  // GM/T 0004-2012 Appendix A.1; the empty string from vectors.md §1.1.
  EXPECT_EQ(r.out,
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0  abc\n"
            "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b  empty\n");
}

TEST_F(FerryctlTest, DigestReadsStdinForDash) {
  auto r = ctl({"digest", "-"}, "abc");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0  -\n");
}

TEST_F(FerryctlTest, DigestReportsUnreadableFileAndContinues) {
  write("abc", "abc");
  auto r = ctl({"digest", "missing", "abc", "."});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("ferryctl digest: missing: No such file or directory"));
  EXPECT_THAT(r.err, HasSubstr("ferryctl digest: .: Is a directory"));
  EXPECT_EQ(r.out, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0  abc\n");
}

TEST_F(FerryctlTest, DigestEscapesNewlinesInNamesAsSha256sumDoes) {
  write("a\nb", "abc");
  auto r = ctl({"digest", "a\nb"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "\\66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0  a\\nb\n");
}

TEST_F(FerryctlTest, DigestStreamsAFileLargerThanItsMemoryLimit) {
  // A 512 MiB sparse file digested by a process limited to 128 MiB of address
  // space: only a streaming digest can do it.
  constexpr off_t kSize = off_t{512} << 20;
  {
    int fd = ::open(path("big").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, kSize), 0);
    ASSERT_EQ(::pwrite(fd, "end", 3, kSize - 3), 3);
    ::close(fd);
  }
  ferry::crypto::Sm3 sm3;
  std::vector<std::uint8_t> zeros(1 << 20, 0);
  for (off_t done = 0; done < kSize - (1 << 20); done += 1 << 20) sm3.update(zeros);
  std::vector<std::uint8_t> tail((1 << 20) - 3, 0);
  sm3.update(tail);
  sm3.update(ferry::crypto::as_bytes("end"));
  const std::string expected = ferry::crypto::to_hex(sm3.finish());

  ferry::test::ProcessOptions opts;
  opts.working_directory = dir_;
  opts.timeout = std::chrono::seconds(120);
  auto r = ferry::test::run_process({"prlimit", "--as=134217728", FERRYCTL_PATH, "digest", "big"}, opts);
  ASSERT_EQ(r.exit_code, 0) << r.describe() << r.err;
  EXPECT_EQ(r.out, expected + "  big\n");
}

TEST_F(FerryctlTest, SignThenVerify) {
  keygen("officer");
  write("policy.yaml", "schema: ferry-policy/1\n");
  auto r = ctl({"sign", "--key", "officer.key", "policy.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "wrote policy.yaml.sig\n");
  r = ctl({"verify", "--pub", "officer.pub", "--sig", "policy.yaml.sig", "policy.yaml"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("signature valid"));
}

TEST_F(FerryctlTest, VerifyRejectsTamperedFileOtherKeyAndOtherId) {
  keygen("a");
  keygen("b");
  write("doc", "the exact bytes");
  ASSERT_EQ(ctl({"sign", "--key", "a.key", "doc"}).exit_code, 0);

  EXPECT_EQ(ctl({"verify", "--pub", "b.pub", "--sig", "doc.sig", "doc"}).exit_code, 1);
  EXPECT_EQ(ctl({"verify", "--pub", "a.pub", "--sig", "doc.sig", "--id", "ALICE123@YAHOO.COM", "doc"}).exit_code, 1);
  write("doc", "the exact bytes.");
  auto r = ctl({"verify", "--pub", "a.pub", "--sig", "doc.sig", "doc"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("signature INVALID"));
}

TEST_F(FerryctlTest, CustomIdMustMatchOnBothSides) {
  keygen("a");
  write("doc", "x");
  ASSERT_EQ(ctl({"sign", "--key", "a.key", "--id", "secadmin@county.gov.cn", "doc"}).exit_code, 0);
  EXPECT_EQ(ctl({"verify", "--pub", "a.pub", "--sig", "doc.sig", "--id", "secadmin@county.gov.cn", "doc"}).exit_code,
            0);
  EXPECT_EQ(ctl({"verify", "--pub", "a.pub", "--sig", "doc.sig", "doc"}).exit_code, 1);
}

TEST_F(FerryctlTest, SignaturesInteroperateWithOpensslPkeyutl) {
  keygen("a");
  write("doc", "interop both ways");
  ASSERT_EQ(ctl({"sign", "--key", "a.key", "doc"}).exit_code, 0);
  ferry::test::ProcessOptions opts;
  opts.working_directory = dir_;
  auto r = ferry::test::run_process({"openssl", "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey",
                                     "a.pub", "-in", "doc", "-sigfile", "doc.sig", "-pkeyopt",
                                     "distid:1234567812345678"},
                                    opts);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  r = ferry::test::run_process({"openssl", "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", "a.key", "-in",
                                "doc", "-out", "doc.osig", "-pkeyopt", "distid:1234567812345678"},
                               opts);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ctl({"verify", "--pub", "a.pub", "--sig", "doc.osig", "doc"}).exit_code, 0);
}

TEST_F(FerryctlTest, WrongKeyTypesAreNamed) {
  write("doc", "x");
  write_foreign_key("rsa.key", "RSA", 2048);
  auto r = ctl({"sign", "--key", "rsa.key", "doc"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ferryctl sign: rsa.key: expected an SM2 key (curve sm2p256v1), got an RSA key\n");

  write_foreign_key("p256.key", "EC", 0);
  r = ctl({"sign", "--key", "p256.key", "doc"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("got an EC key on curve prime256v1"));
}

TEST_F(FerryctlTest, MalformedAndMisplacedKeysAreUsageErrors) {
  keygen("a");
  write("doc", "x");
  write("junk.key", "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n", 0600);
  auto r = ctl({"sign", "--key", "junk.key", "doc"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "ferryctl sign: junk.key: not a PEM private key (expected BEGIN PRIVATE KEY)\n");

  ASSERT_EQ(::chmod(path("a.pub").c_str(), 0600), 0);
  r = ctl({"sign", "--key", "a.pub", "doc"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("this is a public key"));

  ASSERT_EQ(ctl({"sign", "--key", "a.key", "doc"}).exit_code, 0);
  r = ctl({"verify", "--pub", "a.key", "--sig", "doc.sig", "doc"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("this is a private key"));
}

TEST_F(FerryctlTest, PrivateKeyReadableByOthersIsRefused) {
  keygen("a");
  write("doc", "x");
  ASSERT_EQ(::chmod(path("a.key").c_str(), 0644), 0);
  auto r = ctl({"sign", "--key", "a.key", "doc"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("a.key: private key permissions 0644 are too open"));
}

TEST_F(FerryctlTest, VerifyInputErrorsExit2NotInvalid) {
  keygen("a");
  write("doc", "x");
  ASSERT_EQ(ctl({"sign", "--key", "a.key", "doc"}).exit_code, 0);
  EXPECT_EQ(ctl({"verify", "--pub", "a.pub", "--sig", "missing.sig", "doc"}).exit_code, 2);
  EXPECT_EQ(ctl({"verify", "--pub", "missing.pub", "--sig", "doc.sig", "doc"}).exit_code, 2);
  EXPECT_EQ(ctl({"verify", "--pub", "a.pub", "--sig", "doc.sig", "missing"}).exit_code, 2);
  EXPECT_EQ(ctl({"verify", "--pub", "a.pub", "doc"}).exit_code, 2);
  EXPECT_EQ(ctl({"verify", "--pub", "a.pub", "--sig", "doc.sig", "--id", "", "doc"}).exit_code, 2);
  EXPECT_EQ(ctl({"sign", "--key", "a.key"}).exit_code, 2);
  EXPECT_EQ(ctl({"sign", "--key", "a.key", "doc", "doc"}).exit_code, 2);
  // A garbage signature is a negative answer, not an input error.
  write("garbage.sig", "\x30\x02\x02\x00");
  EXPECT_EQ(ctl({"verify", "--pub", "a.pub", "--sig", "garbage.sig", "doc"}).exit_code, 1);
}

}  // namespace
