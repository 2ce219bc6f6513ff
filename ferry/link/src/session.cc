#include "ferry/link/src/session.h"

#include "ferry/link/src/check.h"

namespace ferry::link {

SealedSession::SealedSession(std::uint64_t id, const crypto::SealKeys& send_keys, std::uint32_t send_sender,
                             const crypto::SealKeys& receive_keys, TimePoint established)
    : id_(id), sealer_(send_keys, send_sender), opener_(receive_keys), established_(established) {}

void SealedSession::seal(FrameHeader header, ByteView plaintext, Bytes& out) {
  header.session_id = id_;
  header.sequence = next_sequence_++;
  header.payload_length = static_cast<std::uint32_t>(plaintext.size() + crypto::kSealOverhead);
  out.resize(kHeaderSize + header.payload_length);
  std::span<std::uint8_t, kHeaderSize> head(out.data(), kHeaderSize);
  encode_header(header, head);
  crypto::Status st = sealer_.seal_into(head, plaintext, std::span(out).subspan(kHeaderSize));
  // 2^64 boxes per session cannot be reached; a failure here is a bug.
  FERRY_LINK_CHECK(st.ok(), "sealing a frame failed");
  bytes_ += plaintext.size();
}

SealedSession::Opened SealedSession::open(const FrameView& frame, Bytes& plaintext) {
  switch (window_.check(frame.header.sequence)) {
    case ReplayWindow::Verdict::replay: return Opened::replay;
    case ReplayWindow::Verdict::too_old: return Opened::too_old;
    case ReplayWindow::Verdict::fresh: break;
  }
  // decode_frame guarantees a sealed payload is at least the seal's overhead.
  plaintext.resize(frame.payload.size() - crypto::kSealOverhead);
  if (!opener_.open_into(frame.header_bytes, frame.payload, plaintext).ok()) return Opened::corrupt;
  window_.mark(frame.header.sequence);
  bytes_ += plaintext.size();
  return Opened::ok;
}

}  // namespace ferry::link
