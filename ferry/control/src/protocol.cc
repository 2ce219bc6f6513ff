#include "ferry/control/protocol.h"

#include <cassert>
#include <charconv>

namespace ferry::control {

using crypto::Errc;
using crypto::make_error;
using crypto::Result;

namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";

using Fields = std::vector<std::pair<std::string, std::string>>;

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

bool is_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!is_key_char(c)) return false;
  }
  return true;
}

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Side names and code tokens: short, lower-case, never needing escapes.
bool is_token(std::string_view s, std::size_t max) {
  return s.size() <= max && (s.empty() || is_key(s));
}

void put(std::string& out, std::string_view key, std::string_view value) {
  assert(is_key(key));
  out += key;
  out += ": ";
  out += percent_encode(value);
  out += '\n';
}

// Splits a body into its lines and decodes the values. The caller then
// checks the sequence of keys; strictness comes from re-encoding at the end.
Result<Fields> split(std::string_view body) {
  if (body.size() > kMaxBody) return make_error(Errc::bad_format, "message larger than 1 MiB");
  if (body.empty() || body.back() != '\n') return make_error(Errc::bad_format, "message does not end with a newline");
  Fields fields;
  std::size_t line_no = 0;
  while (!body.empty()) {
    ++line_no;
    const std::size_t nl = body.find('\n');
    const std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl + 1);
    const std::size_t colon = line.find(": ");
    if (colon == std::string_view::npos || !is_key(line.substr(0, colon))) {
      return make_error(Errc::bad_format, "line " + std::to_string(line_no) + " is not 'key: value'");
    }
    std::optional<std::string> value = percent_decode(line.substr(colon + 2));
    if (!value) return make_error(Errc::bad_format, "line " + std::to_string(line_no) + ": bad percent-encoding");
    fields.emplace_back(std::string(line.substr(0, colon)), std::move(*value));
  }
  return fields;
}

// Reads fields in the one order a message has them.
class Reader {
 public:
  explicit Reader(const Fields& fields) : fields_(fields) {}

  Result<std::string> next(std::string_view key) {
    if (pos_ >= fields_.size()) return make_error(Errc::bad_format, "missing '" + std::string(key) + "'");
    const auto& [k, v] = fields_[pos_];
    if (k != key) {
      return make_error(Errc::bad_format, "expected '" + std::string(key) + "' but found '" + k + "'");
    }
    ++pos_;
    return v;
  }
  bool at_end() const { return pos_ == fields_.size(); }
  std::size_t remaining() const { return fields_.size() - pos_; }
  const std::pair<std::string, std::string>& take() { return fields_[pos_++]; }

 private:
  const Fields& fields_;
  std::size_t pos_ = 0;
};

Result<std::uint64_t> parse_decimal(std::string_view s, std::string_view what) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || (s.size() > 1 && s[0] == '0')) {
    return make_error(Errc::bad_format, std::string(what) + " is not a decimal number");
  }
  return v;
}

Result<std::string> expect_kind(Reader& r, std::string_view kind) {
  Result<std::string> k = r.next("kind");
  if (!k.ok()) return k;
  if (*k != kind) return make_error(Errc::bad_format, "expected a " + std::string(kind) + ", got '" + *k + "'");
  return k;
}

// Strictness: the one spelling of what was decoded must be the input.
template <class T>
Result<T> canonical(T value, std::string_view body) {
  if (encode(value) != body) return make_error(Errc::bad_format, "message is not in canonical form");
  return value;
}

}  // namespace

std::string_view to_string(Op op) {
  switch (op) {
    case Op::pending: return "pending";
    case Op::quarantine_list: return "quarantine-list";
    case Op::show: return "show";
    case Op::approve: return "approve";
    case Op::reject: return "reject";
    case Op::release: return "release";
    case Op::purge: return "purge";
  }
  assert(false);
  return "?";
}

std::optional<Op> parse_op(std::string_view text) {
  for (Op op : {Op::pending, Op::quarantine_list, Op::show, Op::approve, Op::reject, Op::release, Op::purge}) {
    if (to_string(op) == text) return op;
  }
  return std::nullopt;
}

bool is_change(Op op) { return op == Op::approve || op == Op::reject || op == Op::release || op == Op::purge; }

bool needs_object(Op op) { return op != Op::pending && op != Op::quarantine_list; }

