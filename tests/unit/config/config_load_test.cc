// The config loader: the reference outer.yaml and inner.yaml load unchanged
// (in a temp dir where the test creates the keys they name), their bindings
// suit the reference policy, and each mistake is one precise diagnostic.
#include "ferry/config/config.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/sm2.h"
#include "ferry/fs/durable_file.h"

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace ferry::config;
using ferry::crypto::as_bytes;
using ferry::policy::Diagnostic;
namespace stdfs = std::filesystem;

const std::string kReferenceDir = FERRY_REFERENCE_DIR;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// 1-based line and column of the first `needle` in `text`, so that expected
// positions follow the reference files rather than being counted by hand.
Position position_of(const std::string& text, const std::string& needle) {
  const std::size_t at = text.find(needle);
  if (at == std::string::npos) return {-1, -1};
  Position p{1, 1};
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

std::string at(const Position& p) { return std::to_string(p.line) + ":" + std::to_string(p.column); }
std::string at(const Diagnostic& d) { return std::to_string(d.line) + ":" + std::to_string(d.column); }

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t i = text.find(from);
  if (i == std::string::npos) throw std::invalid_argument("test edit does not apply: " + from);
  return text.replace(i, from.size(), to);
}

// Writes a private key PEM of another algorithm, as `openssl genpkey` would.
void write_foreign_key(const std::string& path, const char* type, const char* param) {
  EVP_PKEY* pkey = param == nullptr ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, static_cast<size_t>(2048))
                                    : EVP_PKEY_Q_keygen(nullptr, nullptr, type, param);
  ASSERT_NE(pkey, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  ASSERT_TRUE(ferry::fs::write_new_file(path, as_bytes(std::string_view(data, static_cast<std::size_t>(len))), 0600).ok());
  BIO_free(bio);
  EVP_PKEY_free(pkey);
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (stdfs::temp_directory_path() / "ferry-config-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    for (const char* f : {"outer.yaml", "inner.yaml", "policy.yaml"}) {
      stdfs::copy_file(kReferenceDir + "/" + f, dir_ + "/" + f);
    }
    stdfs::create_directories(dir_ + "/keys");
    stdfs::create_directories(dir_ + "/var");  // where link.path's socket goes
    for (const char* name : {"outer", "inner", "sysadmin", "secadmin", "secadmin2", "auditor"}) {
      make_key_pair(name);
    }
    outer_ = slurp(dir_ + "/outer.yaml");
    inner_ = slurp(dir_ + "/inner.yaml");
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  void make_key_pair(const std::string& name) {
    auto key = ferry::crypto::Sm2PrivateKey::generate();
    ASSERT_TRUE(key.ok());
    ASSERT_TRUE(ferry::fs::write_new_file(dir_ + "/keys/" + name + ".key", key->to_pem().view(), 0600).ok());
    ASSERT_TRUE(ferry::fs::write_new_file(dir_ + "/keys/" + name + ".pub", as_bytes(key->public_key().to_pem()), 0644).ok());
  }

  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    return path;
  }

  ConfigLoad load(const std::string& text) { return load_config_file(write("side.yaml", text)); }

  Diagnostic only_error(const std::string& text) {
    ConfigLoad r = load(text);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.errors.size(), 1u) << ferry::policy::to_string(r.errors);
    return r.errors.empty() ? Diagnostic{} : r.errors[0];
  }

  ferry::policy::Policy reference_policy() {
    ferry::policy::PolicyLoad p = ferry::policy::load_policy_file(dir_ + "/policy.yaml");
    EXPECT_TRUE(p.ok()) << ferry::policy::to_string(p.errors);
    return p.ok() ? *p.policy : ferry::policy::Policy{};
  }

  std::string dir_;
  std::string outer_;
  std::string inner_;
};

// --- the references -----------------------------------------------------------

