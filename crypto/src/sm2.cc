#include "crypto/sm2.h"

#include <cstring>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "crypto/sm2_curve.h"
#include "crypto/src/ossl.h"
#include "crypto/src/sm2_internal.h"

namespace ferry::crypto {
namespace {

using Bio = std::unique_ptr<BIO, ossl::Deleter<BIO_free>>;

std::shared_ptr<EVP_PKEY> share(EVP_PKEY* p) { return {p, EVP_PKEY_free}; }

Bio read_bio(std::string_view pem) {
  return Bio(ossl::check_ptr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), "BIO_new_mem_buf"));
}

// Names what a key is when it is not SM2, so the user learns which file is
// wrong and why ("an RSA key", "an EC key on prime256v1").
std::string describe_key(EVP_PKEY* pkey) {
  const char* type = EVP_PKEY_get0_type_name(pkey);
  std::string out = "an ";
  out += type != nullptr ? type : "unknown";
  out += " key";
  char group[80];
  std::size_t len = 0;
  if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &len) == 1) {
    out += " on curve ";
    out.append(group, len);
  }
  ossl::drain_errors();
  return out;
}

Status require_sm2(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "SM2")) return {};
  return make_error(Errc::bad_key, "expected an SM2 key (curve sm2p256v1), got " + describe_key(pkey));
}

Bytes point_of(EVP_PKEY* pkey) {
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  ossl::check(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x), "public x");
  ossl::Bn xo(x);
  ossl::check(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y), "public y");
  ossl::Bn yo(y);
  Bytes out{0x04};
  Bytes xb = internal::bn_to_bytes(x, kSm2FieldSize), yb = internal::bn_to_bytes(y, kSm2FieldSize);
  out.insert(out.end(), xb.begin(), xb.end());
  out.insert(out.end(), yb.begin(), yb.end());
  return out;
}

// Builds an SM2 EVP_PKEY from validated raw parts; d may be null for a
// public key.
EVP_PKEY* pkey_from_parts(ByteView point, const BIGNUM* d) {
  std::unique_ptr<OSSL_PARAM_BLD, ossl::Deleter<OSSL_PARAM_BLD_free>> bld(
      ossl::check_ptr(OSSL_PARAM_BLD_new(), "OSSL_PARAM_BLD_new"));
  ossl::check(OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0), "group");
  ossl::check(OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
              "pub");
  if (d != nullptr) ossl::check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d), "priv");
  std::unique_ptr<OSSL_PARAM, ossl::Deleter<OSSL_PARAM_free>> params(
      ossl::check_ptr(OSSL_PARAM_BLD_to_param(bld.get()), "OSSL_PARAM_BLD_to_param"));
  ossl::PkeyCtx ctx(ossl::check_ptr(EVP_PKEY_CTX_new_from_name(nullptr, "SM2", nullptr), "SM2 ctx"));
  ossl::check(EVP_PKEY_fromdata_init(ctx.get()), "fromdata init");
  EVP_PKEY* pkey = nullptr;
  ossl::check(EVP_PKEY_fromdata(ctx.get(), &pkey, d != nullptr ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                                params.get()),
              "EVP_PKEY_fromdata");
  return pkey;
}

// GM/T 0028 / FIPS 140 pairwise-consistency test for a new key pair.
Status pairwise_consistent(const Sm2PrivateKey& key) {
  static constexpr std::string_view kProbe = "ferry pairwise consistency test";
  Sm2PublicKey pub = key.public_key();
  Result<Bytes> sig = sm2_sign(key, as_bytes(kProbe));
  if (!sig.ok() || !sm2_verify(pub, as_bytes(kProbe), *sig)) {
    return make_error(Errc::selftest_failed, "new SM2 key pair failed the sign/verify consistency test");
  }
  Result<Bytes> ct = sm2_encrypt(pub, as_bytes(kProbe));
  if (!ct.ok()) return make_error(Errc::selftest_failed, "new SM2 key pair could not encrypt");
  Result<Bytes> pt = sm2_decrypt(key, *ct);
  if (!pt.ok() || !equal_constant_time(*pt, as_bytes(kProbe))) {
    return make_error(Errc::selftest_failed, "new SM2 key pair failed the encrypt/decrypt consistency test");
  }
  return {};
}

