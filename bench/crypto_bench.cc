// ferry-bench: the throughput of ferry_crypto's primitives and of the link
// seal, each beside the same work written directly against OpenSSL's EVP API
// and measured in the same run, so that a ratio shows what our wrappers cost
// and not how fast this machine is.
//
// The seal must reach 0.9 of the bound its two passes allow, 1/(1/CTR + 1/HMAC)
// with the raw EVP figures: SM4-CTR and HMAC-SM3 each touch every byte once,
// so anything below that bound is overhead of ours. The program exits non-zero
// when it does not.

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/result_table.h"
#include "crypto/bytes.h"
#include "crypto/seal.h"
#include "crypto/sm2.h"
#include "crypto/sm2_curve.h"
#include "crypto/sm2_kx.h"
#include "crypto/sm3.h"
#include "crypto/sm4.h"
#include "tests/support/test_bytes.h"

namespace ferry::bench {
namespace {

using namespace ferry::crypto;

constexpr std::size_t kBufferSize = 16 * 1024;
constexpr std::size_t kHeaderSize = 32;
constexpr std::size_t kSm2MessageSize = 32;
constexpr int kRepetitions = 15;
constexpr double kMinTimeSeconds = 0.03;
constexpr double kSealRequiredRatio = 0.9;

// Names under which the benchmarks are registered; the table looks them up.
constexpr const char* kSm3Ours = "SM3/ours/Sm3::digest";
constexpr const char* kSm3Streaming = "SM3/ours/Sm3_update_finish";
constexpr const char* kSm3Raw = "SM3/raw/EVP_Digest";
constexpr const char* kHmacOurs = "HMAC-SM3/ours/HmacSm3";
constexpr const char* kHmacRaw = "HMAC-SM3/raw/EVP_MAC";
constexpr const char* kCtrOurs = "SM4-CTR/ours/Sm4Ctr";
constexpr const char* kCtrRaw = "SM4-CTR/raw/EVP_EncryptUpdate";
constexpr const char* kSealOurs = "Seal/ours/Sealer::seal_into";
constexpr const char* kOpenOurs = "Seal/ours/Opener::open_into";
constexpr const char* kSignOurs = "SM2-sign/ours/sm2_sign";
constexpr const char* kSignRaw = "SM2-sign/raw/EVP_DigestSign";
constexpr const char* kVerifyOurs = "SM2-verify/ours/sm2_verify";
constexpr const char* kVerifyRaw = "SM2-verify/raw/EVP_DigestVerify";
constexpr const char* kKxOurs = "SM2-kx/ours/Sm2KeyExchange";

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;
using MacCtx = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;
using Md = std::unique_ptr<EVP_MD, Deleter<EVP_MD_free>>;
using Cipher = std::unique_ptr<EVP_CIPHER, Deleter<EVP_CIPHER_free>>;
using Mac = std::unique_ptr<EVP_MAC, Deleter<EVP_MAC_free>>;

[[noreturn]] void die(const std::string& what) {
  std::cerr << "ferry-bench: " << what << '\n';
  std::exit(2);
}

void require(bool ok, const char* what) {
  if (!ok) die(what);
}

using ferry::test::random_array;
using ferry::test::random_bytes;

Sm2PrivateKey must(Result<Sm2PrivateKey> key, const char* what) {
  if (!key.ok()) die(std::string(what) + ": " + key.error().message);
  return std::move(key).value();
}

// Everything the benchmarks read, made once. Algorithms for the raw loops are
// fetched once, as ferry_crypto does (a fetch per operation would charge the
// baseline a provider lookup that ours does not pay).
struct Inputs {
  std::mt19937_64 rng{20240601};
  Bytes buffer = random_bytes(rng, kBufferSize);
  Bytes header = random_bytes(rng, kHeaderSize);
  Sm4Key sm4_key = random_array<kSm4KeySize>(rng);
  Sm4Block iv = random_array<kSm4BlockSize>(rng);
  Bytes mac_key = random_bytes(rng, kSm3DigestSize);
  SealKeys seal_keys = SealKeys::derive(random_bytes(rng, 32), "ferry bench");
  Bytes message = random_bytes(rng, kSm2MessageSize);
  Sm2PrivateKey signer = must(Sm2PrivateKey::generate(), "SM2 key generation");
  Sm2PublicKey signer_public = signer.public_key();
  Sm2PrivateKey peer = must(Sm2PrivateKey::generate(), "SM2 key generation");
  Md sm3{EVP_MD_fetch(nullptr, "SM3", nullptr)};
  Cipher sm4_ctr{EVP_CIPHER_fetch(nullptr, "SM4-CTR", nullptr)};
  Mac hmac{EVP_MAC_fetch(nullptr, "HMAC", nullptr)};
};

// ---------------------------------------------------------------- raw EVP

Sm3Digest raw_sm3(const Inputs& in) {
  Sm3Digest out;
  unsigned int len = 0;
  require(EVP_Digest(in.buffer.data(), in.buffer.size(), out.data(), &len, in.sm3.get(), nullptr) == 1, "EVP_Digest");
  return out;
}

MacCtx raw_hmac_ctx(const Inputs& in) {
  MacCtx ctx(EVP_MAC_CTX_new(in.hmac.get()));
  char digest[] = "SM3";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  require(ctx && EVP_MAC_init(ctx.get(), in.mac_key.data(), in.mac_key.size(), params) == 1, "EVP_MAC_init");
  return ctx;
}

// One message on a context whose key is set: update, final, re-arm the key.
Sm3Digest raw_hmac(EVP_MAC_CTX* ctx, ByteView data) {
  Sm3Digest out;
  std::size_t len = 0;
  require(EVP_MAC_update(ctx, data.data(), data.size()) == 1 && EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1 &&
              EVP_MAC_init(ctx, nullptr, 0, nullptr) == 1,
          "EVP_MAC");
  return out;
}

CipherCtx raw_ctr_ctx(const Inputs& in) {
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  require(ctx && EVP_EncryptInit_ex2(ctx.get(), in.sm4_ctr.get(), in.sm4_key.data(), in.iv.data(), nullptr) == 1,
          "EVP_EncryptInit_ex2");
  return ctx;
}

void raw_ctr(EVP_CIPHER_CTX* ctx, ByteView data, std::uint8_t* out) {
  int len = 0;
  require(EVP_EncryptUpdate(ctx, out, &len, data.data(), static_cast<int>(data.size())) == 1 &&
              static_cast<std::size_t>(len) == data.size(),
          "EVP_EncryptUpdate");
}

// The pattern of OpenSSL's SM2(7) page: the ID set on a PKEY_CTX handed to
// the MD_CTX before DigestSignInit (OpenSSL 3.0 otherwise uses an empty ID).
// pctx outlives mctx: EVP_MD_CTX_set_pkey_ctx does not transfer ownership.
struct DigestSignContext {
  PkeyCtx pctx;
  MdCtx mctx;
};

DigestSignContext raw_sm2_context(EVP_PKEY* pkey) {
  DigestSignContext c{PkeyCtx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr)), MdCtx(EVP_MD_CTX_new())};
  require(c.pctx && c.mctx && EVP_PKEY_CTX_set1_id(c.pctx.get(), kSm2DefaultId.data(), kSm2DefaultId.size()) == 1,
          "EVP_PKEY_CTX_set1_id");
  EVP_MD_CTX_set_pkey_ctx(c.mctx.get(), c.pctx.get());
  return c;
}

