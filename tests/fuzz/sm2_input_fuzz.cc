// Hostile SM2 inputs: signatures, ciphertexts and key-exchange points from
// outside. A signature that was not made with the key must not verify.
#include <cstdlib>

#include "crypto/sm2.h"
#include "crypto/sm2_curve.h"
#include "crypto/sm2_kx.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::crypto;
  // GM/T 0003.5 Annex A key: fixed, so runs are reproducible.
  static const Sm2PrivateKey key =
      Sm2PrivateKey::from_scalar(*from_hex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"))
          .value();
  static const Sm2PublicKey pub = key.public_key();
  ByteView input(data, size);

  if (sm2_verify(pub, as_bytes("fuzz message"), input)) std::abort();
  (void)sm2_decrypt(key, input);

  SecretBytes d = key.scalar();
  Bytes peer = pub.point();
  Result<Sm2KeyExchange> kx = Sm2KeyExchange::start(
      Sm2Curve::recommended(), {Sm2KxRole::responder, d.view(), kSm2DefaultId, peer, kSm2DefaultId, 16});
  if (kx.ok()) (void)kx->finish(input);
  return 0;
}