int refuse_passphrase(char*, int, int, void*) { return -1; }

bool is_single_der_sequence(ByteView der) {
  if (der.empty()) return false;
  const unsigned char* p = der.data();
  long len = 0;
  int tag = 0, cls = 0;
  const int rc = ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(der.size()));
  ossl::drain_errors();
  if ((rc & 0x80) != 0 || rc != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL) return false;
  const std::size_t header = static_cast<std::size_t>(p - der.data());
  return header + static_cast<std::size_t>(len) == der.size();
}

}  // namespace

Result<Sm2PublicKey> Sm2PublicKey::from_pem(std::string_view pem) {
  if (pem.find("PRIVATE KEY-----") != std::string_view::npos) {
    return make_error(Errc::bad_format, "this is a private key; a public key (BEGIN PUBLIC KEY) is needed");
  }
  Bio bio = read_bio(pem);
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio.get(), nullptr, refuse_passphrase, nullptr);
  if (pkey == nullptr) {
    ossl::drain_errors();
    return make_error(Errc::bad_format, "not a PEM public key (expected BEGIN PUBLIC KEY)");
  }
  auto shared = share(pkey);
  if (Status s = require_sm2(pkey); !s.ok()) return s.error();
  return Sm2PublicKey(std::move(shared));
}

Result<Sm2PublicKey> Sm2PublicKey::from_point(ByteView point) {
  if (!Sm2Curve::recommended().is_valid_point(point)) {
    return make_error(Errc::bad_key, "not an uncompressed point on sm2p256v1");
  }
  return Sm2PublicKey(share(pkey_from_parts(point, nullptr)));
}

std::string Sm2PublicKey::to_pem() const {
  Bio bio(ossl::check_ptr(BIO_new(BIO_s_mem()), "BIO_new"));
  ossl::check(PEM_write_bio_PUBKEY(bio.get(), pkey_.get()), "PEM_write_bio_PUBKEY");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Bytes Sm2PublicKey::point() const { return point_of(pkey_.get()); }

Result<Sm2PrivateKey> Sm2PrivateKey::generate() {
  ossl::PkeyCtx ctx(ossl::check_ptr(EVP_PKEY_CTX_new_from_name(nullptr, "SM2", nullptr), "SM2 ctx"));
  ossl::check(EVP_PKEY_keygen_init(ctx.get()), "SM2 keygen init");
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &pkey) != 1) {
    return make_error(Errc::rng, "SM2 key generation failed: " + ossl::drain_errors());
  }
  Sm2PrivateKey key(share(pkey));
  if (Status s = pairwise_consistent(key); !s.ok()) return s.error();
  return key;
}

Result<Sm2PrivateKey> Sm2PrivateKey::from_pem(std::string_view pem) {
  if (pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
      pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos) {
    return make_error(Errc::bad_format,
                      "encrypted private key PEM is not supported; store the key unencrypted with mode 0600");
  }
  if (pem.find("BEGIN PUBLIC KEY") != std::string_view::npos) {
    return make_error(Errc::bad_format, "this is a public key; a private key (BEGIN PRIVATE KEY) is needed");
  }
  Bio bio = read_bio(pem);
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr);
  if (pkey == nullptr) {
    ossl::drain_errors();
    return make_error(Errc::bad_format, "not a PEM private key (expected BEGIN PRIVATE KEY)");
  }
  auto shared = share(pkey);
  if (Status s = require_sm2(pkey); !s.ok()) return s.error();
  // A key file that carries a private scalar out of range or a public point
  // that is not d*G would sign with a key other than the one it claims.
  ossl::PkeyCtx check(ossl::check_ptr(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr), "ctx"));
  if (EVP_PKEY_pairwise_check(check.get()) != 1) {
    ossl::drain_errors();
    return make_error(Errc::bad_key, "SM2 private key is inconsistent (public point is not d*G)");
  }
  Sm2PrivateKey key(std::move(shared));
  SecretBytes d = key.scalar();
  if (!internal::scalar_in_range(Sm2Curve::recommended(), d.view())) {
    return make_error(Errc::bad_key, "SM2 private key is out of range (GM/T 0003.1 §6.1: 1 <= d <= n-2)");
  }
  return key;
}

