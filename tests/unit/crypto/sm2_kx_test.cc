// The SM2 key exchange protocol (GM/T 0003.3 §6.1) and the curve operations
// it is built on.
#include "crypto/sm2_kx.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "crypto/sm2.h"
#include "crypto/sm2_curve.h"
#include "tests/support/test_bytes.h"

namespace ferry::crypto {
namespace {

using test::hex;
using test::hex_of;
using test::lower;

// The 256-bit test curve of GM/T 0003.2-.4 Annex A; vectors.md §1.6.
constexpr Sm2CurveParameters kTestCurve = {
    "8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3",
    "787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498",
    "63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A",
    "421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D",
    "0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2",
    "8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7",
};

// One side's published values in a worked example.
struct Party {
  std::string_view id, d, px, py, r, rx, ry, z;
  Bytes point() const { return hex("04" + std::string(px) + std::string(py)); }
  Bytes ephemeral_point() const { return hex("04" + std::string(rx) + std::string(ry)); }
};

struct KxExample {
  Party a, b;
  std::string_view k, s_b, s_a;
};

// GM/T 0003.3-2012 Annex A.2 on the test curve, klen = 128 bits. Sources:
// GmSSL test/sm2test.c test_sm2_kap, emmansun/gmsm
// sm2/sm2_keyexchange_sample_test.go, bc-java SM2KeyExchangeTest.java.
constexpr KxExample kTestCurveExample = {
    {"ALICE123@YAHOO.COM", "6FCBA2EF9AE0AB902BC3BDE3FF915D44BA4CC78F88E2F8E7F8996D3B8CCEEDEE",
     "3099093BF3C137D8FCBBCDF4A2AE50F3B0F216C3122D79425FE03A45DBFE1655",
     "3DF79E8DAC1CF0ECBAA2F2B49D51A4B387F2EFAF482339086A27A8E05BAED98B",
     "83A2C9C8B96E5AF70BD480B472409A9A327257F1EBB73F5B073354B248668563",
     "6CB5633816F4DD560B1DEC458310CBCC6856C09505324A6D23150C408F162BF0",
     "0D6FCF62F1036C0A1B6DACCF57399223A65F7D7BF2D9637E5BBBEB857961BF1A",
     "E4D1D0C3CA4C7F11BC8FF8CB3F4C02A78F108FA098E51A668487240F75E20F31"},
    {"BILL456@YAHOO.COM", "5E35D7D3F3C54DBAC72E61819E730B019A84208CA3A35E4C2E353DFCCB2A3B53",
     "245493D446C38D8CC0F118374690E7DF633A8A4BFB3329B5ECE604B2B4F37F43",
     "53C0869F4B9E17773DE68FEC45E14904E0DEA45BF6CECF9918C85EA047C60A4C",
     "33FE21940342161C55619C4A0C060293D543C80AF19748CE176D83477DE71C80",
     "1799B2A2C778295300D9A2325C686129B8F2B5337B3DCF4514E8BBC19D900EE5",
     "54C9288C82733EFDF7808AE7F27D0E732F7C73A7D9AC98B7D8740A91D0DB3CF4",
     "6B4B6D0E276691BD4A11BF72F4FB501AE309FDACB72FA6CC336E6656119ABD67"},
    "55B0AC62A6B927BA23703832C853DED4",
    "284C8F198F141B502E81250F1581C7E9EEB4CA6990F9E02DF388B45471F5BC5C",
    "23444DAF8ED7534366CB901C84B3BDBB63504F4065C1116C91A4C00697E6CF7A",
};

// GB/T 32918.5-2017 Annex B on sm2p256v1, klen = 128 bits. Inputs, R and K:
// openHiTLS crypto/provider/src/cmvp/cmvp_utils/cmvp_selftest_sm2.c
// (SM2Exchange_VECTOR) and Tencent Kona SM2KeyAgreementTest.java. S_B and
// S_A are confirmed only by an independent recomputation (affine arithmetic
// and SM3 in Python, following §6.1 step by step), not by a published source.
constexpr KxExample kRecommendedExample = {
    {"1234567812345678", "81EB26E941BB5AF16DF116495F90695272AE2CD63D6C4AE1678418BE48230029",
     "160E12897DF4EDB61DD812FEB96748FBD3CCF4FFE26AA6F6DB9540AF49C94232",
     "4A7DAD08BB9A459531694BEB20AA489D6649975E1BFCF8C4741B78B4B223007F",
     "D4DE15474DB74D06491C440D305E012400990F3E390C7E87153C12DB2EA60BB3",
     "64CED1BDBC99D590049B434D0FD73428CF608A5DB8FE5CE07F15026940BAE40E",
     "376629C7AB21E7DB260922499DDB118F07CE8EAAE3E7720AFEF6A5CC062070C0",
     "3B85A57179E11E7E513AA622991F2CA74D1807A0BD4D4B38F90987A17AC245B1"},
    {"1234567812345678", "785129917D45A9EA5437A59356B82338EAADDA6CEB199088F14AE10DEFA229B5",
     "6AE848C57C53C7B1B5FA99EB2286AF078BA64C64591B8B566F7357D576F16DFB",
     "EE489D771621A27B36C5C7992062E9CD09A9264386F3FBEA54DFF69305621C4D",
     "7E07124814B309489125EAED101113164EBF0F3458C5BD88335C1F9D596243D6",
     "ACC27688A6F7B706098BC91FF3AD1BFF7DC2802CDB14CCCCDB0A90471F9BD707",
     "2FEDAC0494B2FFC4D6853876C79B8F301C6573AD0AA50F39FC87181E1A1B46FE",
     "79C988D63229D97EF19FE02CA1056E01E6A7411ED24694AA8F834F4A4AB022F7"},
    "6C89347354DE2484C60B4AB1FDE4C6E5",
    "D3A0FE15DEE185CEAE907A6B595CC32A266ED7B3367E9983A896DC32FA20F8EB",
    "18C7894B3816DF16CF07B05C5EC0BEF5D655D58F779CC1B400A4F3884644DB88",
};

const Sm2Curve& test_curve() {
  static const Sm2Curve curve = [] {
    Result<Sm2Curve> c = Sm2Curve::from_parameters(kTestCurve);
    if (!c.ok()) throw std::runtime_error("test curve rejected: " + c.error().message);
    return std::move(c).value();
  }();
  return curve;
}

struct Sides {
  Sm2KeyExchange a, b;
};

// Both sides of an example, with the published ephemerals and a given klen.
Result<Sides> start_example(const Sm2Curve& curve, const KxExample& ex, std::size_t key_len) {
  const Bytes d_a = hex(ex.a.d), d_b = hex(ex.b.d);
  const Bytes p_a = ex.a.point(), p_b = ex.b.point();
  Result<Sm2KeyExchange> a = Sm2KeyExchange::start_with_ephemeral(
      curve, {Sm2KxRole::initiator, d_a, ex.a.id, p_b, ex.b.id, key_len}, hex(ex.a.r));
  if (!a.ok()) return a.error();
  Result<Sm2KeyExchange> b = Sm2KeyExchange::start_with_ephemeral(
      curve, {Sm2KxRole::responder, d_b, ex.b.id, p_a, ex.a.id, key_len}, hex(ex.b.r));
  if (!b.ok()) return b.error();
  return Sides{std::move(a).value(), std::move(b).value()};
}

void check_example(const Sm2Curve& curve, const KxExample& ex) {
  Result<Bytes> p_a = curve.public_point(hex(ex.a.d));
  Result<Bytes> p_b = curve.public_point(hex(ex.b.d));
  ASSERT_TRUE(p_a.ok() && p_b.ok());
  EXPECT_EQ(hex_of(*p_a), hex_of(ex.a.point()));
  EXPECT_EQ(hex_of(*p_b), hex_of(ex.b.point()));

  Result<Sm3Digest> z_a = curve.z(ex.a.id, ex.a.point());
  Result<Sm3Digest> z_b = curve.z(ex.b.id, ex.b.point());
  ASSERT_TRUE(z_a.ok() && z_b.ok());
  EXPECT_EQ(hex_of(*z_a), lower(ex.a.z));
  EXPECT_EQ(hex_of(*z_b), lower(ex.b.z));

  Result<Sides> sides = start_example(curve, ex, 16);
  ASSERT_TRUE(sides.ok()) << sides.error().message;
  EXPECT_EQ(hex_of(sides->a.ephemeral_point()), hex_of(ex.a.ephemeral_point()));  // R_A
  EXPECT_EQ(hex_of(sides->b.ephemeral_point()), hex_of(ex.b.ephemeral_point()));  // R_B

  Result<Sm2KxResult> b = sides->b.finish(sides->a.ephemeral_point());
  Result<Sm2KxResult> a = sides->a.finish(sides->b.ephemeral_point());
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(hex_of(a->key.view()), lower(ex.k));  // K_A
  EXPECT_EQ(hex_of(b->key.view()), lower(ex.k));  // K_B
  EXPECT_EQ(hex_of(b->responder_confirmation), lower(ex.s_b));  // S_B, as B sends it
  EXPECT_EQ(hex_of(a->responder_confirmation), lower(ex.s_b));  // S_1, as A checks it
  EXPECT_EQ(hex_of(a->initiator_confirmation), lower(ex.s_a));  // S_A, as A sends it
  EXPECT_EQ(hex_of(b->initiator_confirmation), lower(ex.s_a));  // S_2, as B checks it
  EXPECT_TRUE(sm2_kx_confirm(a->responder_confirmation, b->responder_confirmation));
  EXPECT_TRUE(sm2_kx_confirm(b->initiator_confirmation, a->initiator_confirmation));
}

TEST(Sm2Curve, TestCurveParametersAreAccepted) {
  Result<Sm2Curve> c = Sm2Curve::from_parameters(kTestCurve);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->field_size(), 32u);
  EXPECT_EQ(c->point_size(), 65u);
}

TEST(Sm2Curve, BrokenParametersAreRefused) {
  Sm2CurveParameters wrong_b = kTestCurve;
  wrong_b.b = "63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249B";  // G no longer on it
  Sm2CurveParameters wrong_n = kTestCurve;
  wrong_n.n = "8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B9";
  Sm2CurveParameters not_hex = kTestCurve;
  not_hex.p = "8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFCZ";
  Sm2CurveParameters empty = kTestCurve;
  empty.a = "";
  for (const Sm2CurveParameters& p : {wrong_b, wrong_n, not_hex, empty}) {
    Result<Sm2Curve> c = Sm2Curve::from_parameters(p);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().code, Errc::invalid_argument);
  }
}

