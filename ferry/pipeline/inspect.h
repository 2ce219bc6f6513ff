// Content inspection: the stages of [policy-inspect] that read an object's
// bytes, after channel, name and size (pipeline.h) have passed. In order,
// and the first that objects stops the object (fail closed):
//
//   type      true type by two detectors (sniff.h)               type.*
//   archive   ZIP members: limits, then each member through the   archive.*
//             same stages (size, type, archive, text...); OOXML
//             and OFD packages get the limits, not the recursion
//   text      the text content rules read (text.h)               text.unreadable
//   keyword   the channel's deny lists (keywords.h)              keyword.match
//   pii       the channel's personal-data kinds (pii.h)          pii.<kind>, pii.unmaskable
//
// With `pii: { action: mask }` a value found in the object itself is not an
// objection: the inspection says so (to_mask) and the caller masks
// (mask.h); in an archive member it is pii.unmaskable. Antivirus, disarm and
// masking follow in ferry/sandbox/examine.h, which runs all of this inside
// the sandboxed worker.
//
// Every code is listed, with what produces it, in docs/policy.md.
//
// Every parser here reads hostile bytes: the Inspector runs in the
// sandboxed worker (ferry/sandbox), bounded by the limits below, the
// channel's archive limits, and the worker's own limits.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "ferry/pipeline/keywords.h"
#include "ferry/pipeline/pipeline.h"
#include "ferry/pipeline/sniff.h"
#include "ferry/pipeline/text.h"
#include "policy/policy.h"

namespace ferry::pipeline {

struct Inspection {
  std::string type;               // what the object is ("docx", or libmagic's MIME type when unknown)
  std::vector<Reason> reasons;    // empty: every content stage passed
  std::optional<policy::FileType> file_type;  // set when the type stage passed
  std::set<policy::FileType> types;  // of the object and of every archive member inspected
  bool to_mask = false;              // personal data found where the channel says mask
  bool accepted() const { return reasons.empty(); }
};

class Inspector {
 public:
  // Compiles what the policy's content rules need (each channel's keyword
  // matcher). Errors name the channel and list.
  static crypto::Result<std::unique_ptr<Inspector>> create(const policy::Policy& policy,
                                                           const TextLimits& limits = {});

  // The content stages for one object of `channel` called `name` (its path
  // as the officer sees it; the extension is checked against the type).
  Inspection inspect(const policy::Channel& channel, std::string_view name, std::string_view bytes) const;

  // The same with a choice of rules and a check of the caller's run on the
  // object and on every archive member once its type is known (antivirus
  // per member on the sending side, active content on the receiving side);
  // the check's reason stops the walk like any stage's.
  //   all        every stage above;
  //   structure  type and archive stages only (what the receiving side
  //              re-checks before delivery: no text rules).
  enum class Rules { all, structure };
  using ObjectCheck =
      std::function<std::optional<Reason>(const std::string& name, policy::FileType type, std::string_view bytes)>;
  Inspection inspect(const policy::Channel& channel, std::string_view name, std::string_view bytes, Rules rules,
                     const ObjectCheck& check) const;

  // The same for the bytes of a file (at most the channel's max_size are
  // read; a longer file is size.too_large, an unreadable one object.unreadable).
  // map_private_file: the file is mapped rather than copied into memory;
  // only for a file no one else can shorten while it is read (the spool's
  // own copy), since a mapped file cut short under the reader is a SIGBUS.
  enum class FileAccess { read, map_private_file };
  Inspection inspect_file(const policy::Channel& channel, std::string_view name, const std::string& path,
                          FileAccess access = FileAccess::read) const;

  // Empty when every part loaded (libmagic, its database).
  const std::string& problem() const { return detector_.problem(); }

  // The type stage alone (and for archives, each member's type), for the
  // receiving side's check of what arrives: nullopt when it passes.
  const TypeDetector& detector() const { return detector_; }
  const TextLimits& limits() const { return limits_; }

 private:
  Inspector() = default;
  struct Walk;
  std::optional<Reason> inspect_object(Walk& walk, const std::string& name, std::string_view bytes, unsigned level,
                                       std::string* detected, std::optional<policy::FileType>* decided) const;
  std::optional<Reason> check_members(Walk& walk, const std::string& name, std::string_view bytes, bool recurse,
                                      unsigned level) const;
  std::optional<Reason> check_text(Walk& walk, const std::string& name, policy::FileType type, std::string_view bytes,
                                   std::optional<std::string_view> known, unsigned level) const;

  TypeDetector detector_;
  TextLimits limits_;
  std::map<std::string, KeywordMatcher, std::less<>> matchers_;  // by channel, for channels with deny lists
};

}  // namespace ferry::pipeline
