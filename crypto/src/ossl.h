// Internal: owning handles for OpenSSL objects, the algorithm fetches done once
// per process, and OpenSSL's error queue as text.
#pragma once

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

namespace ferry::crypto::ossl {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const { Free(p); }
};

using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;
using MacCtx = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using Bn = std::unique_ptr<BIGNUM, Deleter<BN_clear_free>>;
using BnCtx = std::unique_ptr<BN_CTX, Deleter<BN_CTX_free>>;
using EcGroup = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP_free>>;
using EcPoint = std::unique_ptr<EC_POINT, Deleter<EC_POINT_clear_free>>;

// Fetched once and kept for the life of the process: fetching per operation
// costs a provider lookup each time (OpenSSL 3 performance notes).
const EVP_MD* sm3_md();
const EVP_CIPHER* sm4_ecb();
const EVP_CIPHER* sm4_cbc();
const EVP_CIPHER* sm4_ctr();
EVP_MAC* hmac();

// Drains OpenSSL's thread-local error queue into one line ("" when empty).
std::string drain_errors();

// A failed call into OpenSSL that cannot be caused by input: a bug or a broken
// library. Crashes with the reason (Envoy: bugs crash).
[[noreturn]] void fail(const char* what);

inline void check(int rc, const char* what) {
  if (rc != 1) fail(what);
}
template <class T>
T* check_ptr(T* p, const char* what) {
  if (p == nullptr) fail(what);
  return p;
}

}  // namespace ferry::crypto::ossl