TEST_F(ConfigTest, ReferenceOuterLoadsUnchanged) {
  ConfigLoad r = load_config_file(dir_ + "/outer.yaml");
  ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
  const Config& c = *r.config;
  EXPECT_EQ(c.source, dir_ + "/outer.yaml");
  EXPECT_EQ(c.side, Side::outer);
  EXPECT_EQ(c.policy, dir_ + "/policy.yaml");
  ASSERT_TRUE(c.officers);
  EXPECT_THAT(c.officers->sysadmin, ElementsAre(dir_ + "/keys/sysadmin.pub"));
  EXPECT_THAT(c.officers->secadmin, ElementsAre(dir_ + "/keys/secadmin.pub", dir_ + "/keys/secadmin2.pub"));
  EXPECT_THAT(c.officers->auditor, ElementsAre(dir_ + "/keys/auditor.pub"));
  EXPECT_EQ(c.spool.dir, dir_ + "/var/outer/spool");
  EXPECT_EQ(c.spool.min_free, 64u << 20);
  EXPECT_EQ(c.identity.key, dir_ + "/keys/outer.key");
  EXPECT_EQ(c.identity.peer, dir_ + "/keys/inner.pub");
  EXPECT_EQ(c.link.transport, LinkTransport::unix_socket);
  EXPECT_EQ(c.link.path, dir_ + "/var/link.sock");
  EXPECT_EQ(c.link.max_frame, 65536u);
  EXPECT_EQ(c.link.rekey_bytes, 1u << 30);
  EXPECT_EQ(c.link.rekey_interval, std::chrono::seconds(3600));
  EXPECT_EQ(c.link.keepalive_interval, std::chrono::seconds(5));
  EXPECT_TRUE(c.link_transport_available());

  ASSERT_EQ(c.channels.size(), 4u);
  const Binding* docs = c.find("docs-in");
  ASSERT_NE(docs, nullptr);
  EXPECT_EQ(docs->role, BindingRole::source);
  EXPECT_EQ(docs->target, dir_ + "/inbox/docs-in");
  EXPECT_EQ(at(docs->position), at(position_of(outer_, "docs-in:")));
  EXPECT_EQ(at(docs->role_position), at(position_of(outer_, "source:")));
  EXPECT_EQ(c.find("release-out")->role, BindingRole::deliver);
  EXPECT_EQ(c.find("release-out")->target, dir_ + "/outbox/release-out");
  const Binding* mobile = c.find("mobile-office");
  EXPECT_EQ(mobile->role, BindingRole::listen);
  EXPECT_EQ(mobile->target, "127.0.0.1:8443");
  ASSERT_TRUE(mobile->tls);
  EXPECT_EQ(mobile->tls->cert, dir_ + "/keys/gateway.crt");
  EXPECT_EQ(mobile->tls->key, dir_ + "/keys/gateway.key");
  EXPECT_EQ(mobile->tls->client_ca, dir_ + "/keys/clients-ca.crt");
  EXPECT_EQ(c.find("nope"), nullptr);

  ASSERT_TRUE(c.antivirus);
  EXPECT_EQ(c.antivirus->database, dir_ + "/avdb");
  EXPECT_EQ(c.antivirus->max_age, std::chrono::days(30));
  EXPECT_EQ(c.worker.user, "nobody");  // no worker: section, the defaults
  EXPECT_EQ(c.worker.max_use, 200u);
  EXPECT_EQ(c.audit.dir, dir_ + "/var/outer/audit");
  EXPECT_EQ(c.audit.retention, std::chrono::days(180));
  EXPECT_EQ(c.audit.on_full, AuditOnFull::block);
  EXPECT_FALSE(c.audit.syslog);
  ASSERT_TRUE(c.metrics);
  EXPECT_EQ(c.metrics->listen, "127.0.0.1:9750");
  EXPECT_EQ(c.ingest.settle, std::chrono::milliseconds(1000));
  EXPECT_EQ(c.ingest.rescan_interval, std::chrono::seconds(10));

  EXPECT_EQ(c.audit.segment_size, std::uint64_t{64} << 20);
  EXPECT_FALSE(c.audit.max_size);
  EXPECT_EQ(c.audit.warn_at_percent, 80u);
  EXPECT_EQ(c.audit.checkpoint_records, 1000u);
  EXPECT_THAT(c.inactive_features(),
              ElementsAre("channel mobile-office (listen 127.0.0.1:8443, tls): parsed; request and message channels "
                          "arrive later"));
}

TEST_F(ConfigTest, ReferenceInnerLoadsUnchanged) {
  ConfigLoad r = load_config_file(dir_ + "/inner.yaml");
  ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
  const Config& c = *r.config;
  EXPECT_EQ(c.side, Side::inner);
  EXPECT_EQ(c.identity.key, dir_ + "/keys/inner.key");
  EXPECT_EQ(c.identity.peer, dir_ + "/keys/outer.pub");
  EXPECT_EQ(c.spool.dir, dir_ + "/var/inner/spool");
  EXPECT_EQ(c.find("docs-in")->role, BindingRole::deliver);
  EXPECT_EQ(c.find("docs-in")->target, dir_ + "/outbox/docs-in");
  EXPECT_EQ(c.find("release-out")->role, BindingRole::source);
  EXPECT_EQ(c.find("open-data-out")->role, BindingRole::source);
  EXPECT_EQ(c.find("mobile-office")->role, BindingRole::upstream);
  EXPECT_EQ(c.find("mobile-office")->target, "http://127.0.0.1:8080");
  EXPECT_FALSE(c.find("mobile-office")->tls);
  EXPECT_EQ(c.metrics->listen, "127.0.0.1:9751");
}

