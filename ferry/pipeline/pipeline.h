// The inspection pipeline: a linear list of stages that every object must
// pass, in order, on the sending side (transform) and again on the receiving
// side (verify). The first stage that objects stops it, fail closed: the
// object is quarantined with the stage's reason, a stable dotted code
// ("size.too_large") and a detail in the officer's terms.
//
// [ferry-core] has the stages below. [policy-inspect] (true type, archives,
// keywords, personal data) and [disarm] (rebuild, antivirus) add stages
// through the same Stage interface.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"

namespace ferry::pipeline {

enum class Side { outer, inner };

struct Reason {
  std::string code;    // "channel.unknown", "channel.direction", "channel.kind", "size.too_large", "name.invalid"
  std::string detail;  // what exactly, e.g. "52428801 bytes exceeds max_size 50MiB (52428800)"
};

// What a stage may look at. data_path is the object's bytes in the spool
// (stages that read content will do so in the sandboxed worker, [disarm]).
struct ObjectView {
  std::string channel;
  std::string relative_path;
  std::uint64_t size = 0;
  std::string data_path;
};

// Which half of transform-then-verify is running: the sending side checks
// that the channel leaves from here, the receiving side that it arrives here.
enum class Role { sending, receiving };

struct Context {
  const policy::Policy& policy;
  Side side;
  Role role;
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;
  // nullopt: passed. A reason: the object stops here.
  virtual std::optional<Reason> check(const ObjectView& object, const Context& context) const = 0;
};

class Pipeline {
 public:
  // The stages [ferry-core] enforces: channel (exists, direction, kind:
  // file), name (the safe-file-name rule), size (max_size).
  static Pipeline standard();

  void add(std::unique_ptr<Stage> stage) { stages_.push_back(std::move(stage)); }
  // The first failing stage's reason, or nullopt when every stage passed.
  std::optional<Reason> run(const ObjectView& object, const Context& context) const;
  std::vector<std::string_view> stage_names() const;

 private:
  std::vector<std::unique_ptr<Stage>> stages_;
};

// The direction a channel crosses from this side: inbound channels leave
// from outer and arrive at inner; outbound the reverse.
bool sends_from(const policy::Channel& channel, Side side);

// "50MiB (52428800)" style, as the officer wrote sizes.
std::string describe_size(std::uint64_t bytes);

}  // namespace ferry::pipeline
