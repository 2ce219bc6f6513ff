// Both daemons as real processes, on the receiving side's disk and at the
// operator's console: a receiver whose file system fills up pauses the
// transfer and finishes it when space returns; `ferryctl status` tells the
// truth about a running and a stopped side; a side stopped (SIGTERM) or
// killed (SIGKILL) in the middle of a large transfer resumes it after a
// restart, and the file arrives once, identical.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/sm2.h"
#include "crypto/sm3.h"
#include "tests/integration/two_sides.h"
#include "tests/support/subprocess.h"

namespace ferry::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace stdfs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::size_t kMiB = std::size_t{1} << 20;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail(const std::string& s, std::size_t n = 3000) { return s.size() > n ? s.substr(s.size() - n) : s; }

// Regular, non-hidden files under dir (delivered files; hidden ones are
// deliveries still being written).
std::vector<stdfs::path> visible_files(const std::string& dir) {
  std::vector<stdfs::path> out;
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(dir, ec); it != stdfs::recursive_directory_iterator();
       it.increment(ec)) {
    if (ec) break;
    if (it->path().filename().string().starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) out.push_back(it->path());
  }
  return out;
}

// Files in a spool state directory with a given suffix ("rec", "data").
std::size_t count_in(const std::string& dir, const std::string& suffix) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = stdfs::directory_iterator(dir, ec); it != stdfs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->path().extension() == "." + suffix) ++n;
  }
  return n;
}

// Size of the largest *.data file in a spool state directory (0 when none).
std::uintmax_t largest_data(const std::string& dir) {
  std::uintmax_t best = 0;
  std::error_code ec;
  for (auto it = stdfs::directory_iterator(dir, ec); it != stdfs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->path().extension() != ".data") continue;
    std::error_code sec;
    const std::uintmax_t sz = stdfs::file_size(it->path(), sec);
    if (!sec && sz > best) best = sz;
  }
  return best;
}

// The first number after `"key":` following `anchor` in a status document.
std::optional<std::uint64_t> json_number_after(const std::string& json, const std::string& anchor,
                                               const std::string& key) {
  std::size_t p = anchor.empty() ? 0 : json.find(anchor);
  if (p == std::string::npos) return std::nullopt;
  p = json.find("\"" + key + "\":", p);
  if (p == std::string::npos) return std::nullopt;
  p += key.size() + 3;
  std::size_t e = p;
  while (e < json.size() && json[e] >= '0' && json[e] <= '9') ++e;
  if (e == p) return std::nullopt;
  return std::stoull(json.substr(p, e - p));
}

// A channel's queue depth in one spool state, from a side's status.json.
std::optional<std::uint64_t> queued(const std::string& status_json, const std::string& channel,
                                    const std::string& state) {
  const std::string anchor = "\"" + channel + "\":{\"role\":";
  const std::size_t p = status_json.find(anchor);
  if (p == std::string::npos) return std::nullopt;
  return json_number_after(status_json.substr(p), "\"" + state + "\":{", "objects");
}

ProcessOutcome ferryctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {FERRYCTL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions opts;
  opts.timeout = seconds(20);
  return run_process(argv, opts);
}

