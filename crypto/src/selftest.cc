#include "crypto/selftest.h"

#include <openssl/ec.h>
#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <cstdlib>

#include "crypto/seal.h"
#include "crypto/sm2.h"
#include "crypto/sm2_curve.h"
#include "crypto/sm2_kx.h"
#include "crypto/sm3.h"
#include "crypto/sm4.h"
#include "crypto/src/ossl.h"

namespace ferry::crypto {
namespace {

Bytes hex(std::string_view h) {
  std::optional<Bytes> b = from_hex(h);
  if (!b) ossl::fail("malformed hex in a built-in test vector");
  return *b;
}

template <std::size_t N>
std::array<std::uint8_t, N> hex_array(std::string_view h) {
  Bytes b = hex(h);
  if (b.size() != N) ossl::fail("built-in test vector has the wrong length");
  std::array<std::uint8_t, N> out;
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

Status expect_equal(ByteView got, std::string_view want_hex, const char* what) {
  Bytes want = hex(want_hex);
  if (equal_constant_time(got, want)) return {};
  return make_error(Errc::selftest_failed, std::string(what) + ": got " + to_hex(got) + ", want " + to_hex(want));
}

// DER SEQUENCE { r, s } from the standard's printed r and s.
Bytes der_signature(std::string_view r_hex, std::string_view s_hex) {
  Bytes rb = hex(r_hex), sb = hex(s_hex);
  ECDSA_SIG* sig = ossl::check_ptr(ECDSA_SIG_new(), "ECDSA_SIG_new");
  ossl::check(ECDSA_SIG_set0(sig, BN_bin2bn(rb.data(), static_cast<int>(rb.size()), nullptr),
                             BN_bin2bn(sb.data(), static_cast<int>(sb.size()), nullptr)),
              "ECDSA_SIG_set0");
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) ossl::fail("i2d_ECDSA_SIG");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// GM/T 0003.5 Annex A / GB/T 32918.5: the private key of the signature and
// encryption examples on sm2p256v1.
constexpr std::string_view kSm2ExampleD = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";

Status sm3_kat() {
  if (Status s = expect_equal(Sm3::digest(as_bytes("abc")),
                              "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0", "SM3(\"abc\")");
      !s.ok())
    return s;
  Sm3 sm3;
  for (int i = 0; i < 16; ++i) sm3.update(as_bytes("abcd"));
  return expect_equal(sm3.finish(), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
                      "SM3(\"abcd\" x 16)");
}

Status hmac_sm3_kat() {
  return expect_equal(HmacSm3::mac(as_bytes("Jefe"), as_bytes("what do ya want for nothing?")),
                      "2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882", "HMAC-SM3");
}

Status sm4_block_kat() {
  auto key = hex_array<16>("0123456789abcdeffedcba9876543210");
  Sm4BlockCipher sm4(key);
  Sm4Block ct = sm4.encrypt(key);
  if (Status s = expect_equal(ct, "681edf34d206965e86b3e94f536e4246", "SM4 encrypt"); !s.ok()) return s;
  return expect_equal(sm4.decrypt(ct), "0123456789abcdeffedcba9876543210", "SM4 decrypt");
}

Status sm4_cbc_kat() {
  auto key = hex_array<16>("0123456789abcdeffedcba9876543210");
  auto iv = hex_array<16>("000102030405060708090a0b0c0d0e0f");
  Bytes pt = hex("aaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffffffffaaaaaaaabbbbbbbb");
  Bytes ct = sm4_cbc_encrypt(key, iv, pt);
  // The standard's 32 bytes, then one block of PKCS#7 padding of our own.
  if (Status s = expect_equal(ByteView(ct).first(32),
                              "78ebb11cc40b0a48312aaeb2040244cb4cb7016951909226979b0d15dc6a8f6d", "SM4-CBC");
      !s.ok())
    return s;
  Result<Bytes> back = sm4_cbc_decrypt(key, iv, ct);
  if (!back.ok() || *back != pt) return make_error(Errc::selftest_failed, "SM4-CBC decrypt did not round-trip");
  return {};
}

Status sm4_ctr_kat() {
  auto key = hex_array<16>("0123456789abcdeffedcba9876543210");
  auto iv = hex_array<16>("000102030405060708090a0b0c0d0e0f");
  Bytes pt = hex(
      "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd"
      "eeeeeeeeeeeeeeeeffffffffffffffffaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb");
  Bytes ct(pt.size());
  Sm4Ctr(key, iv).apply(pt, ct);
  return expect_equal(ct,
                      "ac3236cb970cc20791364c395a1342d1a3cbc1878c6f30cd074cce385cdd70c7"
                      "f234bc0e24c11980fd1286310ce37b926e02fcd0faa0baf38b2933851d824514",
                      "SM4-CTR");
}

Status sm2_verify_kat() {
  Result<Sm2PrivateKey> key = Sm2PrivateKey::from_scalar(hex(kSm2ExampleD));
  if (!key.ok()) return make_error(Errc::selftest_failed, key.error().message);
  Sm2PublicKey pub = key->public_key();
  if (Status s = expect_equal(pub.point(),
                              "0409F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
                              "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13",
                              "SM2 public key");
      !s.ok())
    return s;
  Bytes sig = der_signature("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3",
                            "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA");
  if (!sm2_verify(pub, as_bytes("message digest"), sig)) {
    return make_error(Errc::selftest_failed, "SM2 did not verify the standard's signature");
  }
  if (sm2_verify(pub, as_bytes("message digesT"), sig)) {
    return make_error(Errc::selftest_failed, "SM2 verified a signature over a different message");
  }
  if (sm2_verify(pub, as_bytes("message digest"), sig, "1234567812345679")) {
    return make_error(Errc::selftest_failed, "SM2 verified a signature under a different ID");
  }
  return {};
}

Status sm2_sign_consistency() {
  Result<Sm2PrivateKey> key = Sm2PrivateKey::from_scalar(hex(kSm2ExampleD));
  if (!key.ok()) return make_error(Errc::selftest_failed, key.error().message);
  Result<Bytes> sig = sm2_sign(*key, as_bytes("message digest"));
  if (!sig.ok() || !sm2_verify(key->public_key(), as_bytes("message digest"), *sig)) {
    return make_error(Errc::selftest_failed, "SM2 sign/verify consistency failed");
  }
  return {};
}

Status sm2_decrypt_kat() {
  Result<Sm2PrivateKey> key = Sm2PrivateKey::from_scalar(hex(kSm2ExampleD));
  if (!key.ok()) return make_error(Errc::selftest_failed, key.error().message);
  Bytes ct = hex(
      "307C022004EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73022100E858F9D81E5430A5"
      "7B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0042059983C18F809E262923C53AEC295D30383B54E39D6"
      "09D160AFCB1908D0BD8766041321886CA989CA9C7D58087307CA93092D651EFA");
  Result<Bytes> pt = sm2_decrypt(*key, ct);
  if (!pt.ok()) return make_error(Errc::selftest_failed, "SM2 did not decrypt the standard's ciphertext");
  if (!equal_constant_time(*pt, as_bytes("encryption standard"))) {
    return make_error(Errc::selftest_failed, "SM2 decrypted the standard's ciphertext to " + to_hex(*pt));
  }
  return {};
}

Status sm2_kx_kat() {
  // GB/T 32918.5-2017 Annex B example on sm2p256v1 (as carried in
  // openHiTLS cmvp_selftest_sm2.c and Tencent Kona SM2KeyAgreementTest).
  const Sm2Curve& curve = Sm2Curve::recommended();
  Bytes d_a = hex("81EB26E941BB5AF16DF116495F90695272AE2CD63D6C4AE1678418BE48230029");
  Bytes d_b = hex("785129917D45A9EA5437A59356B82338EAADDA6CEB199088F14AE10DEFA229B5");
  Result<Bytes> p_a = curve.public_point(d_a);
  Result<Bytes> p_b = curve.public_point(d_b);
  if (!p_a.ok() || !p_b.ok()) return make_error(Errc::selftest_failed, "SM2 key exchange: bad example keys");
  constexpr std::string_view kId = "1234567812345678";
  Result<Sm2KeyExchange> a = Sm2KeyExchange::start_with_ephemeral(
      curve, {Sm2KxRole::initiator, d_a, kId, *p_b, kId, 16},
      hex("D4DE15474DB74D06491C440D305E012400990F3E390C7E87153C12DB2EA60BB3"));
  Result<Sm2KeyExchange> b = Sm2KeyExchange::start_with_ephemeral(
      curve, {Sm2KxRole::responder, d_b, kId, *p_a, kId, 16},
      hex("7E07124814B309489125EAED101113164EBF0F3458C5BD88335C1F9D596243D6"));
  if (!a.ok() || !b.ok()) return make_error(Errc::selftest_failed, "SM2 key exchange did not start");
  Bytes r_a = a->ephemeral_point(), r_b = b->ephemeral_point();
  Result<Sm2KxResult> ka = a->finish(r_b);
  Result<Sm2KxResult> kb = b->finish(r_a);
  if (!ka.ok() || !kb.ok()) return make_error(Errc::selftest_failed, "SM2 key exchange did not finish");
  if (Status s = expect_equal(ka->key.view(), "6C89347354DE2484C60B4AB1FDE4C6E5", "SM2 key exchange K_A"); !s.ok())
    return s;
  if (Status s = expect_equal(kb->key.view(), "6C89347354DE2484C60B4AB1FDE4C6E5", "SM2 key exchange K_B"); !s.ok())
    return s;
  if (!sm2_kx_confirm(ka->responder_confirmation, kb->responder_confirmation) ||
      !sm2_kx_confirm(kb->initiator_confirmation, ka->initiator_confirmation)) {
    return make_error(Errc::selftest_failed, "SM2 key exchange confirmation values differ between the sides");
  }
  return {};
}

Status seal_kat() {
  // A fixed box whose expected bytes were composed with the openssl command
  // line (SM3 KDF, `enc -sm4-ctr`, `dgst -sm3 -mac HMAC`); see tests/interop.
  Bytes secret(32);
  for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(i);
  SealKeys keys = SealKeys::derive(secret, "ferry seal KAT");
  Sealer sealer(keys, 0x01020304);
  Result<Bytes> box = sealer.seal(as_bytes("ferry header"), as_bytes("The quick brown fox jumps over the lazy dog"));
  if (!box.ok()) return box.error();
  if (Status s = expect_equal(*box,
                              "010203040000000000000000e038ae10f24d060a0ff208f084554dc502e8bbd99f7a3c48"
                              "3b5470b0b45feaa812b867126de3e54507c510c2e8637832f0d6aa3b5dfaa40963a8e6a7"
                              "b33fada51b9c16a937914367fa7e9c",
                              "seal");
      !s.ok())
    return s;
  Opener opener(keys);
  if (!opener.open(as_bytes("ferry header"), *box).ok()) {
    return make_error(Errc::selftest_failed, "seal: could not open its own box");
  }
  (*box)[20] ^= 0x01;
  if (opener.open(as_bytes("ferry header"), *box).ok()) {
    return make_error(Errc::selftest_failed, "seal: opened a tampered box");
  }
  return {};
}

}  // namespace

Status check_random_sample(ByteView sample) {
  if (sample.size() != 2500) return make_error(Errc::invalid_argument, "random sample must be 20,000 bits");
  auto fail = [](const std::string& what) { return make_error(Errc::rng, "random generator health check: " + what); };
  // Monobit: 9725 < ones < 10275.
  int ones = 0;
  for (std::uint8_t b : sample) ones += __builtin_popcount(b);
  if (ones <= 9725 || ones >= 10275) return fail("monobit test failed (" + std::to_string(ones) + " ones)");
  // Poker: 2.16 < X < 46.17 over 5000 4-bit nibbles.
  long counts[16] = {};
  for (std::uint8_t b : sample) {
    ++counts[b >> 4];
    ++counts[b & 0x0f];
  }
  long sum_sq = 0;
  for (long c : counts) sum_sq += c * c;
  const double x = 16.0 / 5000.0 * static_cast<double>(sum_sq) - 5000.0;
  if (x <= 2.16 || x >= 46.17) return fail("poker test failed");
  // Runs and long run, over bits most-significant first.
  static constexpr int kMin[6] = {2315, 1114, 527, 240, 103, 103};
  static constexpr int kMax[6] = {2685, 1386, 723, 384, 209, 209};
  int runs[2][6] = {};
  int current = -1, length = 0;
  auto close_run = [&]() -> bool {
    if (current < 0) return true;
    if (length >= 26) return false;
    ++runs[current][std::min(length, 6) - 1];
    return true;
  };
  for (std::uint8_t b : sample) {
    for (int i = 7; i >= 0; --i) {
      const int bit = (b >> i) & 1;
      if (bit == current) {
        ++length;
        continue;
      }
      if (!close_run()) return fail("long-run test failed");
      current = bit;
      length = 1;
    }
  }
  if (!close_run()) return fail("long-run test failed");
  for (int v = 0; v < 2; ++v) {
    for (int i = 0; i < 6; ++i) {
      if (runs[v][i] < kMin[i] || runs[v][i] > kMax[i]) return fail("runs test failed");
    }
  }
  return {};
}

Status random_health_check() {
  // A good generator fails one of the four statistical tests on about 1 in
  // 1,100 samples (their significance levels add up), so one failure is
  // retested on a fresh sample and only two in a row count: a false alarm
  // then comes about once in a million start-ups instead of once in a
  // thousand, while a broken generator still fails every time.
  Status sampled = make_error(Errc::rng, "not sampled");
  for (int attempt = 0; attempt < 2 && !sampled.ok(); ++attempt) {
    Bytes sample(2500);
    if (RAND_priv_bytes(sample.data(), static_cast<int>(sample.size())) != 1) {
      return make_error(Errc::rng, "random generator failed to produce output");
    }
    sampled = check_random_sample(sample);
  }
  if (!sampled.ok()) return sampled;
  std::array<std::uint8_t, 32> first{}, second{};
  if (RAND_priv_bytes(first.data(), 32) != 1 || RAND_priv_bytes(second.data(), 32) != 1) {
    return make_error(Errc::rng, "random generator failed to produce output");
  }
  if (first == second) return make_error(Errc::rng, "random generator repeated its output (continuous test)");
  return {};
}

const std::vector<SelfTest>& power_on_selftests() {
  static const std::vector<SelfTest> tests = {
      {"SM3 known answer", "GM/T 0004-2012 Appendix A", sm3_kat},
      {"HMAC-SM3 known answer", "GM/T 0042-2015 Appendix D.3", hmac_sm3_kat},
      {"SM4 block known answer", "GM/T 0002-2012 Appendix A.1", sm4_block_kat},
      {"SM4-CBC known answer", "draft-ribose-cfrg-sm4-10 A.2.2.1", sm4_cbc_kat},
      {"SM4-CTR known answer", "draft-ribose-cfrg-sm4-10 A.2.5.1", sm4_ctr_kat},
      {"SM2 verify known answer", "GM/T 0003.5-2012 Annex A", sm2_verify_kat},
      {"SM2 sign consistency", "GM/T 0028-2014 §6.2.2", sm2_sign_consistency},
      {"SM2 decrypt known answer", "GM/T 0003.5-2012 Annex C", sm2_decrypt_kat},
      {"SM2 key exchange + SM3 KDF known answer", "GB/T 32918.5-2017 Annex B", sm2_kx_kat},
      {"seal (SM4-CTR + HMAC-SM3) known answer", "ferry seal, composed with the openssl CLI", seal_kat},
      {"random generator health", "FIPS 140-2 §4.9.1 statistical tests", random_health_check},
  };
  return tests;
}

std::vector<SelfTestOutcome> run_selftests(std::span<const SelfTest> tests) {
  std::vector<SelfTestOutcome> out;
  out.reserve(tests.size());
  for (const SelfTest& t : tests) {
    Status s = t.run();
    out.push_back({t.name, t.source, s.ok(), s.ok() ? std::string() : s.error().message});
  }
  return out;
}

void require_selftests(std::span<const SelfTest> tests) {
  bool failed = false;
  for (const SelfTestOutcome& o : run_selftests(tests)) {
    if (o.passed) continue;
    std::fprintf(stderr, "ferry: power-on self-test failed: %s: %s\n", o.name.c_str(), o.detail.c_str());
    failed = true;
  }
  if (failed) {
    std::fprintf(stderr, "ferry: refusing to run with failed cryptographic self-tests\n");
    std::exit(1);
  }
}

void require_power_on_selftests() { require_selftests(power_on_selftests()); }

}  // namespace ferry::crypto
