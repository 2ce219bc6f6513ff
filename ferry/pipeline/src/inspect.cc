#include "ferry/pipeline/inspect.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "ferry/pipeline/mask.h"
#include "ferry/pipeline/pii.h"
#include "ferry/pipeline/zip.h"
#include "ferry/spool/name_rule.h"

namespace ferry::pipeline {
namespace {

using policy::FileType;

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "line 3, column 7" of a UTF-8 text, counting characters, for a reason
// that points at a place without quoting the document.
std::string position_in(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((c & 0xc0) != 0x80) {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

std::string_view describe(policy::PiiKind kind) {
  switch (kind) {
    case policy::PiiKind::cn_id: return "a citizen ID number (GB 11643)";
    case policy::PiiKind::cn_mobile: return "a mobile phone number";
    case policy::PiiKind::uscc: return "a unified social credit code (GB 32100)";
    case policy::PiiKind::bank_card: return "a bank card number";
    case policy::PiiKind::email: return "an e-mail address";
  }
  return "personal data";
}

bool is_ascii(std::string_view s) {
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if ((w & 0x8080808080808080ull) != 0) return false;
  }
  for (; i < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) >= 0x80) return false;
  }
  return true;
}

// expanded / compressed > ratio, exactly and without overflow.
bool exceeds_ratio(std::uint64_t expanded, std::uint64_t compressed, std::uint64_t ratio) {
  if (compressed == 0) return expanded > 0;
  return expanded / compressed > ratio || (expanded / compressed == ratio && expanded % compressed != 0);
}

// Member path checks ([policy-inspect] archives): names are what an
// extracting program on the receiving side would write, so both separators
// count and a drive letter is as absolute as a leading slash.
std::optional<Reason> check_member_name(const std::string& archive, const std::string& member) {
  const std::string where = "member '" + member + "' of " + archive;
  std::string name = member;
  std::replace(name.begin(), name.end(), '\\', '/');
  if (name.starts_with('/') || (name.size() >= 2 && name[1] == ':' && std::isalpha(static_cast<unsigned char>(name[0])))) {
    return Reason{"archive.absolute_path", where + ": an absolute path"};
  }
  std::size_t from = 0;
  while (from <= name.size()) {
    std::size_t to = name.find('/', from);
    if (to == std::string::npos) to = name.size();
    if (name.compare(from, to - from, "..") == 0) return Reason{"archive.traversal", where + ": a '..' path component"};
    from = to + 1;
  }
  std::string rel = name;
  if (rel.ends_with('/')) rel.pop_back();
  if (!rel.empty()) {
    if (crypto::Status s = spool::check_relative_name(rel); !s.ok()) {
      std::string detail = s.error().message;
      static constexpr std::string_view kPrefix = "name.invalid: ";
      if (detail.starts_with(kPrefix)) detail.erase(0, kPrefix.size());
      return Reason{"archive.name", where + ": " + detail};
    }
  }
  return std::nullopt;
}

}  // namespace

struct Inspector::Walk {
  const policy::Channel& channel;
  std::uint64_t entries = 0;
  std::uint64_t expanded = 0;
  std::set<FileType> types;  // of the object and every member, for the disarm stage
  bool to_mask = false;      // personal data in the object itself, and the channel masks
  bool content_rules = true;  // text, keyword and personal-data stages
  const ObjectCheck* check = nullptr;
};

crypto::Result<std::unique_ptr<Inspector>> Inspector::create(const policy::Policy& policy, const TextLimits& limits) {
  std::unique_ptr<Inspector> in(new Inspector());
  in->limits_ = limits;
  for (const policy::Channel& ch : policy.channels) {
    if (ch.deny_keywords.empty()) continue;
    std::vector<KeywordList> lists;
    for (const std::string& name : ch.deny_keywords) {
      const policy::TermList* l = policy.find_list(name);
      if (l == nullptr) {
        return crypto::make_error(crypto::Errc::invalid_argument,
                                  "channel '" + ch.name + "': keyword list '" + name + "' is not defined");
      }
      lists.push_back({l->name, l->terms});
    }
    crypto::Result<KeywordMatcher> m = KeywordMatcher::compile(lists);
    if (!m.ok()) {
      return crypto::make_error(m.error().code, "channel '" + ch.name + "': " + m.error().message);
    }
    in->matchers_.emplace(ch.name, std::move(*m));
  }
  return in;
}

Inspection Inspector::inspect(const policy::Channel& channel, std::string_view name, std::string_view bytes) const {
  return inspect(channel, name, bytes, Rules::all, {});
}

