// SM2 on sm2p256v1: keys, PEM files, signatures with the distinguishing ID,
// and public-key encryption.
#include "crypto/sm2.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_bytes.h"

namespace ferry::crypto {
namespace {

using test::hex;
using test::hex_of;
using test::lower;

// GM/T 0003.5-2012 / GB/T 32918.5 Annex A (signature) and Annex C
// (encryption) on sm2p256v1; vectors.md §1.6 S2 and E2.
constexpr std::string_view kS2D = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
constexpr std::string_view kS2Point =
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
constexpr std::string_view kS2R = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
constexpr std::string_view kS2S = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";
constexpr std::string_view kS2Za = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3";
constexpr std::string_view kS2E = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640";
constexpr std::string_view kS2Message = "message digest";
// E2 in OpenSSL's DER form (GM/T 0009 SM2Cipher, C1C3C2), vectors.md §1.6.
constexpr std::string_view kE2Der =
    "307C022004EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73022100E858F9D81E5430A5"
    "7B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0042059983C18F809E262923C53AEC295D30383B54E39D6"
    "09D160AFCB1908D0BD8766041321886CA989CA9C7D58087307CA93092D651EFA";
// n of sm2p256v1 (GM/T 0003.5 / vectors.md §1.6).
constexpr std::string_view kN = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123";

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const { Free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO_free>>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string private_pem(EVP_PKEY* pkey) {
  Bio bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr), 1);
  return bio_text(bio.get());
}

std::string public_pem(EVP_PKEY* pkey) {
  Bio bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), pkey), 1);
  return bio_text(bio.get());
}

// DER SEQUENCE { INTEGER r, INTEGER s } from the standard's printed r and s,
// built with OpenSSL's ECDSA_SIG so that the encoding is not ours.
Bytes der_signature(std::string_view r_hex, std::string_view s_hex) {
  const Bytes rb = hex(r_hex), sb = hex(s_hex);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(rb.data(), static_cast<int>(rb.size()), nullptr),
                 BN_bin2bn(sb.data(), static_cast<int>(sb.size()), nullptr));
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  Bytes out(der, der + (len > 0 ? len : 0));
  OPENSSL_free(der);
  return out;
}

Sm2PrivateKey s2_key() {
  Result<Sm2PrivateKey> k = Sm2PrivateKey::from_scalar(hex(kS2D));
  if (!k.ok()) throw std::runtime_error("S2 key rejected: " + k.error().message);
  return std::move(k).value();
}

Sm2PrivateKey generated_key() {
  Result<Sm2PrivateKey> k = Sm2PrivateKey::generate();
  if (!k.ok()) throw std::runtime_error("key generation failed: " + k.error().message);
  return std::move(k).value();
}

// --- the standard's examples -------------------------------------------------

// GM/T 0003.5 Annex A: P = [d]G.
TEST(Sm2Keys, FromScalarGivesThePublishedPublicPoint) {
  const Sm2PrivateKey key = s2_key();
  EXPECT_EQ(hex_of(key.public_key().point()), lower(kS2Point));
  EXPECT_EQ(hex_of(key.scalar().view()), lower(kS2D));
}

// GM/T 0003.5 Annex A intermediates Z_A and e (vectors.md §1.6 S2).
TEST(Sm2Sign, ZAndEOfTheStandardExample) {
  const Sm2PublicKey pub = s2_key().public_key();
  Result<Sm3Digest> z = sm2_z(kSm2DefaultId, pub);
  ASSERT_TRUE(z.ok()) << z.error().message;
  EXPECT_EQ(hex_of(*z), lower(kS2Za));

  Result<Sm2MessageHash> h = Sm2MessageHash::start(pub);  // default ID 1234567812345678
  ASSERT_TRUE(h.ok()) << h.error().message;
  h->update(as_bytes("message "));
  h->update(as_bytes("digest"));
  EXPECT_EQ(hex_of(h->finish()), lower(kS2E));
}

