// The exchange policy, schema ferry-policy/1 (../shared/reference/policy.yaml):
// the security officer's statement of WHAT may cross the boundary. The config
// (ferry/config) says WHERE; this says which channels exist, in which
// direction, and what each lets through.
//
// Loading is strict: every key of the schema is parsed and validated, even
// where enforcement arrives later, and every problem of the document is
// reported with file, line, column and key (policy/diagnostic.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/sm3.h"
#include "policy/diagnostic.h"
#include "policy/named.h"

namespace ferry::policy {

inline constexpr std::string_view kPolicySchema = "ferry-policy/1";
// Read limits, checked before parsing: a policy is a page of YAML and a
// keyword list a few thousand lines; anything far larger is a mistake or an
// attack on the loader.
inline constexpr std::size_t kMaxPolicyFileSize = std::size_t{4} << 20;
inline constexpr std::size_t kMaxListFileSize = std::size_t{16} << 20;

// Grows with every change; a side refuses a policy with a lower serial than
// the highest it has applied (anti-rollback, [policy-inspect]).
using Serial = std::uint64_t;

enum class Direction {
  inbound,   // outer (extranet) -> inner (intranet)
  outbound,  // inner (intranet) -> outer (extranet)
};

enum class ChannelKind { file, message, request };

// True types, decided by content ([policy-inspect]), never by extension.
enum class FileType { pdf, ofd, docx, xlsx, pptx, txt, csv, json, xml, png, jpeg, zip };

// required: no scanner or no signatures => the object is held, never passed.
// optional: scanned when a scanner is available. off: not scanned.
enum class Antivirus { required, optional, off };

// Disarm-and-rebuild steps ([disarm]).
enum class SanitizeStep { images, office, pdf, ofd };

enum class PiiKind {
  cn_id,      // GB 11643 citizen ID number
  cn_mobile,  // mainland mobile number
  uscc,       // GB 32100 unified social credit code
  bank_card,  // 16-19 digits, Luhn
  email,
};

enum class PiiAction { reject, mask };

enum class Approval { required, none };

enum class HttpMethod { GET, POST, PUT, DELETE, PATCH };

inline constexpr std::array<Named<Direction>, 2> kDirectionNames{{
    {"inbound", Direction::inbound}, {"outbound", Direction::outbound}}};
inline constexpr std::array<Named<ChannelKind>, 3> kChannelKindNames{{
    {"file", ChannelKind::file}, {"message", ChannelKind::message}, {"request", ChannelKind::request}}};
inline constexpr std::array<Named<FileType>, 12> kFileTypeNames{{
    {"pdf", FileType::pdf}, {"ofd", FileType::ofd}, {"docx", FileType::docx}, {"xlsx", FileType::xlsx},
    {"pptx", FileType::pptx}, {"txt", FileType::txt}, {"csv", FileType::csv}, {"json", FileType::json},
    {"xml", FileType::xml}, {"png", FileType::png}, {"jpeg", FileType::jpeg}, {"zip", FileType::zip}}};
inline constexpr std::array<Named<Antivirus>, 3> kAntivirusNames{{
    {"required", Antivirus::required}, {"optional", Antivirus::optional}, {"off", Antivirus::off}}};
inline constexpr std::array<Named<SanitizeStep>, 4> kSanitizeStepNames{{
    {"images", SanitizeStep::images}, {"office", SanitizeStep::office}, {"pdf", SanitizeStep::pdf},
    {"ofd", SanitizeStep::ofd}}};
inline constexpr std::array<Named<PiiKind>, 5> kPiiKindNames{{
    {"cn_id", PiiKind::cn_id}, {"cn_mobile", PiiKind::cn_mobile}, {"uscc", PiiKind::uscc},
    {"bank_card", PiiKind::bank_card}, {"email", PiiKind::email}}};
inline constexpr std::array<Named<PiiAction>, 2> kPiiActionNames{{
    {"reject", PiiAction::reject}, {"mask", PiiAction::mask}}};
inline constexpr std::array<Named<Approval>, 2> kApprovalNames{{
    {"required", Approval::required}, {"none", Approval::none}}};
inline constexpr std::array<Named<HttpMethod>, 5> kHttpMethodNames{{
    {"GET", HttpMethod::GET}, {"POST", HttpMethod::POST}, {"PUT", HttpMethod::PUT},
    {"DELETE", HttpMethod::DELETE}, {"PATCH", HttpMethod::PATCH}}};

// The document's spelling of a value ("inbound", "docx", "cn_id").
std::string_view to_string(Direction v);
std::string_view to_string(ChannelKind v);
std::string_view to_string(FileType v);
std::string_view to_string(Antivirus v);
std::string_view to_string(SanitizeStep v);
std::string_view to_string(PiiKind v);
std::string_view to_string(PiiAction v);
std::string_view to_string(Approval v);
std::string_view to_string(HttpMethod v);

// Channel and list names: [a-z0-9][a-z0-9-]*, at most 64 bytes. They appear
// in spool records, audit lines and file names, so they stay plain.
inline constexpr std::size_t kMaxNameLength = 64;
bool valid_name(std::string_view name);
inline constexpr std::string_view kNameRuleHint = "names are [a-z0-9][a-z0-9-]*, at most 64 characters";

// A keyword list. Terms are UTF-8 as written; normalisation (NFKC, width,
// case) happens in the matcher.
struct TermList {
  std::string name;
  std::vector<std::string> terms;
  // Set when the terms come from `{ file: PATH }`: the absolute path and the
  // SM3 of the bytes read, so that what was enforced can be audited (the
  // policy signature covers the policy file, not this one).
  struct Source {
    std::string path;
    crypto::Sm3Digest sm3{};
  };
  std::optional<Source> file;
  Position position;  // of the list's name in the policy
};

struct ArchiveLimits {
  std::uint32_t max_depth = 1;           // archives inside archives, below the object itself
  std::uint64_t max_entries = 1000;      // members, counted over all levels
  std::uint64_t max_ratio = 100;         // expanded / compressed, per member and in total
  std::uint64_t max_expanded = std::uint64_t{256} << 20;  // bytes, all members together
};

struct PiiRule {
  std::vector<PiiKind> detect;  // non-empty, each kind once
  PiiAction action = PiiAction::reject;
};

struct Route {
  HttpMethod method = HttpMethod::GET;
  std::string path;                         // starts with '/'; "{id}" marks one path segment
  std::optional<std::string> content_type;  // request body type, when given
};

// What a request channel lets come back.
struct ResponseRules {
  std::vector<FileType> allow_types;
  std::vector<std::string> deny_keywords;  // names of lists
  std::optional<PiiRule> pii;
};

struct Channel {
  std::string name;
  Direction direction = Direction::inbound;
  ChannelKind kind = ChannelKind::file;
  // Required for file and message channels. Optional on a request channel,
  // where each route's content_type says what its request body may be.
  std::vector<FileType> allow_types;
  std::uint64_t max_size = 0;  // bytes, per object (request: per request body)
  // The defaults above when the channel does not say; `archives_given` tells
  // whether the officer wrote them.
  ArchiveLimits archives;
  bool archives_given = false;
  Antivirus antivirus = Antivirus::optional;  // when the channel does not say
  std::vector<SanitizeStep> sanitize;
  std::vector<std::string> deny_keywords;  // names of lists, each defined
  std::optional<PiiRule> pii;
  Approval approval = Approval::none;  // file and message channels only
  // Different security officers who must each approve an object
  // (`approval: { required: true, reviewers: 2 }`; the short form
  // `approval: required` means one). 0 when approval is none.
  unsigned reviewers = 0;
  std::vector<Route> routes;             // request channels only; non-empty there
  std::optional<ResponseRules> response;  // request channels only
  Position position;                      // of the channel's item in the policy
};

struct Policy {
  std::string source;  // the file it was loaded from (or the display name)
  crypto::Sm3Digest sm3{};  // of the exact bytes of the policy document
  Serial serial = 0;
  std::string description;
  std::vector<TermList> lists;
  std::vector<Channel> channels;

  const Channel* find(std::string_view name) const;
  const TermList* find_list(std::string_view name) const;
};

// A policy, or every problem found in it. Exactly one of the two: `policy`
// is set if and only if `errors` is empty.
struct PolicyLoad {
  std::optional<Policy> policy;
  std::vector<Diagnostic> errors;
  // load_policy_file: the bytes read and parsed (empty if unreadable). A
  // signature is checked over these, never over a second read of the file,
  // which may have changed in between (policy/signature.h).
  std::string text;

  bool ok() const { return policy.has_value(); }
};

// Reads at most kMaxPolicyFileSize bytes from `path`; `{ file: PATH }` lists
// resolve against the policy file's directory.
PolicyLoad load_policy_file(const std::string& path);

// The same from text already in memory. `display_name` is what diagnostics
// name as the file; `base_dir` is where relative list files are found.
PolicyLoad load_policy_text(std::string_view text, const std::string& display_name, const std::string& base_dir);

}  // namespace ferry::policy
