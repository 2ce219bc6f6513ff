// Interoperation of ferry_crypto with the `openssl` command line (OpenSSL
// 3.0), in both directions: what we produce the CLI must accept, and what the
// CLI produces we must accept. The CLI runs as a child process from an argv
// vector, in a fresh temporary directory per test.
//
// The `openssl` binary is a declared dependency of this test: when it is not
// on PATH every test fails with that message rather than being skipped.

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/bytes.h"
#include "crypto/seal.h"
#include "crypto/sm2.h"
#include "crypto/sm3.h"
#include "crypto/sm4.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_bytes.h"

namespace ferry::crypto {
namespace {

using ::testing::HasSubstr;

// Every random input comes from this seed, so a failure reproduces exactly.
constexpr std::uint64_t kSeed = 0x5eed'f0e7'2024'0001;

using ferry::test::random_array;
using ferry::test::random_bytes;

Bytes concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes u32be(std::uint32_t v) {
  return {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>(v >> 8),
          static_cast<std::uint8_t>(v)};
}

Bytes u64be(std::uint64_t v) {
  Bytes out(8);
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
  return out;
}

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }
std::string string_of(ByteView b) { return std::string(b.begin(), b.end()); }

// `openssl pkey -text` prints a value as its label on a line of its own
// ("priv:", "pub:") followed by indented lines of colon-separated hex bytes.
std::string labeled_hex(const std::string& text, std::string_view label) {
  std::istringstream in(text);
  std::string line, hex;
  bool inside = false;
  while (std::getline(in, line)) {
    if (inside) {
      if (line.empty() || line[0] != ' ') break;
      for (char c : line) {
        if (std::isxdigit(static_cast<unsigned char>(c))) hex += c;
      }
    } else if (line == std::string(label) + ":") {
      inside = true;
    }
  }
  return hex;
}

class OpensslCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<std::string> found = test::find_on_path("openssl");
    const char* path = std::getenv("PATH");
    ASSERT_TRUE(found.has_value())
        << "the `openssl` command is not on PATH (PATH=" << (path != nullptr ? path : "<unset>")
        << "). It is a declared dependency of the interop tests: install it (Debian: apt-get install openssl).";
    openssl_ = *found;

    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ferry-interop-XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr) << "mkdtemp(" << templ << "): " << std::strerror(errno);
    dir_ = templ;
  }

  void TearDown() override {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    EXPECT_FALSE(ec) << "could not remove " << dir_ << ": " << ec.message();
  }

  std::string file(std::string_view name) const { return dir_ + "/" + std::string(name); }

  // 0600 for every file: some of them hold private keys.
  void write_file(std::string_view name, ByteView data) {
    const std::string p = file(name);
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << "open " << p << ": " << std::strerror(errno);
    std::size_t done = 0;
    int write_errno = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        write_errno = errno;
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    ASSERT_EQ(done, data.size()) << "write " << p << ": " << std::strerror(write_errno);
  }
  void write_file(std::string_view name, std::string_view text) { write_file(name, as_bytes(text)); }

  std::string read_file(std::string_view name) const {
    std::ifstream in(file(name), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  test::ProcessOutcome openssl(const std::vector<std::string>& args, ByteView input = {}) {
    std::vector<std::string> argv{openssl_};
    argv.insert(argv.end(), args.begin(), args.end());
    test::ProcessOptions options;
    options.stdin_bytes = input;
    options.working_directory = dir_;
    return test::run_process(argv, options);
  }

  // The CLI's stdout, recording a test failure (with the command and its
  // stderr) when it does not exit 0.
  std::string openssl_ok(const std::vector<std::string>& args, ByteView input = {}) {
    test::ProcessOutcome r = openssl(args, input);
    if (!r.succeeded()) {
      std::string cmd = "openssl";
      for (const std::string& a : args) cmd += " " + a;
      ADD_FAILURE() << cmd << ": " << r.describe() << "\nstderr: " << r.err;
    }
    return r.out;
  }
  Bytes openssl_ok_bytes(const std::vector<std::string>& args, ByteView input = {}) {
    return bytes_of(openssl_ok(args, input));
  }

  std::string openssl_;
  std::string dir_;
};

// ---------------------------------------------------------------- SM3, HMAC-SM3

TEST_F(OpensslCli, Sm3DigestMatchesCliAcrossPaddingBoundaries) {
  std::mt19937_64 rng(kSeed);
  // 55 and 56 bytes: the last length at which the 0x80 || length padding fits
  // one block, and the first that needs a second (GM/T 0004 §5.2).
  for (std::size_t n : {0u, 1u, 55u, 56u, 63u, 64u, 65u, 1000u, 1u << 20}) {
    SCOPED_TRACE("length " + std::to_string(n));
    const Bytes data = random_bytes(rng, n);
    EXPECT_EQ(to_hex(openssl_ok_bytes({"dgst", "-sm3", "-binary"}, data)), to_hex(Sm3::digest(data)));
  }
}

TEST_F(OpensslCli, Sm3DefaultTextOutputOfAFileMatches) {
  std::mt19937_64 rng(kSeed + 1);
  const Bytes data = random_bytes(rng, 4097);
  write_file("data.bin", data);
  EXPECT_EQ(openssl_ok({"dgst", "-sm3", file("data.bin")}),
            "SM3(" + file("data.bin") + ")= " + to_hex(Sm3::digest(data)) + "\n");
}

TEST_F(OpensslCli, HmacSm3MatchesCliForKeysAroundTheBlockSize) {
  std::mt19937_64 rng(kSeed + 2);
  // Keys longer than the 64-byte block are hashed first (RFC 2104 §2); an
  // empty key is legal and is all zero padding.
  for (std::size_t key_len : {0u, 1u, 16u, 32u, 64u, 65u, 100u}) {
    const Bytes key = random_bytes(rng, key_len);
    // One HmacSm3 for all messages: finish() must re-arm the same key.
    HmacSm3 ours(key);
    for (std::size_t n : {0u, 1u, 64u, 1000u}) {
      SCOPED_TRACE("key " + std::to_string(key_len) + " bytes, message " + std::to_string(n) + " bytes");
      const Bytes msg = random_bytes(rng, n);
      ours.update(msg);
      const Sm3Digest mac = ours.finish();
      // `-macopt hexkey:` refuses an empty value on 3.0.19; `-hmac ""` takes it.
      const Bytes cli =
          key.empty()
              ? openssl_ok_bytes({"dgst", "-sm3", "-hmac", "", "-binary"}, msg)
              : openssl_ok_bytes({"dgst", "-sm3", "-mac", "HMAC", "-macopt", "hexkey:" + to_hex(key), "-binary"}, msg);
      EXPECT_EQ(to_hex(cli), to_hex(mac));
      EXPECT_EQ(to_hex(HmacSm3::mac(key, msg)), to_hex(mac));
    }
  }
}

// ---------------------------------------------------------------- SM4-CTR

const std::size_t kCipherLengths[] = {0, 1, 15, 16, 17, 31, 32, 33, 255, 4101, 100000};

TEST_F(OpensslCli, Sm4CtrWeEncryptCliDecrypts) {
  std::mt19937_64 rng(kSeed + 3);
  const Sm4Key key = random_array<kSm4KeySize>(rng);
  const Sm4Block iv = random_array<kSm4BlockSize>(rng);
  Sm4Ctr ctr(key, iv);
  for (std::size_t n : kCipherLengths) {
    SCOPED_TRACE("length " + std::to_string(n));
    const Bytes pt = random_bytes(rng, n);
    Bytes ct(n);
    ctr.reset(iv);
    ctr.apply(pt, ct);
    const Bytes back = openssl_ok_bytes({"enc", "-d", "-sm4-ctr", "-K", to_hex(key), "-iv", to_hex(iv)}, ct);
    EXPECT_EQ(to_hex(back), to_hex(pt));
  }
}

TEST_F(OpensslCli, Sm4CtrCliEncryptsWeDecrypt) {
  std::mt19937_64 rng(kSeed + 4);
  const Sm4Key key = random_array<kSm4KeySize>(rng);
  const Sm4Block iv = random_array<kSm4BlockSize>(rng);
  Sm4Ctr ctr(key, iv);
  for (std::size_t n : kCipherLengths) {
    SCOPED_TRACE("length " + std::to_string(n));
    const Bytes pt = random_bytes(rng, n);
    const Bytes ct = openssl_ok_bytes({"enc", "-sm4-ctr", "-K", to_hex(key), "-iv", to_hex(iv)}, pt);
    ASSERT_EQ(ct.size(), n);
    // In two pieces split off a block boundary: apply() must continue the
    // keystream mid-block, as one CLI run does.
    Bytes back(n);
    const std::size_t split = n / 3;
    ctr.reset(iv);
    ctr.apply(ByteView(ct).first(split), MutableByteView(back).first(split));
    ctr.apply(ByteView(ct).subspan(split), MutableByteView(back).subspan(split));
    EXPECT_EQ(to_hex(back), to_hex(pt));
  }
}

TEST_F(OpensslCli, Sm4CtrCounterCarriesAcross64BitsLikeCli) {
  // SP 800-38A counter: the whole block is one 128-bit big-endian number, so
  // ...ffffffff ffffffff + 1 carries into the upper half.
  Sm4Key key{};
  key[0] = 0x42;
  const Sm4Block iv = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
  const Bytes zeros(5 * kSm4BlockSize, 0);
  Bytes ours(zeros.size());
  Sm4Ctr ctr(key, iv);
  ctr.apply(zeros, ours);
  EXPECT_EQ(to_hex(openssl_ok_bytes({"enc", "-sm4-ctr", "-K", to_hex(key), "-iv", to_hex(iv)}, zeros)), to_hex(ours));
}

// ---------------------------------------------------------------- SM4-CBC

TEST_F(OpensslCli, Sm4CbcWeEncryptCliDecrypts) {
  std::mt19937_64 rng(kSeed + 5);
  const Sm4Key key = random_array<kSm4KeySize>(rng);
  const Sm4Block iv = random_array<kSm4BlockSize>(rng);
  for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 32u, 33u, 1000u, 4096u}) {
    SCOPED_TRACE("length " + std::to_string(n));
    const Bytes pt = random_bytes(rng, n);
    const Bytes ct = sm4_cbc_encrypt(key, iv, pt);
    // PKCS#7 always pads: a full block of 0x10 after a multiple of 16.
    EXPECT_EQ(ct.size(), (n / kSm4BlockSize + 1) * kSm4BlockSize);
    const Bytes back = openssl_ok_bytes({"enc", "-d", "-sm4-cbc", "-K", to_hex(key), "-iv", to_hex(iv)}, ct);
    EXPECT_EQ(to_hex(back), to_hex(pt));
  }
}

