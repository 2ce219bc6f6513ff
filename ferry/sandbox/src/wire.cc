#include "ferry/sandbox/wire.h"

#include <cstring>

namespace ferry::sandbox {
namespace {

class Writer {
 public:
  explicit Writer(MessageType t) { out_.push_back(static_cast<char>(t)); }
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  void list(const std::vector<std::string>& v) {
    u32(static_cast<std::uint32_t>(v.size()));
    for (const std::string& s : v) str(s);
  }
  void digest(const crypto::Sm3Digest& d) { out_.append(reinterpret_cast<const char*>(d.data()), d.size()); }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads fields in order; the first problem sticks and names the field.
class Reader {
 public:
  Reader(std::string_view packet, MessageType expected) : in_(packet) {
    if (in_.empty() || static_cast<std::uint8_t>(in_[0]) != static_cast<std::uint8_t>(expected)) {
      fail("message type");
    } else {
      pos_ = 1;
    }
    if (packet.size() > kMaxMessage) fail("message length");
  }
  std::uint8_t u8(const char* field) {
    if (!need(1, field)) return 0;
    return static_cast<std::uint8_t>(in_[pos_++]);
  }
  std::uint32_t u32(const char* field) {
    if (!need(4, field)) return 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<std::uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += 4;
    return v;
  }
  std::uint64_t u64(const char* field) {
    if (!need(8, field)) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<std::uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += 8;
    return v;
  }
  std::string str(const char* field) {
    const std::uint32_t n = u32(field);
    if (n > kMaxString) {
      fail(field);
      return {};
    }
    if (!need(n, field)) return {};
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::vector<std::string> list(const char* field) {
    const std::uint32_t n = u32(field);
    std::vector<std::string> v;
    if (n > kMaxList) {
      fail(field);
      return v;
    }
    for (std::uint32_t i = 0; i < n && error_.empty(); ++i) v.push_back(str(field));
    return v;
  }
  crypto::Sm3Digest digest(const char* field) {
    crypto::Sm3Digest d{};
    if (!need(d.size(), field)) return d;
    std::memcpy(d.data(), in_.data() + pos_, d.size());
    pos_ += d.size();
    return d;
  }
  void fail(const char* field) {
    if (error_.empty()) error_ = field;
  }
  // The message's result: an error naming the first bad field, or trailing bytes.
  crypto::Status done() {
    if (error_.empty() && pos_ != in_.size()) error_ = "trailing bytes";
    if (error_.empty()) return {};
    return crypto::make_error(crypto::Errc::bad_format, "worker message: bad " + error_);
  }

 private:
  bool need(std::size_t n, const char* field) {
    if (!error_.empty()) return false;
    if (in_.size() - pos_ < n) {
      fail(field);
      return false;
    }
    return true;
  }
  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

void cut(std::string& s, std::size_t max) {
  if (s.size() <= max) return;
  std::size_t n = max - 3;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;  // whole UTF-8 characters
  s.resize(n);
  s += "...";
}

void cut(std::vector<std::string>& v, std::size_t items, std::size_t chars) {
  if (v.size() > items) {
    const std::size_t more = v.size() - (items - 1);
    v.resize(items - 1);
    v.push_back("... and " + std::to_string(more) + " more");
  }
  for (std::string& s : v) cut(s, chars);
}

}  // namespace

std::string encode(const Setup& m) {
  Writer w(MessageType::setup);
  w.str(m.policy_name);
  w.str(m.policy_dir);
  w.str(m.av_database);
  w.u32(m.av_max_age_hours);
  w.str(m.temp_dir);
  w.str(m.user);
  w.u64(m.memory);
  w.u64(m.max_output);
  w.u32(m.cpu_seconds);
  w.u8(m.require_chroot ? 1 : 0);
  return w.take();
}

crypto::Result<Setup> decode_setup(std::string_view packet) {
  Reader r(packet, MessageType::setup);
  Setup m;
  m.policy_name = r.str("policy_name");
  m.policy_dir = r.str("policy_dir");
  m.av_database = r.str("av_database");
  m.av_max_age_hours = r.u32("av_max_age_hours");
  m.temp_dir = r.str("temp_dir");
  m.user = r.str("user");
  m.memory = r.u64("memory");
  m.max_output = r.u64("max_output");
  m.cpu_seconds = r.u32("cpu_seconds");
  const std::uint8_t chroot = r.u8("require_chroot");
  if (chroot > 1) r.fail("require_chroot");
  m.require_chroot = chroot == 1;
  if (crypto::Status s = r.done(); !s.ok()) return s.error();
  return m;
}

std::string encode(const Ready& m) {
  Writer w(MessageType::ready);
  w.str(m.problem);
  w.str(m.confinement);
  w.digest(m.policy_sm3);
  w.u64(m.policy_serial);
  w.list(m.list_digests);
  w.str(m.antivirus);
  w.u8(m.antivirus_loaded ? 1 : 0);
  return w.take();
}

crypto::Result<Ready> decode_ready(std::string_view packet) {
  Reader r(packet, MessageType::ready);
  Ready m;
  m.problem = r.str("problem");
  m.confinement = r.str("confinement");
  m.policy_sm3 = r.digest("policy_sm3");
  m.policy_serial = r.u64("policy_serial");
  m.list_digests = r.list("list_digests");
  m.antivirus = r.str("antivirus");
  const std::uint8_t loaded = r.u8("antivirus_loaded");
  if (loaded > 1) r.fail("antivirus_loaded");
  m.antivirus_loaded = loaded == 1;
  if (crypto::Status s = r.done(); !s.ok()) return s.error();
  return m;
}

std::string encode(const Request& m) {
  Writer w(MessageType::request);
  w.u64(m.seq);
  w.u8(static_cast<std::uint8_t>(m.role));
  w.str(m.channel);
  w.str(m.name);
  w.u64(m.size);
  return w.take();
}

crypto::Result<Request> decode_request(std::string_view packet) {
  Reader r(packet, MessageType::request);
  Request m;
  m.seq = r.u64("seq");
  const std::uint8_t role = r.u8("role");
  if (role != static_cast<std::uint8_t>(Role::send) && role != static_cast<std::uint8_t>(Role::receive)) r.fail("role");
  m.role = static_cast<Role>(role);
  m.channel = r.str("channel");
  m.name = r.str("name");
  m.size = r.u64("size");
  if (crypto::Status s = r.done(); !s.ok()) return s.error();
  return m;
}

std::string encode(const Answer& m) {
  Writer w(MessageType::answer);
  w.u64(m.seq);
  w.str(m.type);
  w.u32(static_cast<std::uint32_t>(m.reasons.size()));
  for (const WireReason& r : m.reasons) {
    w.str(r.code);
    w.str(r.detail);
  }
  w.list(m.removed);
  w.list(m.masked);
  w.u8(static_cast<std::uint8_t>(m.av));
  w.str(m.av_detail);
  w.u8(m.has_output ? 1 : 0);
  w.u64(m.output_size);
  w.digest(m.output_sm3);
  return w.take();
}

crypto::Result<Answer> decode_answer(std::string_view packet) {
  Reader r(packet, MessageType::answer);
  Answer m;
  m.seq = r.u64("seq");
  m.type = r.str("type");
  const std::uint32_t n = r.u32("reasons");
  if (n > kMaxList) r.fail("reasons");
  for (std::uint32_t i = 0; i < n && i <= kMaxList; ++i) {
    WireReason why;
    why.code = r.str("reason code");
    why.detail = r.str("reason detail");
    m.reasons.push_back(std::move(why));
  }
  m.removed = r.list("removed");
  m.masked = r.list("masked");
  const std::uint8_t av = r.u8("av");
  if (av > static_cast<std::uint8_t>(AvVerdict::not_scanned)) r.fail("av");
  m.av = static_cast<AvVerdict>(av);
  m.av_detail = r.str("av_detail");
  const std::uint8_t out = r.u8("has_output");
  if (out > 1) r.fail("has_output");
  m.has_output = out == 1;
  m.output_size = r.u64("output_size");
  m.output_sm3 = r.digest("output_sm3");
  if (crypto::Status s = r.done(); !s.ok()) return s.error();
  return m;
}

std::optional<MessageType> peek_type(std::string_view packet) {
  if (packet.empty()) return std::nullopt;
  const auto t = static_cast<std::uint8_t>(packet[0]);
  if (t < 1 || t > 4) return std::nullopt;
  return static_cast<MessageType>(t);
}

std::string describe_antivirus(const Answer& a) {
  switch (a.av) {
    case AvVerdict::none: return {};
    case AvVerdict::clean: return "clean";
    case AvVerdict::infected: return "infected: " + a.av_detail;
    case AvVerdict::not_scanned: return "not_scanned: " + a.av_detail;
  }
  return {};
}

void fit(Answer& a) {
  cut(a.type, 256);
  cut(a.av_detail, 1024);
  if (a.reasons.size() > 32) a.reasons.resize(32);
  for (WireReason& r : a.reasons) {
    cut(r.code, 64);
    cut(r.detail, 1024);
  }
  cut(a.removed, 32, 512);
  cut(a.masked, 32, 512);
}

}  // namespace ferry::sandbox
