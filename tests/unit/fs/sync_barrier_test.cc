// SyncBarrier: what a caller can observe is that commit() succeeds for real
// files and directories on both of its paths (fsync each, syncfs), empties
// itself, and reports a directory that cannot be opened by name.
#include "ferry/fs/sync_barrier.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

namespace {

namespace stdfs = std::filesystem;
using ferry::fs::Fd;
using ferry::fs::SyncBarrier;

class SyncBarrierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (stdfs::temp_directory_path() / "ferry-barrier-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  Fd written(const std::string& name) {
    const std::string path = dir_ + "/" + name;
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(::write(fd.get(), name.data(), name.size()), static_cast<ssize_t>(name.size()));
    return fd;
  }
  std::string dir_;
};

TEST_F(SyncBarrierTest, AFewItemsAreFsyncedAndTheBarrierEmpties) {
  SyncBarrier b;
  b.file(written("a"), "a");
  b.directory(dir_);
  b.directory(dir_);  // the same directory once
  EXPECT_EQ(b.size(), 2u);
  ASSERT_TRUE(b.commit().ok());
  EXPECT_TRUE(b.empty());
  ASSERT_TRUE(b.commit().ok());  // nothing to do is fine
}

TEST_F(SyncBarrierTest, ManyItemsTakeTheSyncfsPath) {
  SyncBarrier b;
  for (int i = 0; i < 40; ++i) b.file(written("f" + std::to_string(i)), "f");
  for (int i = 0; i < 5; ++i) {
    const std::string sub = dir_ + "/d" + std::to_string(i);
    stdfs::create_directory(sub);
    b.directory(sub);
  }
  EXPECT_GT(b.size(), SyncBarrier::kFsyncEachLimit);
  ASSERT_TRUE(b.commit().ok());
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(stdfs::file_size(dir_ + "/f39"), 3u);
}

TEST_F(SyncBarrierTest, AMissingDirectoryIsAnErrorThatNamesIt) {
  SyncBarrier b;
  b.file(written("a"), "a");
  b.directory(dir_ + "/gone");
  auto s = b.commit();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find(dir_ + "/gone"), std::string::npos) << s.error().message;
  EXPECT_TRUE(b.empty());  // a failed barrier is not retried by accident
}

}  // namespace
