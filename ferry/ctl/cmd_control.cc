// ferryctl pending | approve | reject | quarantine: an officer's requests to a
// running side over its control socket (<spool.dir>/control.sock). Changes
// are signed with the officer's private key; ferryd checks the key's role.
#include <cstdio>
#include <string>
#include <string_view>

#include "ferry/audit/json.h"
#include "ferry/config/config.h"
#include "ferry/control/client.h"
#include "ferry/ctl/cli.h"

namespace ferry::ctl {

namespace {

using control::Entry;
using control::Op;
using control::Reply;
using control::Request;

constexpr char kControlSocketName[] = "control.sock";

constexpr char kPendingHelp[] =
    "usage: ferryctl [--config FILE] pending [--json] [--socket PATH]\n"
    "       ferryctl [--config FILE] pending show ID [--json] [--socket PATH]\n"
    "\n"
    "Lists the objects the side holds for an officer's approval (channels with\n"
    "'approval: required'), or shows everything about one of them: checks,\n"
    "SM3 digest, approvals so far and, for text, a preview. The side is found\n"
    "from FILE (its spool directory's control.sock) or --socket PATH.\n"
    "Approve or reject with 'ferryctl approve ID --key KEY' and\n"
    "'ferryctl reject ID --key KEY --reason TEXT' (a secadmin's key).\n"
    "Exit 0 on success, 1 when ferryd refuses, 2 on usage errors or when\n"
    "ferryd cannot be reached.\n";

constexpr char kApproveHelp[] =
    "usage: ferryctl [--config FILE] approve ID [ID...] --key KEY [--socket PATH]\n"
    "\n"
    "Approves objects awaiting approval, signing each request with the\n"
    "private key KEY, which must be a secadmin's key listed in the side's\n"
    "config (officers.secadmin). A channel may need several approvals.\n"
    "Exit 0 when ferryd accepts, 1 when it refuses, 2 on usage errors.\n";

constexpr char kRejectHelp[] =
    "usage: ferryctl [--config FILE] reject ID --key KEY --reason TEXT [--socket PATH]\n"
    "\n"
    "Rejects an object awaiting approval, with a reason that goes into the\n"
    "audit trail; signed with KEY, a secadmin's private key.\n"
    "Exit 0 when ferryd accepts, 1 when it refuses, 2 on usage errors.\n";

constexpr char kQuarantineHelp[] =
    "usage: ferryctl [--config FILE] quarantine list [--json] [--socket PATH]\n"
    "       ferryctl [--config FILE] quarantine show ID [--json] [--socket PATH]\n"
    "       ferryctl [--config FILE] quarantine release ID --key KEY [--socket PATH]\n"
    "       ferryctl [--config FILE] quarantine purge ID --key KEY [--socket PATH]\n"
    "\n"
    "Lists and shows the objects the side quarantined, and releases (lets\n"
    "through) or purges (deletes) one; release and purge are signed with KEY,\n"
    "a secadmin's private key.\n"
    "Exit 0 on success, 1 when ferryd refuses, 2 on usage errors or when\n"
    "ferryd cannot be reached.\n";

// Names, previews and reasons come from hostile files: nothing in them may
// move the cursor, recolour or reorder the officer's terminal. Valid UTF-8
// is kept (Chinese names stay readable); control characters, C1 controls,
// bidirectional overrides and stray bytes are shown escaped.
std::string printable(std::string_view s, bool keep_newlines = false) {
  std::string out;
  std::size_t i = 0;
  auto escape_byte = [&](unsigned char b) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  };
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b == '\n' && keep_newlines) out += '\n';
      else if (b == '\n') out += "\\n";
      else if (b == '\t') out += keep_newlines ? "\t" : "\\t";
      else if (b == '\\') out += "\\\\";
      else if (b < 0x20 || b == 0x7f) escape_byte(b);
      else out += static_cast<char>(b);
      ++i;
      continue;
    }
    const std::size_t len = b >= 0xf0 && b < 0xf5 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 0;
    std::uint32_t cp = len == 2 ? b & 0x1f : len == 3 ? b & 0x0f : b & 0x07;
    bool valid = len != 0 && i + len <= s.size() && b < 0xf5;
    for (std::size_t k = 1; valid && k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0) != 0x80) valid = false;
      cp = (cp << 6) | (c & 0x3f);
    }
    valid = valid && !(len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) &&
            !(len == 4 && (cp < 0x10000 || cp > 0x10ffff));
    if (!valid) {
      escape_byte(b);
      ++i;
      continue;
    }
    const bool dangerous = (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
                           (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f || cp == 0x061c;
    if (dangerous) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out;
}

std::string field(const Entry& e, std::string_view key) {
  for (const auto& [k, v] : e) {
    if (k == key) return v;
  }
  return "";
}

std::string json_object(const Entry& e) {
  std::string out = "{";
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (i > 0) out += ",";
    out += audit::json_string(e[i].first) + ":" + audit::json_string(e[i].second);
  }
  return out + "}";
}