Bytes raw_sign(const Inputs& in) {
  DigestSignContext c = raw_sm2_context(in.signer.get());
  require(EVP_DigestSignInit_ex(c.mctx.get(), nullptr, "SM3", nullptr, nullptr, in.signer.get(), nullptr) == 1,
          "EVP_DigestSignInit_ex");
  Bytes sig(80);
  std::size_t len = sig.size();
  require(EVP_DigestSign(c.mctx.get(), sig.data(), &len, in.message.data(), in.message.size()) == 1, "EVP_DigestSign");
  sig.resize(len);
  return sig;
}

bool raw_verify(const Inputs& in, ByteView sig) {
  DigestSignContext c = raw_sm2_context(in.signer_public.get());
  require(EVP_DigestVerifyInit_ex(c.mctx.get(), nullptr, "SM3", nullptr, nullptr, in.signer_public.get(), nullptr) == 1,
          "EVP_DigestVerifyInit_ex");
  return EVP_DigestVerify(c.mctx.get(), sig.data(), sig.size(), in.message.data(), in.message.size()) == 1;
}

// ---------------------------------------------------------------- ours

struct KxParties {
  SecretBytes a_scalar, b_scalar;
  Bytes a_point, b_point;
};

KxParties kx_parties(const Inputs& in) {
  return {in.signer.scalar(), in.peer.scalar(), in.signer.public_key().point(), in.peer.public_key().point()};
}

