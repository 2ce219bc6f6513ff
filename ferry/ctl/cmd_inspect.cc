// ferryctl inspect: the security officer's dry run. Runs exactly the sending
// side's pipeline that ferryd runs (channel, name, size, then the content
// stages, antivirus, disarm and masking in the sandboxed worker of
// ferry/sandbox) over files on disk, without a daemon, and says for each
// what ferryd would decide and why.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/sm3.h"
#include "ferry/audit/json.h"
#include "ferry/ctl/cli.h"
#include "ferry/fs/durable_file.h"
#include "ferry/fs/fd.h"
#include "ferry/pipeline/inspect.h"
#include "ferry/pipeline/pipeline.h"
#include "ferry/sandbox/worker.h"
#include "policy/policy.h"

namespace ferry::ctl {
namespace {

constexpr std::string_view kUsage =
    "usage: ferryctl inspect --policy POLICY --channel NAME [--av-db DIR] [--out DIR] [--json] FILE...\n"
    "  Runs the pipeline ferryd runs on the sending side of channel NAME over each\n"
    "  FILE (channel, name, size, true type, archive members, text, keywords,\n"
    "  personal data, antivirus, disarm) and prints the verdict and the reasons.\n"
    "  Every FILE is parsed in the sandboxed worker ferryd uses (ferry-worker).\n"
    "  --json    one JSON object per FILE, in order:\n"
    "            {\"file\", \"verdict\": \"accept\"|\"reject\", \"type\", \"reasons\": [{\"code\",\n"
    "             \"detail\"}], \"removed\", \"masked\", \"antivirus\", \"sm3\", \"output_sm3\",\n"
    "             \"output\", and \"approval\": \"required\" when the channel needs an\n"
    "             officer's approval (the verdict is the content's either way)}\n"
    "  --out DIR write each accepted FILE as ferryd would send it (rebuilt by\n"
    "            disarm, personal data masked) to DIR/NAME; a rejected FILE\n"
    "            writes nothing. Inputs are never modified.\n"
    "  --av-db DIR  the ClamAV signature directory (as antivirus.database in the\n"
    "            config). Without it, a channel with antivirus: required rejects\n"
    "            every FILE (antivirus.not_scanned).\n"
    "Exit status: 0 every FILE accepted, 1 any rejected, 2 usage, policy or\n"
    "unreadable-file errors.\n";

constexpr OptionSpec kOptions[] = {
    {"policy", true}, {"channel", true}, {"av-db", true}, {"out", true}, {"json", false},
};

std::string base_name(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const std::size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

struct Outcome {
  std::string file;
  std::string type;
  std::vector<pipeline::Reason> reasons;
  std::vector<std::string> removed;
  std::vector<std::string> masked;
  std::string antivirus;
  std::string sm3;
  std::string output_sm3;  // when what would be sent differs from the input
  std::string output;
  bool unreadable = false;  // the input could not be read, or the output not written: exit 2
};

Outcome inspect_one(const std::string& file, const policy::Policy& policy, const policy::Channel& channel,
                    const pipeline::Pipeline& standard, sandbox::Worker& worker,
                    const std::optional<std::string>& out_dir) {
  Outcome o;
  o.file = file;
  const std::string name = base_name(file);
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) {
    o.unreadable = true;
    o.reasons.push_back({"object.unreadable", file + ": " + std::strerror(errno)});
    return o;
  }
  if (!S_ISREG(st.st_mode)) {
    o.unreadable = true;
    o.reasons.push_back({"object.unreadable", file + ": not a regular file"});
    return o;
  }
  // The stages that need no content, as ferryd runs them when it takes a
  // file: the side that sends this channel, in its sending role.
  const pipeline::Side side = channel.direction == policy::Direction::inbound ? pipeline::Side::outer : pipeline::Side::inner;
  const pipeline::Context context{policy, side, pipeline::Role::sending};
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (std::optional<pipeline::Reason> why = standard.run({channel.name, name, size, file}, context)) {
    o.reasons.push_back(std::move(*why));
    return o;
  }
  fs::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat opened;
  if (!fd.valid() || ::fstat(fd.get(), &opened) != 0 || !S_ISREG(opened.st_mode)) {
    o.unreadable = true;
    o.reasons.push_back({"object.unreadable", file + ": " + std::strerror(errno)});
    return o;
  }
  crypto::Result<crypto::Bytes> bytes = fs::read_file(file, static_cast<std::size_t>(channel.max_size));
  if (bytes.ok()) o.sm3 = crypto::to_hex(crypto::Sm3::digest(*bytes));
  sandbox::Examined ex = worker.examine(sandbox::Role::send, policy, channel.name, name, fd.get(),
                                        static_cast<std::uint64_t>(opened.st_size));
  o.type = std::move(ex.answer.type);
  for (sandbox::WireReason& r : ex.answer.reasons) o.reasons.push_back({std::move(r.code), std::move(r.detail)});
  o.removed = std::move(ex.answer.removed);
  o.masked = std::move(ex.answer.masked);
  o.antivirus = sandbox::describe_antivirus(ex.answer);
  if (ex.output.valid()) o.output_sm3 = crypto::to_hex(ex.answer.output_sm3);
  if (o.reasons.empty() && out_dir) {
    const std::string target = *out_dir + "/" + name;
    crypto::Status s;
    if (ex.output.valid()) {
      // What ferryd would send: the worker's output, checked by Worker.
      std::string rebuilt(static_cast<std::size_t>(ex.answer.output_size), '\0');
      if (::pread(ex.output.get(), rebuilt.data(), rebuilt.size(), 0) != static_cast<ssize_t>(rebuilt.size())) {
        s = crypto::make_error(crypto::Errc::io, "reading the rebuilt object: " + std::string(std::strerror(errno)));
      } else {
        s = fs::replace_file(target, crypto::ByteView(reinterpret_cast<const std::uint8_t*>(rebuilt.data()), rebuilt.size()), 0644);
      }
    } else if (bytes.ok()) {
      s = fs::replace_file(target, *bytes, 0644);
    } else {
      s = bytes.error();
    }
    if (!s.ok()) {
      // Not a verdict on the file: the run fails (exit 2) and says why.
      o.unreadable = true;
      std::fprintf(stderr, "ferryctl inspect: %s: accepted, but not written to --out: %s\n", file.c_str(),
                   s.error().message.c_str());
    } else {
      o.output = target;
    }
  }
  return o;
}

void print_json(const Outcome& o, const policy::Channel& channel) {
  std::string line = "{\"file\": " + audit::json_string(o.file) + ", \"verdict\": \"" +
                     (o.reasons.empty() ? "accept" : "reject") + "\", \"type\": " +
                     (o.type.empty() ? std::string("null") : audit::json_string(o.type)) + ", \"reasons\": [";
  for (std::size_t k = 0; k < o.reasons.size(); ++k) {
    line += (k ? ", " : "") + std::string("{\"code\": ") + audit::json_string(o.reasons[k].code) +
            ", \"detail\": " + audit::json_string(o.reasons[k].detail) + "}";
  }
  line += "], \"removed\": [";
  for (std::size_t k = 0; k < o.removed.size(); ++k) line += (k ? ", " : "") + audit::json_string(o.removed[k]);
  line += "], \"masked\": [";
  for (std::size_t k = 0; k < o.masked.size(); ++k) line += (k ? ", " : "") + audit::json_string(o.masked[k]);
  line += "], \"antivirus\": " + (o.antivirus.empty() ? std::string("null") : audit::json_string(o.antivirus));
  line += ", \"output_sm3\": " + (o.output_sm3.empty() ? std::string("null") : "\"" + o.output_sm3 + "\"");
  line += ", \"sm3\": " + (o.sm3.empty() ? std::string("null") : "\"" + o.sm3 + "\"") +
          ", \"output\": " + (o.output.empty() ? std::string("null") : audit::json_string(o.output));
  if (channel.approval == policy::Approval::required) line += ", \"approval\": \"required\"";
  line += "}\n";
  std::fputs(line.c_str(), stdout);
}

void print_row(const Outcome& o) {
  const std::string verdict = o.reasons.empty() ? "accept" : "reject";
  std::printf("%-7s %-10s %s\n", verdict.c_str(), o.type.empty() ? "-" : o.type.c_str(), o.file.c_str());
  for (const pipeline::Reason& r : o.reasons) std::printf("        %s: %s\n", r.code.c_str(), r.detail.c_str());
  for (const std::string& r : o.removed) std::printf("        removed: %s\n", r.c_str());
  for (const std::string& m : o.masked) std::printf("        masked: %s\n", m.c_str());
  if (!o.antivirus.empty()) std::printf("        antivirus: %s\n", o.antivirus.c_str());
  if (!o.output.empty()) std::printf("        written to %s\n", o.output.c_str());
}

}  // namespace

int cmd_inspect(std::span<char* const> args) {
  crypto::Result<ParsedArgs> parsed = parse_options(args, kOptions);
  if (!parsed.ok()) return usage_error("inspect", parsed.error().message + "\n" + std::string(kUsage));
  if (parsed->help) {
    std::fputs(kUsage.data(), stdout);
    return kExitOk;
  }
  const std::optional<std::string> policy_file = parsed->get("policy");
  const std::optional<std::string> channel_name = parsed->get("channel");
  if (!policy_file || !channel_name || parsed->positional.empty()) {
    return usage_error("inspect", "needs --policy, --channel and at least one FILE\n" + std::string(kUsage));
  }
  const std::optional<std::string> out_dir = parsed->get("out");
  if (out_dir) {
    struct stat st;
    if (::stat(out_dir->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return usage_error("inspect", "--out " + *out_dir + ": not a directory");
    }
  }
  if (const std::optional<std::string> db = parsed->get("av-db")) {
    struct stat st;
    if (::stat(db->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return usage_error("inspect", "--av-db " + *db + ": not a directory");
    }
  }

  policy::PolicyLoad load = policy::load_policy_file(*policy_file);
  if (!load.ok()) {
    for (const policy::Diagnostic& d : load.errors) std::fprintf(stderr, "%s\n", d.to_string().c_str());
    return usage_error("inspect", *policy_file + ": not a valid policy (ferryctl policy lint shows every error)");
  }
  const policy::Policy& policy = *load.policy;
  const policy::Channel* channel = policy.find(*channel_name);
  if (channel == nullptr) {
    std::string names;
    for (const policy::Channel& c : policy.channels) names += (names.empty() ? "" : ", ") + c.name;
    return usage_error("inspect", "no channel '" + *channel_name + "' in " + *policy_file + " (it has: " + names + ")");
  }
  if (channel->kind == policy::ChannelKind::request) {
    return usage_error("inspect", "channel '" + channel->name + "' is a request channel; inspect checks file channels");
  }
  // The keyword lists must compile here too, for a clear error before any worker starts.
  crypto::Result<std::unique_ptr<pipeline::Inspector>> inspector = pipeline::Inspector::create(policy);
  if (!inspector.ok()) return usage_error("inspect", inspector.error().message);

  // The same worker ferryd runs, in a directory of its own for this run.
  std::string work = (std::getenv("TMPDIR") != nullptr ? std::string(std::getenv("TMPDIR")) : "/tmp") +
                     "/ferryctl-inspect-XXXXXX";
  if (::mkdtemp(work.data()) == nullptr) {
    return usage_error("inspect", "cannot make a working directory " + work + ": " + std::strerror(errno));
  }
  struct RemoveAfter {
    std::string dir;
    ~RemoveAfter() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } remove_after{work};
  sandbox::WorkerOptions options;
  options.program = sandbox::default_worker_program();
  options.work_dir = work;
  options.require_chroot = false;  // an officer's dry run, as whoever runs it
  if (const std::optional<std::string> db = parsed->get("av-db")) options.av_database = *db;
  std::uint64_t largest = 0;
  for (const policy::Channel& c : policy.channels) largest = std::max(largest, c.max_size);
  options.max_output = std::max<std::uint64_t>(std::uint64_t{16} << 20, 2 * largest);
  const std::string policy_dir = std::filesystem::path(*policy_file).parent_path().string();
  sandbox::Worker worker(options, sandbox::WorkerPolicy{load.text, *policy_file, policy_dir.empty() ? "." : policy_dir});
  if (crypto::Status s = worker.start(); !s.ok()) {
    return usage_error("inspect", "the inspection worker did not start: " + s.error().message);
  }
  if (worker.confinement().find("chroot") == std::string::npos) {
    std::fprintf(stderr, "ferryctl inspect: note: the worker runs without chroot here (%s)\n",
                 worker.confinement().c_str());
  }
  const pipeline::Pipeline standard = pipeline::Pipeline::standard();

  bool rejected = false, unreadable = false;
  const bool json = parsed->has("json");
  for (const std::string& file : parsed->positional) {
    Outcome o = inspect_one(file, policy, *channel, standard, worker, out_dir);
    rejected = rejected || !o.reasons.empty();
    unreadable = unreadable || o.unreadable;
    if (json) {
      print_json(o, *channel);
    } else {
      print_row(o);
    }
  }
  if (!json && channel->approval == policy::Approval::required) {
    std::printf("(channel '%s' also needs an officer's approval for each object before it is sent)\n",
                channel->name.c_str());
  }
  return unreadable ? kExitUsage : rejected ? kExitNegative : kExitOk;
}

}  // namespace ferry::ctl