// GM/T 0003.2 Annex A / draft-shen-sm2-ecdsa-02 on the test curve; vectors.md
// §1.6 S1 (x_A = 0AE4C779...DF2548A, Z_A = F4A38489...).
TEST(Sm2Curve, TestCurveSignatureExampleZ) {
  const Sm2Curve& curve = test_curve();
  Result<Bytes> p = curve.public_point(hex("128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  const std::string x = hex_of(ByteView(*p).subspan(1, 32));
  EXPECT_TRUE(x.starts_with("0ae4c779")) << x;
  EXPECT_TRUE(x.ends_with("df2548a")) << x;
  Result<Sm3Digest> z = curve.z("ALICE123@YAHOO.COM", *p);
  ASSERT_TRUE(z.ok()) << z.error().message;
  EXPECT_EQ(hex_of(*z), "f4a38489e32b45b6f876e3ac2168ca392362dc8f23459c1d1146fc3dbfb7bc9a");
}

TEST(Sm2Curve, RecommendedCurveZMatchesSm2Z) {
  // GM/T 0003.5 Annex A key: Z_A = B2E14C5C...A4F3 (vectors.md §1.6 S2).
  const Bytes point = hex(
      "0409F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
      "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13");
  Result<Sm3Digest> z = Sm2Curve::recommended().z(kSm2DefaultId, point);
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(hex_of(*z), "b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3");
}

TEST(Sm2Curve, PointValidation) {
  const Sm2Curve& curve = Sm2Curve::recommended();
  Bytes good = kRecommendedExample.a.point();
  EXPECT_TRUE(curve.is_valid_point(good));
  Bytes off = good;
  off[40] ^= 0x01;
  EXPECT_FALSE(curve.is_valid_point(off));
  EXPECT_FALSE(curve.is_valid_point(ByteView(good).first(33)));
  EXPECT_FALSE(curve.is_valid_point({}));
  // A point of the test curve is not a point of sm2p256v1.
  EXPECT_FALSE(curve.is_valid_point(kTestCurveExample.a.point()));
  Result<Sm3Digest> z = curve.z(kSm2DefaultId, off);
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().code, Errc::bad_key);
}

// --- the published examples -------------------------------------------------

TEST(Sm2KeyExchange, TestCurveExampleGmt0003Part3AnnexA2) {
  check_example(test_curve(), kTestCurveExample);
}

TEST(Sm2KeyExchange, RecommendedCurveExampleGbt32918Part5AnnexB) {
  check_example(Sm2Curve::recommended(), kRecommendedExample);
}

// KDF output is a prefix-stable stream, so with the published ephemerals every
// klen gives a prefix of the longest key, and klen = 16 gives the standard's K.
TEST(Sm2KeyExchange, KeyLengths1To100WithTheExampleEphemerals) {
  Result<Sides> longest = start_example(Sm2Curve::recommended(), kRecommendedExample, 100);
  ASSERT_TRUE(longest.ok());
  Result<Sm2KxResult> full = longest->a.finish(longest->b.ephemeral_point());
  ASSERT_TRUE(full.ok());
  const std::string full_hex = hex_of(full->key.view());
  ASSERT_EQ(full_hex.substr(0, 32), lower(kRecommendedExample.k));
  for (std::size_t len = 1; len <= 100; ++len) {
    Result<Sides> s = start_example(Sm2Curve::recommended(), kRecommendedExample, len);
    ASSERT_TRUE(s.ok()) << len;
    Result<Sm2KxResult> a = s->a.finish(s->b.ephemeral_point());
    Result<Sm2KxResult> b = s->b.finish(s->a.ephemeral_point());
    ASSERT_TRUE(a.ok() && b.ok()) << len;
    ASSERT_EQ(a->key.size(), len);
    EXPECT_EQ(hex_of(a->key.view()), full_hex.substr(0, 2 * len)) << len;
    EXPECT_EQ(hex_of(b->key.view()), full_hex.substr(0, 2 * len)) << len;
    // The confirmations do not depend on klen.
    EXPECT_EQ(hex_of(a->responder_confirmation), lower(kRecommendedExample.s_b)) << len;
  }
}

// --- generated keys ---------------------------------------------------------

struct Peer {
  Sm2PrivateKey key;
  SecretBytes d;
  Bytes point;
  static Peer generate() {
    Result<Sm2PrivateKey> k = Sm2PrivateKey::generate();
    if (!k.ok()) throw std::runtime_error(k.error().message);
    Peer p{std::move(k).value(), {}, {}};
    p.d = p.key.scalar();
    p.point = p.key.public_key().point();
    return p;
  }
};

Result<Sm2KeyExchange> start(const Peer& self, Sm2KxRole role, std::string_view own_id, ByteView peer_point,
                             std::string_view peer_id, std::size_t key_len) {
  return Sm2KeyExchange::start(Sm2Curve::recommended(),
                               {role, self.d.view(), own_id, peer_point, peer_id, key_len});
}

TEST(Sm2KeyExchange, RandomExchangesAgree) {
  for (int i = 0; i < 8; ++i) {
    SCOPED_TRACE(i);
    const Peer alice = Peer::generate(), bob = Peer::generate();
    Result<Sm2KeyExchange> a = start(alice, Sm2KxRole::initiator, "alice", bob.point, "bob", 32);
    Result<Sm2KeyExchange> b = start(bob, Sm2KxRole::responder, "bob", alice.point, "alice", 32);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(Sm2Curve::recommended().is_valid_point(a->ephemeral_point()));
    Result<Sm2KxResult> ka = a->finish(b->ephemeral_point());
    Result<Sm2KxResult> kb = b->finish(a->ephemeral_point());
    ASSERT_TRUE(ka.ok() && kb.ok());
    EXPECT_EQ(hex_of(ka->key.view()), hex_of(kb->key.view()));
    EXPECT_TRUE(sm2_kx_confirm(ka->responder_confirmation, kb->responder_confirmation));
    EXPECT_TRUE(sm2_kx_confirm(kb->initiator_confirmation, ka->initiator_confirmation));
    EXPECT_NE(hex_of(ka->responder_confirmation), hex_of(ka->initiator_confirmation));
  }
}

TEST(Sm2KeyExchange, FreshEphemeralsGiveFreshKeys) {
  const Peer alice = Peer::generate(), bob = Peer::generate();
  std::vector<std::string> keys;
  for (int i = 0; i < 2; ++i) {
    Result<Sm2KeyExchange> a = start(alice, Sm2KxRole::initiator, "alice", bob.point, "bob", 16);
    Result<Sm2KeyExchange> b = start(bob, Sm2KxRole::responder, "bob", alice.point, "alice", 16);
    ASSERT_TRUE(a.ok() && b.ok());
    Result<Sm2KxResult> ka = a->finish(b->ephemeral_point());
    ASSERT_TRUE(ka.ok());
    keys.push_back(hex_of(ka->key.view()));
  }
  EXPECT_NE(keys[0], keys[1]);
}

TEST(Sm2KeyExchange, RandomExchangesAgreeForKeyLengths1To100) {
  const Peer alice = Peer::generate(), bob = Peer::generate();
  for (std::size_t len = 1; len <= 100; ++len) {
    Result<Sm2KeyExchange> a = start(alice, Sm2KxRole::initiator, "alice", bob.point, "bob", len);
    Result<Sm2KeyExchange> b = start(bob, Sm2KxRole::responder, "bob", alice.point, "alice", len);
    ASSERT_TRUE(a.ok() && b.ok()) << len;
    Result<Sm2KxResult> ka = a->finish(b->ephemeral_point());
    Result<Sm2KxResult> kb = b->finish(a->ephemeral_point());
    ASSERT_TRUE(ka.ok() && kb.ok()) << len;
    ASSERT_EQ(ka->key.size(), len);
    EXPECT_EQ(hex_of(ka->key.view()), hex_of(kb->key.view())) << len;
  }
}

TEST(Sm2KeyExchange, TamperedPeerEphemeralIsRefused) {
  Result<Sides> s = start_example(Sm2Curve::recommended(), kRecommendedExample, 16);
  ASSERT_TRUE(s.ok());
  const Bytes r_b = s->b.ephemeral_point();
  Bytes off_curve = r_b;
  off_curve.back() ^= 0x01;
  Bytes compressed(r_b.begin(), r_b.begin() + 33);
  compressed[0] = static_cast<std::uint8_t>(0x02 | (r_b.back() & 1));
  for (const Bytes& bad : {off_curve, compressed, Bytes{0x00}, Bytes{}, kTestCurveExample.b.ephemeral_point()}) {
    Result<Sm2KxResult> r = s->a.finish(bad);
    ASSERT_FALSE(r.ok()) << hex_of(bad);
    EXPECT_EQ(r.error().code, Errc::verify_failed) << hex_of(bad);
  }
}

TEST(Sm2KeyExchange, WrongPeerStaticKeyGivesAnotherKeyAndConfirmationMismatch) {
  const Peer alice = Peer::generate(), bob = Peer::generate(), mallory = Peer::generate();
  // Alice believes she is talking to Mallory's key; Bob runs the protocol honestly.
  Result<Sm2KeyExchange> a = start(alice, Sm2KxRole::initiator, "alice", mallory.point, "bob", 16);
  Result<Sm2KeyExchange> b = start(bob, Sm2KxRole::responder, "bob", alice.point, "alice", 16);
  ASSERT_TRUE(a.ok() && b.ok());
  Result<Sm2KxResult> ka = a->finish(b->ephemeral_point());
  Result<Sm2KxResult> kb = b->finish(a->ephemeral_point());
  ASSERT_TRUE(ka.ok() && kb.ok());
  EXPECT_NE(hex_of(ka->key.view()), hex_of(kb->key.view()));
  EXPECT_FALSE(sm2_kx_confirm(ka->responder_confirmation, kb->responder_confirmation));  // A refuses S_B
  EXPECT_FALSE(sm2_kx_confirm(kb->initiator_confirmation, ka->initiator_confirmation));  // B refuses S_A
}

TEST(Sm2KeyExchange, MismatchedIdsBreakTheConfirmation) {
  const Peer alice = Peer::generate(), bob = Peer::generate();
  Result<Sm2KeyExchange> a = start(alice, Sm2KxRole::initiator, "alice", bob.point, "bob", 16);
  Result<Sm2KeyExchange> b = start(bob, Sm2KxRole::responder, "bob", alice.point, "alicf", 16);
  ASSERT_TRUE(a.ok() && b.ok());
  Result<Sm2KxResult> ka = a->finish(b->ephemeral_point());
  Result<Sm2KxResult> kb = b->finish(a->ephemeral_point());
  ASSERT_TRUE(ka.ok() && kb.ok());
  EXPECT_NE(hex_of(ka->key.view()), hex_of(kb->key.view()));
  EXPECT_FALSE(sm2_kx_confirm(ka->responder_confirmation, kb->responder_confirmation));
}

TEST(Sm2KeyExchange, SameRoleOnBothSidesDoesNotAgree) {
  const Peer alice = Peer::generate(), bob = Peer::generate();
  Result<Sm2KeyExchange> a = start(alice, Sm2KxRole::initiator, "alice", bob.point, "bob", 16);
  Result<Sm2KeyExchange> b = start(bob, Sm2KxRole::initiator, "bob", alice.point, "alice", 16);
  ASSERT_TRUE(a.ok() && b.ok());
  Result<Sm2KxResult> ka = a->finish(b->ephemeral_point());
  Result<Sm2KxResult> kb = b->finish(a->ephemeral_point());
  ASSERT_TRUE(ka.ok() && kb.ok());
  EXPECT_FALSE(sm2_kx_confirm(ka->responder_confirmation, kb->responder_confirmation));
}

TEST(Sm2KeyExchange, FinishTwiceIsRefused) {
  Result<Sides> s = start_example(Sm2Curve::recommended(), kRecommendedExample, 16);
  ASSERT_TRUE(s.ok());
  const Bytes r_b = s->b.ephemeral_point();
  ASSERT_TRUE(s->a.finish(r_b).ok());
  Result<Sm2KxResult> again = s->a.finish(r_b);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::invalid_argument);
}

