// The sandboxed worker as ferryd drives it: real ferry-worker processes (and
// ferry-test-worker, the same code told to misbehave) in their real
// confinement, checked from the outside.
#include "ferry/sandbox/worker.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "policy/policy.h"
#include "tests/support/fixtures.h"

namespace ferry::sandbox {
namespace {

constexpr std::string_view kPolicy = R"(schema: ferry-policy/1
serial: 3
lists:
  markings: { file: markings.txt }
channels:
  - name: files
    direction: inbound
    kind: file
    allow_types: [txt, csv, json, pdf, png, jpeg, docx, zip]
    max_size: 10MiB
    antivirus: off
    deny_keywords: [markings]
    sanitize: [images, office, pdf]
)";

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-worker-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    write("markings.txt", "绝密\nTOP SECRET\n");
    write("policy.yaml", std::string(kPolicy));
    policy::PolicyLoad load = policy::load_policy_file(path("policy.yaml"));
    ASSERT_TRUE(load.ok());
    policy_ = *load.policy;
    text_ = load.text;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return (std::filesystem::path(dir_) / name).string(); }
  void write(const std::string& name, std::string_view bytes) {
    std::ofstream(path(name), std::ios::binary | std::ios::trunc) << bytes;
  }

  WorkerOptions options(const char* program = FERRY_TEST_WORKER_PATH) const {
    WorkerOptions o;
    o.program = program;
    o.work_dir = path("work");
    o.memory = std::uint64_t{256} << 20;
    o.max_output = std::uint64_t{32} << 20;
    o.timeout_floor = std::chrono::milliseconds(1500);
    o.timeout_per_mib = std::chrono::milliseconds(0);
    o.timeout_ceiling = std::chrono::milliseconds(3000);
    o.setup_timeout = std::chrono::seconds(60);
    return o;
  }
  WorkerPolicy worker_policy() const { return {text_, path("policy.yaml"), dir_}; }

  // One object through the worker, from a file named `name`.
  Examined run(Worker& w, const std::string& name, std::string_view bytes, Role role = Role::send) {
    write("object", bytes);
    const int fd = ::open(path("object").c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    Examined e = w.examine(role, policy_, "files", name, fd, bytes.size());
    ::close(fd);
    return e;
  }

  static std::string code(const Examined& e) { return e.answer.reasons.empty() ? "" : e.answer.reasons.front().code; }
  static std::string detail(const Examined& e) {
    return e.answer.reasons.empty() ? "" : e.answer.reasons.front().detail;
  }

  std::string dir_;
  policy::Policy policy_;
  std::string text_;
};

TEST_F(WorkerTest, TheRealWorkerServesObjectsInItsConfinement) {
  Worker w(options(FERRY_WORKER_PATH), worker_policy());
  ASSERT_TRUE(w.start().ok());
  const std::string& c = w.confinement();
  EXPECT_NE(c.find("seccomp"), std::string::npos) << c;
  EXPECT_NE(c.find("rlimits"), std::string::npos) << c;
  if (::geteuid() == 0) {
    EXPECT_NE(c.find("user nobody"), std::string::npos) << c;
    EXPECT_NE(c.find("network namespace"), std::string::npos) << c;
    EXPECT_NE(c.find("chroot"), std::string::npos) << c;
  }
  Examined ok = run(w, "notice.txt", "an ordinary notice\n");
  EXPECT_TRUE(ok.answer.accepted()) << detail(ok);
  EXPECT_EQ(ok.answer.type, "txt");
  EXPECT_FALSE(ok.output.valid());
  Examined hit = run(w, "memo.txt", "this memo is 绝密\n");
  EXPECT_EQ(code(hit), "keyword.match");
  EXPECT_EQ(w.stats().started, 1u);
  EXPECT_EQ(w.stats().served, 2u);
}

