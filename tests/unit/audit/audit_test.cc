#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "ferry/audit/event.h"
#include "ferry/audit/json.h"
#include "ferry/audit/log.h"

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

TEST(Recorder, RecordsAreInTheLogAtOnceAndSyncIsCheapWhenNothingIsPending) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-audit-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  ferry::audit::LogOptions options;
  options.dir = tmpl + "/audit";
  options.side = "inner";
  auto key = ferry::crypto::Sm2PrivateKey::generate();
  ASSERT_TRUE(key.ok());
  auto log = ferry::audit::AuditLog::open(options, *key);
  ASSERT_TRUE(log.ok()) << log.error().message;
  {
    ferry::audit::Recorder rec(std::move(log).value());
    EXPECT_FALSE(rec.pending());
    ASSERT_TRUE(rec.note(ferry::audit::Event{"object.received", {}, {}}).ok());
    EXPECT_TRUE(rec.pending());
    EXPECT_EQ(rec.log().last_seq(), 1u);
    EXPECT_EQ(rec.log().sealed_seq(), 0u) << "not yet durable";
    // Written before the sync (a reader sees it), durable and sealed after it.
    std::ifstream before(tmpl + "/audit/audit-00000000000000000001.jsonl");
    std::string line;
    ASSERT_TRUE(std::getline(before, line));
    EXPECT_NE(line.find("\"event\":\"object.received\""), std::string::npos);
    EXPECT_NE(line.find("\"side\":\"inner\""), std::string::npos);
    ASSERT_TRUE(rec.sync().ok());
    EXPECT_FALSE(rec.pending());
    EXPECT_EQ(rec.log().sealed_seq(), 1u);
    ASSERT_TRUE(rec.sync().ok());
  }
  struct stat st;
  ASSERT_EQ(::stat((tmpl + "/audit/audit-00000000000000000001.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