Result<Sm2PrivateKey> Sm2PrivateKey::from_scalar(ByteView d) {
  const Sm2Curve& curve = Sm2Curve::recommended();
  ossl::Bn bn = internal::scalar_in_range(curve, d);
  if (!bn) return make_error(Errc::bad_key, "SM2 private key must be 32 bytes with 1 <= d <= n-2");
  Result<Bytes> point = curve.public_point(d);
  if (!point.ok()) return point.error();
  return Sm2PrivateKey(share(pkey_from_parts(*point, bn.get())));
}

SecretBytes Sm2PrivateKey::to_pem() const {
  // Secure-heap BIO: the PEM text of a private key is wiped when freed.
  Bio bio(ossl::check_ptr(BIO_new(BIO_s_secmem()), "BIO_new"));
  ossl::check(PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr),
              "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return SecretBytes(ByteView(reinterpret_cast<const std::uint8_t*>(data), static_cast<std::size_t>(len)));
}

SecretBytes Sm2PrivateKey::scalar() const {
  BIGNUM* d = nullptr;
  ossl::check(EVP_PKEY_get_bn_param(pkey_.get(), OSSL_PKEY_PARAM_PRIV_KEY, &d), "private scalar");
  ossl::Bn owned(d);
  SecretBytes out(kSm2FieldSize);
  if (BN_bn2binpad(d, out.data(), static_cast<int>(out.size())) != static_cast<int>(out.size())) {
    ossl::fail("private scalar wider than 32 bytes");
  }
  return out;
}

Bytes Sm2PrivateKey::public_point() const { return point_of(pkey_.get()); }

Sm2PublicKey Sm2PrivateKey::public_key() const {
  return Sm2PublicKey(share(pkey_from_parts(point_of(pkey_.get()), nullptr)));
}

Result<Sm3Digest> sm2_z(std::string_view id, const Sm2PublicKey& key) {
  return Sm2Curve::recommended().z(id, key.point());
}

Result<Sm2MessageHash> Sm2MessageHash::start(const Sm2PublicKey& signer, std::string_view id) {
  return start(signer.point(), id);
}

Result<Sm2MessageHash> Sm2MessageHash::start(ByteView signer_point, std::string_view id) {
  Result<Sm3Digest> z = Sm2Curve::recommended().z(id, signer_point);
  if (!z.ok()) return z.error();
  Sm2MessageHash h;
  h.sm3_.update(*z);
  return h;
}

Result<Bytes> sm2_sign_hash(const Sm2PrivateKey& key, const Sm3Digest& e) {
  // EVP_PKEY_sign on an SM2 key signs its input as e directly (GM/T 0003.2
  // §6.1 from step A3), which lets Z and the message be hashed by streaming.
  ossl::PkeyCtx ctx(ossl::check_ptr(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr), "sign ctx"));
  ossl::check(EVP_PKEY_sign_init(ctx.get()), "SM2 sign init");
  std::size_t len = 0;
  ossl::check(EVP_PKEY_sign(ctx.get(), nullptr, &len, e.data(), e.size()), "SM2 sign size");
  Bytes sig(len);
  if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, e.data(), e.size()) != 1) {
    return make_error(Errc::internal, "SM2 signing failed: " + ossl::drain_errors());
  }
  sig.resize(len);
  return sig;
}

