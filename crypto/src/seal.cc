#include "crypto/seal.h"

#include <algorithm>
#include <cassert>
#include <limits>

namespace ferry::crypto {
namespace {

void put_u64be(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
}

Sm4Block counter_block(ByteView nonce) {
  Sm4Block block{};
  std::copy(nonce.begin(), nonce.end(), block.begin());
  return block;
}

Sm3Digest compute_tag(HmacSm3& mac, ByteView header, ByteView nonce, ByteView ciphertext) {
  std::uint8_t lengths[16];
  put_u64be(lengths, header.size());
  put_u64be(lengths + 8, ciphertext.size());
  mac.update(header);
  mac.update(nonce);
  mac.update(ciphertext);
  mac.update(lengths);
  return mac.finish();
}

}  // namespace

SealKeys SealKeys::derive(ByteView secret, std::string_view label) {
  SealKeys keys;
  std::array<std::uint8_t, kSm4KeySize + kSm3DigestSize> okm;
  sm3_kdf({secret, as_bytes(label)}, okm);
  std::copy_n(okm.begin(), kSm4KeySize, keys.enc.begin());
  std::copy_n(okm.begin() + kSm4KeySize, kSm3DigestSize, keys.mac.begin());
  wipe(okm);
  return keys;
}

SealKeys::~SealKeys() {
  wipe(enc);
  wipe(mac);
}

struct Sealer::State {
  State(const SealKeys& keys, std::uint32_t s) : ctr(keys.enc, Sm4Block{}), mac(keys.mac), sender(s) {}
  Sm4Ctr ctr;
  HmacSm3 mac;
  std::uint32_t sender;
  std::uint64_t next = 0;
  bool exhausted = false;
};

Sealer::Sealer(const SealKeys& keys, std::uint32_t sender) : state_(std::make_unique<State>(keys, sender)) {}
Sealer::~Sealer() = default;
Sealer::Sealer(Sealer&&) noexcept = default;
Sealer& Sealer::operator=(Sealer&&) noexcept = default;

Status Sealer::seal_into(ByteView header, ByteView plaintext, MutableByteView out) {
  assert(out.size() == plaintext.size() + kSealOverhead);
  if (plaintext.size() > kSealMaxPlaintext) {
    return make_error(Errc::exhausted, "seal: plaintext exceeds 2^32 SM4 blocks");
  }
  State& s = *state_;
  if (s.exhausted) return make_error(Errc::exhausted, "seal: nonce space of this key is used up; rekey");

  std::uint8_t* nonce = out.data();
  for (int i = 0; i < 4; ++i) nonce[i] = static_cast<std::uint8_t>(s.sender >> (24 - 8 * i));
  put_u64be(nonce + 4, s.next);
  if (s.next == std::numeric_limits<std::uint64_t>::max()) s.exhausted = true;
  ++s.next;

  ByteView nonce_view(nonce, kSealNonceSize);
  MutableByteView ct = out.subspan(kSealNonceSize, plaintext.size());
  s.ctr.reset(counter_block(nonce_view));
  s.ctr.apply(plaintext, ct);
  Sm3Digest tag = compute_tag(s.mac, header, nonce_view, ct);
  std::copy(tag.begin(), tag.end(), out.begin() + static_cast<std::ptrdiff_t>(kSealNonceSize + plaintext.size()));
  return {};
}

Result<Bytes> Sealer::seal(ByteView header, ByteView plaintext) {
  Bytes out(plaintext.size() + kSealOverhead);
  if (Status st = seal_into(header, plaintext, out); !st.ok()) return st.error();
  return out;
}

std::uint64_t Sealer::boxes_sealed() const { return state_->next; }

struct Opener::State {
  explicit State(const SealKeys& keys) : ctr(keys.enc, Sm4Block{}), mac(keys.mac) {}
  Sm4Ctr ctr;
  HmacSm3 mac;
};

Opener::Opener(const SealKeys& keys) : state_(std::make_unique<State>(keys)) {}
Opener::~Opener() = default;
Opener::Opener(Opener&&) noexcept = default;
Opener& Opener::operator=(Opener&&) noexcept = default;

Status Opener::open_into(ByteView header, ByteView box, MutableByteView out) {
  const Error forged = make_error(Errc::verify_failed, "seal: authentication failed");
  if (box.size() < kSealOverhead) return forged;
  assert(out.size() == box.size() - kSealOverhead);
  State& s = *state_;
  ByteView nonce = box.first(kSealNonceSize);
  ByteView ct = box.subspan(kSealNonceSize, box.size() - kSealOverhead);
  ByteView tag = box.last(kSealTagSize);
  Sm3Digest expected = compute_tag(s.mac, header, nonce, ct);
  if (!equal_constant_time(expected, tag)) return forged;
  s.ctr.reset(counter_block(nonce));
  s.ctr.apply(ct, out);
  return {};
}

Result<Bytes> Opener::open(ByteView header, ByteView box) {
  if (box.size() < kSealOverhead) return make_error(Errc::verify_failed, "seal: authentication failed");
  Bytes out(box.size() - kSealOverhead);
  if (Status st = open_into(header, box, out); !st.ok()) return st.error();
  return out;
}

std::array<std::uint8_t, kSealNonceSize> Opener::nonce_of(ByteView box) {
  std::array<std::uint8_t, kSealNonceSize> nonce{};
  if (box.size() >= kSealNonceSize) std::copy_n(box.begin(), kSealNonceSize, nonce.begin());
  return nonce;
}

}  // namespace ferry::crypto