TEST_F(ConfigTest, ReferenceBindingsSuitTheReferencePolicyOnBothSides) {
  const ferry::policy::Policy policy = reference_policy();
  for (const char* side : {"outer.yaml", "inner.yaml"}) {
    ConfigLoad r = load_config_file(dir_ + "/" + side);
    ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
    EXPECT_TRUE(check_bindings(*r.config, policy).empty())
        << side << "\n" << ferry::policy::to_string(check_bindings(*r.config, policy));
  }
}

TEST_F(ConfigTest, SideRolesFollowTheDirection) {
  EXPECT_EQ(sending_side(ferry::policy::Direction::inbound), Side::outer);
  EXPECT_EQ(sending_side(ferry::policy::Direction::outbound), Side::inner);
}

// --- one mistake, one diagnostic ------------------------------------------------

TEST_F(ConfigTest, UnknownKey) {
  const std::string text = replaced(outer_, "metrics:", "colour: blue\nmetrics:");
  Diagnostic d = only_error(text);
  EXPECT_EQ(d.file, dir_ + "/side.yaml");
  EXPECT_EQ(at(d), at(position_of(text, "colour")));
  EXPECT_EQ(d.key, "colour");
  EXPECT_EQ(d.message, "unknown key \"colour\"");
  EXPECT_THAT(d.hint, HasSubstr("schema, side, policy, officers, spool, identity, link, channels"));

  const std::string nested = replaced(outer_, "  transport: unix", "  transprot: unix");
  ConfigLoad r = load(nested);
  ASSERT_EQ(r.errors.size(), 2u) << ferry::policy::to_string(r.errors);  // unknown, and transport missing
  EXPECT_EQ(r.errors[0].key, "link.transprot");
  EXPECT_EQ(at(r.errors[0]), at(position_of(nested, "transprot")));
  EXPECT_THAT(r.errors[0].hint, StartsWith("did you mean 'transport'?"));
  EXPECT_EQ(r.errors[1].key, "link.transport");
  EXPECT_EQ(r.errors[1].message, "missing required key 'transport'");
}

TEST_F(ConfigTest, TheWorkerAndAntivirusSettings) {
  const std::string text = replaced(
      replaced(outer_, "antivirus: { database: avdb }", "antivirus: { database: avdb, max_age_days: 7 }"), "metrics:",
      "worker: { user: ferry-worker, memory: 512MiB, timeout_floor_seconds: 5, timeout_per_mib_ms: 500,\n"
      "          timeout_ceiling_seconds: 120, max_use: 50 }\nmetrics:");
  ConfigLoad r = load(text);
  ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
  EXPECT_EQ(r.config->antivirus->max_age, std::chrono::days(7));
  EXPECT_EQ(r.config->worker.user, "ferry-worker");
  EXPECT_EQ(r.config->worker.memory, std::uint64_t{512} << 20);
  EXPECT_EQ(r.config->worker.timeout_floor, std::chrono::seconds(5));
  EXPECT_EQ(r.config->worker.timeout_per_mib, std::chrono::milliseconds(500));
  EXPECT_EQ(r.config->worker.timeout_ceiling, std::chrono::seconds(120));
  EXPECT_EQ(r.config->worker.max_use, 50u);
  EXPECT_TRUE(r.config->worker.program.empty());  // beside ferryd

  Diagnostic d = only_error(replaced(outer_, "metrics:", "worker: { program: no-such-worker }\nmetrics:"));
  EXPECT_EQ(d.key, "worker.program");
  EXPECT_THAT(d.message, HasSubstr("is not an executable file"));
  d = only_error(replaced(outer_, "metrics:", "worker: { memory: 1MiB }\nmetrics:"));
  EXPECT_EQ(d.key, "worker.memory");
  d = only_error(replaced(outer_, "metrics:", "worker: { timeout_floor_seconds: 60, timeout_ceiling_seconds: 10 }\nmetrics:"));
  EXPECT_THAT(d.message, HasSubstr("below timeout_floor_seconds"));
}

