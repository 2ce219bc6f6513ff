// Every state change of an exchange object, and every refusal on the link,
// is one Event: logged as one structured line and handed to the audit sink.
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

// One JSON object per line: {"ts":"2026-11-27T02:03:04.123Z","side":"outer","event":"...", fields...}
std::string to_json_line(const Event& event, std::string_view side, std::chrono::system_clock::time_point when);

// Where audit records go. [audit] replaces the plain file with a
// tamper-evident log behind this same interface.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // Appends one record; durable only after the next sync().
  virtual crypto::Status record(const std::string& json_line) = 0;
  virtual crypto::Status sync() = 0;
};

// Appends JSON lines to DIR/audit.jsonl (0600). Records are written at once
// and made durable together by sync() (group commit): the daemon syncs before
// it acknowledges or releases anything the records describe, and at the end
// of every turn of its loop, so a record is never more than one turn old.
crypto::Result<std::unique_ptr<AuditSink>> open_jsonl_sink(const std::string& dir);

// Logs each event as one line on stderr (journald takes stderr under systemd)
// and records it in the sink. A sink failure is itself logged; the caller
// decides whether it stops the side (fail closed) — record() returns it.
class Recorder {
 public:
  Recorder(std::string side, std::unique_ptr<AuditSink> sink) : side_(std::move(side)), sink_(std::move(sink)) {}
  crypto::Status note(const Event& event);
  // Makes every record noted so far durable (one fdatasync); cheap when
  // nothing is pending.
  crypto::Status sync();
  bool pending() const { return pending_; }

 private:
  bool pending_ = false;
  std::string side_;
  std::unique_ptr<AuditSink> sink_;
};

}  // namespace ferry::audit
