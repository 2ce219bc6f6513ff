// Checking an audit directory written by AuditLog (log.h), as an auditor
// does with `ferryctl audit verify` (CC FAU_STG.2 guarantees of audit data
// availability; FPT_TST-style integrity check of stored TSF data).
//
// What is found, and how:
//   modified record      its hash is not the SM3 of its bytes (parse_record)
//   deleted record       a seq gap inside a segment, or `prev` does not match
//   inserted record      a seq that repeats, or `prev` does not match
//   reordered records    a seq out of order (named with where the missing one is)
//   deleted segment      the next segment does not follow on, and no
//                        "audit.segment_removed" record covers the gap
//   deleted oldest       the first remaining record is not seq 1 and no
//   segments             removal record in what remains ends just before it
//   truncated newest     the log ends before the head seal's seq, or the
//   records              record at that seq has another hash
//   forged checkpoint    its signature does not verify with the key, or it
//                        names another key (only with a key)
//   forged head seal     no slot verifies with the key, or a slot holds a
//                        copy of the other slot (the seal rolled back)
// Without a key the chain and the seal's position are checked, and the
// report says that signatures were not.
//
// The honest limit: whoever holds the side's private key (root on the box)
// can rewrite the whole trail, re-sign every checkpoint and the head seal,
// and verify will call it intact; so can someone who truncates the log and
// puts back a complete older copy of DIR/head. Only a copy kept elsewhere
// detects that: the syslog export, or a head seal copied off the box and
// compared with what verify reports (sealed seq and hash).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/sm2.h"

namespace ferry::audit {

struct VerifyProblem {
  std::string file;        // the segment (or DIR/head) it is in
  std::uint64_t line = 0;  // 1-based line in file; 0 when not about a line
  std::uint64_t seq = 0;   // the seq found there, or the first seq missing; 0 unknown
  std::string what;
};

struct VerifyReport {
  bool ok = false;
  bool readable = true;             // false: DIR could not be listed or read (problem says why)
  bool signatures_checked = false;  // a key was given
  std::uint64_t records = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t segments = 0;
  std::uint64_t first_seq = 0;  // 0 for an empty log
  std::uint64_t last_seq = 0;
  std::string first_ts;
  std::string last_ts;
  std::optional<std::uint64_t> sealed_seq;  // the head seal taken
  std::optional<VerifyProblem> problem;     // the first bad record
  std::vector<std::string> notes;           // what is not a problem but worth knowing
};

VerifyReport verify_log(const std::string& dir, const std::optional<crypto::Sm2PublicKey>& key);

}  // namespace ferry::audit
