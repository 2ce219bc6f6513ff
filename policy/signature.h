// A policy's signature: POLICY.sig beside the policy, the DER SM2 signature
// (GM/T 0009 §7.3) over the exact bytes of the policy file, as `ferryctl
// policy sign` writes it. Under 三员分立 only a security officer's key
// (config `officers.secadmin`) may sign; ferryd checks this before it applies
// a policy and `ferryctl policy lint --signers` makes the same check before
// one is deployed.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "crypto/bytes.h"
#include "crypto/result.h"
#include "crypto/sm2.h"

namespace ferry::policy {

// A DER SM2 signature is at most 72 bytes; anything much larger is not one.
inline constexpr std::size_t kMaxSignatureFileSize = 4096;

std::string signature_path(const std::string& policy_path);

// A key that may sign, named by the file it was read from.
struct Signer {
  std::string name;
  crypto::Sm2PublicKey key;
};

// An SM2 public key (PEM) from a regular file; errors name the file.
crypto::Result<Signer> load_signer(const std::string& public_key_path);

// SM3 of the public point (04 || x || y), in hex, as `ferryctl keygen` prints it.
std::string fingerprint(const crypto::Sm2PublicKey& key);

enum class SignatureProblem {
  missing,         // no POLICY.sig: the policy is not signed
  unreadable,      // POLICY.sig exists but cannot be read
  malformed,       // not a DER SM2 signature
  not_by_signers,  // a signature, but not over these bytes by any of the keys
};

struct SignatureCheck {
  std::optional<std::size_t> signer;  // index of the key that signed, when valid
  SignatureProblem problem = SignatureProblem::missing;
  std::string message;  // otherwise: what is wrong, naming the files (and the keys tried)

  bool ok() const { return signer.has_value(); }
};

// Whether signature_path(policy_path) holds a signature over `policy_bytes`
// by one of `signers` with distinguishing ID `id`. `policy_bytes` must be
// the bytes that were parsed (PolicyLoad::text).
SignatureCheck check_signature(const std::string& policy_path, crypto::ByteView policy_bytes,
                               std::span<const Signer> signers, std::string_view id = crypto::kSm2DefaultId);

std::string_view to_string(SignatureProblem problem);

}  // namespace ferry::policy