TEST_F(ConfigTest, WrongType) {
  const std::string text = replaced(outer_, "retention_days: 180", "retention_days: forever");
  Diagnostic d = only_error(text);
  EXPECT_EQ(d.key, "audit.retention_days");
  EXPECT_EQ(at(d), at(position_of(text, "forever")));
  EXPECT_EQ(d.message, "expected a whole number, got \"forever\"");

  const std::string list = replaced(outer_, "auditor:  [keys/auditor.pub]", "auditor:  keys/auditor.pub");
  d = only_error(list);
  EXPECT_EQ(d.key, "officers.auditor");
  EXPECT_EQ(d.message, "expected a list, got \"keys/auditor.pub\"");
}

TEST_F(ConfigTest, SchemaMismatch) {
  const std::string text = replaced(outer_, "schema: ferry-config/1", "schema: ferry-config/2");
  Diagnostic d = only_error(text);
  EXPECT_EQ(d.key, "schema");
  EXPECT_EQ(at(d), at(position_of(text, "ferry-config/2")));
  EXPECT_EQ(d.message, "unsupported schema \"ferry-config/2\"");

  d = only_error(replaced(outer_, "schema: ferry-config/1", "schema: ferry-policy/1"));
  EXPECT_THAT(d.hint, HasSubstr("this is a policy"));
}

TEST_F(ConfigTest, MissingKeyFile) {
  stdfs::remove(dir_ + "/keys/outer.key");
  Diagnostic d = only_error(outer_);
  EXPECT_EQ(d.key, "identity.key");
  EXPECT_EQ(at(d), at(position_of(outer_, "keys/outer.key")));
  EXPECT_EQ(d.message, "cannot read " + dir_ + "/keys/outer.key: No such file or directory");
  EXPECT_EQ(d.hint, "create the key pair with: ferryctl keygen --out PREFIX");
}

TEST_F(ConfigTest, PrivateKeyReadableByOthers) {
  ASSERT_EQ(::chmod((dir_ + "/keys/outer.key").c_str(), 0644), 0);
  Diagnostic d = only_error(outer_);
  EXPECT_EQ(d.key, "identity.key");
  EXPECT_EQ(d.message, dir_ + "/keys/outer.key has mode 0644; a private key must not be accessible by group or others");
  EXPECT_EQ(d.hint, "chmod 600 " + dir_ + "/keys/outer.key");

  ASSERT_EQ(::chmod((dir_ + "/keys/outer.key").c_str(), 0640), 0);
  EXPECT_THAT(only_error(outer_).message, HasSubstr("has mode 0640"));
  ASSERT_EQ(::chmod((dir_ + "/keys/outer.key").c_str(), 0400), 0);
  EXPECT_TRUE(load(outer_).ok());
}

TEST_F(ConfigTest, RsaOrP256KeyAsIdentity) {
  stdfs::remove(dir_ + "/keys/outer.key");
  write_foreign_key(dir_ + "/keys/outer.key", "RSA", nullptr);
  Diagnostic d = only_error(outer_);
  EXPECT_EQ(d.key, "identity.key");
  EXPECT_EQ(at(d), at(position_of(outer_, "keys/outer.key")));
  EXPECT_EQ(d.message, dir_ + "/keys/outer.key: expected an SM2 key (curve sm2p256v1), got an RSA key");

  stdfs::remove(dir_ + "/keys/outer.key");
  write_foreign_key(dir_ + "/keys/outer.key", "EC", "P-256");
  d = only_error(outer_);
  EXPECT_EQ(d.message, dir_ + "/keys/outer.key: expected an SM2 key (curve sm2p256v1), got an EC key on curve prime256v1");
}

TEST_F(ConfigTest, PublicKeyAsIdentityKey) {
  const std::string text = replaced(outer_, "key: keys/outer.key", "key: keys/outer.pub");
  Diagnostic d = only_error(text);
  EXPECT_EQ(d.key, "identity.key");
  EXPECT_EQ(at(d), at(position_of(text, "keys/outer.pub")));
  EXPECT_EQ(d.message, dir_ + "/keys/outer.pub is a public key; identity.key needs this side's private key");
}