TEST(Sm2KeyExchange, ConfirmRejectsWrongLengthAndValue) {
  Sm3Digest s{};
  s[0] = 1;
  EXPECT_TRUE(sm2_kx_confirm(s, s));
  EXPECT_FALSE(sm2_kx_confirm(s, ByteView(s).first(31)));
  EXPECT_FALSE(sm2_kx_confirm(s, {}));
  Sm3Digest t = s;
  t[31] ^= 0x80;
  EXPECT_FALSE(sm2_kx_confirm(s, t));
}

TEST(Sm2KeyExchange, StartRefusesBadParameters) {
  const Sm2Curve& curve = Sm2Curve::recommended();
  const Bytes d = hex(kRecommendedExample.a.d), peer = kRecommendedExample.b.point();
  const Bytes r = hex(kRecommendedExample.a.r);
  Bytes off = peer;
  off.back() ^= 1;
  const Bytes n = hex("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123");
  const Bytes zero(32, 0);
  struct Case {
    const char* what;
    Sm2KeyExchange::Parameters params;
    Bytes ephemeral;
    Errc code;
  };
  const std::vector<Case> cases = {
      {"key length 0", {Sm2KxRole::initiator, d, "a", peer, "b", 0}, r, Errc::invalid_argument},
      {"empty own ID", {Sm2KxRole::initiator, d, "", peer, "b", 16}, r, Errc::invalid_argument},
      {"empty peer ID", {Sm2KxRole::initiator, d, "a", peer, "", 16}, r, Errc::invalid_argument},
      {"peer key off curve", {Sm2KxRole::initiator, d, "a", off, "b", 16}, r, Errc::bad_key},
      {"own scalar 0", {Sm2KxRole::initiator, zero, "a", peer, "b", 16}, r, Errc::bad_key},
      {"own scalar n", {Sm2KxRole::initiator, n, "a", peer, "b", 16}, r, Errc::bad_key},
      {"ephemeral 0", {Sm2KxRole::initiator, d, "a", peer, "b", 16}, zero, Errc::invalid_argument},
      {"ephemeral n", {Sm2KxRole::initiator, d, "a", peer, "b", 16}, n, Errc::invalid_argument},
      {"ephemeral 31 bytes", {Sm2KxRole::initiator, d, "a", peer, "b", 16}, Bytes(31, 1), Errc::invalid_argument},
  };
  for (const Case& c : cases) {
    Result<Sm2KeyExchange> kx = Sm2KeyExchange::start_with_ephemeral(curve, c.params, c.ephemeral);
    ASSERT_FALSE(kx.ok()) << c.what;
    EXPECT_EQ(kx.error().code, c.code) << c.what << ": " << kx.error().message;
  }
}

