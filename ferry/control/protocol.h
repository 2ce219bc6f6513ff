// The control protocol between ferryctl and a running ferryd: the officers'
// requests (三员分立) to list, show, approve, reject, release and purge the
// objects a side holds, over the side's UNIX stream socket.
//
// Framing: a 4-byte big-endian body length, then the body; a body is at most
// kMaxBody bytes. A body is text, one "key: value" line each (LF-terminated),
// starting with "kind: hello|request|reply". Values are percent-encoded
// (%XX, upper-case hex) for every byte that is not printable ASCII and for
// '%' itself, so names with newlines or in Chinese cross unchanged and a
// value can never start a line of its own. Decoding is strict: a body is
// accepted only if encoding what was decoded gives back the same bytes, so
// each message has exactly one spelling (no case, order or escaping games
// between what an officer signed and what the daemon logged).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.h"

namespace ferry::control {

inline constexpr std::size_t kMaxBody = std::size_t{1} << 20;
inline constexpr std::size_t kFrameHeaderSize = 4;
inline constexpr std::string_view kProtocolVersion = "ferry-control/1";
// 32 random bytes, sent as 64 lower-case hex digits.
inline constexpr std::size_t kChallengeBytes = 32;
// An object id: 16 bytes as 32 lower-case hex digits.
inline constexpr std::size_t kObjectIdHexSize = 32;

enum class Op { pending, quarantine_list, show, approve, reject, release, purge };

std::string_view to_string(Op op);  // "pending", "quarantine-list", ...
std::optional<Op> parse_op(std::string_view text);
// Changes alter what the side holds and must be signed; reads need not be.
bool is_change(Op op);
// show and every change name one object; the lists do not.
bool needs_object(Op op);

// Server -> client, once, when a connection is accepted.
struct Hello {
  std::string side;         // "inner" or "outer": what an officer's signature must name
  std::string fingerprint;  // the daemon's own key (SM3 of its point, hex); may be empty
  std::string challenge;    // hex, for the first signed request on this connection
};

struct Request {
  Op op = Op::pending;
  std::string object;     // 32 hex digits, or empty for the lists
  std::string reason;     // free text (reject); any bytes
  std::string side;       // the side the officer means; must be the server's
  std::string challenge;  // the one this connection was last given
  std::int64_t issued_ms = 0;  // the officer's clock, ms since the epoch; recorded, not trusted
  std::string key;        // SM3 fingerprint (hex) of the officer's public key; empty: unsigned
  std::string signature;  // hex DER SM2 signature over signed_text(); empty: unsigned

  bool is_signed() const { return !key.empty() || !signature.empty(); }
};

// One object's facts as ordered key/value pairs (keys: [a-z0-9_.-]+).
using Entry = std::vector<std::pair<std::string, std::string>>;

struct Reply {
  bool ok = false;
  std::string code;     // a token: ok, bad_request, unsigned, unknown_key, bad_signature, ...
  std::string message;  // for a person, one line (any bytes; percent-encoded on the wire)
  std::vector<Entry> entries;
  std::string next_challenge;  // for the next signed request on this connection
};

// The exact bytes an officer's key signs (SM2 with the default
// distinguishing ID, GM/T 0009 §10):
//
//   ferry-control/1\n
//   op=<op>\n
//   object=<object>\n
//   reason=<reason, percent-encoded as on the wire>\n
//   side=<side>\n
//   challenge=<challenge>\n
//   issued=<issued_ms, decimal>\n
//
// Every field the daemon acts on is covered; key and signature are not (the
// key is named by the signature that verifies under it).
std::string signed_text(const Request& request);

std::string encode(const Hello& hello);
std::string encode(const Request& request);
// Entry keys must be [a-z0-9_.-]+ (a bug otherwise: they are ours).
std::string encode(const Reply& reply);

// Errors are Errc::bad_format with a message naming the line or field.
crypto::Result<Hello> decode_hello(std::string_view body);
crypto::Result<Request> decode_request(std::string_view body);
crypto::Result<Reply> decode_reply(std::string_view body);

// Percent-encoding as used for values (exposed for signed_text and tests).
std::string percent_encode(std::string_view value);
std::optional<std::string> percent_decode(std::string_view text);

// Length prefix + body. The body must be at most kMaxBody (a bug otherwise).
std::string frame(std::string_view body);
// The body length a header announces; an error when it exceeds kMaxBody.
crypto::Result<std::size_t> frame_body_size(const std::uint8_t (&header)[kFrameHeaderSize]);

}  // namespace ferry::control
