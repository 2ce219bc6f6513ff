// Test helper: writes an audit trail the way the log does (segment files of
// format_record lines, each `prev` the previous `hash`), into a temporary
// directory it removes again.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "ferry/audit/record.h"
#include "ferry/audit/segments.h"

namespace ferry::auditdb::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-auditdb-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : std::string();
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

using Fields = std::vector<std::pair<std::string, std::string>>;

class TrailWriter {
 public:
  explicit TrailWriter(std::string dir) : dir_(std::move(dir)) {}

  // Appends one record to the newest segment (a first one when none) and
  // returns its line.
  std::string add(const std::string& ts, const std::string& event, Fields fields, std::string severity = "info") {
    if (segment_.empty()) rotate();
    audit::Record r;
    r.seq = next_seq_++;
    r.ts = ts;
    r.side = side;
    r.severity = std::move(severity);
    r.event = event;
    r.fields = std::move(fields);
    r.prev = prev_;
    std::string line = audit::format_record(r);
    prev_ = r.hash;
    std::ofstream(segment_, std::ios::app | std::ios::binary) << line << '\n';
    return line;
  }

  // The next record goes into a new segment file.
  void rotate() { segment_ = dir_ + "/" + audit::segment_name(next_seq_); }

  const std::string& segment() const { return segment_; }
  std::uint64_t next_seq() const { return next_seq_; }

  std::string side = "outer";

 private:
  std::string dir_;
  std::string segment_;
  std::uint64_t next_seq_ = 1;
  std::string prev_{audit::kGenesisHash};
};

}  // namespace ferry::auditdb::test
