#include "crypto/sm3.h"

#include <algorithm>

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "crypto/src/ossl.h"

namespace ferry::crypto {

struct Sm3::State {
  ossl::MdCtx ctx{ossl::check_ptr(EVP_MD_CTX_new(), "EVP_MD_CTX_new")};
};

Sm3::Sm3() : state_(std::make_unique<State>()) {
  ossl::check(EVP_DigestInit_ex2(state_->ctx.get(), ossl::sm3_md(), nullptr), "SM3 init");
}
Sm3::~Sm3() = default;
Sm3::Sm3(Sm3&&) noexcept = default;
Sm3& Sm3::operator=(Sm3&&) noexcept = default;

void Sm3::update(ByteView data) {
  if (data.empty()) return;
  ossl::check(EVP_DigestUpdate(state_->ctx.get(), data.data(), data.size()), "SM3 update");
}

Sm3Digest Sm3::finish() {
  Sm3Digest out;
  unsigned int len = 0;
  ossl::check(EVP_DigestFinal_ex(state_->ctx.get(), out.data(), &len), "SM3 final");
  ossl::check(EVP_DigestInit_ex2(state_->ctx.get(), nullptr, nullptr), "SM3 re-init");
  return out;
}

Sm3Digest Sm3::digest(ByteView data) {
  Sm3Digest out;
  unsigned int len = 0;
  ossl::check(EVP_Digest(data.data(), data.size(), out.data(), &len, ossl::sm3_md(), nullptr),
              "SM3 one-shot");
  return out;
}

struct HmacSm3::State {
  ossl::MacCtx ctx{ossl::check_ptr(EVP_MAC_CTX_new(ossl::hmac()), "EVP_MAC_CTX_new")};
};

HmacSm3::HmacSm3(ByteView key) : state_(std::make_unique<State>()) {
  char digest_name[] = "SM3";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  // A zero-length HMAC key is legal (RFC 2104 §3) but OpenSSL refuses a NULL
  // pointer, so an empty key is passed as a pointer to one unused byte.
  static const std::uint8_t kEmpty = 0;
  const std::uint8_t* k = key.empty() ? &kEmpty : key.data();
  ossl::check(EVP_MAC_init(state_->ctx.get(), k, key.size(), params), "HMAC-SM3 init");
}
HmacSm3::~HmacSm3() = default;
HmacSm3::HmacSm3(HmacSm3&&) noexcept = default;
HmacSm3& HmacSm3::operator=(HmacSm3&&) noexcept = default;

void HmacSm3::update(ByteView data) {
  if (data.empty()) return;
  ossl::check(EVP_MAC_update(state_->ctx.get(), data.data(), data.size()), "HMAC-SM3 update");
}

Sm3Digest HmacSm3::finish() {
  Sm3Digest out;
  std::size_t len = 0;
  ossl::check(EVP_MAC_final(state_->ctx.get(), out.data(), &len, out.size()), "HMAC-SM3 final");
  // A NULL key re-arms the key already set (EVP_MAC-HMAC(7), OpenSSL 3.0).
  ossl::check(EVP_MAC_init(state_->ctx.get(), nullptr, 0, nullptr), "HMAC-SM3 re-init");
  return out;
}

Sm3Digest HmacSm3::mac(ByteView key, ByteView data) {
  HmacSm3 h(key);
  h.update(data);
  return h.finish();
}

void sm3_kdf(std::initializer_list<ByteView> z_parts, MutableByteView out) {
  Sm3 sm3;
  std::uint32_t counter = 1;
  std::size_t done = 0;
  while (done < out.size()) {
    for (ByteView part : z_parts) sm3.update(part);
    const std::uint8_t ct[4] = {static_cast<std::uint8_t>(counter >> 24),
                                static_cast<std::uint8_t>(counter >> 16),
                                static_cast<std::uint8_t>(counter >> 8),
                                static_cast<std::uint8_t>(counter)};
    sm3.update(ct);
    Sm3Digest block = sm3.finish();
    std::size_t take = std::min(block.size(), out.size() - done);
    std::copy_n(block.begin(), take, out.begin() + static_cast<std::ptrdiff_t>(done));
    wipe(block);
    done += take;
    ++counter;
  }
}

SecretBytes sm3_kdf(ByteView z, std::size_t out_len) {
  SecretBytes out(out_len);
  sm3_kdf({z}, out.mutable_view());
  return out;
}

}  // namespace ferry::crypto
