#include "tests/integration/delivery_check.h"

#include <filesystem>
#include <map>

#include <gtest/gtest.h>

namespace ferry::test {
namespace stdfs = std::filesystem;

std::size_t count_files(const std::string& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(dir, ec); it != stdfs::recursive_directory_iterator(); ++it) {
    if (it->is_regular_file() && !it->path().filename().string().starts_with(".")) ++n;
  }
  return n;
}

// Expected trees per deliver folder.
std::map<std::string, std::map<std::string, std::string>> expected_trees(const std::vector<Planned>& plan) {
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const Planned& p : plan) out[p.channel][p.path] = p.sm3;
  return out;
}

bool all_arrived(TwoSides& sides, const std::vector<Planned>& plan) {
  std::map<std::string, std::size_t> want;
  for (const Planned& p : plan) ++want[p.channel];
  for (const auto& [channel, n] : want) {
    if (count_files(sides.outbox(channel)) < n) return false;
  }
  return true;
}

void expect_exactly(TwoSides& sides, const std::vector<Planned>& plan) {
  for (const auto& [channel, tree] : expected_trees(plan)) {
    const auto got = digest_tree(sides.outbox(channel));
    EXPECT_EQ(got.size(), tree.size()) << channel << ": files delivered vs dropped";
    for (const auto& [path, sm3] : tree) {
      auto it = got.find(path);
      if (it == got.end()) {
        ADD_FAILURE() << channel << ": missing " << path;
      } else {
        EXPECT_EQ(it->second, sm3) << channel << ": " << path << " differs";
      }
    }
    for (const auto& [path, sm3] : got) {
      if (!tree.contains(path)) ADD_FAILURE() << channel << ": extra file " << path << " (delivered twice?)";
    }
  }
}

// Names an e-government user would drop: Chinese, spaces, subdirectories.
std::string name_for(std::size_t i) {
  static const char* kDirs[] = {"", "公文/", "公文/2026年/", "reports/q3 final/", "数据 集/"};
  static const char* kStems[] = {"通知", "report", "关于 开展 工作 的 通知", "table", "附件"};
  // Extensions that claim the text make_content writes (the type stage
  // checks them), in either letter case.
  static const char* kExts[] = {".txt", ".csv", ".TXT", ".text", ".Csv"};
  return std::string(kDirs[i % 5]) + kStems[(i / 5) % 5] + " " + std::to_string(i) + kExts[(i / 25) % 5];
}

}  // namespace ferry::test
