#include "ferry/fs/durable_file.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using ::testing::HasSubstr;
namespace stdfs = std::filesystem;
using ferry::crypto::as_bytes;

class DurableFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (stdfs::temp_directory_path() / "ferry-fs-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { stdfs::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string content(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // Only the files we meant to create: no temp file left behind.
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : stdfs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string dir_;
};

TEST_F(DurableFileTest, WriteNewFileCreatesWithExactModeWhateverTheUmask) {
  mode_t old = ::umask(0);
  auto s = ferry::fs::write_new_file(path("k.key"), as_bytes("secret"), 0600);
  ::umask(old);
  ASSERT_TRUE(s.ok()) << s.error().message;
  struct stat st;
  ASSERT_EQ(::stat(path("k.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(content("k.key"), "secret");
  EXPECT_EQ(entries(), std::vector<std::string>{"k.key"});
}

TEST_F(DurableFileTest, WriteNewFileNeverOverwrites) {
  ASSERT_TRUE(ferry::fs::write_new_file(path("f"), as_bytes("first"), 0644).ok());
  auto s = ferry::fs::write_new_file(path("f"), as_bytes("second"), 0644);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("exists; refusing to overwrite"));
  EXPECT_EQ(content("f"), "first");
  EXPECT_EQ(entries(), std::vector<std::string>{"f"});
}

TEST_F(DurableFileTest, WriteNewFileDoesNotFollowADanglingSymlink) {
  stdfs::create_symlink(path("target"), path("link"));
  auto s = ferry::fs::write_new_file(path("link"), as_bytes("x"), 0644);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(stdfs::exists(path("target")));
}

TEST_F(DurableFileTest, ReplaceFileSwapsContentAtomically) {
  ASSERT_TRUE(ferry::fs::replace_file(path("f"), as_bytes("one"), 0644).ok());
  ASSERT_TRUE(ferry::fs::replace_file(path("f"), as_bytes("two"), 0640).ok());
  EXPECT_EQ(content("f"), "two");
  struct stat st;
  ASSERT_EQ(::stat(path("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(entries(), std::vector<std::string>{"f"});
}

TEST_F(DurableFileTest, WriteIntoMissingDirectoryIsAnError) {
  auto s = ferry::fs::write_new_file(path("nope/f"), as_bytes("x"), 0644);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ferry::crypto::Errc::io);
  EXPECT_THAT(s.error().message, HasSubstr("No such file or directory"));
}

TEST_F(DurableFileTest, ReadFileBoundsTheSize) {
  ASSERT_TRUE(ferry::fs::write_new_file(path("f"), as_bytes("0123456789"), 0644).ok());
  auto ok = ferry::fs::read_file(path("f"), 10);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 10u);
  auto big = ferry::fs::read_file(path("f"), 9);
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.error().message, HasSubstr("larger than 9 bytes"));
  auto d = ferry::fs::read_file(dir_, 100);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.error().message, HasSubstr("is a directory"));
  EXPECT_FALSE(ferry::fs::read_file(path("missing"), 100).ok());
}

TEST(ParentDirectory, Cases) {
  EXPECT_EQ(ferry::fs::parent_directory("a/b/c"), "a/b");
  EXPECT_EQ(ferry::fs::parent_directory("c"), ".");
  EXPECT_EQ(ferry::fs::parent_directory("/c"), "/");
}

}  // namespace