TEST_F(OpensslCli, Sm4CbcCliEncryptsWeDecrypt) {
  std::mt19937_64 rng(kSeed + 6);
  const Sm4Key key = random_array<kSm4KeySize>(rng);
  const Sm4Block iv = random_array<kSm4BlockSize>(rng);
  for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 32u, 33u, 1000u, 4096u}) {
    SCOPED_TRACE("length " + std::to_string(n));
    const Bytes pt = random_bytes(rng, n);
    const Bytes ct = openssl_ok_bytes({"enc", "-sm4-cbc", "-K", to_hex(key), "-iv", to_hex(iv)}, pt);
    // CBC is deterministic: the same key, IV and padding give the same bytes.
    EXPECT_EQ(to_hex(ct), to_hex(sm4_cbc_encrypt(key, iv, pt)));
    Result<Bytes> back = sm4_cbc_decrypt(key, iv, ct);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(to_hex(*back), to_hex(pt));
  }
}

// ---------------------------------------------------------------- SM2 keys

class OpensslCliSm2 : public OpensslCli {
 protected:
  // Checks that the CLI sees the same scalar and point in a private key file
  // as we do, and that it names the curve SM2.
  void expect_cli_reads_key(std::string_view name, const Sm2PrivateKey& key) {
    const std::string text = openssl_ok({"pkey", "-in", file(name), "-noout", "-text"});
    EXPECT_THAT(text, HasSubstr("Private-Key: (256 bit)"));
    EXPECT_THAT(text, HasSubstr("ASN1 OID: SM2"));
    EXPECT_EQ(labeled_hex(text, "priv"), to_hex(key.scalar().view()));
    EXPECT_EQ(labeled_hex(text, "pub"), to_hex(key.public_key().point()));
  }

