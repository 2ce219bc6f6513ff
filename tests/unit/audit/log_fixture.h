// What the audit log tests share: a temp audit directory removed afterwards,
// one side key per test binary, a fixed clock, and the file surgery an
// attacker would do (rewrite lines, re-chain hashes).
#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/sm2.h"
#include "ferry/audit/log.h"
#include "ferry/audit/record.h"
#include "ferry/audit/segments.h"

namespace ferry::audit::test {

inline const crypto::Sm2PrivateKey& side_key() {
  static const crypto::Sm2PrivateKey key = crypto::Sm2PrivateKey::generate().value();
  return key;
}
inline const crypto::Sm2PrivateKey& other_key() {
  static const crypto::Sm2PrivateKey key = crypto::Sm2PrivateKey::generate().value();
  return key;
}

// 2026-11-27T00:00:00Z
inline const std::chrono::system_clock::time_point kT0{std::chrono::seconds(1'795'737'600)};

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-auditlog-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/audit";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  LogOptions options() const {
    LogOptions o;
    o.dir = dir_;
    o.side = "outer";
    o.checkpoint_records = 10;
    o.checkpoint_interval = std::chrono::hours(1);
    return o;
  }

  std::unique_ptr<AuditLog> open(const LogOptions& o) {
    auto log = AuditLog::open(o, side_key());
    EXPECT_TRUE(log.ok()) << log.error().message;
    return log.ok() ? std::move(log).value() : nullptr;
  }

  static Event event(int i) {
    Event e{"object.accepted", Severity::info, {}};
    e.with("channel", "docs").with("object", std::to_string(i));
    return e;
  }

  // n events one second apart from `from`.
  static void append(AuditLog& log, int n, std::chrono::system_clock::time_point from = kT0) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(log.append(event(i), from + std::chrono::seconds(i)).ok());
  }

  std::vector<Segment> segments() const { return list_segments(dir_).value(); }

  static std::vector<std::string> lines(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  static void write_lines(const std::string& path, const std::vector<std::string>& ls) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (const std::string& l : ls) out << l << '\n';
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void write(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }

  // What an attacker without the key does after changing a record: recompute
  // the hashes of lines [from, end) so that the chain holds again.
  static void rechain(std::vector<std::string>& ls, std::size_t from, std::string prev) {
    for (std::size_t i = from; i < ls.size(); ++i) {
      Record r = parse_record(ls[i]).value();
      r.prev = prev;
      ls[i] = format_record(r);
      prev = r.hash;
    }
  }
  static std::string hash_of(const std::string& line) { return parse_record(line).value().hash; }

  std::string root_;
  std::string dir_;
};

}  // namespace ferry::audit::test
