// The bodies of the link's frames (docs/link-protocol.md §3 and §4). Handshake
// bodies travel in the clear; the others are the plaintext inside a sealed
// payload. Each decoder takes exactly one body and fails (DecodeError::bad_body)
// on any short, long or out-of-range input.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/bytes.h"
#include "crypto/sm2.h"
#include "crypto/sm3.h"
#include "ferry/link/frame.h"

namespace ferry::link {

using Fingerprint = crypto::Sm3Digest;  // SM3(04 || x || y) of an SM2 public key
using Nonce = std::array<std::uint8_t, 16>;
using Point = std::array<std::uint8_t, crypto::kSm2PointSize>;

// The parameters both sides must agree on; in HELLO and HELLO_REPLY.
struct AnnouncedParams {
  std::uint32_t max_frame = 0;
  std::uint32_t chunk_size = 0;
  std::uint32_t window = 0;
  std::uint32_t keepalive_ms = 0;
  bool operator==(const AnnouncedParams&) const = default;
};

// HELLO (A -> B) and the first part of HELLO_REPLY (B -> A). 171 bytes.
struct HelloBody {
  std::uint8_t protocol_version = kProtocolVersion;
  std::uint8_t side = 0;                // Side of the sender: 1 outer, 2 inner
  AnnouncedParams params;
  std::uint64_t policy_serial = 0;
  Fingerprint own_key{};                // the sender's identity key
  Fingerprint pinned_peer_key{};        // the key the sender pinned for its peer
  Nonce nonce{};
  Point ephemeral{};                    // R_A or R_B, GM/T 0003.3 §6.1 A3 / B3
};
inline constexpr std::size_t kHelloBodySize = 171;

// HELLO_REPLY: the responder's hello, the initiator's nonce echoed, S_B and
// the responder's finished MAC over the transcript. 251 bytes.
struct HelloReplyBody {
  HelloBody hello;
  Nonce initiator_nonce{};
  crypto::Sm3Digest confirmation{};     // S_B
  crypto::Sm3Digest finished{};
};
inline constexpr std::size_t kHelloReplyBodySize = kHelloBodySize + 16 + 32 + 32;

// CONFIRM: S_A and the initiator's finished MAC. 64 bytes.
struct ConfirmBody {
  crypto::Sm3Digest confirmation{};     // S_A
  crypto::Sm3Digest finished{};
};
inline constexpr std::size_t kConfirmBodySize = 64;

// REFUSE, REJECT and CLOSE: a code and a human-readable reason.
struct ReasonBody {
  std::uint16_t code = 0;
  std::string text;
};
inline constexpr std::size_t kMaxReasonText = 1024;

// OFFER: what the receiver needs to decide before any byte moves.
struct OfferBody {
  std::uint64_t size = 0;
  crypto::Sm3Digest sm3{};
  std::uint64_t policy_serial = 0;      // the sender's
  std::string channel;                  // 1..255 bytes of UTF-8
  std::string path;                     // 1..4096 bytes of UTF-8, relative, '/'-separated
};
inline constexpr std::size_t kMaxChannelName = 255;
inline constexpr std::size_t kMaxPath = 4096;

// END: the total length and SM3 of the whole object.
struct EndBody {
  std::uint64_t total = 0;
  crypto::Sm3Digest sm3{};
};
inline constexpr std::size_t kEndBodySize = 40;

// KEEPALIVE: the sender's current policy serial.
struct KeepaliveBody {
  std::uint64_t policy_serial = 0;
};
inline constexpr std::size_t kKeepaliveBodySize = 8;

Bytes encode(const HelloBody& body);
Bytes encode(const HelloReplyBody& body);
Bytes encode(const ConfirmBody& body);
Bytes encode(const ReasonBody& body);  // text cut to kMaxReasonText at a UTF-8 boundary
Bytes encode(const OfferBody& body);
Bytes encode(const EndBody& body);
Bytes encode(const KeepaliveBody& body);

Decoded<HelloBody> decode_hello(ByteView body);
Decoded<HelloReplyBody> decode_hello_reply(ByteView body);
Decoded<ConfirmBody> decode_confirm(ByteView body);
Decoded<ReasonBody> decode_reason(ByteView body);
Decoded<OfferBody> decode_offer(ByteView body);
Decoded<EndBody> decode_end(ByteView body);
Decoded<KeepaliveBody> decode_keepalive(ByteView body);

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s);

}  // namespace ferry::link