TEST_F(ConfigTest, PeerAndOfficerKeysMustBeSm2PublicKeys) {
  std::string text = replaced(outer_, "peer: keys/inner.pub", "peer: keys/inner.key");
  Diagnostic d = only_error(text);
  EXPECT_EQ(d.key, "identity.peer");
  EXPECT_EQ(d.message, dir_ + "/keys/inner.key: this is a private key; a public key (BEGIN PUBLIC KEY) is needed");
  EXPECT_THAT(d.hint, HasSubstr("copy only the .pub file"));

  write("keys/junk.pub", "not a key\n");
  text = replaced(outer_, "[keys/secadmin.pub, keys/secadmin2.pub]", "[keys/secadmin.pub, keys/junk.pub]");
  d = only_error(text);
  EXPECT_EQ(d.key, "officers.secadmin[1]");
  EXPECT_EQ(at(d), at(position_of(text, "keys/junk.pub")));
  EXPECT_THAT(d.message, HasSubstr("not a PEM public key"));

  stdfs::remove(dir_ + "/keys/auditor.pub");
  d = only_error(outer_);
  EXPECT_EQ(d.key, "officers.auditor[0]");
  EXPECT_THAT(d.message, HasSubstr("No such file or directory"));
}

TEST_F(ConfigTest, OneKeyServesOneRole) {
  const std::string text = replaced(outer_, "auditor:  [keys/auditor.pub]", "auditor:  [keys/secadmin2.pub]");
  Diagnostic d = only_error(text);
  EXPECT_EQ(d.key, "officers.auditor[0]");
  EXPECT_EQ(d.message, "the same key serves two roles, secadmin and auditor");

  d = only_error(replaced(outer_, "peer: keys/inner.pub", "peer: keys/outer.pub"));
  EXPECT_EQ(d.key, "identity.peer");
  EXPECT_EQ(d.message, "identity.peer is this side's own public key");

  d = only_error(replaced(outer_, "auditor:  [keys/auditor.pub]", "auditor:  [keys/inner.pub]"));
  EXPECT_EQ(d.key, "officers.auditor[0]");
  EXPECT_EQ(d.message, "this officer key is the other side's identity key");
}

TEST_F(ConfigTest, PolicyFileAndSocketDirectoryMustExist) {
  stdfs::remove(dir_ + "/policy.yaml");
  Diagnostic d = only_error(outer_);
  EXPECT_EQ(d.key, "policy");
  EXPECT_EQ(at(d), at(position_of(outer_, "policy.yaml")));
  EXPECT_EQ(d.message, "policy file " + dir_ + "/policy.yaml: No such file or directory");
  stdfs::copy_file(kReferenceDir + "/policy.yaml", dir_ + "/policy.yaml");

  stdfs::remove(dir_ + "/var");
  d = only_error(outer_);
  EXPECT_EQ(d.key, "link.path");
  EXPECT_EQ(at(d), at(position_of(outer_, "var/link.sock")));
  EXPECT_EQ(d.message, "the socket's directory " + dir_ + "/var does not exist");
}

TEST_F(ConfigTest, SocketPathMustFitASocketAddress) {
  const std::string text = replaced(outer_, "path: var/link.sock", "path: /" + std::string(120, 's') + "/link.sock");
  Diagnostic d = only_error(text);
  EXPECT_EQ(d.key, "link.path");
  EXPECT_THAT(d.message, HasSubstr("is longer than 107 bytes"));
}

TEST_F(ConfigTest, DeliverBindingOnTheWrongSide) {
  const std::string text = replaced(outer_, "docs-in:       { source: inbox/docs-in }",
                                    "docs-in:       { deliver: inbox/docs-in }");
  ConfigLoad r = load(text);
  ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
  std::vector<Diagnostic> errors = check_bindings(*r.config, reference_policy());
  ASSERT_EQ(errors.size(), 1u) << ferry::policy::to_string(errors);
  const Diagnostic& d = errors[0];
  EXPECT_EQ(d.file, dir_ + "/side.yaml");
  EXPECT_EQ(at(d), at(position_of(text, "deliver: inbox")));
  EXPECT_EQ(d.key, "channels.docs-in.deliver");
  EXPECT_EQ(d.message, "`deliver` for file channel docs-in on the outer side, but the channel is inbound (outer -> inner)");
  EXPECT_EQ(d.hint, "on the outer side bind `source`; `deliver` belongs on the inner side");
}