  // Helpers that make a key record why they could not, and return nothing;
  // the test then stops on ASSERT_TRUE(key).
  std::optional<Sm2PrivateKey> generate_ours() {
    Result<Sm2PrivateKey> key = Sm2PrivateKey::generate();
    if (!key.ok()) {
      ADD_FAILURE() << "Sm2PrivateKey::generate: " << key.error().message;
      return std::nullopt;
    }
    return std::move(key).value();
  }

  // Writes key.pem (ours, PKCS#8) and pub.pem (ours, SPKI).
  std::optional<Sm2PrivateKey> ours_to_files() {
    std::optional<Sm2PrivateKey> key = generate_ours();
    if (key) {
      write_file("key.pem", key->to_pem().view());
      write_file("pub.pem", key->public_key().to_pem());
    }
    return key;
  }

  // Makes key.pem and pub.pem with the CLI and loads the key with our code.
  std::optional<Sm2PrivateKey> cli_to_files() {
    openssl_ok({"genpkey", "-algorithm", "SM2", "-out", file("key.pem")});
    openssl_ok({"pkey", "-in", file("key.pem"), "-pubout", "-out", file("pub.pem")});
    Result<Sm2PrivateKey> key = Sm2PrivateKey::from_pem(read_file("key.pem"));
    if (!key.ok()) {
      ADD_FAILURE() << "from_pem of `openssl genpkey -algorithm SM2`: " << key.error().message;
      return std::nullopt;
    }
    return std::move(key).value();
  }
};

TEST_F(OpensslCliSm2, OurPrivateKeyPemIsReadByCli) {
  const std::optional<Sm2PrivateKey> key = ours_to_files();
  ASSERT_TRUE(key);
  expect_cli_reads_key("key.pem", *key);
  // PKCS#8 AlgorithmIdentifier: id-ecPublicKey with the named curve sm2
  // (1.2.156.10197.1.301), as `openssl genpkey -algorithm SM2` writes it.
  const std::string asn1 = openssl_ok({"asn1parse", "-in", file("key.pem")});
  EXPECT_THAT(asn1, HasSubstr(":id-ecPublicKey"));
  EXPECT_THAT(asn1, HasSubstr(":sm2"));
}

TEST_F(OpensslCliSm2, CliPuboutOfOurKeyIsExactlyOurPublicPem) {
  const std::optional<Sm2PrivateKey> key = ours_to_files();
  ASSERT_TRUE(key);
  EXPECT_EQ(openssl_ok({"pkey", "-in", file("key.pem"), "-pubout"}), key->public_key().to_pem());
  const std::string text = openssl_ok({"pkey", "-pubin", "-in", file("pub.pem"), "-noout", "-text"});
  EXPECT_THAT(text, HasSubstr("ASN1 OID: SM2"));
  EXPECT_EQ(labeled_hex(text, "pub"), to_hex(key->public_key().point()));
}

TEST_F(OpensslCliSm2, GenpkeyKeyLoads) {
  const std::optional<Sm2PrivateKey> key = cli_to_files();
  ASSERT_TRUE(key);
  expect_cli_reads_key("key.pem", *key);
  const std::string cli_pub = read_file("pub.pem");
  EXPECT_EQ(key->public_key().to_pem(), cli_pub);
  Result<Sm2PublicKey> pub = Sm2PublicKey::from_pem(cli_pub);
  ASSERT_TRUE(pub.ok()) << pub.error().message;
  EXPECT_EQ(to_hex(pub->point()), to_hex(key->public_key().point()));
}

