// SoftwareCryptoDevice: the GM/T 0018 (SDF) operations over OpenSSL.
#include "crypto/device.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/support/test_bytes.h"

namespace ferry::crypto {
namespace {

using test::hex;
using test::hex_array;
using test::hex_of;

constexpr KeyIndex kSlot1{1};
constexpr KeyIndex kSlot2{2};

Sm2PrivateKey generated_key() {
  Result<Sm2PrivateKey> k = Sm2PrivateKey::generate();
  if (!k.ok()) throw std::runtime_error(k.error().message);
  return std::move(k).value();
}

// GM/T 0003.5 Annex A key, message, Z and e; vectors.md §1.6 S2.
Sm2PrivateKey s2_key() {
  Result<Sm2PrivateKey> k =
      Sm2PrivateKey::from_scalar(hex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"));
  if (!k.ok()) throw std::runtime_error(k.error().message);
  return std::move(k).value();
}

std::unique_ptr<CryptoSession> open(CryptoDevice& device) {
  Result<std::unique_ptr<CryptoSession>> s = device.open_session();
  if (!s.ok()) throw std::runtime_error(s.error().message);
  return std::move(s).value();
}

Sm3Digest device_e(CryptoSession& session, const Sm2PublicKey* signer, std::string_view id, ByteView message) {
  Result<std::unique_ptr<DeviceHash>> h = session.hash_init(signer, id);
  if (!h.ok()) throw std::runtime_error(h.error().message);
  (*h)->update(message);
  return (*h)->finish();
}

TEST(SoftwareCryptoDevice, NameSaysSoftwareAndOpenssl) {
  SoftwareCryptoDevice device;
  EXPECT_NE(device.name().find("software"), std::string::npos) << device.name();
  EXPECT_NE(device.name().find("OpenSSL"), std::string::npos) << device.name();
}

TEST(SoftwareCryptoDevice, InstalledKeyIsExported) {
  SoftwareCryptoDevice device;
  const Sm2PrivateKey key = generated_key();
  ASSERT_TRUE(device.install_key(kSlot1, key).ok());
  auto session = open(device);
  Result<Sm2PublicKey> pub = session->export_sign_public_key(kSlot1);
  ASSERT_TRUE(pub.ok()) << pub.error().message;
  EXPECT_EQ(hex_of(pub->point()), hex_of(key.public_key().point()));
}

TEST(SoftwareCryptoDevice, KeyInstalledAfterTheSessionOpenedIsVisible) {
  SoftwareCryptoDevice device;
  auto session = open(device);
  const Sm2PrivateKey key = generated_key();
  ASSERT_TRUE(device.install_key(kSlot2, key).ok());
  Result<Sm2PublicKey> pub = session->export_sign_public_key(kSlot2);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->point(), key.public_key().point());
}

// The SDF path: SDF_HashInit with the signer's public key and ID computes
// e = SM3(Z || M) (GM/T 0003.2 §6.1 A1-A2), SDF_InternalSign_ECC signs e.
TEST(SoftwareCryptoDevice, HashInitThenInternalSignVerifiesAsASignatureOnTheMessage) {
  SoftwareCryptoDevice device;
  const Sm2PrivateKey key = generated_key();
  ASSERT_TRUE(device.install_key(kSlot1, key).ok());
  auto session = open(device);
  Result<Sm2PublicKey> pub = session->export_sign_public_key(kSlot1);
  ASSERT_TRUE(pub.ok());

  const std::string_view message = "a file crossing the air gap";
  for (std::string_view id : {kSm2DefaultId, std::string_view("ferry-outer@example")}) {
    SCOPED_TRACE(id);
    const Sm3Digest e = device_e(*session, &*pub, id, as_bytes(message));
    Result<Bytes> sig = session->internal_sign(kSlot1, e);
    ASSERT_TRUE(sig.ok()) << sig.error().message;
    EXPECT_TRUE(sm2_verify(key.public_key(), as_bytes(message), *sig, id));
    EXPECT_FALSE(sm2_verify(key.public_key(), as_bytes("another message"), *sig, id));

    Result<bool> internal = session->internal_verify(kSlot1, e, *sig);
    ASSERT_TRUE(internal.ok());
    EXPECT_TRUE(*internal);
    EXPECT_TRUE(session->external_verify(*pub, e, *sig));
  }
}

// GM/T 0003.5 Annex A through the device: e of "message digest" for the
// standard's key and the default ID is F0B43E94...8640, and the standard's
// (r, s) verifies against it.
TEST(SoftwareCryptoDevice, StandardExampleThroughTheSdfPath) {
  SoftwareCryptoDevice device;
  ASSERT_TRUE(device.install_key(kSlot1, s2_key()).ok());
  auto session = open(device);
  Result<Sm2PublicKey> pub = session->export_sign_public_key(kSlot1);
  ASSERT_TRUE(pub.ok());
  const Sm3Digest e = device_e(*session, &*pub, kSm2DefaultId, as_bytes("message digest"));
  EXPECT_EQ(hex_of(e), "f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640");
  // DER SEQUENCE { r, s } of the standard's signature (GM/T 0003.5 Annex A).
  const Bytes sig = hex(
      "3046022100F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
      "022100B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA");
  EXPECT_TRUE(session->external_verify(*pub, e, sig));
  Result<bool> internal = session->internal_verify(kSlot1, e, sig);
  ASSERT_TRUE(internal.ok());
  EXPECT_TRUE(*internal);
}

TEST(SoftwareCryptoDevice, PlainHashWithoutSigner) {
  SoftwareCryptoDevice device;
  auto session = open(device);
  // GM/T 0004-2012 Appendix A example 1.
  EXPECT_EQ(hex_of(device_e(*session, nullptr, "", as_bytes("abc"))),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

TEST(SoftwareCryptoDevice, HashInitRefusesAnEmptyId) {
  SoftwareCryptoDevice device;
  auto session = open(device);
  const Sm2PublicKey pub = generated_key().public_key();
  Result<std::unique_ptr<DeviceHash>> h = session->hash_init(&pub, "");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().code, Errc::invalid_argument);
}

TEST(SoftwareCryptoDevice, VerifyRejectsWrongSignatures) {
  SoftwareCryptoDevice device;
  const Sm2PrivateKey key = generated_key(), other = generated_key();
  ASSERT_TRUE(device.install_key(kSlot1, key).ok());
  ASSERT_TRUE(device.install_key(kSlot2, other).ok());
  auto session = open(device);
  const Sm3Digest e = device_e(*session, nullptr, "", as_bytes("m"));
  Result<Bytes> sig = session->internal_sign(kSlot1, e);
  ASSERT_TRUE(sig.ok());

  Result<bool> wrong_key = session->internal_verify(kSlot2, e, *sig);
  ASSERT_TRUE(wrong_key.ok());
  EXPECT_FALSE(*wrong_key);
  EXPECT_FALSE(session->external_verify(other.public_key(), e, *sig));

  Sm3Digest e2 = e;
  e2[0] ^= 1;
  Result<bool> wrong_e = session->internal_verify(kSlot1, e2, *sig);
  ASSERT_TRUE(wrong_e.ok());
  EXPECT_FALSE(*wrong_e);

  Bytes bad = *sig;
  bad.back() ^= 1;
  EXPECT_FALSE(session->external_verify(key.public_key(), e, bad));
  EXPECT_FALSE(session->external_verify(key.public_key(), e, {}));
}

TEST(SoftwareCryptoDevice, SlotTakenTwiceIsRefusedAndKeepsTheFirstKey) {
  SoftwareCryptoDevice device;
  const Sm2PrivateKey first = generated_key(), second = generated_key();
  ASSERT_TRUE(device.install_key(kSlot1, first).ok());
  Status again = device.install_key(kSlot1, second);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::invalid_argument);
  EXPECT_NE(again.error().message.find("slot 1"), std::string::npos) << again.error().message;

  auto session = open(device);
  Result<Sm2PublicKey> pub = session->export_sign_public_key(kSlot1);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->point(), first.public_key().point());
}

TEST(SoftwareCryptoDevice, UnknownSlotIsAnErrorEverywhere) {
  SoftwareCryptoDevice device;
  ASSERT_TRUE(device.install_key(kSlot1, generated_key()).ok());
  auto session = open(device);
  const KeyIndex missing{7};
  const Sm3Digest e{};

  Result<Sm2PublicKey> pub = session->export_sign_public_key(missing);
  ASSERT_FALSE(pub.ok());
  EXPECT_EQ(pub.error().code, Errc::bad_key);
  EXPECT_NE(pub.error().message.find("slot 7"), std::string::npos) << pub.error().message;

  Result<Bytes> sig = session->internal_sign(missing, e);
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.error().code, Errc::bad_key);