TEST(Sm2Sign, DefaultIdIsGmt0009Default) { EXPECT_EQ(kSm2DefaultId, "1234567812345678"); }

// GM/T 0003.5 Annex A: the standard's (r, s) verifies.
TEST(Sm2Sign, VerifiesTheStandardSignature) {
  const Sm2PublicKey pub = s2_key().public_key();
  const Bytes sig = der_signature(kS2R, kS2S);
  // Both r and s have the top bit set, so each INTEGER carries a 00 pad.
  ASSERT_EQ(hex_of(sig), lower("3046022100" + std::string(kS2R) + "022100" + std::string(kS2S)));
  EXPECT_TRUE(sm2_verify(pub, as_bytes(kS2Message), sig, "1234567812345678"));
  EXPECT_TRUE(sm2_verify(pub, as_bytes(kS2Message), sig));  // default ID
  EXPECT_TRUE(sm2_verify_hash(pub, test::hex_array<32>(kS2E), sig));
}

TEST(Sm2Sign, OnlyStrictDerIsASignatureShape) {
  const Bytes sig = der_signature(kS2R, kS2S);
  EXPECT_TRUE(is_sm2_der_signature(sig));
  Bytes trailing = sig;
  trailing.push_back(0);
  EXPECT_FALSE(is_sm2_der_signature(trailing));
  Bytes long_length = sig;  // BER long-form length of the SEQUENCE: not DER
  long_length.insert(long_length.begin() + 1, 0x81);
  EXPECT_FALSE(is_sm2_der_signature(long_length));
  EXPECT_FALSE(is_sm2_der_signature(Bytes{}));
  EXPECT_FALSE(is_sm2_der_signature(as_bytes("not a signature")));
  EXPECT_FALSE(is_sm2_der_signature(ByteView(sig).first(sig.size() - 1)));
}

TEST(Sm2Sign, StandardSignatureFailsWithAnotherId) {
  const Sm2PublicKey pub = s2_key().public_key();
  const Bytes sig = der_signature(kS2R, kS2S);
  for (std::string_view id : {"1234567812345679", "123456781234567", "12345678123456789", "ALICE123@YAHOO.COM"}) {
    EXPECT_FALSE(sm2_verify(pub, as_bytes(kS2Message), sig, id)) << id;
  }
}

TEST(Sm2Sign, StandardSignatureFailsForAnotherMessage) {
  const Sm2PublicKey pub = s2_key().public_key();
  const Bytes sig = der_signature(kS2R, kS2S);
  for (std::string_view m : {"message digesT", "message digest ", "message diges", "", "Message digest"}) {
    EXPECT_FALSE(sm2_verify(pub, as_bytes(m), sig)) << "'" << m << "'";
  }
}

TEST(Sm2Sign, StandardSignatureFailsWithAnyBitFlipped) {
  const Sm2PublicKey pub = s2_key().public_key();
  const Bytes sig = der_signature(kS2R, kS2S);
  for (std::size_t bit = 0; bit < sig.size() * 8; ++bit) {
    Bytes bad = sig;
    bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(sm2_verify(pub, as_bytes(kS2Message), bad)) << "bit " << bit;
  }
}

TEST(Sm2Sign, TruncatedSignatureFails) {
  const Sm2PublicKey pub = s2_key().public_key();
  const Bytes sig = der_signature(kS2R, kS2S);
  for (std::size_t len = 0; len < sig.size(); ++len) {
    EXPECT_FALSE(sm2_verify(pub, as_bytes(kS2Message), ByteView(sig).first(len))) << "length " << len;
  }
}

TEST(Sm2Sign, SignatureWithTrailingGarbageFails) {
  const Sm2PublicKey pub = s2_key().public_key();
  const Bytes sig = der_signature(kS2R, kS2S);
  for (const Bytes& tail : {Bytes{0x00}, Bytes{0x01}, Bytes{0x30, 0x00}, Bytes(64, 0xAA)}) {
    EXPECT_FALSE(sm2_verify(pub, as_bytes(kS2Message), test::concat(sig, tail))) << hex_of(tail);
  }
}

