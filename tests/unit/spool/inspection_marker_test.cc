// The marker that keeps a parser crash from becoming a crash loop: what is
// written is read back, a missing one is "none", and anything else is an
// error rather than a guess.
#include "ferry/spool/inspection_marker.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace ferry::spool {
namespace {

namespace stdfs = std::filesystem;

class InspectionMarkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (stdfs::temp_directory_path() / "ferry-marker-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { stdfs::remove_all(dir_); }
  void put(const std::string& text) { std::ofstream(dir_ + "/inspecting", std::ios::binary) << text; }
  std::string dir_;
};

ObjectId id_of(char c) { return *ObjectId::parse(std::string(32, c)); }

TEST_F(InspectionMarkerTest, WhatIsWrittenIsReadBackAndClearedIsNone) {
  auto none = read_inspection_marker(dir_);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  const InspectionMarker batch{0, {id_of('a'), id_of('b'), id_of('c')}};
  ASSERT_TRUE(write_inspection_marker(dir_, batch).ok());
  auto got = read_inspection_marker(dir_);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, batch);
  const InspectionMarker alone{2, {id_of('d')}};
  ASSERT_TRUE(write_inspection_marker(dir_, alone).ok());
  EXPECT_EQ(**read_inspection_marker(dir_), alone);
  clear_inspection_marker(dir_);
  EXPECT_FALSE(read_inspection_marker(dir_)->has_value());
  EXPECT_FALSE(stdfs::exists(dir_ + "/inspecting.tmp"));
}

TEST_F(InspectionMarkerTest, AnythingElseIsAnErrorNamingTheFile) {
  const std::string id = std::string(32, 'e') + "\n";
  const std::vector<std::string> garbled = {std::string(""), std::string("ferry-inspecting/1 alone=0"), std::string("ferry-inspecting/2 alone=0\n"),
        "ferry-inspecting/1 alone=3\n" + id, std::string("ferry-inspecting/1 alone=1\n"), "ferry-inspecting/1 alone=1\n" + id + id,
        "ferry-inspecting/1 alone=0\n" + std::string(32, 'E') + "\n", "ferry-inspecting/1 alone=0\n" + id.substr(0, 20),
        "ferry-inspecting/1 alone=0\n" + id + "x", "ferry-inspecting/1 alone=0\n" + std::string(70000, 'a')};
  for (const std::string& text : garbled) {
    put(text);
    auto got = read_inspection_marker(dir_);
    ASSERT_FALSE(got.ok()) << text.substr(0, 60);
    EXPECT_NE(got.error().message.find(dir_ + "/inspecting"), std::string::npos);
  }
}

}  // namespace
}  // namespace ferry::spool