Inspection Inspector::inspect(const policy::Channel& channel, std::string_view name, std::string_view bytes,
                              Rules rules, const ObjectCheck& check) const {
  Inspection out;
  Walk walk{channel, 0, 0, {}, false, rules == Rules::all, &check};
  std::optional<Reason> r = inspect_object(walk, std::string(name), bytes, 0, &out.type, &out.file_type);
  out.types = std::move(walk.types);
  if (r) {
    out.reasons.push_back(std::move(*r));
    out.file_type.reset();
    return out;
  }
  out.to_mask = walk.to_mask;
  return out;
}

Inspection Inspector::inspect_file(const policy::Channel& channel, std::string_view name, const std::string& path,
                                   FileAccess access) const {
  Inspection out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    out.reasons.push_back({"object.unreadable", path + ": " + std::strerror(errno)});
    return out;
  }
  if (access == FileAccess::map_private_file) {
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      out.reasons.push_back({"object.unreadable", path + ": not a regular file"});
      return out;
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > channel.max_size) {
      ::close(fd);
      out.reasons.push_back({"size.too_large", std::to_string(size) + " bytes exceeds max_size " +
                                                   describe_size(channel.max_size) + " of channel '" + channel.name + "'"});
      return out;
    }
    if (size == 0) {
      ::close(fd);
      return inspect(channel, name, {});
    }
    void* map = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) {
      out.reasons.push_back({"object.unreadable", path + ": " + std::strerror(errno)});
      return out;
    }
    out = inspect(channel, name, std::string_view(static_cast<const char*>(map), static_cast<std::size_t>(size)));
    ::munmap(map, static_cast<std::size_t>(size));
    return out;
  }
  std::string bytes;
  const std::uint64_t cap = channel.max_size;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      out.reasons.push_back({"object.unreadable", path + ": " + std::strerror(err)});
      return out;
    }
    if (n == 0) break;
    if (bytes.size() + static_cast<std::uint64_t>(n) > cap) {
      ::close(fd);
      out.reasons.push_back({"size.too_large", "more than max_size " + describe_size(cap) + " of channel '" +
                                                   channel.name + "'"});
      return out;
    }
    bytes.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return inspect(channel, name, bytes);
}

std::optional<Reason> Inspector::inspect_object(Walk& walk, const std::string& name, std::string_view bytes,
                                                unsigned level, std::string* detected,
                                                std::optional<FileType>* decided) const {
  const policy::Channel& ch = walk.channel;
  auto in_member = [&](Reason r) {
    if (level > 0) r.detail = name + ": " + r.detail;
    return r;
  };
  if (level > 0 && bytes.size() > ch.max_size) {
    return Reason{"size.too_large", name + ": " + std::to_string(bytes.size()) + " bytes exceeds max_size " +
                                        describe_size(ch.max_size) + " of channel '" + ch.name + "'"};
  }
  TypeDecision d = detector_.decide(name, bytes, ch.allow_types, limits_);
  if (detected) *detected = d.detected;
  if (d.reason) return in_member(std::move(*d.reason));
  const FileType type = *d.type;
  walk.types.insert(type);
  if (decided) *decided = type;
  if (walk.check != nullptr && *walk.check) {
    if (std::optional<Reason> r = (*walk.check)(name, type, bytes)) return r;
  }

  // Archives and packages.
  if (type == FileType::zip) {
    if (level > ch.archives.max_depth) {
      return Reason{"archive.depth", name + " is an archive nested " + std::to_string(level) +
                                         " deep; max_depth is " + std::to_string(ch.archives.max_depth)};
    }
    if (std::optional<Reason> r = check_members(walk, name, bytes, true, level)) return r;
    return std::nullopt;  // members carry their own text
  }
  if (type == FileType::docx || type == FileType::xlsx || type == FileType::pptx || type == FileType::ofd) {
    if (std::optional<Reason> r = check_members(walk, name, bytes, false, level)) return r;
  }
  if (!walk.content_rules) return std::nullopt;
  if (!d.has_text) return check_text(walk, name, type, bytes, std::nullopt, level);
  return check_text(walk, name, type, bytes, d.text_is_bytes ? bytes : std::string_view(d.text), level);
}