// Both sides of one GM/T 0003.3 exchange, start and finish; false if the two
// keys or confirmation values disagree.
bool full_key_exchange(const KxParties& p) {
  const Sm2Curve& curve = Sm2Curve::recommended();
  Result<Sm2KeyExchange> a = Sm2KeyExchange::start(
      curve, {Sm2KxRole::initiator, p.a_scalar.view(), "ALICE123@YAHOO.COM", p.b_point, "BILL456@YAHOO.COM", 16});
  Result<Sm2KeyExchange> b = Sm2KeyExchange::start(
      curve, {Sm2KxRole::responder, p.b_scalar.view(), "BILL456@YAHOO.COM", p.a_point, "ALICE123@YAHOO.COM", 16});
  if (!a.ok() || !b.ok()) return false;
  Result<Sm2KxResult> ka = a->finish(b->ephemeral_point());
  Result<Sm2KxResult> kb = b->finish(a->ephemeral_point());
  if (!ka.ok() || !kb.ok()) return false;
  benchmark::DoNotOptimize(ka->key.data());
  return equal_constant_time(ka->key.view(), kb->key.view()) &&
         sm2_kx_confirm(ka->responder_confirmation, kb->responder_confirmation) &&
         sm2_kx_confirm(kb->initiator_confirmation, ka->initiator_confirmation);
}

// Before anything is timed: each baseline must do the same work as ours,
// or its ratio means nothing.
void check_baselines_match(const Inputs& in) {
  require(Sm3::digest(in.buffer) == raw_sm3(in), "Sm3::digest differs from EVP_Digest");
  MacCtx mac = raw_hmac_ctx(in);
  require(HmacSm3::mac(in.mac_key, in.buffer) == raw_hmac(mac.get(), in.buffer), "HmacSm3 differs from EVP_MAC");
  Bytes ours(kBufferSize), raw(kBufferSize);
  Sm4Ctr ctr(in.sm4_key, in.iv);
  ctr.apply(in.buffer, ours);
  raw_ctr(raw_ctr_ctx(in).get(), in.buffer, raw.data());
  require(ours == raw, "Sm4Ctr differs from EVP_EncryptUpdate");
  Result<Bytes> our_sig = sm2_sign(in.signer, in.message);
  require(our_sig.ok() && raw_verify(in, *our_sig), "EVP_DigestVerify rejects sm2_sign's signature");
  require(sm2_verify(in.signer_public, in.message, raw_sign(in)), "sm2_verify rejects EVP_DigestSign's signature");
  require(full_key_exchange(kx_parties(in)), "SM2 key exchange: the two sides disagree");
}

// ---------------------------------------------------------------- benchmarks

// Short runs with repetitions, so that the whole program stays well under a
// minute and the table can take the best of several. These per-benchmark
// settings take precedence over --benchmark_min_time / --benchmark_repetitions.
template <class Fn>
void add(const char* name, Fn&& fn) {
  benchmark::RegisterBenchmark(name, std::forward<Fn>(fn))->MinTime(kMinTimeSeconds)->Repetitions(kRepetitions);
}