TEST(Sm2Sign, NonMinimalDerOfTheSameRAndSFails) {
  // The same r and s with a long-form length: BER, not DER (GM/T 0009 §7.3).
  const Sm2PublicKey pub = s2_key().public_key();
  const Bytes sig = der_signature(kS2R, kS2S);
  Bytes ber{0x30, 0x81, 0x46};
  ber.insert(ber.end(), sig.begin() + 2, sig.end());
  EXPECT_FALSE(sm2_verify(pub, as_bytes(kS2Message), ber));
}

// GM/T 0003.2 §7.1 B1-B2: r and s must lie in [1, n-1].
TEST(Sm2Sign, SignatureWithROrSOutOfRangeFails) {
  const Sm2PublicKey pub = s2_key().public_key();
  const std::string zero(64, '0');
  const std::string n(kN);
  for (const auto& [r, s] : {std::pair{zero, std::string(kS2S)}, std::pair{std::string(kS2R), zero},
                             std::pair{n, std::string(kS2S)}, std::pair{std::string(kS2R), n}}) {
    EXPECT_FALSE(sm2_verify(pub, as_bytes(kS2Message), der_signature(r, s))) << r << " " << s;
  }
}

TEST(Sm2Sign, StandardSignatureFailsUnderAnotherKey) {
  const Bytes sig = der_signature(kS2R, kS2S);
  EXPECT_FALSE(sm2_verify(generated_key().public_key(), as_bytes(kS2Message), sig));
}

// GM/T 0003.5 Annex C (E2): the standard's ciphertext decrypts.
TEST(Sm2Encrypt, DecryptsTheStandardCiphertext) {
  Result<Bytes> pt = sm2_decrypt(s2_key(), hex(kE2Der));
  ASSERT_TRUE(pt.ok()) << pt.error().message;
  EXPECT_EQ(std::string(pt->begin(), pt->end()), "encryption standard");
}

class Sm2CorruptCiphertext : public ::testing::Test {
 protected:
  void expect_rejected(ByteView ct, const std::string& what) {
    Result<Bytes> r = sm2_decrypt(key_, ct);
    ASSERT_FALSE(r.ok()) << what << " decrypted to " << hex_of(*r);
    EXPECT_EQ(r.error().code, Errc::decrypt_failed) << what;
    if (reference_.empty()) reference_ = r.error().message;
    EXPECT_EQ(r.error().message, reference_) << what << ": every rejection should read the same";
  }
  Sm2PrivateKey key_ = s2_key();
  Bytes ct_ = hex(kE2Der);
  std::string reference_;
};

TEST_F(Sm2CorruptCiphertext, EveryByteFlipped) {
  for (std::size_t i = 0; i < ct_.size(); ++i) {
    Bytes bad = ct_;
    bad[i] ^= 0x01;
    expect_rejected(bad, "byte " + std::to_string(i) + " flipped");
  }
}

TEST_F(Sm2CorruptCiphertext, EveryTruncation) {
  for (std::size_t len = 0; len < ct_.size(); ++len) {
    expect_rejected(ByteView(ct_).first(len), "truncated to " + std::to_string(len));
  }
}

TEST_F(Sm2CorruptCiphertext, WrongKey) { key_ = generated_key(); expect_rejected(ct_, "another key"); }

// sm2.h: "Decryption fails with Errc::decrypt_failed for any bad input". A
// DER SM2Cipher followed by extra bytes is not a valid ciphertext, and
// accepting it makes ciphertexts malleable (many byte strings, one plaintext).
TEST_F(Sm2CorruptCiphertext, TrailingGarbage) {
  expect_rejected(test::concat(ct_, Bytes{0x00}), "one trailing zero byte");
  expect_rejected(test::concat(ct_, Bytes(16, 0xAA)), "16 trailing bytes");
}

