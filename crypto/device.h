// CryptoDevice: the operations of GM/T 0018-2012 (SDF, the application
// interface of a cryptographic device), so that a certified PCI-E crypto card
// can replace the software implementation without touching callers. Code
// outside crypto/ that uses keys goes through a CryptoSession and names its
// keys by index, as SDF does; it never holds a private key itself.
//
//   SDF_OpenDevice / SDF_OpenSession      CryptoDevice, open_session()
//   SDF_GetDeviceInfo                     CryptoDevice::name()
//   SDF_GenerateRandom                    generate_random()
//   SDF_GenerateKeyPair_ECC               generate_key_pair() (an external pair, for key files)
//   SDF_HashInit / Update / Final         hash_init() (with key and ID: e = SM3(Z || M))
//   SDF_ExportSignPublicKey_ECC           export_sign_public_key()
//   SDF_InternalSign_ECC                  internal_sign()
//   SDF_InternalVerify_ECC                internal_verify()
//   SDF_ExternalVerify_ECC                external_verify()
//   SDF_GenerateAgreementDataWithECC,
//   SDF_GenerateAgreementDataAndKeyWithECC,
//   SDF_GenerateKeyWithECC                begin_key_agreement(), KeyAgreement
//   SDF_ImportKey / SDF_DestroyKey        import_key(), destroy_key()
//   SDF_Encrypt / SDF_Decrypt             encrypt(), decrypt()
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "crypto/bytes.h"
#include "crypto/result.h"
#include "crypto/sm2.h"
#include "crypto/sm2_kx.h"
#include "crypto/sm3.h"
#include "crypto/sm4.h"

namespace ferry::crypto {

// SDF's uiISKIndex: a key pair that lives inside the device.
enum class KeyIndex : std::uint32_t {};
// SDF's hKeyHandle: a session key imported into the device.
enum class SymmetricKeyHandle : std::uint64_t {};

enum class SymmetricMode { sm4_cbc, sm4_ctr };  // SGD_SM4_CBC, SGD_SM4_CTR

class DeviceHash {
 public:
  virtual ~DeviceHash() = default;
  virtual void update(ByteView data) = 0;
  virtual Sm3Digest finish() = 0;
};

class KeyAgreement {
 public:
  virtual ~KeyAgreement() = default;
  virtual const Bytes& ephemeral_point() const = 0;
  virtual Result<Sm2KxResult> finish(ByteView peer_ephemeral_point) = 0;
};

class CryptoSession {
 public:
  virtual ~CryptoSession() = default;

  virtual Status generate_random(MutableByteView out) = 0;

  // A new SM2 key pair handed out to the caller (to be written to a key
  // file), after the pairwise-consistency test.
  virtual Result<Sm2PrivateKey> generate_key_pair() = 0;

  // Plain SM3 when signer is null; otherwise e = SM3(Z_signer(id) || M).
  virtual Result<std::unique_ptr<DeviceHash>> hash_init(const Sm2PublicKey* signer, std::string_view id) = 0;

  virtual Result<Sm2PublicKey> export_sign_public_key(KeyIndex key) = 0;
  virtual Result<Bytes> internal_sign(KeyIndex key, const Sm3Digest& e) = 0;
  virtual Result<bool> internal_verify(KeyIndex key, const Sm3Digest& e, ByteView signature) = 0;
  virtual bool external_verify(const Sm2PublicKey& key, const Sm3Digest& e, ByteView signature) = 0;

  virtual Result<std::unique_ptr<KeyAgreement>> begin_key_agreement(KeyIndex key, Sm2KxRole role,
                                                                    std::string_view own_id,
                                                                    const Sm2PublicKey& peer,
                                                                    std::string_view peer_id,
                                                                    std::size_t key_len) = 0;

  virtual Result<SymmetricKeyHandle> import_key(ByteView sm4_key) = 0;
  virtual void destroy_key(SymmetricKeyHandle handle) = 0;
  // CBC pads with PKCS#7; CTR takes any length. iv is 16 bytes.
  virtual Result<Bytes> encrypt(SymmetricKeyHandle handle, SymmetricMode mode, const Sm4Block& iv,
                                ByteView data) = 0;
  virtual Result<Bytes> decrypt(SymmetricKeyHandle handle, SymmetricMode mode, const Sm4Block& iv,
                                ByteView data) = 0;
};

class CryptoDevice {
 public:
  virtual ~CryptoDevice() = default;
  virtual std::string name() const = 0;
  virtual Result<std::unique_ptr<CryptoSession>> open_session() = 0;
};

// The software device: OpenSSL 3 underneath, key pairs provisioned from PEM
// files into numbered slots (where a card's management tool would write them).
class SoftwareCryptoDevice final : public CryptoDevice {
 public:
  SoftwareCryptoDevice();
  ~SoftwareCryptoDevice() override;

  std::string name() const override;
  Result<std::unique_ptr<CryptoSession>> open_session() override;

  // Fails if the slot is taken: a device key is never silently replaced.
  Status install_key(KeyIndex index, Sm2PrivateKey key);

 private:
  friend class SoftwareCryptoSession;
  struct Slots;
  std::shared_ptr<Slots> slots_;
};

}  // namespace ferry::crypto
