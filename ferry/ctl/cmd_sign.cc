// ferryctl sign / verify: SM2 signatures over SM3 with a distinguishing ID,
// DER-encoded, compatible with `openssl pkeyutl -rawin -digest sm3` given the
// same ID (-pkeyopt distid:...). Both go through the CryptoDevice, as every
// key operation does.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "crypto/device.h"
#include "crypto/selftest.h"
#include "ferry/ctl/cli.h"
#include "ferry/fs/durable_file.h"

namespace ferry::ctl {

namespace {
constexpr char kSignHelp[] =
    "usage: ferryctl sign --key KEY [--id ID] FILE\n"
    "\n"
    "Signs FILE with the SM2 private key in KEY (PEM, mode 0600) and writes\n"
    "the DER signature to FILE.sig (replacing an older one atomically).\n"
    "ID is the signer's distinguishing ID (default 1234567812345678, the\n"
    "GM/T 0009 default); the verifier must use the same ID.\n";

constexpr char kVerifyHelp[] =
    "usage: ferryctl verify --pub PUB --sig SIG [--id ID] FILE\n"
    "\n"
    "Checks the SM2 signature SIG (DER) over FILE against the public key PUB\n"
    "(PEM) and the signer's distinguishing ID (default 1234567812345678).\n"
    "Exit 0 when valid, 1 when not, 2 when something could not be read.\n";

// A DER SM2 signature is at most 72 bytes; anything much larger is not one.
constexpr std::size_t kMaxSignatureFile = 4096;

// e = SM3(Z || contents of path), streamed through the device's hash.
crypto::Result<crypto::Sm3Digest> hash_file(crypto::CryptoSession& session, const crypto::Sm2PublicKey& signer,
                                            const std::string& id, const std::string& path) {
  crypto::Result<std::unique_ptr<crypto::DeviceHash>> h = session.hash_init(&signer, id);
  if (!h.ok()) return h.error();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return crypto::make_error(crypto::Errc::io, path + ": " + std::strerror(errno));
  static std::uint8_t buf[256 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return crypto::make_error(crypto::Errc::io, path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    (*h)->update(crypto::ByteView(buf, static_cast<std::size_t>(n)));
  }
  ::close(fd);
  return (*h)->finish();
}

crypto::Result<std::unique_ptr<crypto::CryptoSession>> open_session(crypto::SoftwareCryptoDevice& device) {
  return device.open_session();
}
}  // namespace

int cmd_sign(std::span<char* const> args) {
  static constexpr OptionSpec kSpecs[] = {{"key", true}, {"id", true}};
  crypto::Result<ParsedArgs> parsed = parse_options(args, kSpecs);
  if (!parsed.ok()) return usage_error("sign", parsed.error().message);
  if (parsed->help) {
    std::fputs(kSignHelp, stdout);
    return kExitOk;
  }
  std::optional<std::string> key_path = parsed->get("key");
  if (!key_path) return usage_error("sign", "--key KEY is required");
  if (parsed->positional.size() != 1) return usage_error("sign", "exactly one FILE is required");
  crypto::Result<std::string> id = distinguishing_id(*parsed);
  if (!id.ok()) return usage_error("sign", id.error().message);
  const std::string& file = parsed->positional[0];

  crypto::require_power_on_selftests();
  crypto::Result<crypto::Sm2PrivateKey> key = load_private_key(*key_path);
  if (!key.ok()) return usage_error("sign", key.error().message);

  crypto::SoftwareCryptoDevice device;
  if (crypto::Status s = device.install_key(kCliSigningKey, std::move(key).value()); !s.ok()) {
    return usage_error("sign", s.error().message);
  }
  crypto::Result<std::unique_ptr<crypto::CryptoSession>> session = open_session(device);
  if (!session.ok()) return usage_error("sign", session.error().message);
  crypto::Result<crypto::Sm2PublicKey> pub = (*session)->export_sign_public_key(kCliSigningKey);
  if (!pub.ok()) return usage_error("sign", pub.error().message);

  crypto::Result<crypto::Sm3Digest> e = hash_file(**session, *pub, *id, file);
  if (!e.ok()) return usage_error("sign", e.error().message);
  crypto::Result<crypto::Bytes> sig = (*session)->internal_sign(kCliSigningKey, *e);
  if (!sig.ok()) return usage_error("sign", sig.error().message);

  const std::string sig_path = file + ".sig";
  if (crypto::Status s = fs::replace_file(sig_path, *sig, 0644); !s.ok()) return usage_error("sign", s.error().message);
  std::printf("wrote %s\n", sig_path.c_str());
  return kExitOk;
}

int cmd_verify(std::span<char* const> args) {
  static constexpr OptionSpec kSpecs[] = {{"pub", true}, {"sig", true}, {"id", true}};
  crypto::Result<ParsedArgs> parsed = parse_options(args, kSpecs);
  if (!parsed.ok()) return usage_error("verify", parsed.error().message);
  if (parsed->help) {
    std::fputs(kVerifyHelp, stdout);
    return kExitOk;
  }
  std::optional<std::string> pub_path = parsed->get("pub");
  std::optional<std::string> sig_path = parsed->get("sig");
  if (!pub_path) return usage_error("verify", "--pub PUB is required");
  if (!sig_path) return usage_error("verify", "--sig SIG is required");
  if (parsed->positional.size() != 1) return usage_error("verify", "exactly one FILE is required");
  crypto::Result<std::string> id = distinguishing_id(*parsed);
  if (!id.ok()) return usage_error("verify", id.error().message);
  const std::string& file = parsed->positional[0];

  crypto::require_power_on_selftests();
  crypto::Result<crypto::Sm2PublicKey> pub = load_public_key(*pub_path);
  if (!pub.ok()) return usage_error("verify", pub.error().message);
  crypto::Result<crypto::Bytes> sig = fs::read_file(*sig_path, kMaxSignatureFile);
  if (!sig.ok()) return usage_error("verify", sig.error().message);

  crypto::SoftwareCryptoDevice device;
  crypto::Result<std::unique_ptr<crypto::CryptoSession>> session = open_session(device);
  if (!session.ok()) return usage_error("verify", session.error().message);
  crypto::Result<crypto::Sm3Digest> e = hash_file(**session, *pub, *id, file);
  if (!e.ok()) return usage_error("verify", e.error().message);

  if ((*session)->external_verify(*pub, *e, *sig)) {
    std::printf("%s: signature valid (SM2/SM3, ID \"%s\")\n", file.c_str(), id->c_str());
    return kExitOk;
  }
  std::printf("%s: signature INVALID (SM2/SM3, ID \"%s\")\n", file.c_str(), id->c_str());
  return kExitNegative;
}

}  // namespace ferry::ctl