void print_json_list(const std::vector<Entry>& entries) {
  std::string out = "[";
  for (std::size_t i = 0; i < entries.size(); ++i) out += (i > 0 ? ",\n " : "") + json_object(entries[i]);
  out += "]\n";
  std::fputs(out.c_str(), stdout);
}

// One line per object; the name goes last so that wide (CJK) characters
// cannot push the other columns out of line.
void print_table(const std::vector<Entry>& entries, std::string_view last_column_key, std::string_view last_title,
                 std::string_view empty_message) {
  if (entries.empty()) {
    std::printf("%.*s\n", static_cast<int>(empty_message.size()), empty_message.data());
    return;
  }
  std::printf("%-32s  %-14s  %-10s  %12s  %-28s  %s\n", "ID", "CHANNEL", "TYPE", "SIZE",
              std::string(last_title).c_str(), "NAME");
  for (const Entry& e : entries) {
    std::printf("%-32s  %-14s  %-10s  %12s  %-28s  %s\n", printable(field(e, "object")).c_str(),
                printable(field(e, "channel")).c_str(), printable(field(e, "type")).c_str(),
                printable(field(e, "size")).c_str(), printable(field(e, last_column_key)).c_str(),
                printable(field(e, "name")).c_str());
  }
}

// Every field, in the daemon's order; a preview as an indented block, each
// of its lines made safe for the terminal.
void print_entry(const Entry& e) {
  std::size_t width = 0;
  for (const auto& [k, v] : e) width = std::max(width, k.size());
  for (const auto& [k, v] : e) {
    if (k == "preview") continue;
    std::printf("%-*s  %s\n", static_cast<int>(width + 1), (k + ":").c_str(), printable(v).c_str());
  }
  for (const auto& [k, v] : e) {
    if (k != "preview") continue;
    std::printf("preview:\n");
    const std::string text = printable(v, true);
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t nl = text.find('\n', start);
      if (nl == std::string::npos) nl = text.size();
      if (nl > start || nl < text.size()) std::printf("  | %s\n", text.substr(start, nl - start).c_str());
      start = nl + 1;
    }
  }
}

std::optional<std::string> normalise_id(std::string_view id) {
  if (id.size() != control::kObjectIdHexSize) return std::nullopt;
  std::string out;
  for (char c : id) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    out += c;
  }
  return out;
}

// The socket named by --socket, else the one in the spool of the side that
// --config names.
crypto::Result<std::string> socket_path(const ParsedArgs& args) {
  if (std::optional<std::string> s = args.get("socket")) return *s;
  if (!global_config) {
    return crypto::make_error(crypto::Errc::invalid_argument,
                              "say which side: ferryctl --config FILE ... or --socket PATH");
  }
  config::ConfigLoad load = config::load_config_file(*global_config);
  if (!load.ok()) {
    return crypto::make_error(crypto::Errc::invalid_argument, policy::to_string(load.errors));
  }
  return load.config->spool.dir + "/" + kControlSocketName;
}

struct Invocation {
  std::string command;  // as the officer typed it, for messages
  Op op;
  std::string object;
  std::string reason;
  std::optional<std::string> key_path;
  bool json = false;
  std::vector<std::string> more;  // approve: the other IDs given, sent first
};

