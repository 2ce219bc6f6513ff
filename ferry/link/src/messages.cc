#include "ferry/link/messages.h"

#include <cassert>

#include "ferry/link/src/wire.h"

namespace ferry::link {
namespace {

void write_hello(wire::Writer& w, const HelloBody& b) {
  w.u8(b.protocol_version);
  w.u8(b.side);
  w.u32(b.params.max_frame);
  w.u32(b.params.chunk_size);
  w.u32(b.params.window);
  w.u32(b.params.keepalive_ms);
  w.u64(b.policy_serial);
  w.bytes(b.own_key);
  w.bytes(b.pinned_peer_key);
  w.bytes(b.nonce);
  w.bytes(b.ephemeral);
}

void read_hello(wire::Reader& r, HelloBody& b) {
  b.protocol_version = r.u8();
  b.side = r.u8();
  b.params.max_frame = r.u32();
  b.params.chunk_size = r.u32();
  b.params.window = r.u32();
  b.params.keepalive_ms = r.u32();
  b.policy_serial = r.u64();
  r.array(b.own_key);
  r.array(b.pinned_peer_key);
  r.array(b.nonce);
  r.array(b.ephemeral);
}

// Length of the longest prefix of s, at most max bytes, that ends on a
// UTF-8 character boundary.
std::size_t utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s.size();
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    static constexpr std::uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Bytes encode(const HelloBody& body) {
  Bytes out;
  out.reserve(kHelloBodySize);
  wire::Writer w(out);
  write_hello(w, body);
  assert(out.size() == kHelloBodySize);
  return out;
}

Bytes encode(const HelloReplyBody& body) {
  Bytes out;
  out.reserve(kHelloReplyBodySize);
  wire::Writer w(out);
  write_hello(w, body.hello);
  w.bytes(body.initiator_nonce);
  w.bytes(body.confirmation);
  w.bytes(body.finished);
  assert(out.size() == kHelloReplyBodySize);
  return out;
}

Bytes encode(const ConfirmBody& body) {
  Bytes out;
  wire::Writer w(out);
  w.bytes(body.confirmation);
  w.bytes(body.finished);
  return out;
}

Bytes encode(const ReasonBody& body) {
  const std::size_t n = utf8_prefix(body.text, kMaxReasonText);
  Bytes out;
  wire::Writer w(out);
  w.u16(body.code);
  w.u16(static_cast<std::uint16_t>(n));
  w.bytes(std::string_view(body.text).substr(0, n));
  return out;
}

Bytes encode(const OfferBody& body) {
  assert(!body.channel.empty() && body.channel.size() <= kMaxChannelName);
  assert(!body.path.empty() && body.path.size() <= kMaxPath);
  Bytes out;
  wire::Writer w(out);
  w.u64(body.size);
  w.bytes(body.sm3);
  w.u64(body.policy_serial);
  w.u16(static_cast<std::uint16_t>(body.channel.size()));
  w.bytes(body.channel);
  w.u16(static_cast<std::uint16_t>(body.path.size()));
  w.bytes(body.path);
  return out;
}

Bytes encode(const EndBody& body) {
  Bytes out;
  wire::Writer w(out);
  w.u64(body.total);
  w.bytes(body.sm3);
  return out;
}

Bytes encode(const KeepaliveBody& body) {
  Bytes out;
  wire::Writer w(out);
  w.u64(body.policy_serial);
  return out;
}

Decoded<HelloBody> decode_hello(ByteView body) {
  wire::Reader r(body);
  HelloBody b;
  read_hello(r, b);
  if (!r.exhausted()) return DecodeError::bad_body;
  return b;
}

Decoded<HelloReplyBody> decode_hello_reply(ByteView body) {
  wire::Reader r(body);
  HelloReplyBody b;
  read_hello(r, b.hello);
  r.array(b.initiator_nonce);
  r.array(b.confirmation);
  r.array(b.finished);
  if (!r.exhausted()) return DecodeError::bad_body;
  return b;
}

Decoded<ConfirmBody> decode_confirm(ByteView body) {
  wire::Reader r(body);
  ConfirmBody b;
  r.array(b.confirmation);
  r.array(b.finished);
  if (!r.exhausted()) return DecodeError::bad_body;
  return b;
}

Decoded<ReasonBody> decode_reason(ByteView body) {
  wire::Reader r(body);
  ReasonBody b;
  b.code = r.u16();
  const std::uint16_t n = r.u16();
  if (n > kMaxReasonText) return DecodeError::bad_body;
  b.text = r.string(n);
  if (!r.exhausted() || !is_valid_utf8(b.text)) return DecodeError::bad_body;
  return b;
}

Decoded<OfferBody> decode_offer(ByteView body) {
  wire::Reader r(body);
  OfferBody b;
  b.size = r.u64();
  r.array(b.sm3);
  b.policy_serial = r.u64();
  const std::uint16_t channel_len = r.u16();
  if (channel_len == 0 || channel_len > kMaxChannelName) return DecodeError::bad_body;
  b.channel = r.string(channel_len);
  const std::uint16_t path_len = r.u16();
  if (path_len == 0 || path_len > kMaxPath) return DecodeError::bad_body;
  b.path = r.string(path_len);
  if (!r.exhausted() || !is_valid_utf8(b.channel) || !is_valid_utf8(b.path)) return DecodeError::bad_body;
  return b;
}

Decoded<EndBody> decode_end(ByteView body) {
  wire::Reader r(body);
  EndBody b;
  b.total = r.u64();
  r.array(b.sm3);
  if (!r.exhausted()) return DecodeError::bad_body;
  return b;
}

Decoded<KeepaliveBody> decode_keepalive(ByteView body) {
  wire::Reader r(body);
  KeepaliveBody b;
  b.policy_serial = r.u64();
  if (!r.exhausted()) return DecodeError::bad_body;
  return b;
}

}  // namespace ferry::link