std::string percent_encode(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char ch : value) {
    const auto b = static_cast<unsigned char>(ch);
    if (b < 0x20 || b > 0x7e || b == '%') {
      out += '%';
      out += kHexUpper[b >> 4];
      out += kHexUpper[b & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view text) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x20 || b > 0x7e) return std::nullopt;
    if (b != '%') {
      out += text[i];
      continue;
    }
    if (text.size() - i < 3) return std::nullopt;
    const int hi = nibble(text[i + 1]);
    const int lo = nibble(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>((hi << 4) | lo);
    i += 2;
  }
  return out;
}

std::string signed_text(const Request& r) {
  std::string out(kProtocolVersion);
  out += "\nop=" + std::string(to_string(r.op));
  out += "\nobject=" + r.object;
  out += "\nreason=" + percent_encode(r.reason);
  out += "\nside=" + percent_encode(r.side);
  out += "\nchallenge=" + r.challenge;
  out += "\nissued=" + std::to_string(r.issued_ms);
  out += "\n";
  return out;
}

std::string encode(const Hello& h) {
  std::string out;
  put(out, "kind", "hello");
  put(out, "version", kProtocolVersion);
  put(out, "side", h.side);
  put(out, "fingerprint", h.fingerprint);
  put(out, "challenge", h.challenge);
  return out;
}

std::string encode(const Request& r) {
  std::string out;
  put(out, "kind", "request");
  put(out, "op", to_string(r.op));
  put(out, "object", r.object);
  put(out, "reason", r.reason);
  put(out, "side", r.side);
  put(out, "challenge", r.challenge);
  put(out, "issued", std::to_string(r.issued_ms));
  put(out, "key", r.key);
  put(out, "signature", r.signature);
  return out;
}

std::string encode(const Reply& r) {
  std::string out;
  put(out, "kind", "reply");
  put(out, "ok", r.ok ? "true" : "false");
  put(out, "code", r.code);
  put(out, "message", r.message);
  put(out, "next-challenge", r.next_challenge);
  put(out, "entries", std::to_string(r.entries.size()));
  for (const Entry& e : r.entries) {
    // Each entry is announced with its field count, so any key may follow.
    put(out, "entry", std::to_string(e.size()));
    for (const auto& [k, v] : e) put(out, k, v);
  }
  return out;
}

Result<Hello> decode_hello(std::string_view body) {
  Result<Fields> fields = split(body);
  if (!fields.ok()) return fields.error();
  Reader r(*fields);
  Hello h;
  if (auto k = expect_kind(r, "hello"); !k.ok()) return k.error();
  Result<std::string> version = r.next("version");
  if (!version.ok()) return version.error();
  if (*version != kProtocolVersion) {
    return make_error(Errc::bad_format, "ferryd speaks '" + *version + "', this client " + std::string(kProtocolVersion));
  }
  Result<std::string> side = r.next("side");
  if (!side.ok()) return side.error();
  Result<std::string> fp = r.next("fingerprint");
  if (!fp.ok()) return fp.error();
  Result<std::string> challenge = r.next("challenge");
  if (!challenge.ok()) return challenge.error();
  if (!r.at_end()) return make_error(Errc::bad_format, "unexpected fields after 'challenge'");
  if (!is_token(*side, 64)) return make_error(Errc::bad_format, "side is not a name");
  if (!is_lower_hex(*fp) || fp->size() > 128) return make_error(Errc::bad_format, "fingerprint is not hex");
  if (challenge->size() != 2 * kChallengeBytes || !is_lower_hex(*challenge)) {
    return make_error(Errc::bad_format, "challenge is not 64 hex digits");
  }
  h.side = std::move(*side);
  h.fingerprint = std::move(*fp);
  h.challenge = std::move(*challenge);
  return canonical(std::move(h), body);
}

