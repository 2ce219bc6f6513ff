#include "ferry/spool/object_record.h"

#include <charconv>
#include <limits>

namespace ferry::spool {
namespace {

using crypto::Errc;
using crypto::Error;
using crypto::make_error;
using crypto::Result;
using crypto::Status;

constexpr std::array<std::string_view, 7> kStateNames = {"incoming", "outgoing", "partial", "received",
                                                         "done",     "quarantine", "pending"};

// The keys in the one order a record may list them.
enum Key : int {
  k_id,
  k_revision,
  k_channel,
  k_path,
  k_size,
  k_sm3,
  k_state,
  k_created,
  k_updated,
  k_verdict,
  k_reason,
  k_delivered_name,
  k_peer_serial,
  k_count
};
constexpr std::array<std::string_view, k_count> kKeyNames = {
    "id",      "revision", "channel", "path",   "size",           "sm3",        "state",
    "created", "updated",  "verdict", "reason", "delivered_name", "peer_serial"};
constexpr bool is_optional(int key) { return key == k_reason || key == k_delivered_name || key == k_peer_serial; }

bool is_literal(std::uint8_t b) { return b > 0x20 && b < 0x7f && b != '%'; }

bool is_token(std::string_view s) {
  if (s.empty() || s.size() > kMaxTokenBytes) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

constexpr char kUpperHex[] = "0123456789ABCDEF";
constexpr char kLowerHex[] = "0123456789abcdef";

int hex_value(char c, const char* digits) {
  for (int i = 0; i < 16; ++i) {
    if (digits[i] == c) return i;
  }
  return -1;
}

// Hostile bytes in an error message are shown encoded and shortened.
std::string shown(std::string_view s) {
  std::string out = percent_encode(s.substr(0, 40));
  if (s.size() > 40) out += "...";
  return out;
}

class Decoder {
 public:
  explicit Decoder(std::size_t line) : line_(line) {}

  Error fail(const std::string& what) const {
    return make_error(Errc::bad_format, "spool record: line " + std::to_string(line_) + ": " + what);
  }

  Result<std::string> text(std::string_view v, std::size_t max, std::string_view key) const {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const auto b = static_cast<std::uint8_t>(v[i]);
      if (is_literal(b)) {
        out.push_back(v[i]);
        continue;
      }
      if (b != '%') return fail(std::string(key) + ": byte 0x" + kLowerHex[b >> 4] + kLowerHex[b & 15] + " must be percent-encoded");
      if (i + 2 >= v.size()) return fail(std::string(key) + ": truncated percent-escape");
      int hi = hex_value(v[i + 1], kUpperHex);
      int lo = hex_value(v[i + 2], kUpperHex);
      if (hi < 0 || lo < 0) return fail(std::string(key) + ": percent-escape is not two upper-case hex digits");
      const auto decoded = static_cast<std::uint8_t>(hi << 4 | lo);
      if (is_literal(decoded)) return fail(std::string(key) + ": non-canonical percent-escape of a printable byte");
      out.push_back(static_cast<char>(decoded));
      i += 2;
    }
    if (out.empty()) return fail(std::string(key) + ": empty value");
    if (out.size() > max) return fail(std::string(key) + ": longer than " + std::to_string(max) + " bytes");
    return out;
  }

  Result<std::uint64_t> number(std::string_view v, std::string_view key, std::uint64_t max) const {
    if (v.empty() || (v.size() > 1 && v[0] == '0')) return fail(std::string(key) + ": not a canonical decimal number");
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size()) return fail(std::string(key) + ": not a decimal number");
    if (n > max) return fail(std::string(key) + ": out of range");
    return n;
  }