void register_benchmarks(const Inputs& in) {
  const auto bytes = [](benchmark::State& state, std::size_t per_iteration) {
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(per_iteration));
  };
  const auto items = [](benchmark::State& state) { state.SetItemsProcessed(state.iterations()); };

  add(kSm3Ours, [&in, bytes](benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(Sm3::digest(in.buffer));
    bytes(state, kBufferSize);
  });
  add(kSm3Streaming, [&in, bytes](benchmark::State& state) {
    Sm3 sm3;
    for (auto _ : state) {
      sm3.update(in.buffer);
      benchmark::DoNotOptimize(sm3.finish());
    }
    bytes(state, kBufferSize);
  });
  add(kSm3Raw, [&in, bytes](benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(raw_sm3(in));
    bytes(state, kBufferSize);
  });

  add(kHmacOurs, [&in, bytes](benchmark::State& state) {
    HmacSm3 mac(in.mac_key);
    for (auto _ : state) {
      mac.update(in.buffer);
      benchmark::DoNotOptimize(mac.finish());
    }
    bytes(state, kBufferSize);
  });
  add(kHmacRaw, [&in, bytes](benchmark::State& state) {
    MacCtx ctx = raw_hmac_ctx(in);
    for (auto _ : state) benchmark::DoNotOptimize(raw_hmac(ctx.get(), in.buffer));
    bytes(state, kBufferSize);
  });

  add(kCtrOurs, [&in, bytes](benchmark::State& state) {
    Sm4Ctr ctr(in.sm4_key, in.iv);
    Bytes out(kBufferSize);
    for (auto _ : state) {
      ctr.reset(in.iv);
      ctr.apply(in.buffer, out);
      benchmark::DoNotOptimize(out.data());
      benchmark::ClobberMemory();
    }
    bytes(state, kBufferSize);
  });
  add(kCtrRaw, [&in, bytes](benchmark::State& state) {
    CipherCtx ctx = raw_ctr_ctx(in);
    Bytes out(kBufferSize);
    for (auto _ : state) {
      raw_ctr(ctx.get(), in.buffer, out.data());
      benchmark::DoNotOptimize(out.data());
      benchmark::ClobberMemory();
    }
    bytes(state, kBufferSize);
  });

  // Throughput of the seal counts plaintext bytes: what the link delivers.
  add(kSealOurs, [&in, bytes](benchmark::State& state) {
    Sealer sealer(in.seal_keys, 1);
    Bytes box(kBufferSize + kSealOverhead);
    for (auto _ : state) {
      if (Status s = sealer.seal_into(in.header, in.buffer, box); !s.ok()) {
        state.SkipWithError(s.error().message.c_str());
        break;
      }
      benchmark::DoNotOptimize(box.data());
      benchmark::ClobberMemory();
    }
    bytes(state, kBufferSize);
  });
  add(kOpenOurs, [&in, bytes](benchmark::State& state) {
    Sealer sealer(in.seal_keys, 1);
    Result<Bytes> box = sealer.seal(in.header, in.buffer);
    if (!box.ok()) {
      state.SkipWithError(box.error().message.c_str());
      return;
    }
    Opener opener(in.seal_keys);
    Bytes out(kBufferSize);
    for (auto _ : state) {
      if (Status s = opener.open_into(in.header, *box, out); !s.ok()) {
        state.SkipWithError(s.error().message.c_str());
        break;
      }
      benchmark::DoNotOptimize(out.data());
      benchmark::ClobberMemory();
    }
    bytes(state, kBufferSize);
  });

  add(kSignOurs, [&in, items](benchmark::State& state) {
    for (auto _ : state) {
      Result<Bytes> sig = sm2_sign(in.signer, in.message);
      if (!sig.ok()) {
        state.SkipWithError(sig.error().message.c_str());
        break;
      }
      benchmark::DoNotOptimize(sig->data());
    }
    items(state);
  });
  add(kSignRaw, [&in, items](benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(raw_sign(in));
    items(state);
  });
  add(kVerifyOurs, [&in, items](benchmark::State& state) {
    Result<Bytes> sig = sm2_sign(in.signer, in.message);
    if (!sig.ok()) {
      state.SkipWithError(sig.error().message.c_str());
      return;
    }
    for (auto _ : state) {
      if (!sm2_verify(in.signer_public, in.message, *sig)) {
        state.SkipWithError("sm2_verify rejected a good signature");
        break;
      }
    }
    items(state);
  });
  add(kVerifyRaw, [&in, items](benchmark::State& state) {
    const Bytes sig = raw_sign(in);
    for (auto _ : state) {
      if (!raw_verify(in, sig)) {
        state.SkipWithError("EVP_DigestVerify rejected a good signature");
        break;
      }
    }
    items(state);
  });
  add(kKxOurs, [&in, items](benchmark::State& state) {
    const KxParties parties = kx_parties(in);
    for (auto _ : state) {
      if (!full_key_exchange(parties)) {
        state.SkipWithError("SM2 key exchange failed");
        break;
      }
    }
    items(state);
  });
}