// --- round trips with generated keys ----------------------------------------

TEST(Sm2Sign, RoundTripsWithGeneratedKeys) {
  const Sm2PrivateKey key = generated_key();
  const Sm2PrivateKey other = generated_key();
  for (std::size_t len : {0, 1, 32, 64, 1000}) {
    Bytes m(len);
    for (std::size_t i = 0; i < len; ++i) m[i] = static_cast<std::uint8_t>(i);
    Result<Bytes> sig = sm2_sign(key, m);
    ASSERT_TRUE(sig.ok()) << sig.error().message;
    EXPECT_TRUE(sm2_verify(key.public_key(), m, *sig)) << "length " << len;
    EXPECT_FALSE(sm2_verify(other.public_key(), m, *sig)) << "length " << len;
    m.push_back(0);
    EXPECT_FALSE(sm2_verify(key.public_key(), m, *sig)) << "length " << len;
  }
}

TEST(Sm2Sign, SignaturesAreRandomised) {
  const Sm2PrivateKey key = generated_key();
  Result<Bytes> a = sm2_sign(key, as_bytes("m")), b = sm2_sign(key, as_bytes("m"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(Sm2Sign, CustomIdVerifiesOnlyWithThatId) {
  const Sm2PrivateKey key = generated_key();
  constexpr std::string_view kId = "ALICE123@YAHOO.COM";
  Result<Bytes> sig = sm2_sign(key, as_bytes("hello"), kId);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  EXPECT_TRUE(sm2_verify(key.public_key(), as_bytes("hello"), *sig, kId));
  EXPECT_FALSE(sm2_verify(key.public_key(), as_bytes("hello"), *sig));
  EXPECT_FALSE(sm2_verify(key.public_key(), as_bytes("hello"), *sig, "ALICE123@YAHOO.CO"));
  EXPECT_FALSE(sm2_verify(key.public_key(), as_bytes("hello"), *sig, "alice123@yahoo.com"));
}

TEST(Sm2Sign, SignHashVerifiesAsSignOfTheMessage) {
  const Sm2PrivateKey key = generated_key();
  Result<Sm2MessageHash> h = Sm2MessageHash::start(key.public_key());
  ASSERT_TRUE(h.ok());
  h->update(as_bytes("streamed message"));
  Result<Bytes> sig = sm2_sign_hash(key, h->finish());
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(sm2_verify(key.public_key(), as_bytes("streamed message"), *sig));
}

// GM/T 0003.2 §5.5: ENTL is 16 bits of bit length, so the ID is 1..8191 bytes.
TEST(Sm2Sign, IdLengthLimits) {
  const Sm2PrivateKey key = generated_key();
  const Sm2PublicKey pub = key.public_key();
  Result<Sm3Digest> empty = sm2_z("", pub);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, Errc::invalid_argument);
  EXPECT_FALSE(sm2_sign(key, as_bytes("m"), "").ok());

  const std::string longest(kSm2MaxIdSize, 'x');
  EXPECT_TRUE(sm2_z(longest, pub).ok());
  Result<Sm3Digest> too_long = sm2_z(longest + "x", pub);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code, Errc::invalid_argument);
  Result<Bytes> sig = sm2_sign(key, as_bytes("m"), longest);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(sm2_verify(pub, as_bytes("m"), *sig, longest));
  EXPECT_FALSE(sm2_verify(pub, as_bytes("m"), *sig, longest + "x"));
}

TEST(Sm2Encrypt, RoundTripForSeveralLengths) {
  const Sm2PrivateKey key = generated_key();
  for (std::size_t len : {1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 999, 1000}) {
    Bytes m(len);
    for (std::size_t i = 0; i < len; ++i) m[i] = static_cast<std::uint8_t>(i * 13 + len);
    Result<Bytes> ct = sm2_encrypt(key.public_key(), m);
    ASSERT_TRUE(ct.ok()) << ct.error().message;
    // C1 (two 32-byte INTEGERs), C3 (32) and C2 (len) plus DER framing.
    EXPECT_GE(ct->size(), 64 + 32 + len) << "length " << len;
    EXPECT_LE(ct->size(), 2 + 3 + 2 * 35 + 2 + 32 + 4 + len) << "length " << len;
    Result<Bytes> back = sm2_decrypt(key, *ct);
    ASSERT_TRUE(back.ok()) << "length " << len << ": " << back.error().message;
    EXPECT_EQ(*back, m) << "length " << len;
  }
}

TEST(Sm2Encrypt, CiphertextsAreRandomised) {
  const Sm2PublicKey pub = s2_key().public_key();
  Result<Bytes> a = sm2_encrypt(pub, as_bytes("encryption standard"));
  Result<Bytes> b = sm2_encrypt(pub, as_bytes("encryption standard"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(Sm2Encrypt, EmptyMessageIsRefused) {
  Result<Bytes> ct = sm2_encrypt(s2_key().public_key(), {});
  ASSERT_FALSE(ct.ok());
  EXPECT_EQ(ct.error().code, Errc::invalid_argument);
}

// --- PEM ---------------------------------------------------------------------

TEST(Sm2Pem, PrivateKeyRoundTrip) {
  const Sm2PrivateKey key = generated_key();
  const SecretBytes pem = key.to_pem();
  const std::string_view text(reinterpret_cast<const char*>(pem.data()), pem.size());
  EXPECT_TRUE(text.starts_with("-----BEGIN PRIVATE KEY-----\n")) << text;
  Result<Sm2PrivateKey> back = Sm2PrivateKey::from_pem(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(hex_of(back->scalar().view()), hex_of(key.scalar().view()));
  EXPECT_EQ(back->public_key().point(), key.public_key().point());
  // The loaded key signs for the original public key.
  Result<Bytes> sig = sm2_sign(*back, as_bytes("m"));
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(sm2_verify(key.public_key(), as_bytes("m"), *sig));
}

TEST(Sm2Pem, PublicKeyRoundTrip) {
  const Sm2PublicKey pub = generated_key().public_key();
  const std::string pem = pub.to_pem();
  EXPECT_TRUE(pem.starts_with("-----BEGIN PUBLIC KEY-----\n")) << pem;
  Result<Sm2PublicKey> back = Sm2PublicKey::from_pem(pem);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->point(), pub.point());
}

TEST(Sm2Pem, StandardKeyPemCarriesTheStandardScalar) {
  Result<Sm2PrivateKey> back = Sm2PrivateKey::from_pem(
      [] {
        const SecretBytes pem = s2_key().to_pem();
        return std::string(reinterpret_cast<const char*>(pem.data()), pem.size());
      }());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(hex_of(back->scalar().view()), lower(kS2D));
}

// The S2 key (GM/T 0003.5 Annex A) as SEC1 ECPrivateKey with the sm2p256v1
// OID, "BEGIN EC PRIVATE KEY" as OpenSSL 1.1.1 and GmSSL write it; DER made
// by hand and checked with `openssl pkey -text` (3.0.19).
constexpr std::string_view kS2Sec1Pem =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIDlFII97IUSxPzbjisbTn5WIk5NpKGC1GkL7ge9N98W4oAoGCCqBHM9V\n"
    "AYItoUQDQgAECfnfMR5UIaFQ3X0WHkvFxnIXn60YM/wHa7CP81bzUCDM6kkM4md1\n"
    "pS3G6nGMwapgCu0F+/NeCEpmMvYHLamtEw==\n"
    "-----END EC PRIVATE KEY-----\n";

TEST(Sm2Pem, Sec1PrivateKeyIsAccepted) {
  Result<Sm2PrivateKey> key = Sm2PrivateKey::from_pem(kS2Sec1Pem);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(hex_of(key->scalar().view()), lower(kS2D));
  EXPECT_EQ(hex_of(key->public_key().point()), lower(kS2Point));
}

// d of the S2 key with the public point of another key (GB/T 32918.5 Annex B
// user A): `openssl pkey -check` says "Key is invalid".
constexpr std::string_view kMismatchedSec1Pem =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIDlFII97IUSxPzbjisbTn5WIk5NpKGC1GkL7ge9N98W4oAoGCCqBHM9V\n"
    "AYItoUQDQgAEFg4SiX307bYd2BL+uWdI+9PM9P/iaqb225VAr0nJQjJKfa0Iu5pF\n"
    "lTFpS+sgqkidZkmXXhv8+MR0G3i0siMAfw==\n"
    "-----END EC PRIVATE KEY-----\n";

// d = n-1 with its true public point [n-1]G = -G: consistent, but outside
// GM/T 0003.1 §6.1's 1 <= d <= n-2.
constexpr std::string_view kNMinus1Sec1Pem =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIP////7///////////////9yA99rIcYFK1O79Ak51UEioAoGCCqBHM9V\n"
    "AYItoUQDQgAEMsSuLB8ZgRlfmQRGajnJlI/jC7/yZgvhcVpFiTNMdMdDyMlcCwmI\n"
    "Y6ZCMRyUlt6sL1Z4gjnVuMD9IM0a3sYPXw==\n"
    "-----END EC PRIVATE KEY-----\n";

TEST(Sm2Pem, InconsistentOrOutOfRangePrivateKeyIsRefused) {
  for (std::string_view pem : {kMismatchedSec1Pem, kNMinus1Sec1Pem}) {
    Result<Sm2PrivateKey> key = Sm2PrivateKey::from_pem(pem);
    ASSERT_FALSE(key.ok()) << pem;
    EXPECT_EQ(key.error().code, Errc::bad_key) << key.error().message;
  }
}

class Sm2PemErrors : public ::testing::Test {
 protected:
  static Pkey keygen_rsa() { return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{1024})); }
  static Pkey keygen_p256() { return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "prime256v1")); }
};

