// Hostile link input: a header and box that our Sealer did not make must
// never open, and nothing in them may crash or over-read. Input: one byte of
// header length, the header, then the box.
#include <algorithm>
#include <cstdlib>

#include "crypto/seal.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::crypto;
  static const SealKeys keys = SealKeys::derive(as_bytes("fuzz secret"), "fuzz");
  static Opener opener(keys);
  // The one genuine box (corpus/seal/valid-box): sender 1, counter 0.
  static const Bytes genuine = Sealer(keys, 1).seal(as_bytes("hdr"), as_bytes("payload")).value();
  if (size == 0) return 0;
  const std::size_t header_len = std::min<std::size_t>(data[0], size - 1);
  ByteView header(data + 1, header_len);
  ByteView box(data + 1 + header_len, size - 1 - header_len);
  Result<Bytes> opened = opener.open(header, box);
  if (!opened.ok()) return 0;
  // Anything else opening would be a forgery of a 256-bit HMAC-SM3 tag.
  const bool is_genuine = std::ranges::equal(header, as_bytes("hdr")) && std::ranges::equal(box, genuine);
  if (!is_genuine || !std::ranges::equal(*opened, as_bytes("payload"))) std::abort();
  return 0;
}
