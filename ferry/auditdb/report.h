// The assessment report: what crossed, what was refused and why, who
// approved what, link incidents, policy changes and self-tests over a
// period of whole UTC days, for a person (等保 / 密评 assessor) to read as a
// self-contained HTML page (inline SVG charts, no scripts, nothing fetched)
// or as JSON with the same figures.
//
// The figures come from the records through the index; whether the records
// themselves are intact is the chain check's answer, which the caller
// supplies (ChainCheck) and the report shows beside the figures.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "ferry/auditdb/index.h"

namespace ferry::auditdb {

// The result of verifying the hash chain, as a caller found it.
struct ChainCheck {
  bool verified = false;  // a verification ran at all
  bool ok = false;        // ... and found nothing wrong
  std::string summary = "not verified";
  std::string first_problem;  // empty when none
};

// Volume counts objects crossing: an object counts once per direction, on
// the day of its first record among object.accepted and object.sent
// (outbound) or object.received and object.delivered (inbound). A record's
// own `direction` field, when present, decides its direction instead.
// Bytes are that record's `size`.
struct DayVolume {
  std::string day;  // 2026-11-27
  std::string channel;
  std::string direction;  // outbound | inbound | whatever `direction` said
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;
};

struct Count {
  std::string key;
  std::uint64_t count = 0;
};

// object.approved / object.rejected per officer (`actor`).
struct Approvals {
  std::string actor;
  std::uint64_t approved = 0;
  std::uint64_t rejected = 0;
};

// One record worth listing on its own line (rejected object, link incident,
// policy change, self-test), with the fields the tables show.
struct Happening {
  std::uint64_t seq = 0;
  std::string ts;
  std::string event;
  std::string channel;
  std::string serial;
  std::string signer;
  std::string actor;
  std::string detail;
  std::string name;     // file name
  std::string type;     // detected file type
  std::string reasons;  // `reasons`, or `reason` when that is all there is
};

// Lists longer than this are cut, and the report says how many were left out.
inline constexpr std::size_t kMaxListed = 200;

struct ReportFigures {
  std::string from_day;  // first day, inclusive
  std::string to_day;    // last day, inclusive
  std::vector<std::string> days;  // every day of the period
  std::vector<std::string> sides;  // `side` values seen
  std::uint64_t records = 0;
  std::vector<Count> events;     // records per event, by event name
  std::vector<std::string> channels;  // channels with volume, sorted
  std::vector<DayVolume> volume;      // day, channel, direction; non-zero only
  std::uint64_t rejected_objects = 0;  // object.refused / .quarantined / .rejected records
  std::vector<Happening> rejections;     // those records, the first kMaxListed
  std::vector<Count> rejection_reasons;  // by code, most first
  std::vector<Count> rejected_types;     // by detected type, most first
  std::vector<Approvals> approvals;      // by actor
  std::vector<Happening> link_incidents;  // link.* except routine link.up / link.rekeyed
  std::uint64_t link_incidents_total = 0;
  std::vector<Happening> policy_changes;  // policy.*
  std::uint64_t policy_changes_total = 0;
  std::vector<Happening> selftests;  // selftest.*
  std::uint64_t selftests_passed = 0;
  std::uint64_t selftests_failed = 0;
};

// Figures for the days from_day..to_day ("2026-11-27", inclusive) from an
// up-to-date index. Errc::invalid_argument for a day that is not one or a
// period that ends before it starts.
crypto::Result<ReportFigures> compute_report(AuditIndex& index, std::string_view from_day, std::string_view to_day);

// A complete HTML document. Every text taken from records is escaped.
std::string render_html(const ReportFigures& figures, const ChainCheck& chain);
// The same figures as one JSON object.
std::string render_json(const ReportFigures& figures, const ChainCheck& chain);

// "&lt;" and friends for & < > " ', and U+FFFD for bytes that are not UTF-8
// or are control characters, so a hostile file name stays text.
std::string html_escape(std::string_view text);

}  // namespace ferry::auditdb