std::vector<TableRow> table_rows(const CollectingReporter& r) {
  constexpr auto mbps = Unit::megabytes_per_second;
  constexpr auto ops = Unit::operations_per_second;
  auto bps = [&r](const char* name) { return r.rate(name, "bytes_per_second"); };
  auto ips = [&r](const char* name) { return r.rate(name, "items_per_second"); };

  std::optional<double> bound;
  if (auto ctr = bps(kCtrRaw), mac = bps(kHmacRaw); ctr && mac && *ctr > 0 && *mac > 0) {
    bound = 1.0 / (1.0 / *ctr + 1.0 / *mac);
  }
  const std::string bound_name = "1/(1/CTR_raw + 1/HMAC_raw)";
  return {
      {"SM3 16 KiB", "Sm3::digest", bps(kSm3Ours), "EVP_Digest loop", bps(kSm3Raw), mbps, {}, {}},
      {"SM3 16 KiB", "Sm3 update+finish, reused", bps(kSm3Streaming), "EVP_Digest loop", bps(kSm3Raw), mbps, {}, {}},
      {"HMAC-SM3 16 KiB", "HmacSm3, reused", bps(kHmacOurs), "EVP_MAC loop, key set once", bps(kHmacRaw), mbps, {}, {}},
      {"SM4-CTR 16 KiB",
       "Sm4Ctr reset+apply",
       bps(kCtrOurs),
       "EVP_EncryptUpdate, fixed ctx",
       bps(kCtrRaw),
       mbps,
       {},
       {}},
      {"Seal 16 KiB, header 32", "Sealer::seal_into", bps(kSealOurs), bound_name, bound, mbps, kSealRequiredRatio, {}},
      {"Open 16 KiB, header 32", "Opener::open_into", bps(kOpenOurs), bound_name, bound, mbps, {}, {}},
      {"SM2 sign 32 B, default ID", "sm2_sign", ips(kSignOurs), "EVP_DigestSign + set1_id", ips(kSignRaw), ops, {}, {}},
      {"SM2 verify 32 B, default ID",
       "sm2_verify",
       ips(kVerifyOurs),
       "EVP_DigestVerify + set1_id",
       ips(kVerifyRaw),
       ops,
       {},
       {}},
      {"SM2 key exchange, both sides",
       "start+finish x2",
       ips(kKxOurs),
       "",
       {},
       ops,
       {},
       "no baseline: OpenSSL 3.0 has no GM/T 0003.3"},
  };
}

}  // namespace
}  // namespace ferry::bench

int main(int argc, char** argv) {
  using namespace ferry::bench;
  // Repetitions of all benchmarks run in random order, so that a slow spell
  // of a shared machine lands on ours and the baselines alike instead of on
  // whichever ran at that moment. A later flag on the command line wins.
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  std::vector<char*> args(argv, argv + argc);
  args.insert(args.begin() + 1, interleave.data());
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 2;

  const Inputs inputs;
  check_baselines_match(inputs);
  register_benchmarks(inputs);

  // Google Benchmark applies --benchmark_color only to its own default
  // reporter; colour here follows the terminal, so `make bench > file` stays plain.
  CollectingReporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                    : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  char header[256];
  std::snprintf(header, sizeof header,
                "ferry-bench: %u cores (std::thread::hardware_concurrency), %s; best of %d interleaved "
                "repetitions of >= %.2f s each, CPU time",
                std::thread::hardware_concurrency(), OpenSSL_version(OPENSSL_VERSION), kRepetitions, kMinTimeSeconds);
  const bool pass = print_table(std::cout, header, table_rows(reporter));
  return pass ? 0 : 1;
}