  template <std::size_t N>
  Result<std::array<std::uint8_t, N>> hex(std::string_view v, std::string_view key) const {
    if (v.size() != 2 * N) return fail(std::string(key) + ": expected " + std::to_string(2 * N) + " hex digits");
    std::array<std::uint8_t, N> out;
    for (std::size_t i = 0; i < N; ++i) {
      int hi = hex_value(v[2 * i], kLowerHex);
      int lo = hex_value(v[2 * i + 1], kLowerHex);
      if (hi < 0 || lo < 0) return fail(std::string(key) + ": not lower-case hex");
      out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
  }

 private:
  std::size_t line_;
};

void append_line(std::string& out, std::string_view key, std::string_view value) {
  out.append(key);
  out.append(": ");
  out.append(value);
  out.push_back('\n');
}

}  // namespace

std::string_view state_name(State state) { return kStateNames[static_cast<std::size_t>(state)]; }

std::optional<State> parse_state(std::string_view name) {
  for (State s : kAllStates) {
    if (state_name(s) == name) return s;
  }
  return std::nullopt;
}

std::string percent_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    const auto b = static_cast<std::uint8_t>(c);
    if (is_literal(b)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kUpperHex[b >> 4]);
      out.push_back(kUpperHex[b & 15]);
    }
  }
  return out;
}

Status validate_record(const ObjectRecord& r) {
  auto bad = [](const std::string& what) { return make_error(Errc::invalid_argument, "spool record: " + what); };
  if (r.channel.empty() || r.channel.size() > kMaxChannelBytes) return bad("channel must be 1 to 255 bytes");
  if (r.path.empty() || r.path.size() > kMaxPathBytes) return bad("path must be 1 to 4096 bytes");
  if (r.created_ms < 0 || r.updated_ms < 0) return bad("timestamps must not be negative");
  if (!is_token(r.verdict)) return bad("verdict must be a token of [a-z0-9._-], 1 to 64 bytes");
  if (r.reasons.size() > kMaxReasons) return bad("more than 64 reasons");
  for (const Reason& reason : r.reasons) {
    if (!is_token(reason.code)) return bad("reason code must be a token of [a-z0-9._-], 1 to 64 bytes");
    if (reason.detail.size() > kMaxReasonDetailBytes) return bad("reason detail longer than 1024 bytes");
  }
  if (r.delivered_name && (r.delivered_name->empty() || r.delivered_name->size() > kMaxPathBytes)) {
    return bad("delivered_name must be 1 to 4096 bytes");
  }
  return {};
}

Result<std::string> encode_record(const ObjectRecord& r) {
  if (Status s = validate_record(r); !s.ok()) return s.error();
  std::string out;
  out.append(kRecordMagic);
  out.push_back('\n');
  append_line(out, "id", r.id.hex());
  append_line(out, "revision", std::to_string(r.revision));
  append_line(out, "channel", percent_encode(r.channel));
  append_line(out, "path", percent_encode(r.path));
  append_line(out, "size", std::to_string(r.size));
  append_line(out, "sm3", crypto::to_hex(r.sm3));
  append_line(out, "state", state_name(r.state));
  append_line(out, "created", std::to_string(r.created_ms));
  append_line(out, "updated", std::to_string(r.updated_ms));
  append_line(out, "verdict", r.verdict);
  for (const Reason& reason : r.reasons) {
    append_line(out, "reason", reason.detail.empty() ? reason.code : reason.code + " " + percent_encode(reason.detail));
  }
  if (r.delivered_name) append_line(out, "delivered_name", percent_encode(*r.delivered_name));
  if (r.peer_serial) append_line(out, "peer_serial", std::to_string(*r.peer_serial));
  // The limits above keep every valid record under the decoder's cap.
  assert(out.size() <= kMaxRecordBytes);
  return out;
}

