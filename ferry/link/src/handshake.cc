#include "ferry/link/src/handshake.h"

#include <algorithm>

#include "ferry/link/src/wire.h"

namespace ferry::link {
namespace {

using crypto::Sm3Digest;

constexpr std::size_t kAgreedKeySize = 32;
// Sealer sender values per direction (docs/crypto.md: two sealers under one
// key must differ; here the keys differ as well).
constexpr std::uint32_t kSenderOuterToInner = 0x4F555452;  // "OUTR"
constexpr std::uint32_t kSenderInnerToOuter = 0x494E4E52;  // "INNR"

std::string hex(crypto::ByteView b) { return crypto::to_hex(b); }

// SM3("ferry link v1 transcript" || HELLO frame || HELLO_REPLY frame without
// its final 32-byte finished MAC).
Sm3Digest transcript_hash(crypto::ByteView hello_frame, crypto::ByteView reply_frame) {
  crypto::Sm3 h;
  h.update(crypto::as_bytes("ferry link v1 transcript"));
  h.update(hello_frame);
  h.update(reply_frame.first(reply_frame.size() - 32));
  return h.finish();
}

struct Secrets {
  std::uint64_t session_id = 0;
  crypto::SealKeys outer_to_inner;
  crypto::SealKeys inner_to_outer;
  crypto::SecretBytes finished_key;
};

// docs/link-protocol.md §4.3: everything from K and the transcript hash.
Secrets derive(crypto::ByteView k, const Sm3Digest& transcript) {
  crypto::SecretBytes secret(k.size() + transcript.size());
  std::copy(k.begin(), k.end(), secret.data());
  std::copy(transcript.begin(), transcript.end(), secret.data() + k.size());
  Secrets s;
  s.outer_to_inner = crypto::SealKeys::derive(secret.view(), "ferry link v1 outer->inner");
  s.inner_to_outer = crypto::SealKeys::derive(secret.view(), "ferry link v1 inner->outer");
  s.finished_key = crypto::SecretBytes(32);
  crypto::sm3_kdf({secret.view(), crypto::as_bytes("ferry link v1 finished")}, s.finished_key.mutable_view());
  crypto::Sm3 h;
  h.update(crypto::as_bytes("ferry link v1 session id"));
  h.update(transcript);
  const Sm3Digest d = h.finish();
  s.session_id = wire::get_u64(d.data());
  if (s.session_id == 0) s.session_id = 1;  // 0 means "no session" on the wire
  return s;
}

Sm3Digest finished_mac(const crypto::SecretBytes& key, Side side, const Sm3Digest& transcript) {
  crypto::HmacSm3 mac(key.view());
  mac.update(crypto::as_bytes(side == Side::outer ? "ferry link v1 initiator finished"
                                                  : "ferry link v1 responder finished"));
  mac.update(transcript);
  return mac.finish();
}

std::unique_ptr<SealedSession> make_session(const Secrets& s, Side side, TimePoint now) {
  if (side == Side::outer) {
    return std::make_unique<SealedSession>(s.session_id, s.outer_to_inner, kSenderOuterToInner, s.inner_to_outer, now);
  }
  return std::make_unique<SealedSession>(s.session_id, s.inner_to_outer, kSenderInnerToOuter, s.outer_to_inner, now);
}

HelloBody own_hello(const HandshakeEnv& env, const Nonce& nonce, crypto::ByteView ephemeral) {
  HelloBody b;
  b.protocol_version = kProtocolVersion;
  b.side = static_cast<std::uint8_t>(env.params.side);
  b.params = announced(env.params);
  b.policy_serial = env.params.policy_serial;
  b.own_key = env.own_fingerprint;
  b.pinned_peer_key = env.peer_fingerprint;
  b.nonce = nonce;
  std::copy(ephemeral.begin(), ephemeral.end(), b.ephemeral.begin());
  return b;
}

// The checks both sides make of the other's hello (§4.2), first failure wins.
std::optional<Refusal> check_peer_hello(const HandshakeEnv& env, const HelloBody& peer) {
  if (peer.protocol_version != kProtocolVersion) {
    return Refusal{refuse_code::version, "protocol version: peer " + std::to_string(peer.protocol_version) +
                                             ", ours " + std::to_string(kProtocolVersion)};
  }
  const Side ours = env.params.side;
  if (peer.side == static_cast<std::uint8_t>(ours) || (peer.side != 1 && peer.side != 2)) {
    const std::string peer_side = peer.side == 1 ? "outer" : peer.side == 2 ? "inner" : std::to_string(peer.side);
    return Refusal{refuse_code::side, "side: peer " + peer_side + ", ours " + std::string(to_string(ours)) +
                                          " (one side must be outer, the other inner)"};
  }
  const AnnouncedParams mine = announced(env.params);
  if (peer.params != mine) return Refusal{refuse_code::parameters, params_mismatch(peer.params, mine)};
  if (!crypto::equal_constant_time(peer.own_key, env.peer_fingerprint)) {
    return Refusal{refuse_code::key, "peer key fingerprint " + hex(peer.own_key) + " is not the pinned " +
                                         hex(env.peer_fingerprint)};
  }
  if (!crypto::equal_constant_time(peer.pinned_peer_key, env.own_fingerprint)) {
    return Refusal{refuse_code::key, "peer pinned our key as " + hex(peer.pinned_peer_key) +
                                         ", but our key fingerprint is " + hex(env.own_fingerprint)};
  }
  return std::nullopt;
}

std::string confirmation_failed(const HandshakeEnv& env) {
  return "key confirmation failed: peer does not hold the private key of pinned key " + hex(env.peer_fingerprint);
}

Bytes handshake_frame(FrameType type, std::uint64_t session_id, const Bytes& body) {
  FrameHeader h;
  h.type = type;
  h.session_id = session_id;
  return encode_frame(h, body);
}

}  // namespace

AnnouncedParams announced(const LinkParams& p) {
  return AnnouncedParams{static_cast<std::uint32_t>(p.max_frame), static_cast<std::uint32_t>(p.chunk_size),
                         static_cast<std::uint32_t>(p.window), static_cast<std::uint32_t>(p.keepalive_interval.count())};
}

std::string params_mismatch(const AnnouncedParams& peer, const AnnouncedParams& ours) {
  std::string out;
  auto one = [&](const char* name, std::uint32_t p, std::uint32_t o) {
    if (p == o) return;
    if (!out.empty()) out += "; ";
    out += std::string(name) + ": peer " + std::to_string(p) + ", ours " + std::to_string(o);
  };
  one("max_frame", peer.max_frame, ours.max_frame);
  one("chunk_size", peer.chunk_size, ours.chunk_size);
  one("window", peer.window, ours.window);
  one("keepalive_ms", peer.keepalive_ms, ours.keepalive_ms);
  return out;
}

Bytes refuse_frame(const Refusal& refusal) {
  return handshake_frame(FrameType::refuse, 0, encode(ReasonBody{refusal.code, refusal.text}));
}

crypto::Result<InitiatorHello> initiator_hello(const HandshakeEnv& env) {
  InitiatorHello hello;
  if (crypto::Status st = env.crypto.generate_random(hello.nonce); !st.ok()) return st.error();
  auto agreement = env.crypto.begin_key_agreement(env.identity, crypto::Sm2KxRole::initiator, crypto::kSm2DefaultId,
                                                  env.peer, crypto::kSm2DefaultId, kAgreedKeySize);
  if (!agreement.ok()) return agreement.error();
  hello.agreement = std::move(agreement).value();
  hello.frame = handshake_frame(FrameType::hello, 0, encode(own_hello(env, hello.nonce, hello.agreement->ephemeral_point())));
  return hello;
}

std::variant<Refusal, PendingSession> responder_on_hello(const HandshakeEnv& env, const FrameView& hello,
                                                         const HelloBody& body, TimePoint now) {
  if (std::optional<Refusal> r = check_peer_hello(env, body)) return *r;
  auto agreement = env.crypto.begin_key_agreement(env.identity, crypto::Sm2KxRole::responder, crypto::kSm2DefaultId,
                                                  env.peer, crypto::kSm2DefaultId, kAgreedKeySize);
  if (!agreement.ok()) return Refusal{refuse_code::internal, "key agreement: " + agreement.error().message};
  // GM/T 0003.3 §6.1 B2-B9: validate R_A, compute K and both confirmation values.
  crypto::Result<crypto::Sm2KxResult> kx = (*agreement)->finish(body.ephemeral);
  if (!kx.ok()) return Refusal{refuse_code::key_confirmation, "peer's ephemeral point: " + kx.error().message};

  PendingSession pending;
  pending.peer_policy_serial = body.policy_serial;
  pending.initiator_nonce = body.nonce;
  pending.expected_confirmation = kx->initiator_confirmation;

  HelloReplyBody reply;
  Nonce nonce{};
  if (crypto::Status st = env.crypto.generate_random(nonce); !st.ok()) {
    return Refusal{refuse_code::internal, "random: " + st.error().message};
  }
  reply.hello = own_hello(env, nonce, (*agreement)->ephemeral_point());
  reply.initiator_nonce = body.nonce;
  reply.confirmation = kx->responder_confirmation;
  pending.frame = handshake_frame(FrameType::hello_reply, 0, encode(reply));  // finished MAC still zero

  const Sm3Digest transcript = transcript_hash(hello.bytes, pending.frame);
  const Secrets secrets = derive(kx->key.view(), transcript);
  const Sm3Digest finished = finished_mac(secrets.finished_key, Side::inner, transcript);
  std::copy(finished.begin(), finished.end(), pending.frame.end() - 32);
  pending.expected_finished = finished_mac(secrets.finished_key, Side::outer, transcript);
  pending.session = make_session(secrets, Side::inner, now);
  return pending;
}

std::optional<Refusal> responder_on_confirm(const HandshakeEnv& env, const PendingSession& pending,
                                            const ConfirmBody& body) {
  if (!crypto::sm2_kx_confirm(pending.expected_confirmation, body.confirmation)) {
    return Refusal{refuse_code::key_confirmation, confirmation_failed(env)};
  }
  if (!crypto::equal_constant_time(pending.expected_finished, body.finished)) {
    return Refusal{refuse_code::transcript,
                   "handshake transcript mismatch: a handshake message was altered in transit"};
  }
  return std::nullopt;
}

std::variant<Refusal, PendingSession> initiator_on_reply(const HandshakeEnv& env, InitiatorHello& hello,
                                                         const FrameView& reply, const HelloReplyBody& body,
                                                         TimePoint now) {
  if (std::optional<Refusal> r = check_peer_hello(env, body.hello)) return *r;
  if (!hello.agreement) return Refusal{refuse_code::internal, "key agreement already used"};
  // GM/T 0003.3 §6.1 A6-A10: validate R_B, compute K, check S_B = S1.
  crypto::Result<crypto::Sm2KxResult> kx = hello.agreement->finish(body.hello.ephemeral);
  hello.agreement.reset();  // once per exchange
  if (!kx.ok()) return Refusal{refuse_code::key_confirmation, "peer's ephemeral point: " + kx.error().message};
  if (!crypto::sm2_kx_confirm(kx->responder_confirmation, body.confirmation)) {
    return Refusal{refuse_code::key_confirmation, confirmation_failed(env)};
  }
  const Sm3Digest transcript = transcript_hash(hello.frame, reply.bytes);
  const Secrets secrets = derive(kx->key.view(), transcript);
  if (!crypto::equal_constant_time(finished_mac(secrets.finished_key, Side::inner, transcript), body.finished)) {
    return Refusal{refuse_code::transcript,
                   "handshake transcript mismatch: a handshake message was altered in transit"};
  }
  PendingSession pending;
  pending.peer_policy_serial = body.hello.policy_serial;
  pending.session = make_session(secrets, Side::outer, now);
  pending.frame = handshake_frame(FrameType::confirm, secrets.session_id,
                                  encode(ConfirmBody{kx->initiator_confirmation,
                                                     finished_mac(secrets.finished_key, Side::outer, transcript)}));
  return pending;
}

}  // namespace ferry::link