TEST_F(Sm2PemErrors, RsaKeyIsRefusedAndNamed) {
  Pkey rsa = keygen_rsa();
  ASSERT_TRUE(rsa);
  Result<Sm2PrivateKey> priv = Sm2PrivateKey::from_pem(private_pem(rsa.get()));
  ASSERT_FALSE(priv.ok());
  EXPECT_EQ(priv.error().code, Errc::bad_key);
  EXPECT_NE(priv.error().message.find("RSA"), std::string::npos) << priv.error().message;

  Result<Sm2PublicKey> pub = Sm2PublicKey::from_pem(public_pem(rsa.get()));
  ASSERT_FALSE(pub.ok());
  EXPECT_EQ(pub.error().code, Errc::bad_key);
  EXPECT_NE(pub.error().message.find("RSA"), std::string::npos) << pub.error().message;
}

TEST_F(Sm2PemErrors, P256KeyIsRefusedAndItsCurveNamed) {
  Pkey p256 = keygen_p256();
  ASSERT_TRUE(p256);
  Result<Sm2PrivateKey> priv = Sm2PrivateKey::from_pem(private_pem(p256.get()));
  ASSERT_FALSE(priv.ok());
  EXPECT_EQ(priv.error().code, Errc::bad_key);
  EXPECT_NE(priv.error().message.find("prime256v1"), std::string::npos) << priv.error().message;

  Result<Sm2PublicKey> pub = Sm2PublicKey::from_pem(public_pem(p256.get()));
  ASSERT_FALSE(pub.ok());
  EXPECT_EQ(pub.error().code, Errc::bad_key);
  EXPECT_NE(pub.error().message.find("prime256v1"), std::string::npos) << pub.error().message;
}

