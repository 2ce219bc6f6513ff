#include "ferry/sandbox/examine.h"

#include <algorithm>

#include "ferry/pipeline/mask.h"

namespace ferry::sandbox {
namespace {

using pipeline::Reason;
using policy::FileType;

// Whether any object or member of these types is rebuilt on this channel.
bool sanitizes_any(const policy::Channel& ch, const std::set<FileType>& types) {
  return std::any_of(types.begin(), types.end(), [&](FileType t) { return disarm::channel_sanitizes(ch, t); });
}

std::string joined(const std::vector<std::string>& lines, std::size_t max = 8) {
  std::string out;
  for (std::size_t i = 0; i < lines.size() && i < max; ++i) out += (i ? "; " : "") + lines[i];
  if (lines.size() > max) out += "; and " + std::to_string(lines.size() - max) + " more";
  return out;
}

WireReason wire(Reason r) { return {std::move(r.code), std::move(r.detail)}; }

void finish(Answer& a, std::string_view original, std::string* output) {
  (void)original;
  // A rebuilt object is sent even when its bytes happen to equal the
  // input's: ferryd checks that every sanitized type came back rebuilt.
  if (output == nullptr || output->empty()) {
    a.has_output = false;
    return;
  }
  a.has_output = true;
  a.output_size = output->size();
  a.output_sm3 = crypto::Sm3::digest(crypto::ByteView(reinterpret_cast<const std::uint8_t*>(output->data()), output->size()));
}

}  // namespace

std::string malware_code(std::string_view signature) {
  std::string code = "malware.";
  for (char c : signature) {
    if (code.size() >= 64) break;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool token = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    code.push_back(token ? c : '_');
  }
  if (code.size() == 8) code += "unnamed";
  return code;
}

crypto::Result<std::unique_ptr<Examiner>> Examiner::create(const policy::Policy& policy,
                                                           std::unique_ptr<antivirus::Scanner> scanner,
                                                           std::string av_problem, const disarm::Limits& limits) {
  crypto::Result<std::unique_ptr<pipeline::Inspector>> in = pipeline::Inspector::create(policy);
  if (!in.ok()) return in.error();
  std::unique_ptr<Examiner> e(new Examiner());
  e->policy_ = policy;
  e->inspector_ = std::move(*in);
  e->scanner_ = std::move(scanner);
  e->av_problem_ = std::move(av_problem);
  e->limits_ = limits;
  return e;
}

Answer Examiner::examine(Role role, std::string_view channel, std::string_view name, std::string_view bytes,
                         std::string* output) const {
  if (output) output->clear();
  const policy::Channel* ch = policy_.find(channel);
  if (ch == nullptr) {
    Answer a;
    a.reasons.push_back({"channel.unknown", "channel '" + std::string(channel) + "' is not in policy serial " +
                                                std::to_string(policy_.serial)});
    return a;
  }
  Answer a = role == Role::send ? send(*ch, name, bytes, output) : receive(*ch, name, bytes);
  finish(a, bytes, output);
  fit(a);
  return a;
}

Answer Examiner::send(const policy::Channel& ch, std::string_view name, std::string_view bytes,
                      std::string* output) const {
  Answer a;
  const bool scans = ch.antivirus != policy::Antivirus::off;
  std::optional<antivirus::Verdict> worst;  // the first not-clean verdict, else clean

  // Antivirus runs on the object and on every member as the walk reaches
  // it, so a member is judged on its own bytes too, not only through the
  // engine's unpacking of the whole.
  pipeline::Inspector::ObjectCheck scan;
  if (scans && scanner_ != nullptr) {
    scan = [&](const std::string& what, FileType, std::string_view b) -> std::optional<Reason> {
      antivirus::Verdict v = scanner_->scan(b, what);
      if (v.kind == antivirus::Verdict::infected) {
        worst = v;
        return Reason{malware_code(v.signature), what + " matches the antivirus signature '" + v.signature + "'"};
      }
      if (v.kind == antivirus::Verdict::not_scanned && (!worst || worst->kind == antivirus::Verdict::clean)) {
        v.detail = what + ": " + v.detail;
        worst = v;
      } else if (!worst) {
        worst = v;
      }
      return std::nullopt;
    };
  }
  pipeline::Inspection in = inspector_->inspect(ch, name, bytes, pipeline::Inspector::Rules::all, scan);
  a.type = in.type;
  if (scans) {
    if (scanner_ == nullptr) {
      a.av = AvVerdict::not_scanned;
      a.av_detail = av_problem_.empty() ? "no antivirus database is configured" : av_problem_;
    } else if (worst) {
      a.av = worst->kind == antivirus::Verdict::clean      ? AvVerdict::clean
             : worst->kind == antivirus::Verdict::infected ? AvVerdict::infected
                                                           : AvVerdict::not_scanned;
      a.av_detail = worst->kind == antivirus::Verdict::infected ? worst->signature : worst->detail;
    }
  }
  for (Reason& r : in.reasons) a.reasons.push_back(wire(std::move(r)));
  if (!a.reasons.empty()) return a;
  if (scans && a.av == AvVerdict::not_scanned && ch.antivirus == policy::Antivirus::required) {
    a.reasons.push_back({"antivirus.not_scanned", "channel '" + ch.name + "' requires antivirus and " +
                                                      std::string(name) + " was not scanned: " + a.av_detail});
    return a;
  }
  const FileType type = *in.file_type;

  // Disarm: the object itself, or an archive's members.
  std::string current(bytes);
  bool rebuilt = false;
  if (disarm::channel_sanitizes(ch, type)) {
    crypto::Result<disarm::Rebuilt> r = disarm::rebuild(type, current, limits_);
    if (!r.ok()) {
      a.reasons.push_back({"disarm.failed", std::string(name) + " could not be rebuilt as a clean " +
                                                std::string(policy::to_string(type)) + ": " + r.error().message});
      return a;
    }
    current = std::move(r->bytes);
    a.removed = std::move(r->removed);
    rebuilt = true;
  } else if (type == FileType::zip && sanitizes_any(ch, in.types)) {
    const pipeline::TypeDetector& detector = inspector_->detector();
    const pipeline::TextLimits& text_limits = inspector_->limits();
    disarm::MemberRebuild member;
    member = [&](const std::string& m, std::string_view b, std::vector<std::string>& removed) -> crypto::Result<std::string> {
      pipeline::TypeDecision d = detector.decide(m, b, ch.allow_types, text_limits);
      if (d.reason || !d.type) {
        return crypto::make_error(crypto::Errc::bad_format,
                                  "member '" + m + "': " + (d.reason ? d.reason->detail : "type unknown"));
      }
      std::vector<std::string> here;
      std::string out;
      if (*d.type == FileType::zip) {
        crypto::Result<disarm::Rebuilt> r = disarm::rebuild_zip(b, member, limits_);
        if (!r.ok()) return r.error();
        out = std::move(r->bytes);
        here = std::move(r->removed);
      } else if (disarm::channel_sanitizes(ch, *d.type)) {
        crypto::Result<disarm::Rebuilt> r = disarm::rebuild(*d.type, b, limits_);
        if (!r.ok()) return crypto::make_error(r.error().code, "member '" + m + "': " + r.error().message);
        out = std::move(r->bytes);
        here = std::move(r->removed);
      } else {
        out.assign(b);
      }
      for (std::string& line : here) removed.push_back(m + ": " + line);
      return out;
    };
    crypto::Result<disarm::Rebuilt> r = disarm::rebuild_zip(current, member, limits_);
    if (!r.ok()) {
      a.reasons.push_back({"disarm.failed", std::string(name) + ": the archive could not be rebuilt with clean "
                                                                "members: " + r.error().message});
      return a;
    }
    current = std::move(r->bytes);
    a.removed = std::move(r->removed);
    rebuilt = true;
  }

  // Masking, on the (rebuilt) object itself.
  if (in.to_mask) {
    crypto::Result<pipeline::Masked> m =
        pipeline::mask_personal_data(type, current, ch.pii->detect, inspector_->limits());
    if (!m.ok()) {
      a.reasons.push_back({"pii.unmaskable", std::string(name) + " holds personal data the policy says to mask, "
                                                                 "and it cannot be masked: " + m.error().message});
      return a;
    }
    current = std::move(m->bytes);
    a.masked = std::move(m->masked);
    rebuilt = true;
  }

  // What the worker made is checked like what arrived: the same type, and
  // nothing active left where the channel sanitizes.
  if (rebuilt) {
    pipeline::Inspection again =
        inspector_->inspect(ch, name, current, pipeline::Inspector::Rules::structure,
                            [&](const std::string& what, FileType t, std::string_view b) -> std::optional<Reason> {
                              if (!disarm::channel_sanitizes(ch, t)) return std::nullopt;
                              crypto::Result<std::vector<std::string>> left = disarm::find_active_content(t, b, limits_);
                              if (!left.ok()) return Reason{"disarm.failed", what + ": " + left.error().message};
                              if (!left->empty()) {
                                return Reason{"disarm.failed", what + ": active content remains after the rebuild: " +
                                                                   joined(*left)};
                              }
                              return std::nullopt;
                            });
    if (!again.accepted()) {
      Reason r = again.reasons.front();
      if (r.code != "disarm.failed") {
        r.detail = "the rebuilt object fails the " + r.code + " check: " + r.detail;
        r.code = "disarm.failed";
      }
      a.reasons.push_back(wire(std::move(r)));
      return a;
    }
    if (again.file_type != type) {
      a.reasons.push_back({"disarm.failed", "the rebuilt object is a " + again.type + ", not a " +
                                                std::string(policy::to_string(type))});
      return a;
    }
    if (output) *output = std::move(current);
  }
  return a;
}

Answer Examiner::receive(const policy::Channel& ch, std::string_view name, std::string_view bytes) const {
  Answer a;
  pipeline::Inspection in =
      inspector_->inspect(ch, name, bytes, pipeline::Inspector::Rules::structure,
                          [&](const std::string& what, FileType t, std::string_view b) -> std::optional<Reason> {
                            if (!disarm::channel_sanitizes(ch, t)) return std::nullopt;
                            crypto::Result<std::vector<std::string>> left = disarm::find_active_content(t, b, limits_);
                            if (!left.ok()) {
                              return Reason{"disarm.unverifiable", what + ": the receiving side cannot check it "
                                                                          "for active content: " +
                                                                       left.error().message};
                            }
                            if (!left->empty()) {
                              return Reason{"disarm.active_content",
                                            what + " arrived with active content the channel's sanitize step "
                                                   "removes: " + joined(*left)};
                            }
                            return std::nullopt;
                          });
  a.type = in.type;
  for (Reason& r : in.reasons) a.reasons.push_back(wire(std::move(r)));
  return a;
}

}  // namespace ferry::sandbox