TEST_F(ConfigTest, RequestBindingOnTheWrongSide) {
  const std::string text =
      replaced(inner_, "mobile-office: { upstream: \"http://127.0.0.1:8080\" }", "mobile-office: { listen: \"127.0.0.1:8443\" }");
  ConfigLoad r = load(text);
  ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
  std::vector<Diagnostic> errors = check_bindings(*r.config, reference_policy());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "channels.mobile-office.listen");
  EXPECT_EQ(errors[0].hint, "on the inner side bind `upstream`; `listen` belongs on the outer side");
}

TEST_F(ConfigTest, UnknownChannel) {
  const std::string text = replaced(outer_, "  mobile-office:\n", "  ghost-in:      { source: inbox/ghost }\n  mobile-office:\n");
  ConfigLoad r = load(text);
  ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
  std::vector<Diagnostic> errors = check_bindings(*r.config, reference_policy());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(at(errors[0]), at(position_of(text, "ghost-in")));
  EXPECT_EQ(errors[0].key, "channels.ghost-in");
  EXPECT_EQ(errors[0].message, "channel ghost-in is not in the policy (" + dir_ + "/policy.yaml)");
  EXPECT_EQ(errors[0].hint, "the policy's channels: docs-in, release-out, open-data-out, mobile-office");
}

TEST_F(ConfigTest, PolicyChannelsWithoutBindingAreFine) {
  const std::string text = replaced(outer_, "  release-out:   { deliver: outbox/release-out }\n", "");
  ConfigLoad r = load(text);
  ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
  EXPECT_TRUE(check_bindings(*r.config, reference_policy()).empty());
}

// --- the other keys -----------------------------------------------------------------

TEST_F(ConfigTest, SpoolAsMappingWithWatermark) {
  ConfigLoad r = load(replaced(outer_, "spool: var/outer/spool", "spool: { dir: /srv/ferry/spool, min_free: 2GiB }"));
  ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
  EXPECT_EQ(r.config->spool.dir, "/srv/ferry/spool");
  EXPECT_EQ(r.config->spool.min_free, 2ull << 30);

  Diagnostic d = only_error(replaced(outer_, "spool: var/outer/spool", "spool: { dir: s, min_free: 2GB }"));
  EXPECT_EQ(d.key, "spool.min_free");
  d = only_error(replaced(outer_, "spool: var/outer/spool", "spool: [a]"));
  EXPECT_EQ(d.key, "spool");
  EXPECT_EQ(d.message, "expected a directory or { dir: PATH, min_free: SIZE }, got a list");
}

TEST_F(ConfigTest, LinkOptionsDefaultsAndRanges) {
  auto link_with = [&](const std::string& lines) { return replaced(outer_, "link:\n", "link:\n" + lines); };
  ConfigLoad r = load(link_with("  max_frame: 1MiB\n  rekey_bytes: 64MiB\n  rekey_seconds: 600\n  keepalive_seconds: 2\n"));
  ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
  EXPECT_EQ(r.config->link.max_frame, 1u << 20);
  EXPECT_EQ(r.config->link.rekey_bytes, 64u << 20);
  EXPECT_EQ(r.config->link.rekey_interval, std::chrono::seconds(600));
  EXPECT_EQ(r.config->link.keepalive_interval, std::chrono::seconds(2));

  const std::string text = link_with("  max_frame: 512\n");
  Diagnostic d = only_error(text);
  EXPECT_EQ(d.key, "link.max_frame");
  EXPECT_EQ(at(d), at(position_of(text, "512")));
  EXPECT_EQ(d.hint, "between 1KiB and 1MiB");
  EXPECT_EQ(only_error(link_with("  max_frame: 2MiB\n")).key, "link.max_frame");
  EXPECT_EQ(only_error(link_with("  rekey_bytes: 1KiB\n")).key, "link.rekey_bytes");
  EXPECT_EQ(only_error(link_with("  keepalive_seconds: 0\n")).key, "link.keepalive_seconds");
  EXPECT_EQ(only_error(link_with("  rekey_seconds: 1h\n")).key, "link.rekey_seconds");
}