std::optional<Reason> Inspector::check_members(Walk& walk, const std::string& name, std::string_view bytes,
                                               bool recurse, unsigned level) const {
  const policy::ArchiveLimits& limits = walk.channel.archives;
  crypto::Result<ZipDirectory> dir = read_zip_directory(bytes);
  if (!dir.ok()) return Reason{"archive.malformed", name + ": " + dir.error().message};

  // What the central directory says, checked before anything is inflated.
  walk.entries += dir->members.size();
  if (walk.entries > limits.max_entries) {
    return Reason{"archive.entries", name + ": " + std::to_string(walk.entries) +
                                         " members (all levels together) exceed max_entries " +
                                         std::to_string(limits.max_entries)};
  }
  std::set<std::string> seen;
  // As stored -> as UTF-8, and the directory's entry (duplicates were refused).
  std::map<std::string, std::pair<std::string, const ZipMember*>> names;
  std::uint64_t declared = 0;
  for (const ZipMember& m : dir->members) {
    const std::string utf8 = m.utf8_name();
    if (utf8.empty()) {
      return Reason{"archive.name", "a member of " + name + " has a name that is neither UTF-8 nor GB18030"};
    }
    names[m.name] = {utf8, &m};
    if (std::optional<Reason> r = check_member_name(name, utf8)) return r;
    const std::string where = "member '" + utf8 + "' of " + name;
    if (!seen.insert(lower_ascii(utf8)).second) {
      return Reason{"archive.duplicate", where + ": a second member of that name (letter case aside)"};
    }
    if (m.symlink() || m.special()) return Reason{"archive.link", where + ": a symbolic link or special file"};
    if (m.encrypted()) return Reason{"archive.encrypted", where + ": encrypted, so it cannot be inspected"};
    if (m.directory()) continue;
    if (exceeds_ratio(m.expanded, m.compressed, limits.max_ratio)) {
      return Reason{"archive.ratio", where + ": expands " + std::to_string(m.expanded) + " bytes from " +
                                         std::to_string(m.compressed) + ", more than max_ratio " +
                                         std::to_string(limits.max_ratio)};
    }
    declared += m.expanded;
  }
  walk.expanded += declared;
  if (walk.expanded > limits.max_expanded) {
    return Reason{"archive.expanded", name + ": members expand to " + std::to_string(walk.expanded) +
                                          " bytes (all levels together), more than max_expanded " +
                                          describe_size(limits.max_expanded)};
  }
  if (exceeds_ratio(declared, bytes.size(), limits.max_ratio)) {
    return Reason{"archive.ratio", name + ": expands " + std::to_string(declared) + " bytes from " +
                                       std::to_string(bytes.size()) + " in total, more than max_ratio " +
                                       std::to_string(limits.max_ratio)};
  }

  // Inflate, holding every member to what the directory declared (a member
  // that inflates to more is refused as it inflates), then inspect members.
  struct Members final : ZipMemberSink {
    const Inspector* self;
    Walk* walk;
    const std::string* archive;
    bool recurse;
    unsigned level;
    std::optional<Reason> verdict;
    std::string buf;
    std::uint64_t cap = 0;
    std::string member;
    std::set<std::string> done;
    const std::map<std::string, std::pair<std::string, const ZipMember*>>* names;

    crypto::Result<bool> begin(const ZipEntryInfo& e) override {
      const auto found = names->find(e.name);
      if (found == names->end() || !done.insert(e.name).second) {
        verdict = Reason{"archive.malformed", *archive + ": libarchive sees member '" + e.name +
                                                  "' that the central directory does not list"};
        return crypto::make_error(crypto::Errc::bad_format, "stop");
      }
      if (e.encrypted) {
        verdict = Reason{"archive.encrypted", "member '" + e.name + "' of " + *archive + ": encrypted"};
        return crypto::make_error(crypto::Errc::bad_format, "stop");
      }
      const ZipMember& entry = *found->second.second;
      if (!e.regular || entry.directory()) return false;
      if (!recurse) return false;
      member = found->second.first;
      cap = entry.expanded;
      if (cap > walk->channel.max_size) {
        verdict = Reason{"size.too_large", *archive + "/" + e.name + ": " + std::to_string(cap) +
                                               " bytes exceeds max_size " + describe_size(walk->channel.max_size) +
                                               " of channel '" + walk->channel.name + "'"};
        return crypto::make_error(crypto::Errc::bad_format, "stop");
      }
      buf.clear();
      buf.reserve(static_cast<std::size_t>(cap));
      return true;
    }
    crypto::Status data(std::string_view piece) override {
      if (buf.size() + piece.size() > cap) {
        verdict = Reason{"archive.ratio", "member '" + member + "' of " + *archive +
                                              " inflates to more than the " + std::to_string(cap) +
                                              " bytes its header declares"};
        return crypto::make_error(crypto::Errc::bad_format, "stop");
      }
      buf.append(piece);
      return {};
    }
    crypto::Status end() override {
      if (buf.size() != cap) {
        verdict = Reason{"archive.malformed", "member '" + member + "' of " + *archive + " inflates to " +
                                                  std::to_string(buf.size()) + " bytes, not the " +
                                                  std::to_string(cap) + " its header declares"};
        return crypto::make_error(crypto::Errc::bad_format, "stop");
      }
      if (std::optional<Reason> r =
              self->inspect_object(*walk, *archive + "/" + member, buf, level + 1, nullptr, nullptr)) {
        verdict = std::move(r);
        return crypto::make_error(crypto::Errc::bad_format, "stop");
      }
      return {};
    }
  } members;
  members.self = this;
  members.walk = &walk;
  members.archive = &name;
  members.recurse = recurse;
  members.level = level;
  members.names = &names;
  crypto::Status s = read_members(bytes, members);
  if (members.verdict) return members.verdict;
  if (!s.ok()) return Reason{"archive.malformed", name + ": " + s.error().message};
  return std::nullopt;
}