TEST_F(OpensslCliSm2, EcparamGenkeyKeyLoads) {
  // By default the file starts with an "SM2 PARAMETERS" block before the key.
  openssl_ok({"ecparam", "-genkey", "-name", "SM2", "-out", file("with-params.pem")});
  openssl_ok({"ecparam", "-genkey", "-name", "SM2", "-noout", "-out", file("key-only.pem")});
  for (const char* name : {"with-params.pem", "key-only.pem"}) {
    SCOPED_TRACE(name);
    Result<Sm2PrivateKey> key = Sm2PrivateKey::from_pem(read_file(name));
    ASSERT_TRUE(key.ok()) << key.error().message << "\n" << read_file(name);
    expect_cli_reads_key(name, *key);
    EXPECT_EQ(openssl_ok({"pkey", "-in", file(name), "-pubout"}), key->public_key().to_pem());
  }
}

TEST_F(OpensslCliSm2, Sec1KeyFromCliLoads) {
  // `openssl ec` writes SEC1 (RFC 5915). OpenSSL 3.0 labels it "SM2 PRIVATE
  // KEY"; OpenSSL 1.1.1 (where SM2 keys were EC keys) wrote the same DER as
  // "EC PRIVATE KEY", which is the label from_pem documents.
  openssl_ok({"ecparam", "-genkey", "-name", "SM2", "-noout", "-out", file("pkcs8.pem")});
  openssl_ok({"ec", "-in", file("pkcs8.pem"), "-out", file("sec1.pem")});
  const std::string sec1 = read_file("sec1.pem");
  ASSERT_THAT(sec1, HasSubstr("-----BEGIN SM2 PRIVATE KEY-----"));
  std::string ec_label = sec1;
  for (std::size_t at; (at = ec_label.find("SM2 PRIVATE KEY")) != std::string::npos;) {
    ec_label.replace(at, 3, "EC");
  }
  write_file("sec1-ec-label.pem", ec_label);
  for (const char* name : {"sec1.pem", "sec1-ec-label.pem"}) {
    SCOPED_TRACE(name);
    Result<Sm2PrivateKey> key = Sm2PrivateKey::from_pem(read_file(name));
    ASSERT_TRUE(key.ok()) << key.error().message << "\n" << read_file(name);
    expect_cli_reads_key(name, *key);
  }
}

// ---------------------------------------------------------------- SM2 signatures
//
// The CLI forms that work on OpenSSL 3.0.19 (checked on Debian 12):
//   sign:   openssl pkeyutl -sign -rawin -digest sm3 -inkey key.pem
//                   -pkeyopt distid:1234567812345678 -in msg -out sig
//   verify: openssl pkeyutl -verify -rawin -digest sm3 -pubin -inkey pub.pem
//                   -pkeyopt distid:1234567812345678 -in msg -sigfile sig
//   also:   openssl dgst -sm3 -verify pub.pem -sigopt distid:1234567812345678 -signature sig msg
// -rawin is required: without it pkeyutl treats the input as a finished digest
// and refuses the distid option. pkeyutl and dgst in 3.0 have no -vfyopt (that
// is an option of req/x509/ca); -pkeyopt / -sigopt set the ID on both sides.
// Without distid, OpenSSL 3.0 uses an EMPTY ID, not GM/T 0009's default: the
// CLI then neither verifies standard signatures nor makes them (tests below).

const std::string kDefaultDistid = "distid:" + std::string(kSm2DefaultId);

std::vector<std::string> sign_args(const std::string& key, const std::string& msg, const std::string& sig,
                                   const std::string& id_opt) {
  std::vector<std::string> a{"pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", key, "-in", msg, "-out", sig};
  if (!id_opt.empty()) a.insert(a.end(), {"-pkeyopt", id_opt});
  return a;
}

std::vector<std::string> verify_args(const std::string& pub, const std::string& msg, const std::string& sig,
                                     const std::string& id_opt) {
  std::vector<std::string> a{"pkeyutl", "-verify", "-rawin", "-digest", "sm3",      "-pubin",
                             "-inkey",  pub,       "-in",    msg,       "-sigfile", sig};
  if (!id_opt.empty()) a.insert(a.end(), {"-pkeyopt", id_opt});
  return a;
}

TEST_F(OpensslCliSm2, CompressedPublicKeyFromCliLoads) {
  // GM/T 0003.1 §4.2.9 allows the compressed form; `openssl ec -conv_form
  // compressed` writes it in the SubjectPublicKeyInfo.
  const std::optional<Sm2PrivateKey> key = cli_to_files();
  ASSERT_TRUE(key);
  openssl_ok({"ec", "-in", file("key.pem"), "-pubout", "-conv_form", "compressed", "-out", file("compressed.pem")});
  Result<Sm2PublicKey> pub = Sm2PublicKey::from_pem(read_file("compressed.pem"));
  ASSERT_TRUE(pub.ok()) << pub.error().message;
  EXPECT_EQ(to_hex(pub->point()), to_hex(key->public_key().point()));
  const Bytes msg = bytes_of("ferry compressed key");
  write_file("msg", msg);
  openssl_ok(sign_args(file("key.pem"), file("msg"), file("sig"), kDefaultDistid));
  EXPECT_TRUE(sm2_verify(*pub, msg, bytes_of(read_file("sig"))));
}

