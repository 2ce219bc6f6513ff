// The link seal: SM4-CTR then HMAC-SM3 over header, nonce, ciphertext and
// both lengths.
#include "crypto/seal.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/support/test_bytes.h"

namespace ferry::crypto {
namespace {

using test::concat;
using test::hex;
using test::hex_of;

Bytes pattern(std::size_t n, std::uint8_t seed = 0) {
  Bytes m(n);
  for (std::size_t i = 0; i < n; ++i) m[i] = static_cast<std::uint8_t>(i * 29 + seed);
  return m;
}

SealKeys test_keys(std::string_view label = "ferry seal test") {
  return SealKeys::derive(as_bytes("a shared secret from the key exchange"), label);
}

void expect_forged(const Result<Bytes>& r, const std::string& what) {
  ASSERT_FALSE(r.ok()) << what << " opened to " << hex_of(*r);
  EXPECT_EQ(r.error().code, Errc::verify_failed) << what;
}

// The power-on KAT of crypto/src/selftest.cc (seal_kat). The expected box was
// recomputed for this test, independently of the library, with the openssl
// 3.0.19 CLI: keys = first 48 bytes of SM3(secret||label||00000001) ||
// SM3(...||00000002) (`openssl dgst -sm3`), ciphertext = `openssl enc
// -sm4-ctr -K <enc> -iv 010203040000000000000000 00000000`, tag = `openssl dgst
// -sm3 -mac HMAC -macopt hexkey:<mac>` over header || nonce || ciphertext ||
// 000000000000000c || 000000000000002b.
TEST(Seal, KnownAnswer) {
  Bytes secret(32);
  for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(i);
  const SealKeys keys = SealKeys::derive(secret, "ferry seal KAT");
  EXPECT_EQ(hex_of(keys.enc), "77b11aeefef5bc22a93f679f674f2793");
  EXPECT_EQ(hex_of(keys.mac), "17810101602c3ce9eae30e34bea83f1620d5833fe492965b61c2f443b8add176");

  Sealer sealer(keys, 0x01020304);
  const std::string_view pt = "The quick brown fox jumps over the lazy dog";
  Result<Bytes> box = sealer.seal(as_bytes("ferry header"), as_bytes(pt));
  ASSERT_TRUE(box.ok()) << box.error().message;
  EXPECT_EQ(hex_of(*box),
            "010203040000000000000000"                                           // nonce
            "e038ae10f24d060a0ff208f084554dc502e8bbd99f7a3c483b5470b0b45feaa8"   // ciphertext
            "12b867126de3e54507c510"                                             // (43 bytes)
            "c2e8637832f0d6aa3b5dfaa40963a8e6a7b33fada51b9c16a937914367fa7e9c");  // tag
  ASSERT_EQ(box->size(), pt.size() + kSealOverhead);

  Opener opener(keys);
  Result<Bytes> back = opener.open(as_bytes("ferry header"), *box);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(std::string(back->begin(), back->end()), pt);
}

TEST(Seal, RoundTripForEveryLengthUpTo1024WithSeveralHeaders) {
  const SealKeys keys = test_keys();
  Sealer sealer(keys, 7);
  Opener opener(keys);
  const Bytes all = pattern(1024);
  for (std::size_t header_len : {0, 1, 13, 300}) {
    const Bytes header = pattern(header_len, 0x99);
    for (std::size_t len = 0; len <= all.size(); ++len) {
      const ByteView pt = ByteView(all).first(len);
      Result<Bytes> box = sealer.seal(header, pt);
      ASSERT_TRUE(box.ok());
      ASSERT_EQ(box->size(), len + kSealOverhead);
      Result<Bytes> back = opener.open(header, *box);
      ASSERT_TRUE(back.ok()) << "header " << header_len << ", length " << len;
      ASSERT_EQ(hex_of(*back), hex_of(pt)) << "header " << header_len << ", length " << len;
    }
  }
}

TEST(Seal, IntoCallerBuffersMatchesAllocatingForm) {
  const SealKeys keys = test_keys();
  Sealer a(keys, 9), b(keys, 9);
  const Bytes pt = pattern(100);
  Bytes out(pt.size() + kSealOverhead);
  ASSERT_TRUE(a.seal_into(as_bytes("h"), pt, out).ok());
  Result<Bytes> box = b.seal(as_bytes("h"), pt);
  ASSERT_TRUE(box.ok());
  EXPECT_EQ(hex_of(out), hex_of(*box));

  Bytes plain(pt.size());
  Opener opener(keys);
  ASSERT_TRUE(opener.open_into(as_bytes("h"), out, plain).ok());
  EXPECT_EQ(plain, pt);
}

TEST(Seal, NoncesAreSenderThenCounterAndNeverRepeat) {
  const SealKeys keys = test_keys();
  Sealer sealer(keys, 0xA1B2C3D4);
  std::set<std::string> nonces;
  std::set<std::string> ciphertexts;
  for (std::uint64_t i = 0; i < 300; ++i) {
    EXPECT_EQ(sealer.boxes_sealed(), i);
    Result<Bytes> box = sealer.seal({}, as_bytes("same message every time"));
    ASSERT_TRUE(box.ok());
    const auto nonce = Opener::nonce_of(*box);
    Bytes want = hex("a1b2c3d4");
    for (int shift = 56; shift >= 0; shift -= 8) want.push_back(static_cast<std::uint8_t>(i >> shift));
    ASSERT_EQ(hex_of(nonce), hex_of(want)) << "box " << i;
    nonces.insert(hex_of(nonce));
    ciphertexts.insert(hex_of(ByteView(*box).subspan(kSealNonceSize, 23)));
  }
  EXPECT_EQ(nonces.size(), 300u);
  EXPECT_EQ(ciphertexts.size(), 300u);  // a new nonce means a new keystream
  EXPECT_EQ(sealer.boxes_sealed(), 300u);
}

TEST(Seal, TwoSendersUnderOneKeyUseDifferentNonces) {
  const SealKeys keys = test_keys();
  Sealer a(keys, 1), b(keys, 2);
  Result<Bytes> box_a = a.seal({}, as_bytes("x")), box_b = b.seal({}, as_bytes("x"));
  ASSERT_TRUE(box_a.ok() && box_b.ok());
  EXPECT_NE(hex_of(Opener::nonce_of(*box_a)), hex_of(Opener::nonce_of(*box_b)));
  EXPECT_NE(hex_of(*box_a), hex_of(*box_b));
}

TEST(Seal, EveryBitFlipAnywhereIsDetected) {
  const SealKeys keys = test_keys();
  Sealer sealer(keys, 3);
  Opener opener(keys);
  const Bytes header = pattern(13, 0x55);
  const Bytes pt = pattern(64);
  Result<Bytes> sealed = sealer.seal(header, pt);
  ASSERT_TRUE(sealed.ok());
  const Bytes box = *sealed;
  ASSERT_TRUE(opener.open(header, box).ok());

  for (std::size_t bit = 0; bit < box.size() * 8; ++bit) {
    Bytes bad = box;
    bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    const std::size_t byte = bit / 8;
    const char* part = byte < kSealNonceSize ? "nonce" : byte < kSealNonceSize + pt.size() ? "ciphertext" : "tag";
    expect_forged(opener.open(header, bad), std::string(part) + " bit " + std::to_string(bit));
  }
  for (std::size_t bit = 0; bit < header.size() * 8; ++bit) {
    Bytes bad = header;
    bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    expect_forged(opener.open(bad, box), "header bit " + std::to_string(bit));
  }
  // The untouched box still opens: the failures above were not a broken Opener.
  ASSERT_TRUE(opener.open(header, box).ok());
}

TEST(Seal, FailedOpenWritesNothing) {
  const SealKeys keys = test_keys();
  Sealer sealer(keys, 3);
  Result<Bytes> box = sealer.seal({}, pattern(40));
  ASSERT_TRUE(box.ok());
  (*box)[kSealNonceSize] ^= 1;
  Bytes out(40, 0xEE);
  Opener opener(keys);
  Status st = opener.open_into({}, *box, out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::verify_failed);
  EXPECT_EQ(out, Bytes(40, 0xEE));  // no unauthenticated plaintext released
}

TEST(Seal, TruncatedBoxesFail) {
  const SealKeys keys = test_keys();
  Sealer sealer(keys, 3);
  Opener opener(keys);
  Result<Bytes> box = sealer.seal(as_bytes("hdr"), pattern(50));
  ASSERT_TRUE(box.ok());
  for (std::size_t len = 0; len < box->size(); ++len) {
    expect_forged(opener.open(as_bytes("hdr"), ByteView(*box).first(len)), "first " + std::to_string(len) + " bytes");
  }
  // Cut from the front as well: the nonce goes missing.
  for (std::size_t cut : {1, 12, 13, 50}) {
    expect_forged(opener.open(as_bytes("hdr"), ByteView(*box).subspan(cut)), "without first " + std::to_string(cut));
  }
  // An empty box with an empty plaintext is still 44 bytes; fewer always fail.
  Result<Bytes> empty = sealer.seal({}, {});
  ASSERT_TRUE(empty.ok());
  ASSERT_EQ(empty->size(), kSealOverhead);
  ASSERT_TRUE(opener.open({}, *empty).ok());
  for (std::size_t len = 0; len < kSealOverhead; ++len) {
    expect_forged(opener.open({}, ByteView(*empty).first(len)), "empty-plaintext box cut to " + std::to_string(len));
  }
}

// seal.h: the lengths are authenticated so that header and ciphertext cannot
// be re-split. Both moves below keep header || nonce || ciphertext, the bytes
// the MAC covers before the lengths, exactly the same.
TEST(Seal, MovingBytesBetweenHeaderAndBoxFails) {
  const SealKeys keys = test_keys();
  Sealer sealer(keys, 3);
  Opener opener(keys);
  const Bytes header = pattern(20, 0x11);
  Result<Bytes> sealed = sealer.seal(header, pattern(30));
  ASSERT_TRUE(sealed.ok());
  const Bytes& box = *sealed;
  const Bytes mac_prefix = concat(header, ByteView(box).first(box.size() - kSealTagSize));

  for (std::size_t j = 1; j <= header.size(); ++j) {  // header's tail moves into the box
    const Bytes h2(header.begin(), header.end() - static_cast<std::ptrdiff_t>(j));
    const Bytes b2 = concat(ByteView(header).last(j), box);
    ASSERT_EQ(concat(h2, ByteView(b2).first(b2.size() - kSealTagSize)), mac_prefix);
    expect_forged(opener.open(h2, b2), "moved " + std::to_string(j) + " header bytes into the box");
  }
  for (std::size_t j = 1; j <= box.size() - kSealOverhead; ++j) {  // the box's head moves into the header
    const Bytes h2 = concat(header, ByteView(box).first(j));
    const Bytes b2(box.begin() + static_cast<std::ptrdiff_t>(j), box.end());
    ASSERT_EQ(concat(h2, ByteView(b2).first(b2.size() - kSealTagSize)), mac_prefix);
    expect_forged(opener.open(h2, b2), "moved " + std::to_string(j) + " box bytes into the header");
  }
}

TEST(Seal, WrongKeysFail) {
  const SealKeys keys = test_keys();
  Sealer sealer(keys, 3);
  Result<Bytes> box = sealer.seal(as_bytes("h"), pattern(64));
  ASSERT_TRUE(box.ok());

  SealKeys other_secret = SealKeys::derive(as_bytes("another secret"), "ferry seal test");
  SealKeys other_label = test_keys("ferry seal test 2");
  SealKeys wrong_enc = test_keys();
  wrong_enc.enc[0] ^= 1;
  SealKeys wrong_mac = test_keys();
  wrong_mac.mac[31] ^= 1;

  expect_forged(Opener(other_secret).open(as_bytes("h"), *box), "another secret");
  expect_forged(Opener(other_label).open(as_bytes("h"), *box), "another label");
  expect_forged(Opener(wrong_mac).open(as_bytes("h"), *box), "another MAC key");

  // The tag covers the ciphertext, not the plaintext, so a wrong cipher key
  // alone still authenticates but must not give back the plaintext.
  Result<Bytes> garbled = Opener(wrong_enc).open(as_bytes("h"), *box);
  ASSERT_TRUE(garbled.ok());
  EXPECT_NE(*garbled, pattern(64));
}

TEST(SealKeys, LabelsSeparateKeysAndCipherAndMacKeysDiffer) {
  const Bytes secret = pattern(32, 0x42);
  const SealKeys a = SealKeys::derive(secret, "ferry link v1 outer->inner");
  const SealKeys b = SealKeys::derive(secret, "ferry link v1 inner->outer");
  const SealKeys a2 = SealKeys::derive(secret, "ferry link v1 outer->inner");
  EXPECT_NE(hex_of(a.enc), hex_of(b.enc));
  EXPECT_NE(hex_of(a.mac), hex_of(b.mac));
  EXPECT_EQ(hex_of(a.enc), hex_of(a2.enc));
  EXPECT_EQ(hex_of(a.mac), hex_of(a2.mac));
  EXPECT_NE(hex_of(a.enc), hex_of(ByteView(a.mac).first(kSm4KeySize)));
  EXPECT_NE(hex_of(a.enc), hex_of(ByteView(a.mac).last(kSm4KeySize)));
  EXPECT_NE(hex_of(SealKeys::derive(secret, "").enc), hex_of(a.enc));

  // A box sealed under one direction's keys does not open under the other's.
  Sealer sealer(a, 1);
  Result<Bytes> box = sealer.seal({}, as_bytes("x"));
  ASSERT_TRUE(box.ok());
  expect_forged(Opener(b).open({}, *box), "other direction's keys");
}

TEST(Seal, SeededRandomRoundTrips) {
  std::mt19937_64 rng(0xF3EE5EA1);
  auto random_bytes = [&rng](std::size_t n) { return ferry::test::random_bytes(rng, n); };
  for (int i = 0; i < 200; ++i) {
    SCOPED_TRACE(i);
    const SealKeys keys = SealKeys::derive(random_bytes(32), "random " + std::to_string(i));
    Sealer sealer(keys, static_cast<std::uint32_t>(rng()));
    Opener opener(keys);
    const Bytes header = random_bytes(rng() % 64);
    const Bytes pt = random_bytes(rng() % 5000);
    Result<Bytes> box = sealer.seal(header, pt);
    ASSERT_TRUE(box.ok());
    Result<Bytes> back = opener.open(header, *box);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, pt);
    if (!box->empty()) {
      Bytes bad = *box;
      bad[rng() % bad.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      expect_forged(opener.open(header, bad), "random bit flip");
    }
  }
}

}  // namespace
}  // namespace ferry::crypto