// Connects, sends, prints. The exit code says how it went.
int run(const Invocation& inv, const ParsedArgs& args) {
  crypto::Result<std::string> path = socket_path(args);
  if (!path.ok()) {
    std::string m = path.error().message;
    while (!m.empty() && m.back() == '\n') m.pop_back();
    return usage_error(inv.command, m);
  }
  std::optional<crypto::Sm2PrivateKey> key;
  if (inv.key_path) {
    crypto::Result<crypto::Sm2PrivateKey> k = load_private_key(*inv.key_path);
    if (!k.ok()) return usage_error(inv.command, k.error().message);
    key = std::move(*k);
  }
  crypto::Result<control::ControlClient> client = control::ControlClient::connect(*path);
  if (!client.ok()) return usage_error(inv.command, client.error().message);
  // Further objects (approve ID...): one signed request each, on this
  // connection, each answering the challenge the previous reply gave.
  int status = kExitOk;
  for (const std::string& object : inv.more) {
    Request q;
    q.op = inv.op;
    q.object = object;
    crypto::Result<Reply> reply = client->call(std::move(q), key ? &*key : nullptr);
    if (!reply.ok()) return usage_error(inv.command, reply.error().message);
    if (!reply->ok) {
      std::fprintf(stderr, "ferryctl %s: %s: refused (%s): %s\n", inv.command.c_str(), object.c_str(),
                   printable(reply->code).c_str(), printable(reply->message).c_str());
      status = kExitNegative;
    } else {
      std::printf("%s\n", printable(reply->message).c_str());
    }
  }
  Request q;
  q.op = inv.op;
  q.object = inv.object;
  q.reason = inv.reason;
  crypto::Result<Reply> reply = client->call(std::move(q), key ? &*key : nullptr);
  if (!reply.ok()) return usage_error(inv.command, reply.error().message);
  if (!reply->ok) {
    std::fprintf(stderr, "ferryctl %s: refused (%s): %s\n", inv.command.c_str(), printable(reply->code).c_str(),
                 printable(reply->message).c_str());
    return kExitNegative;
  }
  switch (inv.op) {
    case Op::pending:
      if (inv.json) print_json_list(reply->entries);
      else print_table(reply->entries, "approvals", "APPROVALS", "no objects await approval");
      break;
    case Op::quarantine_list:
      if (inv.json) print_json_list(reply->entries);
      else print_table(reply->entries, "reason", "REASON", "nothing is quarantined");
      break;
    case Op::show:
      if (reply->entries.empty()) {
        std::fprintf(stderr, "ferryctl %s: ferryd answered with no entry for %s\n", inv.command.c_str(),
                     inv.object.c_str());
        return kExitNegative;
      }
      if (inv.json) std::printf("%s\n", json_object(reply->entries.front()).c_str());
      else print_entry(reply->entries.front());
      break;
    default:
      std::printf("%s\n", printable(reply->message.empty() ? std::string("done") : reply->message).c_str());
      break;
  }
  return status;
}

constexpr OptionSpec kSpecs[] = {{"socket", true}, {"json", false}, {"key", true}, {"reason", true}};

// Parses options, prints help, and refuses options that `allowed` does not
// name (so that e.g. "pending --key K" does not silently ignore the key).
std::optional<int> parse(std::span<char* const> args, const char* command, const char* help,
                         std::initializer_list<std::string_view> allowed, ParsedArgs& out) {
  crypto::Result<ParsedArgs> parsed = parse_options(args, kSpecs);
  if (!parsed.ok()) return usage_error(command, parsed.error().message);
  if (parsed->help) {
    std::fputs(help, stdout);
    return kExitOk;
  }
  for (const auto& [name, value] : parsed->values) {
    bool ok = false;
    for (std::string_view a : allowed) ok = ok || a == name;
    if (!ok) return usage_error(command, "option '--" + name + "' does not apply here");
  }
  out = std::move(*parsed);
  return std::nullopt;
}

std::optional<int> take_id(const ParsedArgs& args, std::size_t index, const std::string& command,
                           std::string& id) {
  if (args.positional.size() <= index) return usage_error(command, "needs an object ID (see 'ferryctl pending')");
  if (args.positional.size() > index + 1) return usage_error(command, "takes one object ID");
  std::optional<std::string> n = normalise_id(args.positional[index]);
  if (!n) return usage_error(command, "'" + printable(args.positional[index]) + "' is not an object ID (32 hex digits)");
  id = *n;
  return std::nullopt;
}