  Result<bool> verified = session->internal_verify(missing, e, Bytes(70, 0));
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code, Errc::bad_key);

  Result<std::unique_ptr<KeyAgreement>> kx = session->begin_key_agreement(
      missing, Sm2KxRole::initiator, "a", generated_key().public_key(), "b", 16);
  ASSERT_FALSE(kx.ok());
  EXPECT_EQ(kx.error().code, Errc::bad_key);
}

TEST(SoftwareCryptoDevice, KeyAgreementBetweenTwoDevices) {
  SoftwareCryptoDevice outer, inner;
  const Sm2PrivateKey outer_key = generated_key(), inner_key = generated_key();
  ASSERT_TRUE(outer.install_key(kSlot1, outer_key).ok());
  ASSERT_TRUE(inner.install_key(kSlot1, inner_key).ok());
  auto so = open(outer);
  auto si = open(inner);

  Result<std::unique_ptr<KeyAgreement>> a =
      so->begin_key_agreement(kSlot1, Sm2KxRole::initiator, "outer", inner_key.public_key(), "inner", 32);
  Result<std::unique_ptr<KeyAgreement>> b =
      si->begin_key_agreement(kSlot1, Sm2KxRole::responder, "inner", outer_key.public_key(), "outer", 32);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;

  const Bytes r_a = (*a)->ephemeral_point(), r_b = (*b)->ephemeral_point();
  Result<Sm2KxResult> kb = (*b)->finish(r_a);
  Result<Sm2KxResult> ka = (*a)->finish(r_b);
  ASSERT_TRUE(ka.ok() && kb.ok());
  ASSERT_EQ(ka->key.size(), 32u);
  EXPECT_EQ(hex_of(ka->key.view()), hex_of(kb->key.view()));
  EXPECT_TRUE(sm2_kx_confirm(ka->responder_confirmation, kb->responder_confirmation));
  EXPECT_TRUE(sm2_kx_confirm(kb->initiator_confirmation, ka->initiator_confirmation));
  EXPECT_FALSE((*a)->finish(r_b).ok());  // once per agreement
}