// A peer's ephemeral point is hostile input. (0, y) with
// y = FD4511E8...F5CDC154 is on sm2p256v1 (0^3 + a*0 + b = b is a square mod
// p), so it passes the §6.1 A6/B2 on-curve check and must give a key or an
// error, never crash the process. The expected keys were computed
// independently (affine arithmetic and SM3 in Python, GM/T 0003.3 §6.1 with
// x̄ = 2^127 + (x mod 2^127) = 2^127) for the Annex B static and ephemeral
// keys with this point as the peer's R.
TEST(Sm2KeyExchangeDeathTest, PeerEphemeralWithSmallXIsHandled) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const Bytes zero_x = hex(
      "04"
      "0000000000000000000000000000000000000000000000000000000000000000"
      "FD4511E81736A60F07E88A83D6CF5A167FAE6D1A9C9330E76E232E00F5CDC154");
  ASSERT_TRUE(Sm2Curve::recommended().is_valid_point(zero_x));
  struct Case {
    const char* role;
    const char* want_key;
  };
  for (const Case& c : {Case{"initiator", "994c3f876d0e61b9c6f539cb72151eb9"},
                        Case{"responder", "58e5413740d1e7d68e30f8972364670f"}}) {
    SCOPED_TRACE(c.role);
    const bool initiator = std::string_view(c.role) == "initiator";
    // Exit 0: the right key. 3: a wrong key. 0 also for a clean refusal.
    EXPECT_EXIT(
        {
          Result<Sides> s = start_example(Sm2Curve::recommended(), kRecommendedExample, 16);
          if (!s.ok()) std::exit(4);
          Result<Sm2KxResult> r = initiator ? s->a.finish(zero_x) : s->b.finish(zero_x);
          if (!r.ok()) std::exit(0);
          std::exit(hex_of(r->key.view()) == c.want_key ? 0 : 3);
        },
        ::testing::ExitedWithCode(0), "");
  }
}

}  // namespace
}  // namespace ferry::crypto
