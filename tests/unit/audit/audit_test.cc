#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "ferry/audit/event.h"
#include "ferry/audit/json.h"

namespace {

using ferry::audit::json_string;

TEST(JsonString, EscapesWhatJsonRequires) {
  EXPECT_EQ(json_string("plain"), "\"plain\"");
  EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_string("line\nbreak\ttab\r"), "\"line\\nbreak\\ttab\\r\"");
  EXPECT_EQ(json_string(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
  EXPECT_EQ(json_string("\x7f"), "\"\\u007f\"");
}

TEST(JsonString, KeepsUtf8AndNeutralisesInvalidBytes) {
  EXPECT_EQ(json_string("机密/报告 1.pdf"), "\"机密/报告 1.pdf\"");
  EXPECT_EQ(json_string("\xff\xfe"), "\"\\u00ff\\u00fe\"");
  EXPECT_EQ(json_string("\xe6\x9c"), "\"\\u00e6\\u009c\"") << "a truncated sequence is not passed through";
  EXPECT_EQ(json_string("\xc0\xaf"), "\"\\u00c0\\u00af\"") << "an overlong encoding is not passed through";
  EXPECT_EQ(json_string("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"") << "a surrogate is not passed through";
}

TEST(JsonLine, OneObjectWithTimestampSideEventAndFieldsInOrder) {
  ferry::audit::Event e{"object.delivered", ferry::audit::Severity::notice, {}};
  e.with("id", "00ff").with("path", "a\nb");
  const auto when = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'764'208'984'123));
  EXPECT_EQ(ferry::audit::to_json_line(e, "inner", when),
            "{\"ts\":\"2025-11-27T02:03:04.123Z\",\"side\":\"inner\",\"severity\":\"notice\","
            "\"event\":\"object.delivered\",\"id\":\"00ff\",\"path\":\"a\\nb\"}");
}

TEST(JsonlSink, AppendsOwnerOnlyLines) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-audit-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  {
    auto sink = ferry::audit::open_jsonl_sink(tmpl + "/audit");
    ASSERT_TRUE(sink.ok()) << sink.error().message;
    ferry::audit::Recorder rec("outer", std::move(sink).value());
    ASSERT_TRUE(rec.note(ferry::audit::Event{"a", {}, {}}).ok());
    ASSERT_TRUE(rec.note(ferry::audit::Event{"b", {}, {}}).ok());
  }
  {
    auto sink = ferry::audit::open_jsonl_sink(tmpl + "/audit");
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->record("{\"event\":\"c\"}").ok());
  }
  std::ifstream in(tmpl + "/audit/audit.jsonl");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("\"event\":\"a\""), std::string::npos);
  EXPECT_NE(lines[1].find("\"event\":\"b\""), std::string::npos);
  EXPECT_EQ(lines[2], "{\"event\":\"c\"}");
  struct stat st;
  ASSERT_EQ(::stat((tmpl + "/audit/audit.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::filesystem::remove_all(tmpl);
}

TEST(Recorder, RecordsAreInTheFileAtOnceAndSyncIsCheapWhenNothingIsPending) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-audit-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  auto sink = ferry::audit::open_jsonl_sink(tmpl + "/audit");
  ASSERT_TRUE(sink.ok()) << sink.error().message;
  ferry::audit::Recorder rec("inner", std::move(sink).value());
  EXPECT_FALSE(rec.pending());
  ASSERT_TRUE(rec.note(ferry::audit::Event{"object.received", {}, {}}).ok());
  EXPECT_TRUE(rec.pending());
  // Written before the sync (a reader sees it), durable after it.
  std::ifstream before(tmpl + "/audit/audit.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(before, line));
  EXPECT_NE(line.find("object.received"), std::string::npos);
  ASSERT_TRUE(rec.sync().ok());
  EXPECT_FALSE(rec.pending());
  ASSERT_TRUE(rec.sync().ok());
  std::filesystem::remove_all(tmpl);
}

}  // namespace