// The device's key agreement is the protocol of sm2_kx.h: it agrees with a
// peer that runs Sm2KeyExchange directly.
TEST(SoftwareCryptoDevice, KeyAgreementInteroperatesWithSm2KeyExchange) {
  SoftwareCryptoDevice device;
  const Sm2PrivateKey device_key = generated_key(), peer_key = generated_key();
  ASSERT_TRUE(device.install_key(kSlot1, device_key).ok());
  auto session = open(device);
  Result<std::unique_ptr<KeyAgreement>> a =
      session->begin_key_agreement(kSlot1, Sm2KxRole::initiator, "dev", peer_key.public_key(), "peer", 16);
  ASSERT_TRUE(a.ok());
  const SecretBytes d = peer_key.scalar();
  const Bytes device_point = device_key.public_key().point();
  Result<Sm2KeyExchange> b = Sm2KeyExchange::start(
      Sm2Curve::recommended(), {Sm2KxRole::responder, d.view(), "peer", device_point, "dev", 16});
  ASSERT_TRUE(b.ok());
  Result<Sm2KxResult> ka = (*a)->finish(b->ephemeral_point());
  Result<Sm2KxResult> kb = b->finish((*a)->ephemeral_point());
  ASSERT_TRUE(ka.ok() && kb.ok());
  EXPECT_EQ(hex_of(ka->key.view()), hex_of(kb->key.view()));
}