TEST_F(ConfigTest, PcapIsParsedButNotAvailable) {
  const std::string pcap = replaced(outer_, "  transport: unix                       # unix | pcap\n  path: var/link.sock",
                                    "  transport: pcap\n  interface: enp3s0\n  mode: oneway");
  ConfigLoad r = load(pcap);
  ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
  EXPECT_EQ(r.config->link.transport, LinkTransport::pcap);
  EXPECT_EQ(r.config->link.interface, "enp3s0");
  EXPECT_EQ(r.config->link.mode, PcapMode::oneway);
  EXPECT_FALSE(r.config->link_transport_available());
  EXPECT_THAT(r.config->inactive_features(),
              ::testing::Contains("link.transport pcap: parsed; not available yet, ferryd refuses to start with it"));

  Diagnostic d = only_error(replaced(pcap, "  mode: oneway", "  mode: oneway\n  path: var/link.sock"));
  EXPECT_EQ(d.key, "link.path");
  EXPECT_EQ(d.message, "path is for transport unix");
  d = only_error(replaced(pcap, "interface: enp3s0", "interface: ../../etc"));
  EXPECT_EQ(d.key, "link.interface");
  d = only_error(replaced(pcap, "  interface: enp3s0\n", ""));
  EXPECT_EQ(d.key, "link.interface");
  EXPECT_EQ(d.message, "missing required key 'interface'");
  d = only_error(replaced(outer_, "  path: var/link.sock", "  path: var/link.sock\n  interface: eth0"));
  EXPECT_EQ(d.key, "link.interface");
  EXPECT_EQ(d.message, "interface is for transport pcap");
}

TEST_F(ConfigTest, BindingShapes) {
  auto with_channel = [&](const std::string& line) {
    return replaced(outer_, "  mobile-office:\n", line + "\n  mobile-office:\n");
  };
  Diagnostic d = only_error(with_channel("  extra: {}"));
  EXPECT_EQ(d.key, "channels.extra");
  EXPECT_EQ(d.message, "channel extra has no binding");

  std::string text = with_channel("  extra: { source: inbox/x, deliver: outbox/x }");
  d = only_error(text);
  EXPECT_EQ(d.key, "channels.extra.deliver");
  EXPECT_EQ(at(d), at(position_of(text, "deliver: outbox/x")));

  d = only_error(with_channel("  extra: { deliver: outbox/x, tls: { cert: c, key: k } }"));
  EXPECT_EQ(d.key, "channels.extra.tls");
  EXPECT_EQ(d.message, "tls belongs to a listen binding");

  d = only_error(with_channel("  extra: { listen: \"127.0.0.1\" }"));
  EXPECT_EQ(d.key, "channels.extra.listen");
  EXPECT_EQ(d.message, "the port is missing");
  d = only_error(with_channel("  extra: { listen: \"127.0.0.1:70000\" }"));
  EXPECT_EQ(d.message, "the port is a number from 0 to 65535");
  EXPECT_TRUE(load(with_channel("  extra: { listen: \"[::1]:8443\" }")).ok());

  d = only_error(with_channel("  extra: { upstream: \"ftp://host/x\" }"));
  EXPECT_EQ(d.key, "channels.extra.upstream");
  EXPECT_EQ(d.message, "unsupported scheme 'ftp'; expected http:// or https://");
  d = only_error(with_channel("  extra: { upstream: \"https://user:pw@host/x\" }"));
  EXPECT_THAT(d.message, HasSubstr("credentials"));
  EXPECT_TRUE(load(with_channel("  extra: { upstream: \"https://intranet.example:8443/api\" }")).ok());

  d = only_error(with_channel("  Extra: { source: inbox/x }"));
  EXPECT_EQ(d.key, "channels.Extra");
  EXPECT_THAT(d.message, HasSubstr("invalid channel name"));

  d = only_error(with_channel("  extra: { source: inbox/x, colour: red }"));
  EXPECT_EQ(d.key, "channels.extra.colour");
}

TEST_F(ConfigTest, DirectoriesMustNotOverlap) {
  std::string text = replaced(outer_, "release-out:   { deliver: outbox/release-out }",
                              "release-out:   { deliver: inbox/docs-in/back }");
  Diagnostic d = only_error(text);
  EXPECT_EQ(d.key, "channels.release-out.deliver");
  EXPECT_EQ(d.message, "directory " + dir_ + "/inbox/docs-in/back overlaps channels.docs-in.source (" + dir_ +
                           "/inbox/docs-in)");

  text = replaced(outer_, "  dir: var/outer/audit", "  dir: var/outer/spool/");
  d = only_error(text);
  EXPECT_EQ(d.key, "audit.dir");
  EXPECT_EQ(d.message, "same directory as spool (" + dir_ + "/var/outer/spool)");
}