Result<Request> decode_request(std::string_view body) {
  Result<Fields> fields = split(body);
  if (!fields.ok()) return fields.error();
  Reader r(*fields);
  if (auto k = expect_kind(r, "request"); !k.ok()) return k.error();
  Request q;
  std::string values[8];
  static constexpr std::string_view kKeys[8] = {"op", "object", "reason", "side", "challenge", "issued", "key", "signature"};
  for (std::size_t i = 0; i < 8; ++i) {
    Result<std::string> v = r.next(kKeys[i]);
    if (!v.ok()) return v.error();
    values[i] = std::move(*v);
  }
  if (!r.at_end()) return make_error(Errc::bad_format, "unexpected fields after 'signature'");
  std::optional<Op> op = parse_op(values[0]);
  if (!op) return make_error(Errc::bad_format, "unknown op '" + values[0] + "'");
  q.op = *op;
  if (!values[1].empty() && (values[1].size() != kObjectIdHexSize || !is_lower_hex(values[1]))) {
    return make_error(Errc::bad_format, "object is not 32 lower-case hex digits");
  }
  q.object = std::move(values[1]);
  q.reason = std::move(values[2]);
  if (!is_token(values[3], 64)) return make_error(Errc::bad_format, "side is not a name");
  q.side = std::move(values[3]);
  if (!values[4].empty() && (values[4].size() != 2 * kChallengeBytes || !is_lower_hex(values[4]))) {
    return make_error(Errc::bad_format, "challenge is not 64 lower-case hex digits");
  }
  q.challenge = std::move(values[4]);
  Result<std::uint64_t> issued = parse_decimal(values[5], "issued");
  if (!issued.ok()) return issued.error();
  if (*issued > static_cast<std::uint64_t>(INT64_MAX)) return make_error(Errc::bad_format, "issued is out of range");
  q.issued_ms = static_cast<std::int64_t>(*issued);
  if (!values[6].empty() && (values[6].size() != 64 || !is_lower_hex(values[6]))) {
    return make_error(Errc::bad_format, "key is not an SM3 fingerprint (64 lower-case hex digits)");
  }
  q.key = std::move(values[6]);
  // A DER SM2 signature is at most 72 bytes.
  if (values[7].size() > 2 * 72 || values[7].size() % 2 != 0 || !is_lower_hex(values[7])) {
    return make_error(Errc::bad_format, "signature is not hex DER");
  }
  q.signature = std::move(values[7]);
  return canonical(std::move(q), body);
}

Result<Reply> decode_reply(std::string_view body) {
  Result<Fields> fields = split(body);
  if (!fields.ok()) return fields.error();
  Reader r(*fields);
  if (auto k = expect_kind(r, "reply"); !k.ok()) return k.error();
  Reply p;
  Result<std::string> ok = r.next("ok");
  if (!ok.ok()) return ok.error();
  if (*ok != "true" && *ok != "false") return make_error(Errc::bad_format, "ok is neither true nor false");
  p.ok = *ok == "true";
  Result<std::string> code = r.next("code");
  if (!code.ok()) return code.error();
  if (code->empty() || !is_token(*code, 64)) return make_error(Errc::bad_format, "code is not a token");
  p.code = std::move(*code);
  Result<std::string> message = r.next("message");
  if (!message.ok()) return message.error();
  p.message = std::move(*message);
  Result<std::string> next = r.next("next-challenge");
  if (!next.ok()) return next.error();
  if (!next->empty() && (next->size() != 2 * kChallengeBytes || !is_lower_hex(*next))) {
    return make_error(Errc::bad_format, "next-challenge is not 64 hex digits");
  }
  p.next_challenge = std::move(*next);
  Result<std::string> count_text = r.next("entries");
  if (!count_text.ok()) return count_text.error();
  Result<std::uint64_t> count = parse_decimal(*count_text, "entries");
  if (!count.ok()) return count.error();
  // Every entry takes a line at least: a count beyond that is a lie.
  if (*count > r.remaining()) return make_error(Errc::bad_format, "entries counts more entries than there are lines");
  for (std::uint64_t i = 0; i < *count; ++i) {
    Result<std::string> n_text = r.next("entry");
    if (!n_text.ok()) return n_text.error();
    Result<std::uint64_t> n = parse_decimal(*n_text, "entry");
    if (!n.ok()) return n.error();
    if (*n > r.remaining()) return make_error(Errc::bad_format, "entry counts more fields than there are lines");
    Entry e;
    for (std::uint64_t j = 0; j < *n; ++j) e.push_back(r.take());
    p.entries.push_back(std::move(e));
  }
  if (!r.at_end()) return make_error(Errc::bad_format, "unexpected fields after the last entry");
  return canonical(std::move(p), body);
}

std::string frame(std::string_view body) {
  assert(body.size() <= kMaxBody);
  const auto n = static_cast<std::uint32_t>(body.size());
  std::string out;
  out.reserve(kFrameHeaderSize + body.size());
  out += static_cast<char>((n >> 24) & 0xff);
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
  out += body;
  return out;
}

Result<std::size_t> frame_body_size(const std::uint8_t (&header)[kFrameHeaderSize]) {
  const std::uint32_t n = (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
                          (std::uint32_t{header[2]} << 8) | std::uint32_t{header[3]};
  if (n > kMaxBody) {
    return make_error(Errc::exhausted, "frame of " + std::to_string(n) + " bytes is larger than 1 MiB");
  }
  return std::size_t{n};
}

}  // namespace ferry::control