class DeviceSymmetric : public ::testing::Test {
 protected:
  void SetUp() override {
    session_ = open(device_);
    Result<SymmetricKeyHandle> h = session_->import_key(key_);
    ASSERT_TRUE(h.ok()) << h.error().message;
    handle_ = *h;
  }
  SoftwareCryptoDevice device_;
  std::unique_ptr<CryptoSession> session_;
  // GM/T 0002-2012 Appendix A key and draft-ribose-cfrg-sm4-10 A.2 IV.
  const Sm4Key key_ = hex_array<16>("0123456789abcdeffedcba9876543210");
  const Sm4Block iv_ = hex_array<16>("000102030405060708090a0b0c0d0e0f");
  SymmetricKeyHandle handle_{};
};

TEST_F(DeviceSymmetric, CbcMatchesTheFreeFunctions) {
  for (std::size_t len : {0, 1, 16, 31, 32, 1000}) {
    Bytes pt(len);
    for (std::size_t i = 0; i < len; ++i) pt[i] = static_cast<std::uint8_t>(i);
    Result<Bytes> ct = session_->encrypt(handle_, SymmetricMode::sm4_cbc, iv_, pt);
    ASSERT_TRUE(ct.ok());
    EXPECT_EQ(hex_of(*ct), hex_of(sm4_cbc_encrypt(key_, iv_, pt))) << len;
    Result<Bytes> back = session_->decrypt(handle_, SymmetricMode::sm4_cbc, iv_, *ct);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, pt) << len;
  }
  // draft-ribose-cfrg-sm4-10 A.2.2.1: the first two blocks are the standard's.
  Result<Bytes> ct = session_->encrypt(
      handle_, SymmetricMode::sm4_cbc, iv_, hex("aaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffffffffaaaaaaaabbbbbbbb"));
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(hex_of(ByteView(*ct).first(32)), "78ebb11cc40b0a48312aaeb2040244cb4cb7016951909226979b0d15dc6a8f6d");
}

TEST_F(DeviceSymmetric, CbcDecryptOfBadInputFailsLikeTheFreeFunction) {
  Result<Bytes> r = session_->decrypt(handle_, SymmetricMode::sm4_cbc, iv_, Bytes(17, 0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::decrypt_failed);
  EXPECT_EQ(r.error().message, sm4_cbc_decrypt(key_, iv_, Bytes(17, 0)).error().message);
}

TEST_F(DeviceSymmetric, CtrMatchesTheFreeFunctions) {
  // draft-ribose-cfrg-sm4-10 A.2.5.1.
  const Bytes pt = hex(
      "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd"
      "eeeeeeeeeeeeeeeeffffffffffffffffaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb");
  Result<Bytes> ct = session_->encrypt(handle_, SymmetricMode::sm4_ctr, iv_, pt);
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(hex_of(*ct),
            "ac3236cb970cc20791364c395a1342d1a3cbc1878c6f30cd074cce385cdd70c7"
            "f234bc0e24c11980fd1286310ce37b926e02fcd0faa0baf38b2933851d824514");
  for (std::size_t len : {0, 1, 15, 17, 100}) {
    const ByteView part = ByteView(pt).first(std::min(len, pt.size()));
    Bytes want(part.size());
    Sm4Ctr(key_, iv_).apply(part, want);
    Result<Bytes> got = session_->encrypt(handle_, SymmetricMode::sm4_ctr, iv_, part);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, want) << len;
    Result<Bytes> back = session_->decrypt(handle_, SymmetricMode::sm4_ctr, iv_, *got);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(hex_of(*back), hex_of(part)) << len;
  }
}

