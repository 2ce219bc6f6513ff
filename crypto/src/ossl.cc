#include "crypto/src/ossl.h"

#include <openssl/err.h>

#include <cstdio>
#include <cstdlib>

namespace ferry::crypto::ossl {
namespace {

template <class T, class F>
T* fetch_once(F fetch, const char* name) {
  T* p = fetch(nullptr, name, nullptr);
  if (p == nullptr) {
    std::fprintf(stderr, "ferry: OpenSSL has no %s (%s); ferry needs OpenSSL 3 with the default provider\n",
                 name, drain_errors().c_str());
    std::abort();
  }
  return p;
}

}  // namespace

const EVP_MD* sm3_md() {
  static const EVP_MD* md = fetch_once<EVP_MD>(EVP_MD_fetch, "SM3");
  return md;
}
const EVP_CIPHER* sm4_ecb() {
  static const EVP_CIPHER* c = fetch_once<EVP_CIPHER>(EVP_CIPHER_fetch, "SM4-ECB");
  return c;
}
const EVP_CIPHER* sm4_cbc() {
  static const EVP_CIPHER* c = fetch_once<EVP_CIPHER>(EVP_CIPHER_fetch, "SM4-CBC");
  return c;
}
const EVP_CIPHER* sm4_ctr() {
  static const EVP_CIPHER* c = fetch_once<EVP_CIPHER>(EVP_CIPHER_fetch, "SM4-CTR");
  return c;
}
EVP_MAC* hmac() {
  static EVP_MAC* m = fetch_once<EVP_MAC>(EVP_MAC_fetch, "HMAC");
  return m;
}

std::string drain_errors() {
  std::string out;
  unsigned long e;
  char buf[256];
  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

void fail(const char* what) {
  std::fprintf(stderr, "ferry: internal error in %s: %s\n", what, drain_errors().c_str());
  std::abort();
}

}  // namespace ferry::crypto::ossl
