// The link's frame codec: one fixed 52-byte header, then a payload of
// payload_length bytes. Handshake frames carry their body in the clear (it is
// bound into the session keys by the transcript hash); every other frame's
// payload is a crypto seal box whose associated data is the encoded header.
// docs/link-protocol.md §2 is the normative description.
//
//   off size field
//    0   4   magic "FRRY"
//    4   1   version (1)
//    5   1   type (FrameType)
//    6   2   flags (0 in version 1)
//    8   8   session_id
//   16   8   sequence
//   24  16   object_id
//   40   8   offset
//   48   4   payload_length
//   52       payload
//
// All integers big-endian. One datagram holds exactly one frame.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "crypto/bytes.h"
#include "crypto/seal.h"
#include "ferry/link/object_id.h"

namespace ferry::link {

using crypto::ByteView;
using crypto::Bytes;

inline constexpr std::array<std::uint8_t, 4> kMagic = {'F', 'R', 'R', 'Y'};
inline constexpr std::uint8_t kProtocolVersion = 1;
inline constexpr std::size_t kHeaderSize = 52;
// Header plus seal: what a DATA frame adds to its chunk.
inline constexpr std::size_t kFrameOverhead = kHeaderSize + crypto::kSealOverhead;
// Bounds on LinkParams::max_frame: the largest handshake frame and an OFFER
// with short names must fit; the payload length must fit in 32 bits comfortably.
inline constexpr std::size_t kMinMaxFrame = 512;
inline constexpr std::size_t kMaxMaxFrame = std::size_t{16} << 20;
inline constexpr std::size_t kMaxWindow = 256;

enum class FrameType : std::uint8_t {
  // Handshake, in the clear.
  hello = 0x01,
  hello_reply = 0x02,
  confirm = 0x03,
  refuse = 0x04,
  // Sealed.
  offer = 0x10,
  accept = 0x11,
  duplicate = 0x12,
  busy = 0x13,
  reject = 0x14,
  data = 0x15,
  end = 0x16,
  ack = 0x17,
  done = 0x18,
  restart = 0x19,
  keepalive = 0x1A,
  close = 0x1B,
};

std::string_view to_string(FrameType type);
bool is_known_type(std::uint8_t type);
bool is_handshake(FrameType type);
// Frames about one object: they carry a non-zero object_id.
bool is_object_frame(FrameType type);

struct FrameHeader {
  std::uint8_t version = kProtocolVersion;
  FrameType type = FrameType::keepalive;
  std::uint16_t flags = 0;
  std::uint64_t session_id = 0;
  std::uint64_t sequence = 0;
  ObjectId object{};
  std::uint64_t offset = 0;
  std::uint32_t payload_length = 0;
};

// Why a datagram was not a frame. Each is counted separately by the engine.
enum class DecodeError : std::uint8_t {
  truncated_header,          // shorter than the 52-byte header
  bad_magic,
  bad_version,
  bad_type,
  bad_flags,                 // a reserved flag bit set
  length_exceeds_datagram,   // payload_length larger than the bytes that follow (truncated frame)
  length_exceeds_max_frame,  // header + payload_length larger than max_frame
  trailing_bytes,            // bytes after the payload
  bad_field,                 // a header field this type must not carry, or a sealed payload shorter than the seal
  bad_body,                  // the (opened) body does not parse
};
inline constexpr std::size_t kDecodeErrorCount = 10;
std::string_view to_string(DecodeError error);

// A value or the DecodeError that prevented it.
template <class T>
class [[nodiscard]] Decoded {
 public:
  Decoded(T value) : v_(std::move(value)) {}   // NOLINT: implicit by design
  Decoded(DecodeError error) : v_(error) {}    // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  DecodeError error() const { return std::get<1>(v_); }

 private:
  std::variant<T, DecodeError> v_;
};

// A decoded frame; the views point into the datagram it came from.
struct FrameView {
  FrameHeader header;
  ByteView bytes;         // the whole frame
  ByteView header_bytes;  // the 52 encoded bytes: the seal's associated data
  ByteView payload;
};

void encode_header(const FrameHeader& header, std::span<std::uint8_t, kHeaderSize> out);
// Header (payload_length set from payload) followed by payload.
Bytes encode_frame(FrameHeader header, ByteView payload);

// Checks, in order: length >= header, magic, version, type, flags, that the
// payload fits max_frame and the datagram and fills it exactly, and the
// per-type field rules of docs/link-protocol.md §2.3. Never reads outside
// the datagram.
Decoded<FrameView> decode_frame(ByteView datagram, std::size_t max_frame);

// What a datagram claims to be before any check but the magic and length:
// lets a responder answer a HELLO of another protocol version with a REFUSE
// that names both versions. The header layout is the same in every version.
struct PeekedHeader {
  std::uint8_t version;
  std::uint8_t type;
};
std::optional<PeekedHeader> peek_header(ByteView datagram);

}  // namespace ferry::link
