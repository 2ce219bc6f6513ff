#include "policy/signature.h"

#include <sys/stat.h>

#include <cerrno>

#include "crypto/sm3.h"
#include "policy/src/regular_file.h"

namespace ferry::policy {

namespace {

// Key files are small; anything larger is not a key.
constexpr std::size_t kMaxKeyFileSize = 64 * 1024;

std::string names_of(std::span<const Signer> signers) {
  std::string out;
  for (const Signer& s : signers) out += (out.empty() ? "" : ", ") + s.name;
  return out;
}

SignatureCheck refuse(SignatureProblem problem, std::string message) {
  SignatureCheck c;
  c.problem = problem;
  c.message = std::move(message);
  return c;
}

}  // namespace

std::string signature_path(const std::string& policy_path) { return policy_path + ".sig"; }

crypto::Result<Signer> load_signer(const std::string& public_key_path) {
  crypto::Result<std::string> pem = detail::read_regular_file(public_key_path, kMaxKeyFileSize);
  if (!pem.ok()) return crypto::make_error(pem.error().code, public_key_path + ": cannot read: " + pem.error().message);
  crypto::Result<crypto::Sm2PublicKey> key = crypto::Sm2PublicKey::from_pem(*pem);
  if (!key.ok()) return crypto::make_error(key.error().code, public_key_path + ": " + key.error().message);
  return Signer{public_key_path, std::move(key).value()};
}

std::string fingerprint(const crypto::Sm2PublicKey& key) { return crypto::to_hex(crypto::Sm3::digest(key.point())); }

SignatureCheck check_signature(const std::string& policy_path, crypto::ByteView policy_bytes,
                               std::span<const Signer> signers, std::string_view id) {
  const std::string sig_path = signature_path(policy_path);
  struct stat st;
  if (::stat(sig_path.c_str(), &st) != 0 && errno == ENOENT) {
    return refuse(SignatureProblem::missing, sig_path + ": missing signature file; " + policy_path + " is not signed");
  }
  crypto::Result<std::string> sig = detail::read_regular_file(sig_path, kMaxSignatureFileSize);
  if (!sig.ok()) {
    return refuse(SignatureProblem::unreadable, "cannot read the signature " + sig_path + ": " + sig.error().message);
  }
  const crypto::ByteView sig_bytes = crypto::as_bytes(*sig);
  if (!crypto::is_sm2_der_signature(sig_bytes)) {
    return refuse(SignatureProblem::malformed, sig_path + ": malformed signature (not a DER SM2 signature); " +
                                                   policy_path + " is not validly signed");
  }
  for (std::size_t i = 0; i < signers.size(); ++i) {
    if (crypto::sm2_verify(signers[i].key, policy_bytes, sig_bytes, id)) {
      SignatureCheck ok;
      ok.signer = i;
      return ok;
    }
  }
  return refuse(SignatureProblem::not_by_signers, sig_path + ": " + policy_path +
                                                      " is not signed by any of the given keys (" +
                                                      names_of(signers) + ", ID \"" + std::string(id) + "\")");
}

std::string_view to_string(SignatureProblem problem) {
  switch (problem) {
    case SignatureProblem::missing: return "unsigned";
    case SignatureProblem::unreadable: return "signature_unreadable";
    case SignatureProblem::malformed: return "signature_malformed";
    case SignatureProblem::not_by_signers: return "bad_signature";
  }
  return "bad_signature";
}

}  // namespace ferry::policy
