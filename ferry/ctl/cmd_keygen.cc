// ferryctl keygen: a new SM2 key pair as PREFIX.key (PKCS#8, 0600) and
// PREFIX.pub (SubjectPublicKeyInfo, 0644), both readable by `openssl pkey`.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "crypto/device.h"
#include "crypto/selftest.h"
#include "crypto/sm2.h"
#include "crypto/sm3.h"
#include "ferry/ctl/cli.h"
#include "ferry/fs/durable_file.h"

namespace ferry::ctl {

namespace {
constexpr char kHelp[] =
    "usage: ferryctl keygen --out PREFIX\n"
    "\n"
    "Generates an SM2 key pair on sm2p256v1 and writes PREFIX.key (private,\n"
    "PKCS#8 PEM, mode 0600) and PREFIX.pub (public, SubjectPublicKeyInfo PEM).\n"
    "Refuses to overwrite either file. The new pair passes a pairwise\n"
    "consistency test (sign/verify, encrypt/decrypt) before it is written.\n";
}  // namespace

int cmd_keygen(std::span<char* const> args) {
  static constexpr OptionSpec kSpecs[] = {{"out", true}};
  crypto::Result<ParsedArgs> parsed = parse_options(args, kSpecs);
  if (!parsed.ok()) return usage_error("keygen", parsed.error().message);
  if (parsed->help) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (!parsed->positional.empty()) return usage_error("keygen", "unexpected argument '" + parsed->positional[0] + "'");
  std::optional<std::string> prefix = parsed->get("out");
  if (!prefix || prefix->empty()) return usage_error("keygen", "--out PREFIX is required");
  const std::string key_path = *prefix + ".key";
  const std::string pub_path = *prefix + ".pub";

  // Check both names before generating, so a refusal leaves nothing behind.
  for (const std::string& p : {key_path, pub_path}) {
    struct stat st;
    if (::lstat(p.c_str(), &st) == 0) return usage_error("keygen", p + ": exists; refusing to overwrite");
  }

  crypto::require_power_on_selftests();
  crypto::SoftwareCryptoDevice device;
  crypto::Result<std::unique_ptr<crypto::CryptoSession>> session = device.open_session();
  if (!session.ok()) return usage_error("keygen", session.error().message);
  crypto::Result<crypto::Sm2PrivateKey> key = (*session)->generate_key_pair();
  if (!key.ok()) return usage_error("keygen", key.error().message);

  crypto::SecretBytes pem = key->to_pem();
  if (crypto::Status s = fs::write_new_file(key_path, pem.view(), 0600); !s.ok()) {
    return usage_error("keygen", s.error().message);
  }
  crypto::Sm2PublicKey pub = key->public_key();
  std::string pub_pem = pub.to_pem();
  if (crypto::Status s = fs::write_new_file(pub_path, crypto::as_bytes(pub_pem), 0644); !s.ok()) {
    ::unlink(key_path.c_str());  // never leave half a key pair
    return usage_error("keygen", s.error().message);
  }
  crypto::Sm3Digest fp = crypto::Sm3::digest(pub.point());
  std::printf("wrote %s (private, 0600) and %s\n", key_path.c_str(), pub_path.c_str());
  std::printf("public key SM3 fingerprint: %s\n", crypto::to_hex(fp).c_str());
  return kExitOk;
}

}  // namespace ferry::ctl
