#include "ferry/ctl/cli.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "ferry/fs/durable_file.h"

namespace ferry::ctl {

using crypto::Errc;
using crypto::make_error;
using crypto::Result;

// Key files are small; anything larger is not a key.
constexpr std::size_t kMaxKeyFile = 64 * 1024;

std::optional<std::string> ParsedArgs::get(std::string_view name) const {
  auto it = values.find(name);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

Result<ParsedArgs> parse_options(std::span<char* const> args, std::span<const OptionSpec> specs) {
  ParsedArgs out;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (options_done || arg == "-" || !arg.starts_with("-")) {
      out.positional.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      out.help = true;
      continue;
    }
    if (!arg.starts_with("--")) return make_error(Errc::invalid_argument, "unknown option '" + std::string(arg) + "'");
    std::string_view name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (std::size_t eq = name.find('='); eq != std::string_view::npos) {
      inline_value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) return make_error(Errc::invalid_argument, "unknown option '--" + std::string(name) + "'");
    if (out.values.contains(name)) {
      return make_error(Errc::invalid_argument, "option '--" + std::string(name) + "' given twice");
    }
    if (!spec->takes_value) {
      if (inline_value) return make_error(Errc::invalid_argument, "option '--" + std::string(name) + "' takes no value");
      out.values.emplace(std::string(name), "");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        return make_error(Errc::invalid_argument, "option '--" + std::string(name) + "' needs a value");
      }
      inline_value = args[++i];
    }
    out.values.emplace(std::string(name), *inline_value);
  }
  return out;
}

int usage_error(std::string_view command, std::string_view message) {
  std::fprintf(stderr, "ferryctl %.*s: %.*s\n", static_cast<int>(command.size()), command.data(),
               static_cast<int>(message.size()), message.data());
  return kExitUsage;
}

Result<crypto::Sm2PrivateKey> load_private_key(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return make_error(Errc::io, path + ": cannot read: " + std::strerror(errno));
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(Errc::bad_key, path + ": private key permissions " + mode +
                                         " are too open; it must be readable by its owner only (chmod 600)");
  }
  Result<crypto::Bytes> pem = fs::read_file(path, kMaxKeyFile);
  if (!pem.ok()) return pem.error();
  std::string_view text(reinterpret_cast<const char*>(pem->data()), pem->size());
  Result<crypto::Sm2PrivateKey> key = crypto::Sm2PrivateKey::from_pem(text);
  crypto::wipe(*pem);
  if (!key.ok()) return make_error(key.error().code, path + ": " + key.error().message);
  return key;
}

Result<crypto::Sm2PublicKey> load_public_key(const std::string& path) {
  Result<crypto::Bytes> pem = fs::read_file(path, kMaxKeyFile);
  if (!pem.ok()) return pem.error();
  std::string_view text(reinterpret_cast<const char*>(pem->data()), pem->size());
  Result<crypto::Sm2PublicKey> key = crypto::Sm2PublicKey::from_pem(text);
  if (!key.ok()) return make_error(key.error().code, path + ": " + key.error().message);
  return key;
}

Result<std::string> distinguishing_id(const ParsedArgs& args) {
  std::string id = args.get("id").value_or(std::string(crypto::kSm2DefaultId));
  if (id.empty() || id.size() > crypto::kSm2MaxIdSize) {
    return make_error(Errc::invalid_argument, "--id must be 1 to 8191 bytes");
  }
  return id;
}

}  // namespace ferry::ctl