TEST_F(ConfigTest, AuditMetricsIngest) {
  ConfigLoad r = load(replaced(outer_, "  # syslog: \"udp://127.0.0.1:5514\"",
                               "  syslog: \"udp://127.0.0.1:5514\"\ningest: { settle_ms: 250, rescan_seconds: 30 }"));
  ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
  EXPECT_EQ(r.config->audit.syslog, "udp://127.0.0.1:5514");
  EXPECT_EQ(r.config->ingest.settle, std::chrono::milliseconds(250));
  EXPECT_EQ(r.config->ingest.rescan_interval, std::chrono::seconds(30));
  ConfigLoad sized = load(replaced(outer_, "  on_full: block ",
                                   "  max_size: 512MiB\n  min_free: 1GiB\n  warn_at_percent: 90\n"
                                   "  segment_size: 1MiB\n  checkpoint_records: 100\n  checkpoint_seconds: 5\n"
                                   "  on_full: overwrite_oldest "));
  ASSERT_TRUE(sized.ok()) << ferry::policy::to_string(sized.errors);
  EXPECT_EQ(sized.config->audit.max_size, std::uint64_t{512} << 20);
  EXPECT_EQ(sized.config->audit.min_free, std::uint64_t{1} << 30);
  EXPECT_EQ(sized.config->audit.warn_at_percent, 90u);
  EXPECT_EQ(sized.config->audit.segment_size, std::uint64_t{1} << 20);
  EXPECT_EQ(sized.config->audit.checkpoint_records, 100u);
  EXPECT_EQ(sized.config->audit.checkpoint_interval, std::chrono::seconds(5));
  EXPECT_EQ(sized.config->audit.on_full, AuditOnFull::overwrite_oldest);
  Diagnostic d0 = only_error(replaced(outer_, "  on_full: block ", "  warn_at_percent: 100\n  on_full: block "));
  EXPECT_EQ(d0.key, "audit.warn_at_percent");

  Diagnostic d = only_error(replaced(outer_, "  # syslog: \"udp://127.0.0.1:5514\"", "  syslog: \"http://x:1\""));
  EXPECT_EQ(d.key, "audit.syslog");
  d = only_error(replaced(outer_, "on_full: block ", "on_full: drop "));
  EXPECT_EQ(d.key, "audit.on_full");
  EXPECT_EQ(d.hint, "known values: block, overwrite_oldest");
  d = only_error(replaced(outer_, "metrics: { listen: \"127.0.0.1:9750\" }", "metrics: { listen: \"localhost\" }"));
  EXPECT_EQ(d.key, "metrics.listen");
  d = only_error(outer_ + "ingest: { settle_ms: -1 }\n");
  EXPECT_EQ(d.key, "ingest.settle_ms");
}

TEST_F(ConfigTest, OptionalSectionsMayBeLeftOut) {
  std::string text = replaced(outer_, "antivirus: { database: avdb }           # ClamAV signature directory\n", "");
  text = replaced(text, "metrics: { listen: \"127.0.0.1:9750\" }\n", "");
  const std::size_t from = text.find("officers:");
  const std::size_t to = text.find("spool:");
  text.erase(from, to - from);
  ConfigLoad r = load(text);
  ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
  EXPECT_FALSE(r.config->officers);
  EXPECT_FALSE(r.config->antivirus);
  EXPECT_FALSE(r.config->metrics);
  EXPECT_EQ(r.config->inactive_features().size(), 1u);  // mobile-office
}

TEST_F(ConfigTest, MissingRequiredSections) {
  ConfigLoad r = load("schema: ferry-config/1\nside: outer\n");
  std::vector<std::string> keys;
  for (const Diagnostic& d : r.errors) keys.push_back(d.key);
  EXPECT_THAT(keys, ElementsAre("policy", "spool", "identity", "link", "channels", "audit"));
}

TEST_F(ConfigTest, UnreadableConfig) {
  ConfigLoad r = load_config_file(dir_ + "/missing.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(), dir_ + "/missing.yaml: cannot read the config: No such file or directory");
  r = load_config_file(dir_);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].message, HasSubstr("not a regular file"));
  r = load("");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].message, "empty document");
}

TEST_F(ConfigTest, TextLoaderResolvesAgainstItsBaseDir) {
  ConfigLoad r = load_config_text(outer_, "outer (text)", dir_);
  ASSERT_TRUE(r.ok()) << ferry::policy::to_string(r.errors);
  EXPECT_EQ(r.config->source, "outer (text)");
  EXPECT_EQ(r.config->policy, dir_ + "/policy.yaml");
  r = load_config_text(outer_, "outer (text)", "/nonexistent-ferry");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors.front().file, "outer (text)");
}

}  // namespace