TEST_F(OpensslCliSm2, OtherKeysFromCliAreRefusedByName) {
  openssl_ok({"ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", file("p256.pem")});
  openssl_ok({"genpkey", "-algorithm", "ED25519", "-out", file("ed25519.pem")});
  openssl_ok({"pkey", "-in", file("p256.pem"), "-pubout", "-out", file("p256-pub.pem")});
  for (const auto& [name, expected] : {std::pair{"p256.pem", "prime256v1"}, std::pair{"ed25519.pem", "ED25519"}}) {
    SCOPED_TRACE(name);
    Result<Sm2PrivateKey> key = Sm2PrivateKey::from_pem(read_file(name));
    ASSERT_FALSE(key.ok());
    EXPECT_EQ(key.error().code, Errc::bad_key);
    EXPECT_THAT(key.error().message, HasSubstr(expected));
  }
  Result<Sm2PublicKey> pub = Sm2PublicKey::from_pem(read_file("p256-pub.pem"));
  ASSERT_FALSE(pub.ok());
  EXPECT_EQ(pub.error().code, Errc::bad_key);
  EXPECT_THAT(pub.error().message, HasSubstr("prime256v1"));
}

TEST_F(OpensslCliSm2, WeSignCliVerifiesWithDefaultId) {
  const std::optional<Sm2PrivateKey> key = ours_to_files();
  ASSERT_TRUE(key);
  std::mt19937_64 rng(kSeed + 7);
  for (std::size_t n : {0u, 32u, 1000u}) {
    SCOPED_TRACE("message " + std::to_string(n) + " bytes");
    const Bytes msg = random_bytes(rng, n);
    Result<Bytes> sig = sm2_sign(*key, msg);
    ASSERT_TRUE(sig.ok()) << sig.error().message;
    write_file("msg", msg);
    write_file("sig", *sig);
    EXPECT_THAT(openssl_ok(verify_args(file("pub.pem"), file("msg"), file("sig"), kDefaultDistid)),
                HasSubstr("Signature Verified Successfully"));
    EXPECT_THAT(openssl_ok({"dgst", "-sm3", "-verify", file("pub.pem"), "-sigopt", kDefaultDistid, "-signature",
                            file("sig"), file("msg")}),
                HasSubstr("Verified OK"));
  }
}

TEST_F(OpensslCliSm2, CliWithoutDistidRejectsOurSignature) {
  // The pitfall: OpenSSL 3.0 with no distid hashes Z over an empty ID, so a
  // signature made with GM/T 0009's default ID does not verify. A deployment
  // that forgets -pkeyopt distid: sees "Signature Verification Failure" for
  // every correct signature.
  const std::optional<Sm2PrivateKey> key = ours_to_files();
  ASSERT_TRUE(key);
  const Bytes msg = bytes_of("message digest");
  Result<Bytes> sig = sm2_sign(*key, msg);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  write_file("msg", msg);
  write_file("sig", *sig);
  const test::ProcessOutcome r = openssl(verify_args(file("pub.pem"), file("msg"), file("sig"), ""));
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_FALSE(r.succeeded()) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Signature Verification Failure"));
}

TEST_F(OpensslCliSm2, CliSignsWeVerifyWithDefaultId) {
  const std::optional<Sm2PrivateKey> key = cli_to_files();
  ASSERT_TRUE(key);
  Result<Sm2PublicKey> pub = Sm2PublicKey::from_pem(read_file("pub.pem"));
  ASSERT_TRUE(pub.ok()) << pub.error().message;
  std::mt19937_64 rng(kSeed + 8);
  for (std::size_t n : {0u, 32u, 1000u}) {
    SCOPED_TRACE("message " + std::to_string(n) + " bytes");
    const Bytes msg = random_bytes(rng, n);
    write_file("msg", msg);
    openssl_ok(sign_args(file("key.pem"), file("msg"), file("sig"), kDefaultDistid));
    const Bytes sig = bytes_of(read_file("sig"));
    EXPECT_TRUE(sm2_verify(*pub, msg, sig));
    EXPECT_TRUE(sm2_verify(key->public_key(), msg, sig, kSm2DefaultId));
  }
}

TEST_F(OpensslCliSm2, CliSignsWithoutDistidWeReject) {
  // The same pitfall from the other side: the CLI's signature without distid
  // is over the empty ID; it verifies only against the CLI's own default.
  const std::optional<Sm2PrivateKey> key = cli_to_files();
  ASSERT_TRUE(key);
  const Bytes msg = bytes_of("message digest");
  write_file("msg", msg);
  openssl_ok(sign_args(file("key.pem"), file("msg"), file("sig"), ""));
  const Bytes sig = bytes_of(read_file("sig"));
  EXPECT_FALSE(sm2_verify(key->public_key(), msg, sig));
  EXPECT_THAT(openssl_ok(verify_args(file("pub.pem"), file("msg"), file("sig"), "")),
              HasSubstr("Signature Verified Successfully"));
  const test::ProcessOutcome with_default =
      openssl(verify_args(file("pub.pem"), file("msg"), file("sig"), kDefaultDistid));
  EXPECT_FALSE(with_default.succeeded()) << with_default.out;
}