int signed_change(std::span<char* const> args, const char* command, const char* help, Op op, std::size_t id_index) {
  ParsedArgs parsed;
  const bool needs_reason = op == Op::reject;
  if (auto rc = parse(args, command, help,
                      needs_reason ? std::initializer_list<std::string_view>{"socket", "key", "reason"}
                                   : std::initializer_list<std::string_view>{"socket", "key"},
                      parsed)) {
    return *rc;
  }
  Invocation inv{command, op, "", "", parsed.get("key"), false, {}};
  if (op == Op::approve && parsed.positional.size() > id_index + 1) {
    // approve ID ID...: an officer approving a batch signs each.
    for (std::size_t k = id_index; k + 1 < parsed.positional.size(); ++k) {
      std::optional<std::string> n = normalise_id(parsed.positional[k]);
      if (!n) return usage_error(command, "'" + printable(parsed.positional[k]) + "' is not an object ID (32 hex digits)");
      inv.more.push_back(*n);
    }
    parsed.positional.erase(parsed.positional.begin() + static_cast<std::ptrdiff_t>(id_index),
                            parsed.positional.end() - 1);
  }
  if (auto rc = take_id(parsed, id_index, command, inv.object)) return *rc;
  if (!inv.key_path) return usage_error(command, "--key KEY is required: the request is signed with a secadmin's key");
  if (needs_reason) {
    std::optional<std::string> reason = parsed.get("reason");
    if (!reason || reason->empty()) return usage_error(command, "--reason TEXT is required: it goes into the audit trail");
    inv.reason = *reason;
  }
  return run(inv, parsed);
}

}  // namespace

int cmd_pending(std::span<char* const> args) {
  ParsedArgs parsed;
  if (auto rc = parse(args, "pending", kPendingHelp, {"socket", "json"}, parsed)) return *rc;
  Invocation inv{"pending", Op::pending, "", "", std::nullopt, parsed.has("json"), {}};
  if (!parsed.positional.empty()) {
    if (parsed.positional[0] != "show") {
      return usage_error("pending", "unknown argument '" + printable(parsed.positional[0]) + "' (did you mean 'pending show ID'?)");
    }
    inv.command = "pending show";
    inv.op = Op::show;
    if (auto rc = take_id(parsed, 1, inv.command, inv.object)) return *rc;
  }
  return run(inv, parsed);
}

int cmd_approve(std::span<char* const> args) { return signed_change(args, "approve", kApproveHelp, Op::approve, 0); }

int cmd_reject(std::span<char* const> args) { return signed_change(args, "reject", kRejectHelp, Op::reject, 0); }

int cmd_quarantine(std::span<char* const> args) {
  if (args.empty()) {
    std::fputs(kQuarantineHelp, stderr);
    return kExitUsage;
  }
  const std::string_view sub = args[0];
  if (sub == "--help" || sub == "-h") {
    std::fputs(kQuarantineHelp, stdout);
    return kExitOk;
  }
  if (sub == "release") return signed_change(args.subspan(1), "quarantine release", kQuarantineHelp, Op::release, 0);
  if (sub == "purge") return signed_change(args.subspan(1), "quarantine purge", kQuarantineHelp, Op::purge, 0);
  if (sub != "list" && sub != "show") {
    return usage_error("quarantine", "unknown subcommand '" + printable(sub) + "' (list, show, release, purge)");
  }
  ParsedArgs parsed;
  const std::string command = "quarantine " + std::string(sub);
  if (auto rc = parse(args.subspan(1), command.c_str(), kQuarantineHelp, {"socket", "json"}, parsed)) return *rc;
  Invocation inv{command, sub == "list" ? Op::quarantine_list : Op::show, "", "", std::nullopt, parsed.has("json"), {}};
  if (sub == "list") {
    if (!parsed.positional.empty()) return usage_error(command, "takes no arguments");
  } else if (auto rc = take_id(parsed, 0, command, inv.object)) {
    return *rc;
  }
  return run(inv, parsed);
}

}  // namespace ferry::ctl
