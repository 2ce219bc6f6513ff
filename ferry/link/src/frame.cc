#include "ferry/link/frame.h"

#include <algorithm>
#include <cassert>

#include "ferry/link/src/wire.h"

namespace ferry::link {

std::string_view to_string(FrameType type) {
  switch (type) {
    case FrameType::hello: return "HELLO";
    case FrameType::hello_reply: return "HELLO_REPLY";
    case FrameType::confirm: return "CONFIRM";
    case FrameType::refuse: return "REFUSE";
    case FrameType::offer: return "OFFER";
    case FrameType::accept: return "ACCEPT";
    case FrameType::duplicate: return "DUPLICATE";
    case FrameType::busy: return "BUSY";
    case FrameType::reject: return "REJECT";
    case FrameType::data: return "DATA";
    case FrameType::end: return "END";
    case FrameType::ack: return "ACK";
    case FrameType::done: return "DONE";
    case FrameType::restart: return "RESTART";
    case FrameType::keepalive: return "KEEPALIVE";
    case FrameType::close: return "CLOSE";
  }
  return "UNKNOWN";
}

bool is_known_type(std::uint8_t type) {
  return (type >= 0x01 && type <= 0x04) || (type >= 0x10 && type <= 0x1B);
}

bool is_handshake(FrameType type) { return static_cast<std::uint8_t>(type) <= 0x04; }

bool is_object_frame(FrameType type) {
  return !is_handshake(type) && type != FrameType::keepalive && type != FrameType::close;
}

std::string_view to_string(DecodeError error) {
  switch (error) {
    case DecodeError::truncated_header: return "truncated header";
    case DecodeError::bad_magic: return "bad magic";
    case DecodeError::bad_version: return "unsupported version";
    case DecodeError::bad_type: return "unknown frame type";
    case DecodeError::bad_flags: return "reserved flags set";
    case DecodeError::length_exceeds_datagram: return "payload length exceeds datagram (truncated frame)";
    case DecodeError::length_exceeds_max_frame: return "payload length exceeds max_frame";
    case DecodeError::trailing_bytes: return "bytes after the payload";
    case DecodeError::bad_field: return "header field not allowed for this type";
    case DecodeError::bad_body: return "malformed body";
  }
  return "unknown";
}

void encode_header(const FrameHeader& h, std::span<std::uint8_t, kHeaderSize> out) {
  std::uint8_t* p = out.data();
  std::copy(kMagic.begin(), kMagic.end(), p);
  p[4] = h.version;
  p[5] = static_cast<std::uint8_t>(h.type);
  wire::put_u16(p + 6, h.flags);
  wire::put_u64(p + 8, h.session_id);
  wire::put_u64(p + 16, h.sequence);
  std::copy(h.object.bytes.begin(), h.object.bytes.end(), p + 24);
  wire::put_u64(p + 40, h.offset);
  wire::put_u32(p + 48, h.payload_length);
}

Bytes encode_frame(FrameHeader header, ByteView payload) {
  assert(payload.size() <= UINT32_MAX);
  header.payload_length = static_cast<std::uint32_t>(payload.size());
  Bytes out(kHeaderSize + payload.size());
  encode_header(header, std::span<std::uint8_t, kHeaderSize>(out.data(), kHeaderSize));
  std::copy(payload.begin(), payload.end(), out.begin() + kHeaderSize);
  return out;
}

namespace {

// docs/link-protocol.md §2.3: which header fields each type uses. A field a
// type does not use must be zero, so that no frame carries unauthenticated
// bytes the receiver ignores.
bool fields_allowed(const FrameHeader& h) {
  if (is_handshake(h.type)) {
    if (h.sequence != 0 || !h.object.is_zero() || h.offset != 0) return false;
    // CONFIRM names the session it confirms; the others precede any session.
    return h.type == FrameType::confirm ? h.session_id != 0 : h.session_id == 0;
  }
  if (h.session_id == 0 || h.sequence == 0) return false;
  if (h.payload_length < crypto::kSealOverhead) return false;
  if (is_object_frame(h.type)) {
    if (h.object.is_zero()) return false;
    // Only ACCEPT (resume offset), DATA (chunk offset) and ACK (cumulative offset) carry an offset.
    const bool has_offset = h.type == FrameType::accept || h.type == FrameType::data || h.type == FrameType::ack;
    return has_offset || h.offset == 0;
  }
  return h.object.is_zero() && h.offset == 0;
}

}  // namespace

Decoded<FrameView> decode_frame(ByteView datagram, std::size_t max_frame) {
  if (datagram.size() < kHeaderSize) return DecodeError::truncated_header;
  const std::uint8_t* p = datagram.data();
  if (!std::equal(kMagic.begin(), kMagic.end(), p)) return DecodeError::bad_magic;
  if (p[4] != kProtocolVersion) return DecodeError::bad_version;
  if (!is_known_type(p[5])) return DecodeError::bad_type;
  FrameHeader h;
  h.version = p[4];
  h.type = static_cast<FrameType>(p[5]);
  h.flags = wire::get_u16(p + 6);
  if (h.flags != 0) return DecodeError::bad_flags;
  h.session_id = wire::get_u64(p + 8);
  h.sequence = wire::get_u64(p + 16);
  h.object = ObjectId::from_bytes(datagram.subspan(24, ObjectId::kSize));
  h.offset = wire::get_u64(p + 40);
  h.payload_length = wire::get_u32(p + 48);
  // Compared without adding, so that no length can overflow.
  if (h.payload_length > max_frame || kHeaderSize > max_frame - h.payload_length) {
    return DecodeError::length_exceeds_max_frame;
  }
  const std::size_t after_header = datagram.size() - kHeaderSize;
  if (h.payload_length > after_header) return DecodeError::length_exceeds_datagram;
  if (h.payload_length < after_header) return DecodeError::trailing_bytes;
  if (!fields_allowed(h)) return DecodeError::bad_field;
  return FrameView{h, datagram, datagram.first(kHeaderSize), datagram.subspan(kHeaderSize)};
}

std::optional<PeekedHeader> peek_header(ByteView datagram) {
  if (datagram.size() < kHeaderSize) return std::nullopt;
  if (!std::equal(kMagic.begin(), kMagic.end(), datagram.begin())) return std::nullopt;
  return PeekedHeader{datagram[4], datagram[5]};
}

}  // namespace ferry::link