TEST_F(WorkerTest, ALongTextIsScannedOnTwoThreadsInsideTheFilter) {
  // Texts of 2 MiB and more are split over two threads: clone with
  // CLONE_THREAD is allowed, fork is not (next test).
  Worker w(options(FERRY_WORKER_PATH), worker_policy());
  std::string text;
  while (text.size() < (std::size_t{3} << 20)) text += "an ordinary line of a long notice\n";
  Examined clean = run(w, "long.txt", text);
  EXPECT_TRUE(clean.answer.accepted()) << detail(clean);
  Examined hit = run(w, "long.txt", text + "TOP SECRET\n");
  EXPECT_EQ(code(hit), "keyword.match") << detail(hit);
  EXPECT_EQ(w.stats().crashes, 0u);
}

TEST_F(WorkerTest, TheConfinementHoldsFromInside) {
  Worker w(options(), worker_policy());
  Examined e = run(w, "probe.txt", "x\n");
  ASSERT_EQ(e.answer.reasons.size(), 3u);
  // Its own directory is its root: nothing else on the host can be named.
  EXPECT_EQ(e.answer.reasons[0].detail, std::strerror(ENOENT));
  EXPECT_EQ(e.answer.reasons[1].detail, std::strerror(EACCES));  // no sockets
  if (::geteuid() == 0) {
    EXPECT_NE(e.answer.reasons[2].detail, "0");  // not root
  }
}

TEST_F(WorkerTest, ALoopingWorkerIsKilledAndTheNextObjectGetsAFreshOne) {
  Worker w(options(), worker_policy());
  const auto t0 = std::chrono::steady_clock::now();
  Examined e = run(w, "loop.txt", "x\n");
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(code(e), "worker.timeout");
  EXPECT_NE(detail(e).find("1.5 s"), std::string::npos) << detail(e);
  EXPECT_TRUE(e.incident.has_value());
  EXPECT_LT(took, std::chrono::seconds(20));
  EXPECT_EQ(w.stats().timeouts, 1u);
  Examined next = run(w, "fine.txt", "fine\n");
  EXPECT_TRUE(next.answer.accepted()) << detail(next);
  EXPECT_EQ(w.stats().started, 2u);
}

TEST_F(WorkerTest, InABatchOnlyTheCulpritIsChargedAndTheOthersGoToAFreshWorker) {
  Worker w(options(), worker_policy());
  const std::vector<std::pair<std::string, std::string>> objects = {
      {"a.txt", "one\n"}, {"loop.txt", "x\n"}, {"b.txt", "two\n"}, {"segv.txt", "x\n"},
      {"c.txt", "three\n"}, {"lie-seq.txt", "x\n"}, {"d.txt", "TOP SECRET\n"}, {"e.txt", "five\n"}};
  std::vector<int> fds;
  std::vector<Worker::WorkItem> items;
  for (std::size_t k = 0; k < objects.size(); ++k) {
    const std::string name = "obj" + std::to_string(k);
    write(name, objects[k].second);
    fds.push_back(::open(path(name).c_str(), O_RDONLY | O_CLOEXEC));
    items.push_back({"files", objects[k].first, fds.back(), objects[k].second.size()});
  }
  std::vector<Examined> got = w.examine_batch(Role::send, policy_, items);
  for (int fd : fds) ::close(fd);
  ASSERT_EQ(got.size(), objects.size());
  const std::vector<std::string> expected = {"", "worker.timeout", "", "worker.crash", "", "worker.bad_answer",
                                             "keyword.match", ""};
  for (std::size_t k = 0; k < objects.size(); ++k) {
    EXPECT_EQ(code(got[k]), expected[k]) << objects[k].first << ": " << detail(got[k]);
  }
  EXPECT_EQ(w.stats().started, 4u);  // the first, and one after each failure
}

