// Every state change of an exchange object, and every refusal on the link,
// is one Event: logged as one structured line and recorded in the audit log.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crypto/result.h"

namespace ferry::audit {

enum class Severity { info, notice, warning, error };

struct Event {
  std::string type;  // dotted, stable: "object.ingested", "object.delivered", "link.refused", ...
  Severity severity = Severity::info;
  std::vector<std::pair<std::string, std::string>> fields;  // in order: id, channel, path, reason, ...

  Event& with(std::string key, std::string value) {
    fields.emplace_back(std::move(key), std::move(value));
    return *this;
  }
};

// One JSON object per line: {"ts":"2026-11-27T02:03:04.123Z","side":"outer","event":"...", fields...};
// what stderr shows for an event the trail could not take.
std::string to_json_line(const Event& event, std::string_view side, std::chrono::system_clock::time_point when);

class AuditLog;  // log.h

// Appends each event to the side's tamper-evident AuditLog and logs the
// record line, as written, on stderr (journald takes stderr under systemd). An append failure is
// itself logged; the caller decides whether it stops the side (fail closed)
// — note() returns it.
//
// Records are written at once and made durable together by sync() (group
// commit): the daemon syncs before it acknowledges or releases anything the
// records describe, and at the end of every turn of its loop, so a record is
// never more than one turn old.
class Recorder {
 public:
  explicit Recorder(std::unique_ptr<AuditLog> log);
  ~Recorder();
  crypto::Status note(const Event& event);
  // Makes every record noted so far durable (fdatasync and a new head seal);
  // cheap when nothing is pending.
  crypto::Status sync();
  bool pending() const { return pending_; }
  AuditLog& log() { return *log_; }

 private:
  bool pending_ = false;
  std::unique_ptr<AuditLog> log_;
};

}  // namespace ferry::audit
