// ferryctl audit query / report as an operator runs them: output, exit
// codes, the index appearing beside the segments.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/subprocess.h"
#include "tests/unit/auditdb/trail_writer.h"

namespace ferry::auditdb {
namespace {

using test::TempDir;
using test::TrailWriter;

ferry::test::ProcessOutcome ferryctl(std::vector<std::string> args) {
  args.insert(args.begin(), {FERRYCTL_PATH, "audit"});
  return ferry::test::run_process(args, {.stdin_bytes = {}, .timeout = std::chrono::seconds(30), .working_directory = {}});
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class AuditCtl : public ::testing::Test {
 protected:
  void SetUp() override {
    TrailWriter w(dir_.path());
    lines_.push_back(w.add("2026-11-27T01:00:00.000Z", "object.accepted",
                           {{"channel", "docs"}, {"object", std::string(32, 'a')}, {"name", "plan 2026.pdf"},
                            {"size", "10"}, {"verdict", "accepted"}}));
    lines_.push_back(w.add("2026-11-27T02:00:00.000Z", "object.refused",
                           {{"channel", "mail"}, {"object", std::string(32, 'b')},
                            {"name", "evil\x1b[2J\x07.pdf"}, {"verdict", "rejected"}, {"reasons", "macro"}}));
    lines_.push_back(w.add("2026-11-28T03:00:00.000Z", "link.down", {{"channel", "mail"}}));
  }
  TempDir dir_;
  std::vector<std::string> lines_;
};

TEST_F(AuditCtl, QueryJsonPrintsTheRecordsAsWritten) {
  const auto r = ferryctl({"query", dir_.path(), "--json"});
  ASSERT_TRUE(r.succeeded()) << r.describe() << r.err;
  EXPECT_EQ(lines_of(r.out), lines_);
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/index.sqlite"));
}

TEST_F(AuditCtl, QueryFilters) {
  auto r = ferryctl({"query", dir_.path(), "--json", "--channel", "mail", "--since", "2026-11-27T02:00"});
  ASSERT_TRUE(r.succeeded()) << r.describe() << r.err;
  EXPECT_EQ(lines_of(r.out), (std::vector<std::string>{lines_[1], lines_[2]}));
  r = ferryctl({"query", dir_.path(), "--json", "--until", "2026-11-27"});
  EXPECT_EQ(lines_of(r.out), (std::vector<std::string>{lines_[0], lines_[1]})) << "a bare day includes that day";
  r = ferryctl({"query", dir_.path(), "--json", "--event", "object.", "--limit", "1"});
  EXPECT_EQ(lines_of(r.out), (std::vector<std::string>{lines_[0]}));
  r = ferryctl({"query", dir_.path(), "--json", "--verdict", "rejected", "--object", std::string(32, 'b'),
                "--name", "evil"});
  EXPECT_EQ(lines_of(r.out), (std::vector<std::string>{lines_[1]}));
}

TEST_F(AuditCtl, QueryReadableLinesDefuseControlBytes) {
  const auto r = ferryctl({"query", dir_.path()});
  ASSERT_TRUE(r.succeeded()) << r.describe() << r.err;
  const auto out = lines_of(r.out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0],
            "2026-11-27T01:00:00.000Z #1 outer info object.accepted channel=docs object=" + std::string(32, 'a') +
                " name=\"plan 2026.pdf\" size=10 verdict=accepted");
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(r.out.find('\x07'), std::string::npos);
  EXPECT_NE(out[1].find("name=evil?[2J?.pdf"), std::string::npos) << out[1];
}

TEST_F(AuditCtl, QueryWithNoMatchSaysSoAndSucceeds) {
  const auto r = ferryctl({"query", dir_.path(), "--channel", "nope"});
  EXPECT_TRUE(r.succeeded()) << r.describe();
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("no records match"), std::string::npos);
}

TEST_F(AuditCtl, QueryBadOptionsExit2) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"query", dir_.path(), "--since", "yesterday"},
        std::vector<std::string>{"query", dir_.path(), "--limit", "0"},
        std::vector<std::string>{"query", dir_.path(), "--limit", "ten"},
        std::vector<std::string>{"query", dir_.path(), "--bogus"},
        std::vector<std::string>{"query"},
        std::vector<std::string>{"query", dir_.path(), "--since", "2026-11-28", "--until", "2026-11-27T00:00"},
        std::vector<std::string>{"query", dir_.path() + "/missing"}}) {
    const auto r = ferryctl(args);
    EXPECT_TRUE(r.exited && r.exit_code == 2) << args.back() << ": " << r.describe() << " " << r.err;
    EXPECT_NE(r.err.find("ferryctl audit query"), std::string::npos) << r.err;
  }
}

TEST_F(AuditCtl, QuerySeesRecordsAppendedAfterTheFirstRun) {
  ASSERT_TRUE(ferryctl({"query", dir_.path()}).succeeded());
  // The log rotates to a new segment starting at seq 4. (The index does
  // not follow `prev`, so a record of another trail stands in for it.)
  TempDir other;
  TrailWriter w(other.path());
  for (int i = 0; i < 4; ++i) w.add("2026-11-29T00:00:00.000Z", "selftest.passed", {});
  std::ifstream in(w.segment());
  std::string all((std::istreambuf_iterator<char>(in)), {});
  const std::string fourth = lines_of(all)[3];
  std::ofstream(dir_.path() + "/audit-00000000000000000004.jsonl") << fourth << "\n";
  const auto r = ferryctl({"query", dir_.path(), "--event", "selftest.passed", "--json"});
  ASSERT_TRUE(r.succeeded()) << r.err;
  EXPECT_EQ(lines_of(r.out), (std::vector<std::string>{fourth}));
}

TEST_F(AuditCtl, ReportWritesHtmlAndJson) {
  const std::string html = dir_.path() + "/r.html";
  auto r = ferryctl({"report", dir_.path(), "--from", "2026-11-27", "--to", "2026-11-28", "--out", html});
  ASSERT_TRUE(r.succeeded()) << r.describe() << r.err;
  std::ifstream in(html);
  const std::string page((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("signatures not checked (no --pub)"), std::string::npos) << "the chain is verified for the report";
  const std::string json = dir_.path() + "/r.json";
  r = ferryctl({"report", dir_.path(), "--from", "2026-11-27", "--to", "2026-11-27", "--out", json, "--json"});
  ASSERT_TRUE(r.succeeded()) << r.describe() << r.err;
  std::ifstream jin(json);
  const std::string doc((std::istreambuf_iterator<char>(jin)), {});
  EXPECT_NE(doc.find("\"records\": 2"), std::string::npos) << doc;

  r = ferryctl({"report", dir_.path(), "--from", "2026-11-28", "--to", "2026-11-27", "--out", html});
  EXPECT_TRUE(r.exited && r.exit_code == 2) << r.describe();
  r = ferryctl({"report", dir_.path(), "--from", "2026-11-27", "--to", "2026-11-28"});
  EXPECT_TRUE(r.exited && r.exit_code == 2) << r.describe();
}

}  // namespace
}  // namespace ferry::auditdb