TEST_F(Sm2PemErrors, GarbageAndEmptyAreBadFormat) {
  const std::string truncated = [] {
    std::string pem = generated_key().public_key().to_pem();
    return pem.substr(0, pem.size() / 2);
  }();
  for (std::string_view text : {std::string_view(""), std::string_view("garbage"),
                                std::string_view("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
                                std::string_view(truncated)}) {
    Result<Sm2PrivateKey> priv = Sm2PrivateKey::from_pem(text);
    ASSERT_FALSE(priv.ok()) << "'" << text << "'";
    EXPECT_EQ(priv.error().code, Errc::bad_format) << "'" << text << "'";
    EXPECT_NE(priv.error().message.find("private key"), std::string::npos) << priv.error().message;
  }
  for (std::string_view text : {std::string_view(""), std::string_view("garbage"),
                                std::string_view("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
                                std::string_view(truncated)}) {
    Result<Sm2PublicKey> pub = Sm2PublicKey::from_pem(text);
    ASSERT_FALSE(pub.ok()) << "'" << text << "'";
    EXPECT_EQ(pub.error().code, Errc::bad_format) << "'" << text << "'";
    EXPECT_NE(pub.error().message.find("public key"), std::string::npos) << pub.error().message;
  }
}

TEST_F(Sm2PemErrors, PublicKeyGivenAsPrivate) {
  Result<Sm2PrivateKey> priv = Sm2PrivateKey::from_pem(generated_key().public_key().to_pem());
  ASSERT_FALSE(priv.ok());
  EXPECT_EQ(priv.error().code, Errc::bad_format);
  EXPECT_NE(priv.error().message.find("this is a public key"), std::string::npos) << priv.error().message;
}

TEST_F(Sm2PemErrors, PrivateKeyGivenAsPublic) {
  const SecretBytes pem = generated_key().to_pem();
  Result<Sm2PublicKey> pub =
      Sm2PublicKey::from_pem(std::string_view(reinterpret_cast<const char*>(pem.data()), pem.size()));
  ASSERT_FALSE(pub.ok());
  EXPECT_EQ(pub.error().code, Errc::bad_format);
  EXPECT_NE(pub.error().message.find("this is a private key"), std::string::npos) << pub.error().message;

  Result<Sm2PublicKey> sec1 = Sm2PublicKey::from_pem(kS2Sec1Pem);
  ASSERT_FALSE(sec1.ok());
  EXPECT_NE(sec1.error().message.find("private key"), std::string::npos) << sec1.error().message;
}

TEST_F(Sm2PemErrors, EncryptedPrivateKeyIsRefused) {
  const Sm2PrivateKey key = s2_key();
  Bio bio(BIO_new(BIO_s_mem()));
  static const char kPass[] = "correct horse";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), kPass,
                                          static_cast<int>(sizeof kPass - 1), nullptr, nullptr),
            1);
  const std::string pem = bio_text(bio.get());
  ASSERT_TRUE(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----")) << pem;
  Result<Sm2PrivateKey> loaded = Sm2PrivateKey::from_pem(pem);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, Errc::bad_format);
  EXPECT_NE(loaded.error().message.find("encrypted"), std::string::npos) << loaded.error().message;
}