TEST(LeadingBytes, TheCheapCheckKnowsEachTypesSignatureAndNothingMore) {
  using policy::FileType;
  const std::string pdf = ferry::test::make_pdf({"x"});
  EXPECT_TRUE(leads_as(FileType::pdf, pdf));
  EXPECT_TRUE(leads_as(FileType::pdf, "\n\n%PDF-1.7\n"));  // within 1024 bytes, as readers accept
  // A zip whose first member is a PDF is a zip; a text that mentions the
  // PDF header later is a text.
  const std::string zip = ferry::test::make_zip({{"a.pdf", pdf, ferry::test::ZipEntry::file, {}, true}});
  EXPECT_TRUE(leads_as(FileType::zip, zip));
  EXPECT_FALSE(leads_as(FileType::pdf, zip));
  EXPECT_TRUE(leads_as(FileType::txt, "how to spot a PDF: it starts with %PDF-1.x\n"));
  EXPECT_FALSE(leads_as(FileType::txt, "%PDF-1.7\n"));
  EXPECT_FALSE(leads_as(FileType::txt, zip));
  EXPECT_TRUE(leads_as(FileType::png, ferry::test::make_png(2, 2)));
  EXPECT_TRUE(leads_as(FileType::jpeg, ferry::test::make_jpeg(8, 8)));
  EXPECT_TRUE(leads_as(FileType::docx, ferry::test::make_docx({"p"})));
  EXPECT_FALSE(leads_as(FileType::png, zip));
}

TEST_F(WorkerTest, TheTimeoutScalesWithSizeBetweenFloorAndCeiling) {
  WorkerOptions o = options();
  o.timeout_floor = std::chrono::seconds(10);
  o.timeout_per_mib = std::chrono::milliseconds(2000);
  o.timeout_ceiling = std::chrono::seconds(60);
  Worker w(o, worker_policy());
  EXPECT_EQ(w.timeout_for(0), std::chrono::seconds(10));
  EXPECT_EQ(w.timeout_for(std::uint64_t{10} << 20), std::chrono::seconds(30));
  EXPECT_EQ(w.timeout_for(std::uint64_t{1} << 30), std::chrono::seconds(60));
}

TEST_F(WorkerTest, ACrashingWorkerIsReportedWithItsSignal) {
  Worker w(options(), worker_policy());
  Examined e = run(w, "segv.txt", "x\n");
  EXPECT_EQ(code(e), "worker.crash");
  EXPECT_NE(detail(e).find("SIGSEGV"), std::string::npos) << detail(e);
  EXPECT_EQ(w.stats().crashes, 1u);
  EXPECT_TRUE(run(w, "fine.txt", "fine\n").answer.accepted());
}

TEST_F(WorkerTest, AWorkerOverItsMemoryLimitIsStopped) {
  Worker w(options(), worker_policy());
  Examined e = run(w, "hog.txt", "x\n");
  EXPECT_EQ(code(e), "worker.crash");
  EXPECT_NE(detail(e).find("ran out of memory"), std::string::npos) << detail(e);
  EXPECT_NE(detail(e).find("256 MiB"), std::string::npos) << detail(e);
  EXPECT_TRUE(run(w, "fine.txt", "fine\n").answer.accepted());
}

TEST_F(WorkerTest, AForbiddenSystemCallKillsTheWorker) {
  Worker w(options(), worker_policy());
  Examined e = run(w, "fork.txt", "x\n");
  EXPECT_EQ(code(e), "worker.crash");
  EXPECT_NE(detail(e).find("SIGSYS"), std::string::npos) << detail(e);
}

TEST_F(WorkerTest, AWorkerKilledFromOutsideIsACrash) {
  Worker w(options(), worker_policy());
  ASSERT_TRUE(w.start().ok());
  const pid_t pid = w.pid();
  ASSERT_GT(pid, 0);
  std::thread killer([pid] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ::kill(pid, SIGKILL);
  });
  Examined e = run(w, "loop.txt", "x\n");  // would time out at 1.5 s; killed at 0.3 s
  killer.join();
  EXPECT_EQ(code(e), "worker.crash");
  EXPECT_NE(detail(e).find("SIGKILL"), std::string::npos) << detail(e);
  EXPECT_TRUE(run(w, "fine.txt", "fine\n").answer.accepted());
}

TEST_F(WorkerTest, AWorkerThatExitsMidRequestIsACrash) {
  Worker w(options(), worker_policy());
  Examined e = run(w, "exit.txt", "x\n");
  EXPECT_EQ(code(e), "worker.crash");
  EXPECT_NE(detail(e).find("exited with status 0"), std::string::npos) << detail(e);
}