bool sm2_verify_hash(const Sm2PublicKey& key, const Sm3Digest& e, ByteView signature) {
  if (signature.empty()) return false;
  ossl::PkeyCtx ctx(ossl::check_ptr(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr), "verify ctx"));
  ossl::check(EVP_PKEY_verify_init(ctx.get()), "SM2 verify init");
  // OpenSSL's SM2 verify re-encodes the parsed signature and compares, so a
  // non-DER or padded signature is refused here, not just a wrong one.
  int rc = EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), e.data(), e.size());
  ossl::drain_errors();
  return rc == 1;
}

bool is_sm2_der_signature(ByteView signature) {
  const unsigned char* p = signature.data();
  ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(signature.size()));
  if (parsed == nullptr) {
    ossl::drain_errors();
    return false;
  }
  const bool whole = p == signature.data() + signature.size();
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(parsed, &der);
  const bool same = whole && len > 0 && static_cast<std::size_t>(len) == signature.size() &&
                    std::memcmp(der, signature.data(), signature.size()) == 0;
  OPENSSL_free(der);
  ECDSA_SIG_free(parsed);
  return same;
}

Result<Bytes> sm2_sign(const Sm2PrivateKey& key, ByteView message, std::string_view id) {
  Result<Sm2MessageHash> h = Sm2MessageHash::start(key.public_point(), id);
  if (!h.ok()) return h.error();
  h->update(message);
  return sm2_sign_hash(key, h->finish());
}

bool sm2_verify(const Sm2PublicKey& key, ByteView message, ByteView signature, std::string_view id) {
  Result<Sm2MessageHash> h = Sm2MessageHash::start(key, id);
  if (!h.ok()) return false;
  h->update(message);
  return sm2_verify_hash(key, h->finish(), signature);
}

Result<Bytes> sm2_encrypt(const Sm2PublicKey& key, ByteView plaintext) {
  // GM/T 0003.4 §6.1 has no encryption of an empty message (klen = 0 makes
  // the all-zero check of t meaningless); OpenSSL refuses it too.
  if (plaintext.empty()) return make_error(Errc::invalid_argument, "SM2 cannot encrypt an empty message");
  ossl::PkeyCtx ctx(ossl::check_ptr(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr), "encrypt ctx"));
  ossl::check(EVP_PKEY_encrypt_init(ctx.get()), "SM2 encrypt init");
  std::size_t len = 0;
  ossl::check(EVP_PKEY_encrypt(ctx.get(), nullptr, &len, plaintext.data(), plaintext.size()), "SM2 encrypt size");
  Bytes out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, plaintext.data(), plaintext.size()) != 1) {
    return make_error(Errc::internal, "SM2 encryption failed: " + ossl::drain_errors());
  }
  out.resize(len);
  return out;
}

Result<Bytes> sm2_decrypt(const Sm2PrivateKey& key, ByteView ciphertext) {
  const Error failed = make_error(Errc::decrypt_failed, "SM2: decryption failed");
  // OpenSSL 3.0 parses the leading DER SEQUENCE and ignores what follows it;
  // a ciphertext is exactly one SEQUENCE, so anything after it is refused.
  if (!is_single_der_sequence(ciphertext)) return failed;
  ossl::PkeyCtx ctx(ossl::check_ptr(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr), "decrypt ctx"));
  ossl::check(EVP_PKEY_decrypt_init(ctx.get()), "SM2 decrypt init");
  std::size_t len = 0;
  if (EVP_PKEY_decrypt(ctx.get(), nullptr, &len, ciphertext.data(), ciphertext.size()) != 1) {
    ossl::drain_errors();
    return failed;
  }
  Bytes out(len);
  if (EVP_PKEY_decrypt(ctx.get(), out.data(), &len, ciphertext.data(), ciphertext.size()) != 1) {
    ossl::drain_errors();
    wipe(out);
    return failed;
  }
  out.resize(len);
  return out;
}

}  // namespace ferry::crypto