// --- from_scalar / from_point -----------------------------------------------

Bytes n_plus(int delta) {
  BIGNUM* n = nullptr;
  BN_hex2bn(&n, std::string(kN).c_str());
  if (delta < 0) BN_sub_word(n, static_cast<BN_ULONG>(-delta));
  if (delta > 0) BN_add_word(n, static_cast<BN_ULONG>(delta));
  Bytes out(32);
  BN_bn2binpad(n, out.data(), 32);
  BN_free(n);
  return out;
}

TEST(Sm2Keys, FromScalarRange) {
  struct Case {
    const char* what;
    Bytes d;
  };
  const std::vector<Case> refused = {
      {"0", Bytes(32, 0)},      {"n-1", n_plus(-1)}, {"n", n_plus(0)},           {"n+1", n_plus(1)},
      {"all ff", Bytes(32, 0xff)}, {"empty", Bytes{}}, {"31 bytes", Bytes(31, 1)}, {"33 bytes", Bytes(33, 1)},
  };
  for (const Case& c : refused) {
    Result<Sm2PrivateKey> k = Sm2PrivateKey::from_scalar(c.d);
    ASSERT_FALSE(k.ok()) << c.what;
    EXPECT_EQ(k.error().code, Errc::bad_key) << c.what;
  }
  Bytes one(32, 0);
  one.back() = 1;
  for (const Case& c : {Case{"1", one}, Case{"n-2", n_plus(-2)}}) {
    Result<Sm2PrivateKey> k = Sm2PrivateKey::from_scalar(c.d);
    ASSERT_TRUE(k.ok()) << c.what << ": " << k.error().message;
    EXPECT_EQ(hex_of(k->scalar().view()), hex_of(c.d));
  }
}