Result<ObjectRecord> decode_record(std::string_view text) {
  if (text.size() > kMaxRecordBytes) {
    return make_error(Errc::bad_format, "spool record: larger than " + std::to_string(kMaxRecordBytes) + " bytes");
  }
  if (text.empty() || text.back() != '\n') {
    return make_error(Errc::bad_format, "spool record: truncated (does not end with a newline)");
  }
  ObjectRecord r;
  std::array<bool, k_count> seen{};
  int last_key = -1;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  constexpr auto kMaxMs = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  constexpr auto kMaxU64 = std::numeric_limits<std::uint64_t>::max();
  while (pos < text.size()) {
    const std::size_t eol = text.find('\n', pos);
    const std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    Decoder d(line_no);
    if (line_no == 1) {
      if (line == kRecordMagic) continue;
      if (line.starts_with("ferry-spool-record/")) return d.fail("unsupported version '" + shown(line) + "'");
      return d.fail("not a spool record (expected '" + std::string(kRecordMagic) + "')");
    }
    const std::size_t colon = line.find(": ");
    if (colon == std::string_view::npos) return d.fail("expected 'key: value'");
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = line.substr(colon + 2);
    int key = -1;
    for (int k = 0; k < k_count; ++k) {
      if (kKeyNames[k] == name) key = k;
    }
    if (key < 0) return d.fail("unknown key '" + shown(name) + "'");
    if (seen[key] && key != k_reason) return d.fail("duplicate key '" + std::string(name) + "'");
    if (key < last_key) return d.fail("key '" + std::string(name) + "' out of order");
    seen[key] = true;
    last_key = key;
    switch (key) {
      case k_id: {
        auto b = d.hex<ObjectId::kSize>(value, name);
        if (!b.ok()) return b.error();
        r.id = ObjectId(*b);
        break;
      }
      case k_revision:
      case k_size:
      case k_peer_serial: {
        auto n = d.number(value, name, kMaxU64);
        if (!n.ok()) return n.error();
        if (key == k_revision) r.revision = *n;
        if (key == k_size) r.size = *n;
        if (key == k_peer_serial) r.peer_serial = *n;
        break;
      }
      case k_created:
      case k_updated: {
        auto n = d.number(value, name, kMaxMs);
        if (!n.ok()) return n.error();
        (key == k_created ? r.created_ms : r.updated_ms) = static_cast<std::int64_t>(*n);
        break;
      }
      case k_channel:
      case k_path:
      case k_delivered_name: {
        const std::size_t max = key == k_channel ? kMaxChannelBytes : kMaxPathBytes;
        auto t = d.text(value, max, name);
        if (!t.ok()) return t.error();
        if (key == k_channel) r.channel = std::move(*t);
        if (key == k_path) r.path = std::move(*t);
        if (key == k_delivered_name) r.delivered_name = std::move(*t);
        break;
      }
      case k_sm3: {
        auto b = d.hex<crypto::kSm3DigestSize>(value, name);
        if (!b.ok()) return b.error();
        r.sm3 = *b;
        break;
      }
      case k_state: {
        auto s = parse_state(value);
        if (!s) return d.fail("unknown state '" + shown(value) + "'");
        r.state = *s;
        break;
      }
      case k_verdict:
        if (!is_token(value)) return d.fail("verdict is not a token of [a-z0-9._-], 1 to 64 bytes");
        r.verdict = std::string(value);
        break;
      case k_reason: {
        if (r.reasons.size() == kMaxReasons) return d.fail("more than 64 reasons");
        const std::size_t space = value.find(' ');
        Reason reason;
        reason.code = std::string(value.substr(0, space));
        if (!is_token(reason.code)) return d.fail("reason code is not a token of [a-z0-9._-], 1 to 64 bytes");
        if (space != std::string_view::npos) {
          auto t = d.text(value.substr(space + 1), kMaxReasonDetailBytes, "reason detail");
          if (!t.ok()) return t.error();
          reason.detail = std::move(*t);
        }
        r.reasons.push_back(std::move(reason));
        break;
      }
      default:
        assert(false);
    }
  }
  for (int k = 0; k < k_count; ++k) {
    if (!seen[k] && !is_optional(k)) {
      return make_error(Errc::bad_format, "spool record: missing key '" + std::string(kKeyNames[k]) + "'");
    }
  }
  return r;
}

}  // namespace ferry::spool
