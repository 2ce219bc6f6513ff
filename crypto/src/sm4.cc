#include "crypto/sm4.h"

#include <algorithm>
#include <cassert>
#include <climits>

#include "crypto/src/ossl.h"

namespace ferry::crypto {
namespace {

ossl::CipherCtx new_cipher_ctx() {
  return ossl::CipherCtx(ossl::check_ptr(EVP_CIPHER_CTX_new(), "EVP_CIPHER_CTX_new"));
}

// EVP's update takes an int length; larger inputs go through in slices.
constexpr std::size_t kMaxSlice = 1u << 30;

void cipher_update(EVP_CIPHER_CTX* ctx, ByteView in, std::uint8_t* out, const char* what) {
  std::size_t done = 0;
  while (done < in.size()) {
    std::size_t n = std::min(kMaxSlice, in.size() - done);
    int outl = 0;
    ossl::check(EVP_CipherUpdate(ctx, out + done, &outl, in.data() + done, static_cast<int>(n)), what);
    if (static_cast<std::size_t>(outl) != n) ossl::fail(what);
    done += n;
  }
}

}  // namespace

struct Sm4BlockCipher::State {
  ossl::CipherCtx enc = new_cipher_ctx();
  ossl::CipherCtx dec = new_cipher_ctx();
};

Sm4BlockCipher::Sm4BlockCipher(const Sm4Key& key) : state_(std::make_unique<State>()) {
  ossl::check(EVP_EncryptInit_ex2(state_->enc.get(), ossl::sm4_ecb(), key.data(), nullptr, nullptr),
              "SM4-ECB init");
  ossl::check(EVP_DecryptInit_ex2(state_->dec.get(), ossl::sm4_ecb(), key.data(), nullptr, nullptr),
              "SM4-ECB init");
  EVP_CIPHER_CTX_set_padding(state_->enc.get(), 0);
  EVP_CIPHER_CTX_set_padding(state_->dec.get(), 0);
}
Sm4BlockCipher::~Sm4BlockCipher() = default;
Sm4BlockCipher::Sm4BlockCipher(Sm4BlockCipher&&) noexcept = default;
Sm4BlockCipher& Sm4BlockCipher::operator=(Sm4BlockCipher&&) noexcept = default;

Sm4Block Sm4BlockCipher::encrypt(const Sm4Block& in) {
  Sm4Block out;
  cipher_update(state_->enc.get(), in, out.data(), "SM4 block encrypt");
  return out;
}

Sm4Block Sm4BlockCipher::decrypt(const Sm4Block& in) {
  Sm4Block out;
  cipher_update(state_->dec.get(), in, out.data(), "SM4 block decrypt");
  return out;
}

struct Sm4Ctr::State {
  ossl::CipherCtx ctx = new_cipher_ctx();
};

Sm4Ctr::Sm4Ctr(const Sm4Key& key, const Sm4Block& counter) : state_(std::make_unique<State>()) {
  ossl::check(EVP_EncryptInit_ex2(state_->ctx.get(), ossl::sm4_ctr(), key.data(), counter.data(), nullptr),
              "SM4-CTR init");
}
Sm4Ctr::~Sm4Ctr() = default;
Sm4Ctr::Sm4Ctr(Sm4Ctr&&) noexcept = default;
Sm4Ctr& Sm4Ctr::operator=(Sm4Ctr&&) noexcept = default;

void Sm4Ctr::reset(const Sm4Block& counter) {
  // A NULL cipher and key keep the key schedule; only the counter changes.
  ossl::check(EVP_EncryptInit_ex2(state_->ctx.get(), nullptr, nullptr, counter.data(), nullptr),
              "SM4-CTR reset");
}

void Sm4Ctr::apply(ByteView in, MutableByteView out) {
  assert(in.size() == out.size());
  cipher_update(state_->ctx.get(), in, out.data(), "SM4-CTR");
}

Bytes sm4_cbc_encrypt(const Sm4Key& key, const Sm4Block& iv, ByteView plaintext) {
  // Padding is added here rather than by EVP so that encryption and the
  // constant-time check in decryption below are visibly the same rule.
  const std::size_t pad = kSm4BlockSize - plaintext.size() % kSm4BlockSize;
  Bytes out(plaintext.size() + pad);
  std::copy(plaintext.begin(), plaintext.end(), out.begin());
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(plaintext.size()), out.end(),
            static_cast<std::uint8_t>(pad));
  ossl::CipherCtx ctx = new_cipher_ctx();
  ossl::check(EVP_EncryptInit_ex2(ctx.get(), ossl::sm4_cbc(), key.data(), iv.data(), nullptr),
              "SM4-CBC init");
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  cipher_update(ctx.get(), out, out.data(), "SM4-CBC encrypt");
  return out;
}

Result<Bytes> sm4_cbc_decrypt(const Sm4Key& key, const Sm4Block& iv, ByteView ciphertext) {
  const Error failed = make_error(Errc::decrypt_failed, "SM4-CBC: decryption failed");
  if (ciphertext.empty() || ciphertext.size() % kSm4BlockSize != 0) return failed;

  Bytes out(ciphertext.size());
  ossl::CipherCtx ctx = new_cipher_ctx();
  ossl::check(EVP_DecryptInit_ex2(ctx.get(), ossl::sm4_cbc(), key.data(), iv.data(), nullptr),
              "SM4-CBC init");
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  cipher_update(ctx.get(), ciphertext, out.data(), "SM4-CBC decrypt");

  // PKCS#7 check without a data-dependent branch or memory access: every one
  // of the last 16 bytes is examined, and `bad` collects any mismatch.
  const unsigned pad = out.back();
  unsigned bad = static_cast<unsigned>(((pad - 1u) >> 8) & 1u);          // pad == 0
  bad |= static_cast<unsigned>(((kSm4BlockSize - pad) >> 8) & 1u);       // pad > 16
  for (unsigned i = 0; i < kSm4BlockSize; ++i) {
    const unsigned in_pad = ((i - pad) >> 8) & 1u;  // 1 when i < pad
    const unsigned diff = out[out.size() - 1 - i] ^ pad;
    bad |= in_pad & static_cast<unsigned>(((0u - diff) >> 8) & 1u);
  }
  if (bad != 0) {
    wipe(out);
    return failed;
  }
  out.resize(out.size() - pad);
  return out;
}

}  // namespace ferry::crypto