struct CustomId {
  std::string id;      // the bytes of the ID
  std::string option;  // how the CLI is told
};

std::vector<CustomId> custom_ids() {
  return {
      {"ALICE123@YAHOO.COM", "distid:ALICE123@YAHOO.COM"},            // GM/T 0003.2 Annex A
      {"TLSv1.3+GM+Cipher+Suite", "distid:TLSv1.3+GM+Cipher+Suite"},  // RFC 8998 §3.2.1
      {std::string("\x00\xff"
                   "A b",
                   5),
       "hexdistid:00ff412062"},  // binary, with a NUL
  };
}

TEST_F(OpensslCliSm2, CustomIdWeSignCliVerifies) {
  const std::optional<Sm2PrivateKey> key = ours_to_files();
  ASSERT_TRUE(key);
  const Bytes msg = bytes_of("ferry custom ID");
  write_file("msg", msg);
  for (const CustomId& c : custom_ids()) {
    SCOPED_TRACE(c.option);
    Result<Bytes> sig = sm2_sign(*key, msg, c.id);
    ASSERT_TRUE(sig.ok()) << sig.error().message;
    write_file("sig", *sig);
    EXPECT_THAT(openssl_ok(verify_args(file("pub.pem"), file("msg"), file("sig"), c.option)),
                HasSubstr("Signature Verified Successfully"));
  }
}

TEST_F(OpensslCliSm2, CustomIdCliSignsWeVerify) {
  const std::optional<Sm2PrivateKey> key = cli_to_files();
  ASSERT_TRUE(key);
  const Bytes msg = bytes_of("ferry custom ID");
  write_file("msg", msg);
  for (const CustomId& c : custom_ids()) {
    SCOPED_TRACE(c.option);
    openssl_ok(sign_args(file("key.pem"), file("msg"), file("sig"), c.option));
    EXPECT_TRUE(sm2_verify(key->public_key(), msg, bytes_of(read_file("sig")), c.id));
  }
}

TEST_F(OpensslCliSm2, LongestIdOpensslTakesWorksBothWays) {
  // ENTL is the ID's length in bits in two bytes (GM/T 0003.2 §5.5), so the
  // standard allows up to 8191 bytes and so do we; OpenSSL 3.0 refuses an ID
  // of 8191 bytes or more (sm2_sign.c: id_len >= UINT16_MAX / 8), so 8190 is
  // the longest that interoperates with it.
  const std::optional<Sm2PrivateKey> key = ours_to_files();
  ASSERT_TRUE(key);
  std::mt19937_64 rng(kSeed + 13);
  const Bytes id_bytes = random_bytes(rng, 8190);
  const std::string id = string_of(id_bytes);
  const std::string option = "hexdistid:" + to_hex(id_bytes);
  const Bytes msg = bytes_of("ferry long ID");
  write_file("msg", msg);

  Result<Bytes> ours = sm2_sign(*key, msg, id);
  ASSERT_TRUE(ours.ok()) << ours.error().message;
  write_file("ours.sig", *ours);
  EXPECT_THAT(openssl_ok(verify_args(file("pub.pem"), file("msg"), file("ours.sig"), option)),
              HasSubstr("Signature Verified Successfully"));

  openssl_ok(sign_args(file("key.pem"), file("msg"), file("cli.sig"), option));
  EXPECT_TRUE(sm2_verify(key->public_key(), msg, bytes_of(read_file("cli.sig")), id));
}

TEST_F(OpensslCliSm2, MismatchedIdIsRejectedBothWays) {
  const std::optional<Sm2PrivateKey> key = ours_to_files();
  ASSERT_TRUE(key);
  const Bytes msg = bytes_of("ferry mismatched ID");
  write_file("msg", msg);

  Result<Bytes> ours = sm2_sign(*key, msg, "ALICE123@YAHOO.COM");
  ASSERT_TRUE(ours.ok()) << ours.error().message;
  write_file("ours.sig", *ours);
  const test::ProcessOutcome r = openssl(verify_args(file("pub.pem"), file("msg"), file("ours.sig"), kDefaultDistid));
  ASSERT_TRUE(r.started) << r.error;
  EXPECT_FALSE(r.succeeded());
  EXPECT_THAT(r.out, HasSubstr("Signature Verification Failure"));

  openssl_ok(sign_args(file("key.pem"), file("msg"), file("cli.sig"), "distid:ALICE123@YAHOO.COM"));
  const Bytes cli = bytes_of(read_file("cli.sig"));
  EXPECT_FALSE(sm2_verify(key->public_key(), msg, cli));
  EXPECT_FALSE(sm2_verify(key->public_key(), msg, cli, "ALICE123@YAHOO.CO"));
  EXPECT_TRUE(sm2_verify(key->public_key(), msg, cli, "ALICE123@YAHOO.COM"));  // the pair is otherwise good
}

TEST_F(OpensslCliSm2, ChangedMessageIsRejectedBothWays) {
  const std::optional<Sm2PrivateKey> key = ours_to_files();
  ASSERT_TRUE(key);
  const Bytes msg = bytes_of("ferry original message");
  Bytes changed = msg;
  changed.back() ^= 0x01;
  write_file("changed", changed);

  Result<Bytes> ours = sm2_sign(*key, msg);
  ASSERT_TRUE(ours.ok()) << ours.error().message;
  write_file("ours.sig", *ours);
  EXPECT_FALSE(openssl(verify_args(file("pub.pem"), file("changed"), file("ours.sig"), kDefaultDistid)).succeeded());

  write_file("msg", msg);
  openssl_ok(sign_args(file("key.pem"), file("msg"), file("cli.sig"), kDefaultDistid));
  EXPECT_FALSE(sm2_verify(key->public_key(), changed, bytes_of(read_file("cli.sig"))));
}

