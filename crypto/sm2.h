// SM2 (GM/T 0003-2012 = GB/T 32918-2016/2017) on the recommended curve
// sm2p256v1: keys and their PEM files, signatures over SM3 with the
// distinguishing ID, and public-key encryption in OpenSSL's C1C3C2 DER form.
//
// OpenSSL 3.0 signs with an EMPTY distinguishing ID unless one is set, which
// no other SM2 implementation does; every signing path here takes the ID
// explicitly, defaulting to GM/T 0009-2012 §10's "1234567812345678".
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <openssl/types.h>

#include "crypto/bytes.h"
#include "crypto/result.h"
#include "crypto/sm3.h"

namespace ferry::crypto {

inline constexpr std::string_view kSm2DefaultId = "1234567812345678";
inline constexpr std::size_t kSm2FieldSize = 32;
inline constexpr std::size_t kSm2PointSize = 1 + 2 * kSm2FieldSize;  // 04 || x || y
// ENTL is two bytes of bit length (GM/T 0003.2 §5.5), so an ID is < 8192 bytes.
inline constexpr std::size_t kSm2MaxIdSize = 8191;

class Sm2PublicKey {
 public:
  // SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY"), as `openssl pkey -pubout`
  // writes. Any other algorithm or curve is Errc::bad_key.
  static Result<Sm2PublicKey> from_pem(std::string_view pem);
  // Uncompressed point 04 || x || y on sm2p256v1.
  static Result<Sm2PublicKey> from_point(ByteView point);

  std::string to_pem() const;
  Bytes point() const;  // 04 || x || y

  EVP_PKEY* get() const { return pkey_.get(); }

 private:
  explicit Sm2PublicKey(std::shared_ptr<EVP_PKEY> pkey) : pkey_(std::move(pkey)) {}
  std::shared_ptr<EVP_PKEY> pkey_;
  friend class Sm2PrivateKey;
};

class Sm2PrivateKey {
 public:
  // A fresh key pair from OpenSSL's DRBG, then the pairwise-consistency test
  // of GM/T 0028 (sign/verify and encrypt/decrypt with the new pair); a pair
  // that fails it is never returned (Errc::selftest_failed).
  static Result<Sm2PrivateKey> generate();
  // PKCS#8 ("BEGIN PRIVATE KEY") or SEC1 ("BEGIN EC PRIVATE KEY") PEM,
  // unencrypted. Encrypted PEM, other algorithms and curves are errors.
  static Result<Sm2PrivateKey> from_pem(std::string_view pem);
  // The 32-byte scalar d, 1 <= d <= n-2 (GM/T 0003.1 §6.1). For known-answer
  // tests and for importing keys into a device.
  static Result<Sm2PrivateKey> from_scalar(ByteView d);

  SecretBytes to_pem() const;  // PKCS#8, unencrypted: protect the file (0600)
  SecretBytes scalar() const;  // d, 32 bytes big-endian
  Sm2PublicKey public_key() const;
  Bytes public_point() const;  // 04 || x || y, without building a key object

  EVP_PKEY* get() const { return pkey_.get(); }

 private:
  explicit Sm2PrivateKey(std::shared_ptr<EVP_PKEY> pkey) : pkey_(std::move(pkey)) {}
  std::shared_ptr<EVP_PKEY> pkey_;
};

// GM/T 0003.2 §5.5: Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) on
// sm2p256v1. The ID must be 1..kSm2MaxIdSize bytes.
Result<Sm3Digest> sm2_z(std::string_view id, const Sm2PublicKey& key);

// e = SM3(Z || M) for a message of any length, fed in pieces: the value that
// is signed (GM/T 0003.2 §6.1 A1-A2) and what GM/T 0018's SDF_HashInit with a
// public key and ID computes.
class Sm2MessageHash {
 public:
  static Result<Sm2MessageHash> start(const Sm2PublicKey& signer, std::string_view id = kSm2DefaultId);
  // The same from the signer's point (04 || x || y).
  static Result<Sm2MessageHash> start(ByteView signer_point, std::string_view id);
  void update(ByteView data) { sm3_.update(data); }
  Sm3Digest finish() { return sm3_.finish(); }

 private:
  Sm2MessageHash() = default;
  Sm3 sm3_;
};

// Signatures are DER SEQUENCE { INTEGER r, INTEGER s } (GM/T 0009 §7.3), the
// form `openssl pkeyutl -sign` writes.
Result<Bytes> sm2_sign_hash(const Sm2PrivateKey& key, const Sm3Digest& e);
// False for a wrong signature and for anything that is not a strict DER
// signature; never an error, since both mean "not valid".
bool sm2_verify_hash(const Sm2PublicKey& key, const Sm3Digest& e, ByteView signature);
// Whether `signature` is a strict DER SEQUENCE { INTEGER r, INTEGER s } with
// nothing after it (re-encoding gives the same bytes): lets a caller tell a
// malformed signature file from one made with another key.
bool is_sm2_der_signature(ByteView signature);

Result<Bytes> sm2_sign(const Sm2PrivateKey& key, ByteView message, std::string_view id = kSm2DefaultId);
bool sm2_verify(const Sm2PublicKey& key, ByteView message, ByteView signature,
                std::string_view id = kSm2DefaultId);

// GM/T 0003.4 encryption. The ciphertext is DER SEQUENCE { INTEGER x1,
// INTEGER y1, OCTET STRING C3, OCTET STRING C2 } (GM/T 0009 §7.2, C1C3C2 order),
// as OpenSSL writes it. Decryption fails with Errc::decrypt_failed for any bad
// input and says no more.
Result<Bytes> sm2_encrypt(const Sm2PublicKey& key, ByteView plaintext);
Result<Bytes> sm2_decrypt(const Sm2PrivateKey& key, ByteView ciphertext);

}  // namespace ferry::crypto
