#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "crypto/device.h"
#include "crypto/sm2_curve.h"

namespace ferry::crypto {

struct SoftwareCryptoDevice::Slots {
  std::mutex mu;
  std::map<std::uint32_t, Sm2PrivateKey> keys;

  Result<Sm2PrivateKey> get(KeyIndex index) {
    std::lock_guard lock(mu);
    auto it = keys.find(static_cast<std::uint32_t>(index));
    if (it == keys.end()) {
      return make_error(Errc::bad_key, "no key in device slot " + std::to_string(static_cast<std::uint32_t>(index)));
    }
    return it->second;
  }
};

namespace {

class Sm3DeviceHash final : public DeviceHash {
 public:
  explicit Sm3DeviceHash(Sm3 sm3) : sm3_(std::move(sm3)) {}
  void update(ByteView data) override { sm3_.update(data); }
  Sm3Digest finish() override { return sm3_.finish(); }

 private:
  Sm3 sm3_;
};

class SoftwareKeyAgreement final : public KeyAgreement {
 public:
  explicit SoftwareKeyAgreement(Sm2KeyExchange kx) : kx_(std::move(kx)) {}
  const Bytes& ephemeral_point() const override { return kx_.ephemeral_point(); }
  Result<Sm2KxResult> finish(ByteView peer) override { return kx_.finish(peer); }

 private:
  Sm2KeyExchange kx_;
};

}  // namespace

class SoftwareCryptoSession final : public CryptoSession {
 public:
  explicit SoftwareCryptoSession(std::shared_ptr<SoftwareCryptoDevice::Slots> slots) : slots_(std::move(slots)) {}
  ~SoftwareCryptoSession() override {
    for (auto& [handle, key] : session_keys_) wipe(key);
  }

  Status generate_random(MutableByteView out) override {
    if (out.empty()) return {};
    if (RAND_priv_bytes(out.data(), static_cast<int>(out.size())) != 1) {
      return make_error(Errc::rng, "random generator failed");
    }
    return {};
  }

  Result<Sm2PrivateKey> generate_key_pair() override { return Sm2PrivateKey::generate(); }

  Result<std::unique_ptr<DeviceHash>> hash_init(const Sm2PublicKey* signer, std::string_view id) override {
    Sm3 sm3;
    if (signer != nullptr) {
      Result<Sm3Digest> z = sm2_z(id, *signer);
      if (!z.ok()) return z.error();
      sm3.update(*z);
    }
    return std::unique_ptr<DeviceHash>(std::make_unique<Sm3DeviceHash>(std::move(sm3)));
  }

  Result<Sm2PublicKey> export_sign_public_key(KeyIndex key) override {
    Result<Sm2PrivateKey> k = slots_->get(key);
    if (!k.ok()) return k.error();
    return k->public_key();
  }

  Result<Bytes> internal_sign(KeyIndex key, const Sm3Digest& e) override {
    Result<Sm2PrivateKey> k = slots_->get(key);
    if (!k.ok()) return k.error();
    return sm2_sign_hash(*k, e);
  }

  Result<bool> internal_verify(KeyIndex key, const Sm3Digest& e, ByteView signature) override {
    Result<Sm2PrivateKey> k = slots_->get(key);
    if (!k.ok()) return k.error();
    return sm2_verify_hash(k->public_key(), e, signature);
  }

  bool external_verify(const Sm2PublicKey& key, const Sm3Digest& e, ByteView signature) override {
    return sm2_verify_hash(key, e, signature);
  }

  Result<std::unique_ptr<KeyAgreement>> begin_key_agreement(KeyIndex key, Sm2KxRole role, std::string_view own_id,
                                                            const Sm2PublicKey& peer, std::string_view peer_id,
                                                            std::size_t key_len) override {
    Result<Sm2PrivateKey> k = slots_->get(key);
    if (!k.ok()) return k.error();
    SecretBytes d = k->scalar();
    Bytes peer_point = peer.point();
    Result<Sm2KeyExchange> kx = Sm2KeyExchange::start(
        Sm2Curve::recommended(), {role, d.view(), own_id, peer_point, peer_id, key_len});
    if (!kx.ok()) return kx.error();
    return std::unique_ptr<KeyAgreement>(std::make_unique<SoftwareKeyAgreement>(std::move(kx).value()));
  }

  Result<SymmetricKeyHandle> import_key(ByteView sm4_key) override {
    if (sm4_key.size() != kSm4KeySize) return make_error(Errc::invalid_argument, "SM4 keys are 16 bytes");
    Sm4Key key;
    std::copy(sm4_key.begin(), sm4_key.end(), key.begin());
    auto handle = static_cast<SymmetricKeyHandle>(next_handle_++);
    session_keys_.emplace(handle, key);
    wipe(key);
    return handle;
  }

  void destroy_key(SymmetricKeyHandle handle) override {
    auto it = session_keys_.find(handle);
    if (it == session_keys_.end()) return;
    wipe(it->second);
    session_keys_.erase(it);
  }

  Result<Bytes> encrypt(SymmetricKeyHandle handle, SymmetricMode mode, const Sm4Block& iv, ByteView data) override {
    auto it = session_keys_.find(handle);
    if (it == session_keys_.end()) return make_error(Errc::bad_key, "no such session key handle");
    if (mode == SymmetricMode::sm4_cbc) return sm4_cbc_encrypt(it->second, iv, data);
    Bytes out(data.size());
    Sm4Ctr(it->second, iv).apply(data, out);
    return out;
  }

  Result<Bytes> decrypt(SymmetricKeyHandle handle, SymmetricMode mode, const Sm4Block& iv, ByteView data) override {
    auto it = session_keys_.find(handle);
    if (it == session_keys_.end()) return make_error(Errc::bad_key, "no such session key handle");
    if (mode == SymmetricMode::sm4_cbc) return sm4_cbc_decrypt(it->second, iv, data);
    Bytes out(data.size());
    Sm4Ctr(it->second, iv).apply(data, out);
    return out;
  }

 private:
  std::shared_ptr<SoftwareCryptoDevice::Slots> slots_;
  std::map<SymmetricKeyHandle, Sm4Key> session_keys_;
  std::uint64_t next_handle_ = 1;
};

SoftwareCryptoDevice::SoftwareCryptoDevice() : slots_(std::make_shared<Slots>()) {}
SoftwareCryptoDevice::~SoftwareCryptoDevice() = default;

std::string SoftwareCryptoDevice::name() const {
  return std::string("software (") + OpenSSL_version(OPENSSL_VERSION) + ")";
}

Result<std::unique_ptr<CryptoSession>> SoftwareCryptoDevice::open_session() {
  return std::unique_ptr<CryptoSession>(std::make_unique<SoftwareCryptoSession>(slots_));
}

Status SoftwareCryptoDevice::install_key(KeyIndex index, Sm2PrivateKey key) {
  std::lock_guard lock(slots_->mu);
  auto [it, inserted] = slots_->keys.emplace(static_cast<std::uint32_t>(index), std::move(key));
  if (!inserted) {
    return make_error(Errc::invalid_argument,
                      "device slot " + std::to_string(static_cast<std::uint32_t>(index)) + " already holds a key");
  }
  return {};
}

}  // namespace ferry::crypto