std::optional<Reason> Inspector::check_text(Walk& walk, const std::string& name, FileType type, std::string_view bytes,
                                            std::optional<std::string_view> known, unsigned level) const {
  const policy::Channel& ch = walk.channel;
  const auto matcher = matchers_.find(ch.name);
  const bool keywords = matcher != matchers_.end();
  const bool pii = ch.pii && !ch.pii->detect.empty();
  if (!keywords && !pii) return std::nullopt;
  if (type == FileType::png || type == FileType::jpeg || type == FileType::zip) return std::nullopt;

  std::string extracted;
  std::string_view text;
  if (known) {
    text = *known;  // the text types: read once by the type stage
  } else {
    crypto::Result<std::string> t = extract_text(type, bytes, limits_);
    if (!t.ok()) {
      return Reason{"text.unreadable", name + ": the text of this " + std::string(policy::to_string(type)) +
                                           " cannot be read for the content rules: " + t.error().message};
    }
    extracted = std::move(*t);
    text = extracted;
  }
  if (keywords) {
    // Two threads for a long text (parts of a MiB or more; shorter texts
    // are scanned on this one): the keyword bench's bar is met that way.
    if (std::optional<KeywordHit> hit = matcher->second.first_hit(text, 2)) {
      return Reason{"keyword.match", "'" + hit->term + "' from list '" + hit->list + "' at " +
                                         position_in(text, hit->offset) + " of the text of " + name};
    }
  }
  if (pii) {
    // Full-width digits and the like must be folded first; ASCII text has
    // none, and the validators take either letter case, so it is scanned as
    // it is (most large data files are ASCII).
    NormalisedText norm;
    const bool ascii = is_ascii(text);
    if (!ascii) norm = normalise_for_keywords(text);
    const std::vector<PiiMatch> found = find_pii(ascii ? text : std::string_view(norm.text), ch.pii->detect);
    if (!found.empty()) {
      const PiiMatch& m = found.front();
      const std::size_t at = ascii ? m.offset : norm.origin(m.offset);
      // The value as written (the normalised text is case-folded).
      std::size_t to = ascii ? m.offset + m.length : norm.origin(m.offset + m.length - 1) + 1;
      // To the end of that last character (a full-width digit is 3 bytes).
      while (!ascii && to < text.size() && (static_cast<unsigned char>(text[to]) & 0xc0) == 0x80) ++to;
      const std::string value(text.substr(at, to > at ? to - at : 0));
      if (ch.pii->action == policy::PiiAction::mask) {
        // The object itself is masked after inspection (mask.h); a member
        // of an archive would have to be masked inside the archive, which
        // ferry does not do.
        if (level == 0) {
          walk.to_mask = true;
          return std::nullopt;
        }
        return Reason{"pii.unmaskable", std::string(describe(m.kind)) + " at " + position_in(text, at) +
                                            " of the text of " + name + " (" + mask_value(m.kind, value) +
                                            "); the policy says mask, and a member of an archive cannot be "
                                            "masked, so the object is held"};
      }
      return Reason{"pii." + std::string(policy::to_string(m.kind)),
                    std::string(describe(m.kind)) + " at " + position_in(text, at) + " of the text of " + name + " (" +
                        mask_value(m.kind, value) + ")"};
    }
  }
  return std::nullopt;
}

}  // namespace ferry::pipeline
