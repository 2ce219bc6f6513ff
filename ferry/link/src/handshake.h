// The handshake of docs/link-protocol.md §4: the SM2 key exchange of GM/T
// 0003.3 §6.1 with both confirmation values, carried by HELLO (R_A),
// HELLO_REPLY (R_B, S_B) and CONFIRM (S_A), each side's identity key used
// through the CryptoSession and the peer's key pinned. Both hellos are bound
// into the keys and into a finished MAC on each side, so that a parameter
// altered in transit fails the handshake instead of silently differing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "crypto/device.h"
#include "crypto/sm2.h"
#include "ferry/link/engine.h"
#include "ferry/link/messages.h"
#include "ferry/link/src/session.h"

namespace ferry::link {

namespace refuse_code {
inline constexpr std::uint16_t version = 1;
inline constexpr std::uint16_t parameters = 2;
inline constexpr std::uint16_t key = 3;               // a fingerprint is not the pinned one
inline constexpr std::uint16_t key_confirmation = 4;  // S_A or S_B did not verify
inline constexpr std::uint16_t side = 5;
inline constexpr std::uint16_t transcript = 6;        // finished MAC or session id mismatch
inline constexpr std::uint16_t internal = 7;          // our crypto device failed
}  // namespace refuse_code

// Everything a handshake needs from its engine.
struct HandshakeEnv {
  const LinkParams& params;
  crypto::CryptoSession& crypto;
  crypto::KeyIndex identity;
  const crypto::Sm2PublicKey& peer;
  const Fingerprint& own_fingerprint;
  const Fingerprint& peer_fingerprint;
};

struct Refusal {
  std::uint16_t code;
  std::string text;
};

AnnouncedParams announced(const LinkParams& params);
// "max_frame: peer 65536, ours 9000" for each differing parameter, joined by "; ".
std::string params_mismatch(const AnnouncedParams& peer, const AnnouncedParams& ours);

// The initiator's state between HELLO and HELLO_REPLY.
struct InitiatorHello {
  std::unique_ptr<crypto::KeyAgreement> agreement;
  Nonce nonce{};
  Bytes frame;  // the HELLO as sent (retransmitted unchanged)
};
crypto::Result<InitiatorHello> initiator_hello(const HandshakeEnv& env);

// A session agreed but not yet confirmed by the other side.
struct PendingSession {
  std::unique_ptr<SealedSession> session;
  std::uint64_t peer_policy_serial = 0;
  Bytes frame;  // CONFIRM (initiator) or HELLO_REPLY (responder), to send and to resend
  // Responder only: what the initiator's CONFIRM must carry.
  Nonce initiator_nonce{};
  crypto::Sm3Digest expected_confirmation{};
  crypto::Sm3Digest expected_finished{};
};

// The responder's answer to a HELLO: a refusal or HELLO_REPLY with a pending session.
std::variant<Refusal, PendingSession> responder_on_hello(const HandshakeEnv& env, const FrameView& hello,
                                                         const HelloBody& body, TimePoint now);
// The responder checks CONFIRM against the pending session.
std::optional<Refusal> responder_on_confirm(const HandshakeEnv& env, const PendingSession& pending,
                                            const ConfirmBody& body);
// The initiator checks HELLO_REPLY (whose echoed nonce matched) and makes CONFIRM.
std::variant<Refusal, PendingSession> initiator_on_reply(const HandshakeEnv& env, InitiatorHello& hello,
                                                         const FrameView& reply, const HelloReplyBody& body,
                                                         TimePoint now);

Bytes refuse_frame(const Refusal& refusal);

}  // namespace ferry::link
