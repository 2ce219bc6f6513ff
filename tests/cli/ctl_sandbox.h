// The CLI tests' working directory: a fresh temp folder ferryctl runs in,
// files written and read by name there, removed afterwards.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/subprocess.h"

namespace ferry::test {

class CtlSandbox : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferryctl-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // ferryctl ARGS..., run in the sandbox.
  ProcessOutcome ctl(std::vector<std::string> args) {
    args.insert(args.begin(), FERRYCTL_PATH);
    ProcessOptions opts;
    opts.working_directory = dir_;
    return run_process(args, opts);
  }

  std::string path(const std::string& name) const { return (std::filesystem::path(dir_) / name).string(); }

  void write(const std::string& name, std::string_view content) {
    std::filesystem::create_directories(std::filesystem::path(path(name)).parent_path());
    std::ofstream(path(name), std::ios::binary) << content;
  }

  // A file of the sandbox, or any file by its absolute path.
  std::string read(const std::string& name) const {
    std::ifstream in(name.starts_with("/") ? name : path(name), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_;
};

}  // namespace ferry::test
