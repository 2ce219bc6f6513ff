// Hostile key files: any bytes given as a private or public key PEM give a
// key or an error, never a crash.
#include <string_view>

#include "crypto/sm2.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::crypto;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (Result<Sm2PrivateKey> k = Sm2PrivateKey::from_pem(text); k.ok()) (void)k->public_key().point();
  if (Result<Sm2PublicKey> p = Sm2PublicKey::from_pem(text); p.ok()) (void)p->point();
  return 0;
}
