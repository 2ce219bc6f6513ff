// What the sandboxed worker does with one object ([disarm]): everything
// that reads an object's bytes, in one place, so that ferryd and ferryctl
// inspect run exactly the same code in exactly the same confinement.
//
// Sending side (Role::send), in order, the first objection stopping it:
//   1. inspection (ferry/pipeline/inspect.h): type, archive, text, keyword,
//      personal data;
//   2. antivirus (ferry/antivirus/scanner.h), when the channel scans: the
//      object and every archive member; infected -> malware.<signature>;
//      not scanned -> antivirus.not_scanned where the channel requires it;
//   3. disarm (ferry/disarm/disarm.h), for types the channel's `sanitize:`
//      names: the object is rebuilt; failing -> disarm.failed;
//   4. masking (ferry/pipeline/mask.h) where personal data was found and the
//      channel masks; failing -> pii.unmaskable;
//   5. the worker's own check of what it made: the rebuilt object must be
//      of the same type and free of active content (disarm.failed if not).
//
// Receiving side (Role::receive), before delivery: the type and archive
// stages again, and no active content in any object or member of a type
// the channel sanitizes (disarm.active_content).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "crypto/result.h"
#include "ferry/antivirus/scanner.h"
#include "ferry/disarm/disarm.h"
#include "ferry/pipeline/inspect.h"
#include "ferry/sandbox/wire.h"
#include "policy/policy.h"

namespace ferry::sandbox {

class Examiner {
 public:
  // `scanner` may be null: then `av_problem` says why (no database
  // configured, or it did not load) and every object of a channel that
  // scans is not_scanned.
  static crypto::Result<std::unique_ptr<Examiner>> create(const policy::Policy& policy,
                                                          std::unique_ptr<antivirus::Scanner> scanner,
                                                          std::string av_problem,
                                                          const disarm::Limits& limits = {});

  // The answer for one object; when it carries an output (a rebuilt or
  // masked object), its bytes are in *output and its size and SM3 in the
  // answer. An unknown channel is a reason, not an error.
  Answer examine(Role role, std::string_view channel, std::string_view name, std::string_view bytes,
                 std::string* output) const;

  const policy::Policy& policy() const { return policy_; }
  const pipeline::Inspector& inspector() const { return *inspector_; }
  const antivirus::Scanner* scanner() const { return scanner_.get(); }
  const std::string& av_problem() const { return av_problem_; }
  // Where the engine writes archive members while it scans.
  crypto::Status set_av_temp_dir(const std::string& dir) {
    return scanner_ ? scanner_->set_temp_dir(dir) : crypto::Status{};
  }

 private:
  Examiner() = default;
  Answer send(const policy::Channel& channel, std::string_view name, std::string_view bytes,
              std::string* output) const;
  Answer receive(const policy::Channel& channel, std::string_view name, std::string_view bytes) const;

  policy::Policy policy_;
  std::unique_ptr<pipeline::Inspector> inspector_;
  std::unique_ptr<antivirus::Scanner> scanner_;
  std::string av_problem_;
  disarm::Limits limits_;
};

// "malware.<signature>" as a reason code: the spool keeps codes as tokens
// of [a-z0-9._-], at most 64 bytes; the detail keeps the exact name.
std::string malware_code(std::string_view signature);

}  // namespace ferry::sandbox
