// Which objects the content stages are reading right now, kept in
// <spool>/inspecting, so that an object whose parsing stops ferryd (a parser
// crash on a hostile file) does not stop it again and again after every
// restart.
//
// Until [disarm]'s sandboxed worker, parsers run inside ferryd. The marker
// is written (temp, rename) before a batch is inspected and removed when its
// verdicts are committed. After a stop that left it behind, the objects it
// names are inspected one at a time, each under its own marker; an object
// that stops ferryd twice on its own is quarantined (inspect.crashed) rather
// than parsed a third time. Three stops in a row, each while that one
// object's parsing ran, are not the bad luck of a kill at a random moment.
//
// Not fsynced: it has to outlive the process, not the machine. After a
// power loss it may be gone, and the objects are simply inspected again.
//
// Format: "ferry-inspecting/1 alone=N\n" then one object id per line; N is
// 0 for a batch, 1 or 2 for an object inspected on its own after one or two
// stops.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crypto/result.h"
#include "ferry/spool/object_id.h"

namespace ferry::spool {

struct InspectionMarker {
  unsigned alone = 0;
  std::vector<ObjectId> ids;

  bool operator==(const InspectionMarker&) const = default;
};

inline constexpr const char* kInspectionMarkerFile = "inspecting";

crypto::Status write_inspection_marker(const std::string& spool_dir, const InspectionMarker& marker);
void clear_inspection_marker(const std::string& spool_dir);

// nullopt when there is none. A marker that does not parse is an error (the
// caller says so and inspects everything again as a batch would).
crypto::Result<std::optional<InspectionMarker>> read_inspection_marker(const std::string& spool_dir);

}  // namespace ferry::spool