// ---------------------------------------------------------------- SM2 encryption

const std::size_t kSm2PlaintextLengths[] = {1, 19, 32, 1000, 10000};

TEST_F(OpensslCliSm2, WeEncryptCliDecrypts) {
  const std::optional<Sm2PrivateKey> key = ours_to_files();
  ASSERT_TRUE(key);
  std::mt19937_64 rng(kSeed + 9);
  for (std::size_t n : kSm2PlaintextLengths) {
    SCOPED_TRACE("plaintext " + std::to_string(n) + " bytes");
    const Bytes pt = random_bytes(rng, n);
    Result<Bytes> ct = sm2_encrypt(key->public_key(), pt);
    ASSERT_TRUE(ct.ok()) << ct.error().message;
    EXPECT_EQ(to_hex(openssl_ok_bytes({"pkeyutl", "-decrypt", "-inkey", file("key.pem")}, *ct)), to_hex(pt));
  }
}

TEST_F(OpensslCliSm2, OurCiphertextIsC1C3C2Der) {
  // GM/T 0009 §7.2 SM2Cipher: SEQUENCE { x INTEGER, y INTEGER, C3 OCTET STRING (32), C2 OCTET STRING }.
  const std::optional<Sm2PrivateKey> key = generate_ours();
  ASSERT_TRUE(key);
  const Bytes pt = bytes_of("encryption standard");
  Result<Bytes> ct = sm2_encrypt(key->public_key(), pt);
  ASSERT_TRUE(ct.ok()) << ct.error().message;
  write_file("ct.der", *ct);
  const std::string asn1 = openssl_ok({"asn1parse", "-inform", "DER", "-in", file("ct.der")});
  std::istringstream lines(asn1);
  std::vector<std::string> kinds;
  for (std::string line; std::getline(lines, line);) {
    for (const char* kind : {"SEQUENCE", "INTEGER", "OCTET STRING"}) {
      if (line.find(kind) != std::string::npos) kinds.emplace_back(kind);
    }
  }
  EXPECT_THAT(kinds, ::testing::ElementsAre("SEQUENCE", "INTEGER", "INTEGER", "OCTET STRING", "OCTET STRING")) << asn1;
  EXPECT_THAT(asn1, HasSubstr("l=  32 prim: OCTET STRING"));
  EXPECT_THAT(asn1, HasSubstr("l=  19 prim: OCTET STRING"));
}

TEST_F(OpensslCliSm2, CliEncryptsWeDecrypt) {
  const std::optional<Sm2PrivateKey> key = ours_to_files();
  ASSERT_TRUE(key);
  std::mt19937_64 rng(kSeed + 10);
  for (std::size_t n : kSm2PlaintextLengths) {
    SCOPED_TRACE("plaintext " + std::to_string(n) + " bytes");
    const Bytes pt = random_bytes(rng, n);
    const Bytes ct = openssl_ok_bytes({"pkeyutl", "-encrypt", "-pubin", "-inkey", file("pub.pem")}, pt);
    Result<Bytes> back = sm2_decrypt(*key, ct);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(to_hex(*back), to_hex(pt));
  }
}

TEST_F(OpensslCliSm2, CliEncryptsToCliKeyWeDecrypt) {
  const std::optional<Sm2PrivateKey> key = cli_to_files();
  ASSERT_TRUE(key);
  const Bytes pt = bytes_of("encryption standard");
  const Bytes ct = openssl_ok_bytes({"pkeyutl", "-encrypt", "-pubin", "-inkey", file("pub.pem")}, pt);
  Result<Bytes> back = sm2_decrypt(*key, ct);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(string_of(*back), "encryption standard");
}

// ---------------------------------------------------------------- the seal
//
// A box composed from scratch with the CLI, following the layout in
// crypto/seal.h (nothing of ours is used to make it):
//   keys  = SM3-KDF(secret || label): SM3(secret || label || u32be(1)) || SM3(... || u32be(2)) ...,
//           enc = first 16 bytes, mac = next 32 (GM/T 0003.4 §5.4.3)
//   nonce = u32be(sender) || u64be(box number, from 0)
//   ct    = openssl enc -sm4-ctr -K enc -iv nonce||00000000
//   tag   = openssl dgst -sm3 -mac HMAC -macopt hexkey:mac over
//           header || nonce || ct || u64be(len header) || u64be(len ct)
//   box   = nonce || ct || tag

class OpensslCliSeal : public OpensslCli {
 protected:
  struct CliKeys {
    Bytes enc, mac;
  };

  CliKeys cli_derive(ByteView secret, std::string_view label) {
    Bytes okm;
    for (std::uint32_t counter = 1; okm.size() < kSm4KeySize + kSm3DigestSize; ++counter) {
      const Bytes block =
          openssl_ok_bytes({"dgst", "-sm3", "-binary"}, concat({secret, as_bytes(label), u32be(counter)}));
      okm.insert(okm.end(), block.begin(), block.end());
    }
    return {Bytes(okm.begin(), okm.begin() + kSm4KeySize),
            Bytes(okm.begin() + kSm4KeySize, okm.begin() + kSm4KeySize + kSm3DigestSize)};
  }