// A tmpfs mounted for the lifetime of this object. The destructor first runs
// `before_unmount` (stops whatever uses the file system), then unmounts,
// lazily if a plain umount fails, so no test leaves a mount behind.
class TmpfsMount {
 public:
  TmpfsMount(std::string dir, const std::string& size, std::function<void()> before_unmount)
      : dir_(std::move(dir)), before_unmount_(std::move(before_unmount)) {
    std::error_code ec;
    stdfs::create_directories(dir_, ec);
    ProcessOutcome o = run_process({"mount", "-t", "tmpfs", "-o", "size=" + size + ",mode=0755", "tmpfs", dir_}, {});
    mounted_ = o.succeeded();
    if (!mounted_) {
      error_ = "`mount -t tmpfs -o size=" + size + " tmpfs " + dir_ + "` failed (" + o.describe() + "): " + o.err +
               o.error;
    }
  }
  ~TmpfsMount() {
    if (before_unmount_) before_unmount_();
    if (!mounted_) return;
    if (run_process({"umount", dir_}, {}).succeeded()) return;
    ProcessOutcome lazy = run_process({"umount", "-l", dir_}, {});
    if (!lazy.succeeded()) {
      ADD_FAILURE() << "could not unmount the test's tmpfs at " << dir_ << ": " << lazy.describe() << " " << lazy.err;
    }
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  std::function<void()> before_unmount_;
  bool mounted_ = false;
  std::string error_;
};

// --- (1) full disk on the receiver ------------------------------------------

TEST(Disk, FullDiskOnTheReceiverPausesTheTransferAndItCompletesWhenSpaceReturns) {
  // The inner side's spool and its docs-in deliver folder live on a 40 MiB
  // file system with an 8 MiB watermark; 20 files of 3 MiB (60 MiB) cannot
  // all fit. A relative inner_root is resolved by ferryd against the config
  // file's directory, i.e. the harness temp dir: the mount point is in there.
  const std::string kRoot = "small-fs";
  TwoSidesOptions options;
  options.inner_root = kRoot;
  options.min_free = "8MiB";
  TwoSides sides(options);
  const std::string small = sides.dir() + "/" + kRoot;
  const std::string inner_spool = small + "/spool";
  const std::string deliver = small + "/outbox/docs-in";
  const std::string arrived = sides.dir() + "/arrived";  // on the normal temp file system
  const std::string outer_outgoing = sides.spool(Which::outer) + "/outgoing";
  stdfs::create_directories(arrived);

  TmpfsMount mount(small, "40m", [&] {
    sides.kill9(Which::outer);
    sides.kill9(Which::inner);
  });
  ASSERT_TRUE(mount.mounted()) << "this test needs root to mount a small tmpfs as the receiver's disk (CI runs it "
                                  "as root; euid here is "
                               << ::geteuid() << "): " << mount.error();

  constexpr std::size_t kFiles = 20;
  std::map<std::string, std::string> want;
  sides.start_both();
  for (std::size_t i = 0; i < kFiles; ++i) {
    const std::string name = "批次 " + std::to_string(i) + ".txt";
    const std::string content = make_content(300 + i, 3 * kMiB);
    want[name] = sm3_hex(content);
    drop_file(sides.inbox("docs-in"), name, content);
  }

  // The receiver runs out of room above its watermark and says so.
  ASSERT_TRUE(TwoSides::wait_until(
      [&] { return sides.log(Which::inner).find("spool.below_watermark") != std::string::npos; }, seconds(60)))
      << "inner log:\n" << tail(sides.log(Which::inner));
  // Paused, not failed: deliveries come to a standstill (what was already
  // accepted may still land first), short of all files; the sender keeps the
  // rest queued, and both sides keep running.
  std::size_t delivered_before = visible_files(deliver).size();
  auto stable_since = std::chrono::steady_clock::now();
  EXPECT_TRUE(TwoSides::wait_until(
      [&] {
        if (const std::size_t n = visible_files(deliver).size(); n != delivered_before) {
          delivered_before = n;
          stable_since = std::chrono::steady_clock::now();
        }
        return std::chrono::steady_clock::now() - stable_since >= seconds(2);
      },
      seconds(30), milliseconds(100)))
      << "deliveries went on below the watermark";
  EXPECT_LT(delivered_before, kFiles) << "everything fit: the file system should have been too small";
  const std::size_t queued_rec = count_in(outer_outgoing, "rec");
  EXPECT_GT(queued_rec, 0u) << "the outer side should still hold the rest in " << outer_outgoing;
  ASSERT_TRUE(TwoSides::wait_until(
      [&] {
        const auto n = queued(slurp(sides.spool(Which::outer) + "/status.json"), "docs-in", "outgoing");
        return n && *n > 0;
      },
      seconds(5)))
      << "status.json of the outer side should show docs-in outgoing > 0:\n"
      << slurp(sides.spool(Which::outer) + "/status.json");
  EXPECT_TRUE(sides.running(Which::inner));
  EXPECT_TRUE(sides.running(Which::outer));

  // Space returns as the intranet takes delivered files away (to a folder on
  // another file system). Every file must come exactly once.
  std::map<std::string, int> seen;
  std::vector<std::string> doubled;
  auto take_delivered = [&] {
    for (const stdfs::path& p : visible_files(deliver)) {
      const std::string rel = stdfs::relative(p, deliver).string();
      const stdfs::path to = stdfs::path(arrived) / rel;
      if (++seen[rel] > 1 || stdfs::exists(to)) {
        doubled.push_back(rel);
        stdfs::rename(p, stdfs::path(p).replace_filename("." + p.filename().string() + ".extra"));
        continue;
      }
      stdfs::create_directories(to.parent_path());
      stdfs::copy_file(p, to);  // across file systems: copy, then remove the original
      stdfs::remove(p);
    }
    return visible_files(arrived).size() >= kFiles;
  };
  // Up to 90 s in all, but a stall (no file for 30 s) ends the wait early.
  std::size_t last_count = 0;
  auto last_progress = std::chrono::steady_clock::now();
  const bool all = TwoSides::wait_until(
      [&] {
        if (take_delivered()) return true;
        if (const std::size_t n = visible_files(arrived).size(); n != last_count) {
          last_count = n;
          last_progress = std::chrono::steady_clock::now();
        }
        return std::chrono::steady_clock::now() - last_progress > seconds(30);
      },
      seconds(90), milliseconds(100)) &&
                   visible_files(arrived).size() >= kFiles;
  // Show where things are before failing: receiver spool by state.
  std::ostringstream where;
  for (const char* st : {"partial", "received", "done", "quarantine"}) {
    where << st << ": " << count_in(inner_spool + "/" + st, "data") << " data files; ";
  }
  where << "outer outgoing: " << count_in(outer_outgoing, "rec") << " records";
  ASSERT_TRUE(all) << "only " << visible_files(arrived).size() << " of " << kFiles
                   << " files arrived although every delivered file was taken off the receiver's file system "
                      "(no new file for 30 s, or 90 s in all). Receiver spool (on the 40 MiB tmpfs): "
                   << where.str()
                   << "\ninner log:\n"
                   << tail(sides.log(Which::inner));
  std::this_thread::sleep_for(seconds(1));  // anything extra would show now
  take_delivered();
  EXPECT_THAT(doubled, ::testing::IsEmpty()) << "delivered more than once";

  // Byte-identical, over both places (taken away and still in the outbox).
  std::map<std::string, std::string> got = digest_tree(arrived);
  for (const auto& [path, sm3] : digest_tree(deliver)) got[path] = sm3;
  EXPECT_EQ(got, want);
  EXPECT_THAT(sides.log(Which::inner), HasSubstr("spool.space_returned"));
  // Nothing was dropped or set aside for lack of space.
  const std::string logs = sides.log(Which::outer) + sides.log(Which::inner);
  EXPECT_THAT(logs, Not(HasSubstr("object.quarantined")));
  EXPECT_THAT(logs, Not(HasSubstr("object.refused")));
  EXPECT_EQ(count_in(sides.spool(Which::outer) + "/quarantine", "rec"), 0u);
  EXPECT_EQ(count_in(inner_spool + "/quarantine", "rec"), 0u);
  EXPECT_EQ(count_in(outer_outgoing, "rec"), 0u) << "the sender's queue drained";
  EXPECT_EQ(sides.stop(Which::outer), 0);
  EXPECT_EQ(sides.stop(Which::inner), 0);
}

// --- (2) ferryctl status ------------------------------------------------------

std::string inner_fingerprint(const TwoSides& sides) {
  auto key = crypto::Sm2PublicKey::from_pem(slurp(sides.dir() + "/keys/inner.pub"));
  if (!key.ok()) return "cannot read keys/inner.pub: " + key.error().message;
  return crypto::to_hex(crypto::Sm3::digest(key->point()));
}

// The row of `channel` in the human status table: objects in each state,
// in the table's column order (incoming, outgoing, partial, received, quarantine).
std::vector<std::uint64_t> table_row(const std::string& out, const std::string& channel) {
  std::istringstream lines(out);
  std::string line;
  static const std::regex cell(R"((\d+) \((\d+) B\))");
  while (std::getline(lines, line)) {
    if (!line.starts_with(channel + " ")) continue;
    std::vector<std::uint64_t> objects;
    for (auto it = std::sregex_iterator(line.begin(), line.end(), cell); it != std::sregex_iterator(); ++it) {
      objects.push_back(std::stoull((*it)[1].str()));
    }
    return objects;
  }
  return {};
}

TEST(Disk, FerryctlStatusShowsLinkPeerChannelsAndWhetherTheSideRuns) {
  TwoSides sides;
  sides.start_both();
  const std::string outer_cfg = sides.config(Which::outer);
  ProcessOutcome st;
  ASSERT_TRUE(TwoSides::wait_until(
      [&] {
        st = ferryctl({"--config", outer_cfg, "status"});
        return st.succeeded() && st.out.find("link: up") != std::string::npos;
      },
      seconds(20), milliseconds(200)))
      << st.describe() << "\n" << st.out << st.err;
  EXPECT_THAT(st.out, HasSubstr("outer side: running"));
  const std::string fp = inner_fingerprint(sides);
  ASSERT_EQ(fp.size(), 64u) << fp;
  EXPECT_THAT(st.out, HasSubstr("peer key fingerprint (SM3): " + fp));
  EXPECT_THAT(st.out, HasSubstr("CHANNEL"));
  const std::vector<std::uint64_t> row = table_row(st.out, "docs-in");
  EXPECT_EQ(row.size(), 5u) << "docs-in row with five queue cells:\n" << st.out;
  EXPECT_THAT(st.out, ::testing::ContainsRegex("docs-in +source"));

  ProcessOutcome js = ferryctl({"--config", outer_cfg, "status", "--json"});
  EXPECT_TRUE(js.succeeded()) << js.describe() << "\n" << js.err;
  EXPECT_THAT(js.out, HasSubstr("\"state\":\"up\""));
  EXPECT_THAT(js.out, HasSubstr("\"peer_fingerprint\":\"" + fp + "\""));
  EXPECT_THAT(js.out, HasSubstr("\"docs-in\":{\"role\":\"source\""));

  // Stopped: status exits 1 and says so, at once (the pid is gone).
  EXPECT_EQ(sides.stop(Which::outer), 0);
  ProcessOutcome down = ferryctl({"--config", outer_cfg, "status"});
  EXPECT_TRUE(down.started && down.exited && down.exit_code == 1) << down.describe() << "\n" << down.out;
  EXPECT_THAT(down.out, HasSubstr("not running"));
  ProcessOutcome down_json = ferryctl({"--config", outer_cfg, "status", "--json"});
  EXPECT_TRUE(down_json.started && down_json.exited && down_json.exit_code == 1) << down_json.describe();

  // With the inner side down, a dropped file waits in the outer's queue and
  // status shows it; once the inner side is back it leaves the queue.
  EXPECT_EQ(sides.stop(Which::inner), 0);
  sides.start(Which::outer);
  drop_file(sides.inbox("docs-in"), "排队 queued.txt", "waiting for the inner side");
  ProcessOutcome q;
  ASSERT_TRUE(TwoSides::wait_until(
      [&] {
        q = ferryctl({"--config", outer_cfg, "status"});
        const std::vector<std::uint64_t> r = table_row(q.out, "docs-in");
        return q.succeeded() && r.size() == 5 && r[1] >= 1;
      },
      seconds(20), milliseconds(200)))
      << q.describe() << "\n" << q.out << q.err;
  EXPECT_THAT(q.out, Not(HasSubstr("link: up")));
  ProcessOutcome qj = ferryctl({"--config", outer_cfg, "status", "--json"});
  EXPECT_TRUE(qj.succeeded()) << qj.describe();
  EXPECT_GE(queued(qj.out, "docs-in", "outgoing").value_or(0), 1u) << qj.out;

  sides.start(Which::inner);
  ASSERT_TRUE(TwoSides::wait_until([&] { return visible_files(sides.outbox("docs-in")).size() == 1; }, seconds(30)));
  ASSERT_TRUE(TwoSides::wait_until(
      [&] {
        q = ferryctl({"--config", outer_cfg, "status"});
        const std::vector<std::uint64_t> r = table_row(q.out, "docs-in");
        return q.succeeded() && r.size() == 5 && r[1] == 0 && q.out.find("link: up") != std::string::npos;
      },
      seconds(10), milliseconds(200)))
      << q.out;
}

// --- (3) stopped or killed mid-transfer -------------------------------------

enum class Interrupt { sigterm, sigkill };

void interrupted_large_transfer(Interrupt how) {
  TwoSides sides;
  sides.start_both();
  constexpr std::size_t kSize = 40 * kMiB;
  const std::string name = how == Interrupt::sigterm ? "开放数据 big.csv" : "open data killed.csv";
  const std::string content = make_content(how == Interrupt::sigterm ? 40 : 41, kSize);
  const std::string sm3 = sm3_hex(content);
  const std::string partial_dir = sides.spool(Which::outer) + "/partial";
  drop_file(sides.inbox("open-data-out"), name, content);

  // Catch it in flight on the receiving (outer) side: a partial object with at
  // least 8 MiB but not all of it.
  std::uintmax_t seen = 0;
  ASSERT_TRUE(TwoSides::wait_until(
      [&] {
        seen = largest_data(partial_dir);
        return seen >= 8 * kMiB;
      },
      seconds(60), milliseconds(1)))
      << "the transfer never showed up in " << partial_dir << "\nouter log:\n" << tail(sides.log(Which::outer));
  ASSERT_LT(seen, kSize) << "finished before it could be interrupted";

  const auto t0 = std::chrono::steady_clock::now();
  if (how == Interrupt::sigterm) {
    EXPECT_EQ(sides.stop(Which::outer), 0) << "SIGTERM: clean exit\n" << tail(sides.log(Which::outer));
    const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
    EXPECT_LT(took, seconds(5)) << "SIGTERM took " << took.count() << " ms to stop the side";
    EXPECT_THAT(sides.log(Which::outer), HasSubstr("side.stopped"));
  } else {
    sides.kill9(Which::outer);
  }
  EXPECT_TRUE(visible_files(sides.outbox("open-data-out")).empty()) << "delivered while interrupted mid-transfer";
  const std::uintmax_t kept = largest_data(partial_dir);
  EXPECT_GT(kept, 0u) << "the partial object was not kept";
  EXPECT_LT(kept, kSize);

  sides.start(Which::outer);
  ASSERT_TRUE(
      TwoSides::wait_until([&] { return !visible_files(sides.outbox("open-data-out")).empty(); }, seconds(60)))
      << "outer log:\n" << tail(sides.log(Which::outer));
  // Resumed, not restarted: after the restart the receiver took in less than
  // the whole object again (what it held stayed), and no side restarted it.
  std::string status;
  ASSERT_TRUE(TwoSides::wait_until(
      [&] {
        status = slurp(sides.spool(Which::outer) + "/status.json");
        return json_number_after(status, "", "objects_received").value_or(0) >= 1;
      },
      seconds(10)))
      << status;
  const std::uint64_t bytes_in = json_number_after(status, "", "bytes_in").value_or(0);
  EXPECT_LT(bytes_in + kept / 2, kSize) << "after the restart the receiver took in " << bytes_in
                                        << " bytes for a " << kSize << "-byte object of which it already held "
                                        << kept << ": the transfer started again from zero";
  const std::string logs = sides.log(Which::outer) + sides.log(Which::inner);
  EXPECT_THAT(logs, Not(HasSubstr("object_restarted")));

  std::this_thread::sleep_for(seconds(1));  // a second copy would show now
  const auto got = digest_tree(sides.outbox("open-data-out"));
  ASSERT_EQ(got.size(), 1u) << "exactly one file delivered";
  EXPECT_EQ(got.begin()->first, name);
  EXPECT_EQ(got.begin()->second, sm3);
  EXPECT_EQ(count_in(partial_dir, "data"), 0u);
  EXPECT_EQ(count_in(sides.spool(Which::inner) + "/outgoing", "rec"), 0u) << "the sender's queue drained";
  EXPECT_EQ(sides.stop(Which::outer), 0);
  EXPECT_EQ(sides.stop(Which::inner), 0);
}

TEST(Disk, SigtermOfTheReceiverMidTransferStopsCleanlyAndTheFileArrivesOnce) {
  interrupted_large_transfer(Interrupt::sigterm);
}

TEST(Disk, SigkillOfTheReceiverMidTransferResumesAndTheFileArrivesOnce) {
  interrupted_large_transfer(Interrupt::sigkill);
}

}  // namespace
}  // namespace ferry::test