TEST(Sm2Keys, FromPointAcceptsTheStandardPoint) {
  Result<Sm2PublicKey> pub = Sm2PublicKey::from_point(hex(kS2Point));
  ASSERT_TRUE(pub.ok()) << pub.error().message;
  EXPECT_EQ(hex_of(pub->point()), lower(kS2Point));
  EXPECT_TRUE(sm2_verify(*pub, as_bytes(kS2Message), der_signature(kS2R, kS2S)));
}

TEST(Sm2Keys, FromPointRefusesOffCurveCompressedAndMalformed) {
  const Bytes good = hex(kS2Point);
  Bytes off_curve = good;
  off_curve.back() ^= 0x01;
  Bytes compressed{static_cast<std::uint8_t>(0x02 | (good.back() & 1))};  // 02/03 || x
  compressed.insert(compressed.end(), good.begin() + 1, good.begin() + 33);
  Bytes hybrid = good;
  hybrid[0] = static_cast<std::uint8_t>(0x06 | (good.back() & 1));
  struct Case {
    const char* what;
    Bytes point;
  };
  // (0, y) is on sm2p256v1; x = p encodes the same point non-canonically.
  const Bytes x_is_p = hex(
      "04FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF"
      "FD4511E81736A60F07E88A83D6CF5A167FAE6D1A9C9330E76E232E00F5CDC154");
  ASSERT_TRUE(Sm2PublicKey::from_point(hex(
                  "040000000000000000000000000000000000000000000000000000000000000000"
                  "FD4511E81736A60F07E88A83D6CF5A167FAE6D1A9C9330E76E232E00F5CDC154"))
                  .ok());
  for (const Case& c : {Case{"off the curve", off_curve}, Case{"compressed", compressed},
                        Case{"x = p, not reduced", x_is_p},
                        Case{"hybrid form", hybrid}, Case{"infinity", Bytes{0x00}}, Case{"empty", Bytes{}},
                        Case{"x and y without 04", Bytes(good.begin() + 1, good.end())},
                        Case{"one byte short", Bytes(good.begin(), good.end() - 1)},
                        Case{"one byte long", test::concat(good, Bytes{0})}}) {
    Result<Sm2PublicKey> pub = Sm2PublicKey::from_point(c.point);
    ASSERT_FALSE(pub.ok()) << c.what;
    EXPECT_EQ(pub.error().code, Errc::bad_key) << c.what;
  }
}

TEST(Sm2Keys, GeneratedKeysAreDistinctAndInRange) {
  const Sm2PrivateKey a = generated_key(), b = generated_key();
  EXPECT_NE(hex_of(a.scalar().view()), hex_of(b.scalar().view()));
  EXPECT_TRUE(Sm2PrivateKey::from_scalar(a.scalar().view()).ok());
  EXPECT_TRUE(Sm2PublicKey::from_point(a.public_key().point()).ok());
}

}  // namespace
}  // namespace ferry::crypto