  Bytes cli_tag(const CliKeys& keys, ByteView header, ByteView nonce, ByteView ct) {
    return openssl_ok_bytes({"dgst", "-sm3", "-mac", "HMAC", "-macopt", "hexkey:" + to_hex(keys.mac), "-binary"},
                            concat({header, nonce, ct, u64be(header.size()), u64be(ct.size())}));
  }

  Bytes cli_ctr(const CliKeys& keys, ByteView nonce, ByteView in) {
    const Bytes counter_block = concat({nonce, u32be(0)});
    return openssl_ok_bytes({"enc", "-sm4-ctr", "-K", to_hex(keys.enc), "-iv", to_hex(counter_block)}, in);
  }

  Bytes cli_seal(const CliKeys& keys, std::uint32_t sender, std::uint64_t box_number, ByteView header,
                 ByteView plaintext) {
    const Bytes nonce = concat({u32be(sender), u64be(box_number)});
    const Bytes ct = cli_ctr(keys, nonce, plaintext);
    return concat({nonce, ct, cli_tag(keys, header, nonce, ct)});
  }

  // nullopt when the tag does not match.
  std::optional<Bytes> cli_open(const CliKeys& keys, ByteView header, ByteView box) {
    if (box.size() < kSealOverhead) return std::nullopt;
    const ByteView nonce = box.first(kSealNonceSize);
    const ByteView ct = box.subspan(kSealNonceSize, box.size() - kSealOverhead);
    if (to_hex(cli_tag(keys, header, nonce, ct)) != to_hex(box.last(kSealTagSize))) return std::nullopt;
    return cli_ctr(keys, nonce, ct);
  }
};

TEST_F(OpensslCliSeal, KnownAnswerBoxComposedFromCli) {
  // The fixed box of crypto/src/selftest.cc seal_kat().
  constexpr std::string_view kExpected =
      "010203040000000000000000e038ae10f24d060a0ff208f084554dc502e8bbd99f7a3c48"
      "3b5470b0b45feaa812b867126de3e54507c510c2e8637832f0d6aa3b5dfaa40963a8e6a7"
      "b33fada51b9c16a937914367fa7e9c";
  Bytes secret(32);
  for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(i);
  const std::string_view label = "ferry seal KAT";
  const ByteView header = as_bytes("ferry header");
  const ByteView plaintext = as_bytes("The quick brown fox jumps over the lazy dog");

  const CliKeys cli_keys = cli_derive(secret, label);
  EXPECT_EQ(to_hex(cli_seal(cli_keys, 0x01020304, 0, header, plaintext)), kExpected);

  const SealKeys keys = SealKeys::derive(secret, label);
  EXPECT_EQ(to_hex(keys.enc), to_hex(cli_keys.enc));
  EXPECT_EQ(to_hex(keys.mac), to_hex(cli_keys.mac));
  Sealer sealer(keys, 0x01020304);
  Result<Bytes> box = sealer.seal(header, plaintext);
  ASSERT_TRUE(box.ok()) << box.error().message;
  EXPECT_EQ(to_hex(*box), kExpected);
}

TEST_F(OpensslCliSeal, RandomBoxesMatchCliCompositionBothWays) {
  std::mt19937_64 rng(kSeed + 11);
  const Bytes secret = random_bytes(rng, 32);
  const std::string label = "ferry link v1 outer->inner";
  const auto sender = static_cast<std::uint32_t>(rng());
  const CliKeys cli_keys = cli_derive(secret, label);
  const SealKeys keys = SealKeys::derive(secret, label);
  ASSERT_EQ(to_hex(keys.enc), to_hex(cli_keys.enc));
  ASSERT_EQ(to_hex(keys.mac), to_hex(cli_keys.mac));

  Sealer sealer(keys, sender);
  Opener opener(keys);
  const std::size_t lengths[] = {0, 1, 15, 16, 17, 1000, 70001};
  for (std::size_t i = 0; i < std::size(lengths); ++i) {
    SCOPED_TRACE("box " + std::to_string(i) + ", plaintext " + std::to_string(lengths[i]) + " bytes");
    const Bytes header = random_bytes(rng, i % 2 == 0 ? 32 : i);
    const Bytes pt = random_bytes(rng, lengths[i]);

    Result<Bytes> ours = sealer.seal(header, pt);
    ASSERT_TRUE(ours.ok()) << ours.error().message;
    const Bytes cli = cli_seal(cli_keys, sender, i, header, pt);
    EXPECT_EQ(to_hex(*ours), to_hex(cli));

    Result<Bytes> opened_cli = opener.open(header, cli);
    ASSERT_TRUE(opened_cli.ok()) << opened_cli.error().message;
    EXPECT_EQ(to_hex(*opened_cli), to_hex(pt));

    std::optional<Bytes> opened_ours = cli_open(cli_keys, header, *ours);
    ASSERT_TRUE(opened_ours.has_value()) << "the CLI's HMAC-SM3 does not match our tag";
    EXPECT_EQ(to_hex(*opened_ours), to_hex(pt));
  }
}

}  // namespace
}  // namespace ferry::crypto