TEST_F(WorkerTest, LyingAnswersAreCaught) {
  Worker w(options(), worker_policy());
  Examined type = run(w, "lie-type.txt", "plain text\n");
  EXPECT_EQ(code(type), "worker.bad_answer");
  EXPECT_NE(detail(type).find("first bytes"), std::string::npos) << detail(type);
  Examined sm3 = run(w, "lie-sm3.txt", "plain text\n");
  EXPECT_EQ(code(sm3), "worker.bad_answer");
  EXPECT_NE(detail(sm3).find("SM3"), std::string::npos) << detail(sm3);
  Examined seq = run(w, "lie-seq.txt", "plain text\n");
  EXPECT_EQ(code(seq), "worker.bad_answer");
  EXPECT_EQ(w.stats().bad_answers, 3u);
  EXPECT_TRUE(run(w, "fine.txt", "fine\n").answer.accepted());
}

TEST_F(WorkerTest, AMissingProgramHoldsTheObject) {
  Worker w(options("/nonexistent/ferry-worker"), worker_policy());
  Examined e = run(w, "fine.txt", "fine\n");
  EXPECT_EQ(code(e), "worker.unavailable");
  EXPECT_NE(detail(e).find("cannot execute"), std::string::npos) << detail(e);
}

TEST_F(WorkerTest, AFreshWorkerAfterMaxUseObjects) {
  WorkerOptions o = options(FERRY_WORKER_PATH);
  o.max_use = 2;
  Worker w(o, worker_policy());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(run(w, "n.txt", "n\n").answer.accepted());
  EXPECT_EQ(w.stats().started, 3u);
}

TEST_F(WorkerTest, ATermListChangedOnDiskStopsTheWorker) {
  Worker w(options(FERRY_WORKER_PATH), worker_policy());
  write("markings.txt", "绝密\nTOP SECRET\nNEW TERM\n");  // after ferryd loaded the policy
  Examined e = run(w, "fine.txt", "fine\n");
  EXPECT_EQ(code(e), "worker.unavailable");
  EXPECT_NE(detail(e).find("markings"), std::string::npos) << detail(e);
}

TEST_F(WorkerTest, TheReceivingSideChecksTypeAndActiveContent) {
  Worker w(options(FERRY_WORKER_PATH), worker_policy());
  Examined fine = run(w, "a.txt", "fine\n", Role::receive);
  EXPECT_TRUE(fine.answer.accepted()) << detail(fine);
  Examined wrong = run(w, "a.txt", std::string("\x7f" "ELF\x02\x01\x01", 7) + std::string(100, '\0'), Role::receive);
  EXPECT_EQ(code(wrong).rfind("type.", 0), 0u) << code(wrong);
  ferry::test::PdfOptions js;
  js.javascript = true;
  Examined active = run(w, "a.pdf", ferry::test::make_pdf({"page"}, js), Role::receive);
  EXPECT_EQ(code(active), "disarm.active_content") << detail(active);
}

TEST_F(WorkerTest, TheSendingSideRebuildsAndTheOutputIsChecked) {
  Worker w(options(FERRY_WORKER_PATH), worker_policy());
  ferry::test::PdfOptions js;
  js.javascript = true;
  Examined e = run(w, "a.pdf", ferry::test::make_pdf({"page one"}, js));
  ASSERT_TRUE(e.answer.accepted()) << detail(e);
  ASSERT_TRUE(e.output.valid());
  EXPECT_FALSE(e.answer.removed.empty());
  struct stat st;
  ASSERT_EQ(::fstat(e.output.get(), &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), e.answer.output_size);
  std::string rebuilt(e.answer.output_size, '\0');
  ASSERT_EQ(::pread(e.output.get(), rebuilt.data(), rebuilt.size(), 0), static_cast<ssize_t>(rebuilt.size()));
  EXPECT_EQ(rebuilt.find("/JavaScript"), std::string::npos);
  // What arrives rebuilt passes the receiving side's check.
  Examined back = run(w, "a.pdf", rebuilt, Role::receive);
  EXPECT_TRUE(back.answer.accepted()) << detail(back);
}

}  // namespace
}  // namespace ferry::sandbox