TEST_F(DeviceSymmetric, ImportRefusesWrongKeyLengths) {
  for (std::size_t len : {0, 15, 17, 32}) {
    Result<SymmetricKeyHandle> h = session_->import_key(Bytes(len, 1));
    ASSERT_FALSE(h.ok()) << len;
    EXPECT_EQ(h.error().code, Errc::invalid_argument) << len;
  }
}

TEST_F(DeviceSymmetric, HandlesAreDistinctPerImport) {
  Result<SymmetricKeyHandle> second = session_->import_key(hex("fedcba98765432100123456789abcdef"));
  ASSERT_TRUE(second.ok());
  EXPECT_NE(static_cast<std::uint64_t>(*second), static_cast<std::uint64_t>(handle_));
  Result<Bytes> a = session_->encrypt(handle_, SymmetricMode::sm4_ctr, iv_, Bytes(16, 0));
  Result<Bytes> b = session_->encrypt(*second, SymmetricMode::sm4_ctr, iv_, Bytes(16, 0));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST_F(DeviceSymmetric, BadHandlesAreErrors) {
  const auto never_issued = static_cast<SymmetricKeyHandle>(static_cast<std::uint64_t>(handle_) + 1000);
  for (SymmetricMode mode : {SymmetricMode::sm4_cbc, SymmetricMode::sm4_ctr}) {
    Result<Bytes> e = session_->encrypt(never_issued, mode, iv_, Bytes(16, 0));
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, Errc::bad_key);
    Result<Bytes> d = session_->decrypt(never_issued, mode, iv_, Bytes(16, 0));
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code, Errc::bad_key);
  }

  session_->destroy_key(handle_);
  Result<Bytes> after = session_->encrypt(handle_, SymmetricMode::sm4_cbc, iv_, Bytes(16, 0));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, Errc::bad_key);
  session_->destroy_key(handle_);  // destroying twice is harmless

  // A handle belongs to the session that imported it.
  Result<SymmetricKeyHandle> h = session_->import_key(key_);
  ASSERT_TRUE(h.ok());
  auto other = open(device_);
  Result<Bytes> foreign = other->encrypt(*h, SymmetricMode::sm4_ctr, iv_, Bytes(16, 0));
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.error().code, Errc::bad_key);
}

TEST(SoftwareCryptoDevice, GenerateRandomFillsAndDiffers) {
  SoftwareCryptoDevice device;
  auto session = open(device);
  Bytes a(64, 0), b(64, 0);
  ASSERT_TRUE(session->generate_random(a).ok());
  ASSERT_TRUE(session->generate_random(b).ok());
  EXPECT_NE(a, Bytes(64, 0));
  EXPECT_NE(a, b);
  EXPECT_TRUE(session->generate_random({}).ok());
}

}  // namespace
}  // namespace ferry::crypto

namespace ferry::crypto {
namespace {

TEST(SoftwareCryptoDevice, GeneratedKeyPairSignsAndDecrypts) {
  SoftwareCryptoDevice device;
  std::unique_ptr<CryptoSession> session = open(device);
  Result<Sm2PrivateKey> a = session->generate_key_pair();
  Result<Sm2PrivateKey> b = session->generate_key_pair();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->public_point(), b->public_point()) << "two generated pairs must differ";
  Result<Bytes> sig = sm2_sign(*a, test::hex("00ff"));
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(sm2_verify(a->public_key(), test::hex("00ff"), *sig));
  EXPECT_FALSE(sm2_verify(b->public_key(), test::hex("00ff"), *sig));
}

}  // namespace
}  // namespace ferry::crypto
