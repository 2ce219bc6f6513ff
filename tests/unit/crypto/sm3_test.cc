// SM3, HMAC-SM3 and the SM3 key derivation function.
#include "crypto/sm3.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/test_bytes.h"

namespace ferry::crypto {
namespace {

using test::hex;
using test::hex_of;

Bytes message_of_length(std::size_t n) {
  Bytes m(n);
  for (std::size_t i = 0; i < n; ++i) m[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return m;
}

// GM/T 0004-2012 (GB/T 32905-2016) Appendix A example 1; vectors.md §1.1.
TEST(Sm3, DigestOfAbcMatchesStandardExample1) {
  EXPECT_EQ(hex_of(Sm3::digest(as_bytes("abc"))),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

// GM/T 0004-2012 Appendix A example 2 (64 bytes, two blocks after padding);
// vectors.md §1.1.
TEST(Sm3, DigestOfAbcdTimes16MatchesStandardExample2) {
  std::string m;
  for (int i = 0; i < 16; ++i) m += "abcd";
  EXPECT_EQ(hex_of(Sm3::digest(as_bytes(m))),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
}

// Empty input: not in the standard; vectors.md §1.1 (cryptohives SM3 vector
// page, reproduced with `openssl dgst -sm3`).
TEST(Sm3, DigestOfEmptyInput) {
  const std::string want = "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b";
  EXPECT_EQ(hex_of(Sm3::digest({})), want);
  Sm3 sm3;
  sm3.update({});
  EXPECT_EQ(hex_of(sm3.finish()), want);
}

TEST(Sm3, StreamingEqualsOneShotAtEverySplitPoint) {
  const Bytes m = message_of_length(200);
  const Sm3Digest want = Sm3::digest(m);
  Sm3 sm3;  // reused: finish() must leave it ready for the next message
  for (std::size_t split = 0; split <= m.size(); ++split) {
    sm3.update(ByteView(m).first(split));
    sm3.update(ByteView(m).subspan(split));
    ASSERT_EQ(hex_of(sm3.finish()), hex_of(want)) << "split at " << split;
  }
}

TEST(Sm3, ByteAtATimeEqualsOneShot) {
  const Bytes m = message_of_length(200);
  Sm3 sm3;
  for (std::uint8_t b : m) sm3.update(ByteView(&b, 1));
  EXPECT_EQ(hex_of(sm3.finish()), hex_of(Sm3::digest(m)));
}

TEST(Sm3, FinishResetsForTheNextMessage) {
  Sm3 sm3;
  sm3.update(as_bytes("some earlier message"));
  (void)sm3.finish();
  sm3.update(as_bytes("abc"));
  // GM/T 0004-2012 Appendix A example 1.
  EXPECT_EQ(hex_of(sm3.finish()), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

struct HmacVector {
  const char* name;
  Bytes key;
  Bytes message;
  const char* mac;
};

Bytes counting_key(std::size_t n) {  // 01 02 03 ... n
  Bytes k(n);
  for (std::size_t i = 0; i < n; ++i) k[i] = static_cast<std::uint8_t>(i + 1);
  return k;
}

// GM/T 0042-2015 Appendix D.3, as carried in Linux crypto/testmgr.h
// hmac_sm3_tv_template; vectors.md §1.5.
std::vector<HmacVector> hmac_vectors() {
  const std::string abc56 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  const std::string m1 = abc56 + abc56;
  return {
      {"32-byte key, 112-byte message", counting_key(32), Bytes(m1.begin(), m1.end()),
       "ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a"},
      {"37-byte key, 0xcd x 50", counting_key(37), Bytes(50, 0xcd),
       "220bf579ded555393f0159f66c99877822a3ecf610d1552154b41d44b94db3ae"},
      {"0x0b x 32, Hi There", Bytes(32, 0x0b), Bytes{'H', 'i', ' ', 'T', 'h', 'e', 'r', 'e'},
       "c0ba18c68b90c88bc07de794bfc7d2c8d19ec31ed8773bc2b390c9604e0be11e"},
      {"Jefe", Bytes{'J', 'e', 'f', 'e'},
       [] {
         const std::string_view m = "what do ya want for nothing?";
         return Bytes(m.begin(), m.end());
       }(),
       "2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882"},
  };
}

TEST(HmacSm3, Gmt0042AppendixD3Vectors) {
  for (const HmacVector& v : hmac_vectors()) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(hex_of(HmacSm3::mac(v.key, v.message)), v.mac);
  }
}

TEST(HmacSm3, StreamingInPiecesEqualsOneShot) {
  for (const HmacVector& v : hmac_vectors()) {
    SCOPED_TRACE(v.name);
    HmacSm3 h(v.key);
    for (std::size_t i = 0; i < v.message.size(); i += 5) {
      h.update(ByteView(v.message).subspan(i, std::min<std::size_t>(5, v.message.size() - i)));
    }
    EXPECT_EQ(hex_of(h.finish()), v.mac);
  }
}

// finish() re-arms the same key: each later message must get the MAC a fresh
// HmacSm3 would give, not one that depends on what came before.
TEST(HmacSm3, ReuseAfterFinishGivesTheRightValueAgain) {
  const std::vector<HmacVector> vectors = hmac_vectors();
  const HmacVector& jefe = vectors[3];
  HmacSm3 h(jefe.key);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(round);
    h.update(jefe.message);
    EXPECT_EQ(hex_of(h.finish()), jefe.mac);
  }
  h.update(as_bytes("a different message"));
  EXPECT_EQ(hex_of(h.finish()), hex_of(HmacSm3::mac(jefe.key, as_bytes("a different message"))));
  h.update(jefe.message);
  EXPECT_EQ(hex_of(h.finish()), jefe.mac);
}

// RFC 2104 §2: an empty key is zero-padded to a block, a key longer than the
// 64-byte block is hashed first. Expected values computed independently with
// the RFC 2104 formula over Python's hashlib SM3 (the long-key one also with
// `openssl dgst -sm3 -mac HMAC -macopt hexkey:000102...63`).
TEST(HmacSm3, EmptyBlockSizedAndLongKeys) {
  auto key_from_zero = [](std::size_t n) {  // 00 01 02 ... n-1
    Bytes k(n);
    for (std::size_t i = 0; i < n; ++i) k[i] = static_cast<std::uint8_t>(i);
    return k;
  };
  EXPECT_EQ(hex_of(HmacSm3::mac({}, as_bytes("abc"))),
            "36525058ca466791502435c910517f1a7e86613d5f35ac1f18a94def0eaac81f");
  EXPECT_EQ(hex_of(HmacSm3::mac(key_from_zero(64), as_bytes("exactly one block of key"))),
            "c59c951959200462b292ddb32252c0c6904f391fbf150007019d38a6076059ff");
  EXPECT_EQ(hex_of(HmacSm3::mac(key_from_zero(100), as_bytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "baa5d4ce3a72680692aa86467ed9bf15d1948b707296aea61d12fb349e2fd59a");
}

TEST(HmacSm3, DifferentKeysGiveDifferentMacs) {
  EXPECT_NE(hex_of(HmacSm3::mac(as_bytes("Jefe"), as_bytes("m"))),
            hex_of(HmacSm3::mac(as_bytes("Jeff"), as_bytes("m"))));
}

// GM/T 0003.5-2012 / GB/T 32918.5 Annex C (the encryption example on
// sm2p256v1, vectors.md §1.6 E2): C2 = M xor t with t = KDF(x2 || y2, 19) and
// M = "encryption standard". x2, y2 = [k]P_B as printed in Annex C; also in
// Leon406/ToolsFx app/src/test/kotlin/me/leon/asymmetric/Sm2Test.kt
// (dotTimes), and recomputed from k and P_B with independent affine
// arithmetic in Python, which gave exactly these.
constexpr std::string_view kAnnexCX2Y2 =
    "335E18D751E51F040E27D468138B7AB1DC86AD7F981D7D416222FD6AB3ED230D"
    "AB743EBCFB22D64F7B6AB791F70658F25B48FA93E54064FDBFBED3F0BD847AC9";

TEST(Sm3Kdf, AnnexCEncryptionExampleKeystream) {
  const Bytes z = hex(kAnnexCX2Y2);
  const Bytes c2 = hex("21886CA989CA9C7D58087307CA93092D651EFA");  // Annex C, C2
  const std::string_view m = "encryption standard";
  ASSERT_EQ(c2.size(), m.size());
  Bytes t(m.size());
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<std::uint8_t>(c2[i] ^ m[i]);

  SecretBytes kdf = sm3_kdf(z, t.size());
  EXPECT_EQ(hex_of(kdf.view()), hex_of(t));
}

// Four counter blocks over the same Z, computed once with the openssl CLI,
// independently of this library:
//   for c in 00000001 00000002 00000003 00000004; do
//     echo -n <x2||y2>$c | xxd -r -p | openssl dgst -sm3; done
// and the 100-byte prefix of the concatenation kept.
TEST(Sm3Kdf, HundredBytesMatchOpensslCliComputation) {
  const std::string want =
      "44e60fdbf0bae81437665374bef26749046c9e038663294a24f3eccc533e579a"
      "75abe2630d06376d2a947c0755c7c053cbb7d66046bc7b1e057698692ebd905e"
      "8ff15cd2879a1614f80a0e487a04a12bfe517d00e0145e46136036f0a83c853f"
      "637e691b";
  EXPECT_EQ(hex_of(sm3_kdf(hex(kAnnexCX2Y2), 100).view()), want);
}

TEST(Sm3Kdf, EveryShorterOutputIsAPrefixOfTheLongerOne) {
  const Bytes z = hex(kAnnexCX2Y2);
  const std::string longest = hex_of(sm3_kdf(z, 100).view());
  for (std::size_t n = 0; n <= 100; ++n) {
    SecretBytes k = sm3_kdf(z, n);
    ASSERT_EQ(k.size(), n);
    ASSERT_EQ(hex_of(k.view()), longest.substr(0, 2 * n)) << "length " << n;
  }
}

TEST(Sm3Kdf, ZInPartsEqualsZInOneBuffer) {
  const Bytes z = hex(kAnnexCX2Y2);
  const ByteView zv(z);
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{32}, std::size_t{63}, std::size_t{64}}) {
    SCOPED_TRACE(cut);
    Bytes out(77);
    sm3_kdf({zv.first(cut), zv.subspan(cut)}, out);
    EXPECT_EQ(hex_of(out), hex_of(sm3_kdf(z, out.size()).view()));
  }
}

TEST(Sm3Kdf, DifferentInputsGiveDifferentKeys) {
  Bytes z = hex(kAnnexCX2Y2);
  const std::string before = hex_of(sm3_kdf(z, 32).view());
  z.back() ^= 1;
  EXPECT_NE(hex_of(sm3_kdf(z, 32).view()), before);
}

}  // namespace
}  // namespace ferry::crypto
