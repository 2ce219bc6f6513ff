// The policy loader: the reference policy loads unchanged with the values
// it states, and each kind of mistake an officer can make is one diagnostic
// with the right file, line, column and key.
#include "policy/policy.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/bytes.h"

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace ferry::policy;
namespace stdfs = std::filesystem;

const std::string kReference = std::string(FERRY_REFERENCE_DIR) + "/policy.yaml";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A valid policy of one file channel; tests append or change lines. Line
// numbers below refer to this text.
constexpr std::string_view kMinimal =
    "schema: ferry-policy/1\n"     // 1
    "serial: 1\n"                  // 2
    "channels:\n"                  // 3
    "  - name: docs-in\n"          // 4
    "    direction: inbound\n"     // 5
    "    kind: file\n"             // 6
    "    allow_types: [pdf]\n"     // 7
    "    max_size: 1MiB\n";        // 8

class PolicyLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (stdfs::temp_directory_path() / "ferry-policy-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  std::string write(const std::string& name, std::string_view content) {
    const std::string path = dir_ + "/" + name;
    stdfs::create_directories(stdfs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  PolicyLoad load(std::string_view text) { return load_policy_text(text, "p.yaml", dir_); }

  // The single diagnostic a broken document must give.
  Diagnostic only_error(std::string_view text) {
    PolicyLoad r = load(text);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.errors.size(), 1u) << to_string(r.errors);
    return r.errors.empty() ? Diagnostic{} : r.errors[0];
  }

  std::string dir_;
};

std::string where(const Diagnostic& d);

TEST_F(PolicyLoadTest, ApprovalLongFormNamesTheNumberOfReviewers) {
  PolicyLoad two = load(std::string(kMinimal) + "    approval: { required: true, reviewers: 2 }\n");
  ASSERT_TRUE(two.ok()) << to_string(two.errors);
  EXPECT_EQ(two.policy->channels[0].approval, Approval::required);
  EXPECT_EQ(two.policy->channels[0].reviewers, 2u);
  PolicyLoad one = load(std::string(kMinimal) + "    approval: { required: true }\n");
  ASSERT_TRUE(one.ok()) << to_string(one.errors);
  EXPECT_EQ(one.policy->channels[0].reviewers, 1u);
  PolicyLoad off = load(std::string(kMinimal) + "    approval: { required: false }\n");
  ASSERT_TRUE(off.ok()) << to_string(off.errors);
  EXPECT_EQ(off.policy->channels[0].approval, Approval::none);
  EXPECT_EQ(off.policy->channels[0].reviewers, 0u);
}

TEST_F(PolicyLoadTest, ApprovalLongFormRefusesNonsense) {
  Diagnostic zero = only_error(std::string(kMinimal) + "    approval: { required: true, reviewers: 0 }\n");
  EXPECT_EQ(zero.key, "channels[docs-in].approval.reviewers");
  Diagnostic without = only_error(std::string(kMinimal) + "    approval: { required: false, reviewers: 2 }\n");
  EXPECT_THAT(without.message, HasSubstr("reviewers without approval"));
  Diagnostic missing = only_error(std::string(kMinimal) + "    approval: { reviewers: 2 }\n");
  EXPECT_THAT(missing.message, HasSubstr("required"));
  Diagnostic unknown = only_error(std::string(kMinimal) + "    approval: { required: true, approvers: 2 }\n");
  EXPECT_THAT(unknown.message, HasSubstr("approvers"));
}

std::string where(const Diagnostic& d) {
  return d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + " " + d.key;
}

TEST_F(PolicyLoadTest, MinimalPolicyLoads) {
  PolicyLoad r = load(kMinimal);
  ASSERT_TRUE(r.ok()) << to_string(r.errors);
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.policy->channels.size(), 1u);
  const Channel& c = r.policy->channels[0];
  // Defaults where the officer said nothing.
  EXPECT_EQ(c.antivirus, Antivirus::optional);
  EXPECT_EQ(c.approval, Approval::none);
  EXPECT_FALSE(c.archives_given);
  EXPECT_EQ(c.archives.max_depth, 1u);
  EXPECT_EQ(c.position.line, 4);
}

// --- the reference --------------------------------------------------------

TEST(ReferencePolicy, LoadsUnchangedWithTheValuesItStates) {
  PolicyLoad r = load_policy_file(kReference);
  ASSERT_TRUE(r.ok()) << to_string(r.errors);
  const Policy& p = *r.policy;
  EXPECT_EQ(p.source, kReference);
  EXPECT_EQ(p.serial, 7u);
  EXPECT_EQ(p.description, "County e-government boundary, intranet <-> extranet <-> mobile");
  EXPECT_EQ(p.sm3, ferry::crypto::Sm3::digest(ferry::crypto::as_bytes(slurp(kReference))));

  ASSERT_EQ(p.lists.size(), 2u);
  ASSERT_NE(p.find_list("classified-markings"), nullptr);
  EXPECT_THAT(p.find_list("classified-markings")->terms, ElementsAre("绝密", "机密", "秘密★", "内部资料"));
  EXPECT_THAT(p.find_list("project-codenames")->terms, ElementsAre("OPERATION SKYFALL", "PROJECT NIGHTJAR"));
  EXPECT_FALSE(p.find_list("classified-markings")->file);

  ASSERT_EQ(p.channels.size(), 4u);
  EXPECT_EQ(p.channels[0].name, "docs-in");
  EXPECT_EQ(p.channels[1].name, "release-out");
  EXPECT_EQ(p.channels[2].name, "open-data-out");
  EXPECT_EQ(p.channels[3].name, "mobile-office");
  EXPECT_EQ(p.find("nope"), nullptr);

  const Channel& docs = *p.find("docs-in");
  EXPECT_EQ(docs.direction, Direction::inbound);
  EXPECT_EQ(docs.kind, ChannelKind::file);
  EXPECT_EQ(docs.allow_types, (std::vector<FileType>{FileType::pdf, FileType::ofd, FileType::docx, FileType::xlsx,
                                                     FileType::pptx, FileType::txt, FileType::csv, FileType::png,
                                                     FileType::jpeg, FileType::zip}));
  EXPECT_EQ(docs.max_size, 50ull << 20);
  EXPECT_TRUE(docs.archives_given);
  EXPECT_EQ(docs.archives.max_depth, 2u);
  EXPECT_EQ(docs.archives.max_entries, 1000u);
  EXPECT_EQ(docs.archives.max_ratio, 100u);
  EXPECT_EQ(docs.archives.max_expanded, 500ull << 20);
  EXPECT_EQ(docs.antivirus, Antivirus::required);
  EXPECT_EQ(docs.sanitize, (std::vector<SanitizeStep>{SanitizeStep::images, SanitizeStep::office,
                                                      SanitizeStep::pdf, SanitizeStep::ofd}));
  EXPECT_TRUE(docs.deny_keywords.empty());
  EXPECT_FALSE(docs.pii);
  EXPECT_EQ(docs.approval, Approval::none);
  EXPECT_EQ(docs.position.line, 24);

  const Channel& release = *p.find("release-out");
  EXPECT_EQ(release.direction, Direction::outbound);
  EXPECT_EQ(release.max_size, 20ull << 20);
  EXPECT_THAT(release.deny_keywords, ElementsAre("classified-markings", "project-codenames"));
  ASSERT_TRUE(release.pii);
  EXPECT_EQ(release.pii->detect,
            (std::vector<PiiKind>{PiiKind::cn_id, PiiKind::cn_mobile, PiiKind::uscc, PiiKind::bank_card}));
  EXPECT_EQ(release.pii->action, PiiAction::reject);
  EXPECT_EQ(release.approval, Approval::required);
  EXPECT_EQ(release.reviewers, 1u) << "the short form means one officer";

  const Channel& open = *p.find("open-data-out");
  EXPECT_EQ(open.allow_types, (std::vector<FileType>{FileType::csv, FileType::txt, FileType::json}));
  EXPECT_EQ(open.max_size, 100ull << 20);
  EXPECT_EQ(open.antivirus, Antivirus::optional);
  EXPECT_FALSE(open.archives_given);
  EXPECT_EQ(open.pii->action, PiiAction::mask);
  EXPECT_EQ(open.pii->detect, (std::vector<PiiKind>{PiiKind::cn_id, PiiKind::cn_mobile, PiiKind::bank_card}));

  const Channel& mobile = *p.find("mobile-office");
  EXPECT_EQ(mobile.kind, ChannelKind::request);
  EXPECT_EQ(mobile.direction, Direction::inbound);
  EXPECT_EQ(mobile.max_size, 2ull << 20);
  EXPECT_TRUE(mobile.allow_types.empty());
  ASSERT_EQ(mobile.routes.size(), 3u);
  EXPECT_EQ(mobile.routes[0].method, HttpMethod::GET);
  EXPECT_EQ(mobile.routes[0].path, "/api/v1/notices");
  EXPECT_FALSE(mobile.routes[0].content_type);
  EXPECT_EQ(mobile.routes[1].path, "/api/v1/docs/{id}");
  EXPECT_EQ(mobile.routes[2].method, HttpMethod::POST);
  EXPECT_EQ(mobile.routes[2].content_type, "application/json");
  ASSERT_TRUE(mobile.response);
  EXPECT_EQ(mobile.response->allow_types, (std::vector<FileType>{FileType::json, FileType::pdf, FileType::ofd}));
  EXPECT_THAT(mobile.response->deny_keywords, ElementsAre("classified-markings", "project-codenames"));
  EXPECT_EQ(mobile.response->pii->detect, (std::vector<PiiKind>{PiiKind::cn_id, PiiKind::bank_card}));
  EXPECT_EQ(mobile.response->pii->action, PiiAction::mask);
}

TEST(ReferencePolicy, TextAndFileGiveTheSameDigest) {
  const std::string text = slurp(kReference);
  PolicyLoad a = load_policy_file(kReference);
  PolicyLoad b = load_policy_text(text, "ref", "/nonexistent");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a.policy->sm3, b.policy->sm3);
  PolicyLoad c = load_policy_text(text + "\n# a comment changes the bytes\n", "ref", "/nonexistent");
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a.policy->sm3, c.policy->sm3);
}

TEST(PolicyNames, EnumsSpellAsTheDocumentDoes) {
  EXPECT_EQ(to_string(Direction::outbound), "outbound");
  EXPECT_EQ(to_string(FileType::jpeg), "jpeg");
  EXPECT_EQ(to_string(PiiKind::bank_card), "bank_card");
  EXPECT_EQ(to_string(HttpMethod::DELETE), "DELETE");
  EXPECT_TRUE(valid_name("docs-in"));
  EXPECT_TRUE(valid_name("0day"));
  EXPECT_FALSE(valid_name("-docs"));
  EXPECT_FALSE(valid_name("Docs"));
  EXPECT_FALSE(valid_name("docs_in"));
  EXPECT_FALSE(valid_name(""));
  EXPECT_FALSE(valid_name(std::string(65, 'a')));
}

// --- one mistake, one diagnostic ---------------------------------------------

TEST_F(PolicyLoadTest, UnknownKeyAtTheTop) {
  Diagnostic d = only_error(std::string(kMinimal) + "colour: blue\n");
  EXPECT_EQ(where(d), "p.yaml:9:1 colour");
  EXPECT_EQ(d.message, "unknown key \"colour\"");
  EXPECT_EQ(d.hint, "allowed here: schema, serial, description, lists, channels");
  EXPECT_EQ(d.to_string(),
            "p.yaml:9:1: colour: unknown key \"colour\" (hint: allowed here: schema, serial, description, lists, "
            "channels)");
}

TEST_F(PolicyLoadTest, UnknownKeyInsideAChannelNamesTheChannel) {
  Diagnostic d = only_error(std::string(kMinimal) + "    max_sise: 2MiB\n");
  EXPECT_EQ(where(d), "p.yaml:9:5 channels[docs-in].max_sise");
  EXPECT_THAT(d.hint, StartsWith("did you mean 'max_size'? allowed here: name, direction, kind,"));
}

TEST_F(PolicyLoadTest, WrongTypes) {
  Diagnostic d = only_error(
      "schema: ferry-policy/1\nserial: seven\nchannels: []\n");
  EXPECT_EQ(where(d), "p.yaml:2:9 serial");
  EXPECT_EQ(d.message, "expected a whole number, got \"seven\"");

  d = only_error("schema: ferry-policy/1\nserial: \"7\"\nchannels: []\n");
  EXPECT_EQ(where(d), "p.yaml:2:9 serial");
  EXPECT_EQ(d.hint, "write it without quotes");

  d = only_error("schema: ferry-policy/1\nserial: 1\ndescription: { a: b }\nchannels: []\n");
  EXPECT_EQ(where(d), "p.yaml:3:14 description");
  EXPECT_EQ(d.message, "expected a string, got a mapping");

  d = only_error("schema: ferry-policy/1\nserial: 1\nchannels: { docs-in: {} }\n");
  EXPECT_EQ(where(d), "p.yaml:3:11 channels");
  EXPECT_EQ(d.message, "expected a list, got a mapping");

  std::string text(kMinimal);
  text.replace(text.find("[pdf]"), 5, "pdf");
  d = only_error(text);
  EXPECT_EQ(where(d), "p.yaml:7:18 channels[docs-in].allow_types");
  EXPECT_EQ(d.message, "expected a list, got \"pdf\"");
}

TEST_F(PolicyLoadTest, SerialIsUnsigned64) {
  std::string text(kMinimal);
  text.replace(text.find("serial: 1"), 9, "serial: 18446744073709551615");
  PolicyLoad r = load(text);
  ASSERT_TRUE(r.ok()) << to_string(r.errors);
  EXPECT_EQ(r.policy->serial, 18446744073709551615ull);
  text.replace(text.find("18446744073709551615"), 20, "18446744073709551616");
  EXPECT_EQ(only_error(text).message, "number is too large");
  text.replace(text.find("18446744073709551616"), 20, "-1");
  EXPECT_EQ(only_error(text).message, "must not be negative, got \"-1\"");
}

class MalformedSize : public PolicyLoadTest, public ::testing::WithParamInterface<std::pair<const char*, const char*>> {};

TEST_P(MalformedSize, IsOneErrorAtTheValue) {
  std::string text(kMinimal);
  text.replace(text.find("1MiB"), 4, GetParam().first);
  Diagnostic d = only_error(text);
  EXPECT_EQ(where(d), "p.yaml:8:15 channels[docs-in].max_size");
  EXPECT_THAT(d.message, HasSubstr(GetParam().second));
  EXPECT_EQ(d.hint, "sizes are written 1024, 64KiB, 50MiB, 2GiB");
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, MalformedSize,
    ::testing::Values(std::pair{"50MB", "unknown unit 'MB'"}, std::pair{"-1", "cannot be negative"},
                      std::pair{"1.5MiB", "whole number"}, std::pair{"\"50 MiB\"", "no space"},
                      std::pair{"''", "empty size"},
                      std::pair{"99999999999GiB", "too large"}, std::pair{"[1]", "expected a size, got a list"}));

TEST_F(PolicyLoadTest, SizeOutOfRange) {
  std::string text(kMinimal);
  text.replace(text.find("1MiB"), 4, "0");
  Diagnostic d = only_error(text);
  EXPECT_EQ(where(d), "p.yaml:8:15 channels[docs-in].max_size");
  EXPECT_EQ(d.message, "size \"0\" is out of range");
  EXPECT_EQ(d.hint, "between 1 and 1TiB");
}

TEST_F(PolicyLoadTest, UnknownTypeNameListsTheKnownOnes) {
  std::string text(kMinimal);
  text.replace(text.find("[pdf]"), 5, "[pdf, exe]");
  Diagnostic d = only_error(text);
  EXPECT_EQ(where(d), "p.yaml:7:24 channels[docs-in].allow_types[1]");
  EXPECT_EQ(d.message, "unknown value \"exe\"");
  EXPECT_THAT(d.hint, HasSubstr("known values: pdf, ofd, docx, xlsx, pptx, txt, csv, json, xml, png, jpeg, zip"));
}

TEST_F(PolicyLoadTest, UndefinedKeywordList) {
  Diagnostic d = only_error(std::string(kMinimal) +
                            "    deny_keywords: [markings, secrets]\n"  // 9
                            "lists:\n"                                   // 10
                            "  markings: [\"绝密\"]\n");                 // 11
  EXPECT_EQ(where(d), "p.yaml:9:31 channels[docs-in].deny_keywords[1]");
  EXPECT_EQ(d.message, "undefined keyword list \"secrets\"");
  EXPECT_EQ(d.hint, "defined lists: markings");
}

TEST_F(PolicyLoadTest, RequestChannelWithoutRoutes) {
  Diagnostic d = only_error(
      "schema: ferry-policy/1\nserial: 1\nchannels:\n"
      "  - name: api\n"  // 4
      "    direction: inbound\n"
      "    kind: request\n"
      "    max_size: 1MiB\n");
  EXPECT_EQ(where(d), "p.yaml:4:5 channels[api].routes");
  EXPECT_EQ(d.message, "a request channel without routes");

  d = only_error(
      "schema: ferry-policy/1\nserial: 1\nchannels:\n"
      "  - name: api\n"
      "    direction: inbound\n"
      "    kind: request\n"
      "    max_size: 1MiB\n"
      "    routes: []\n");  // 8
  EXPECT_EQ(where(d), "p.yaml:8:13 channels[api].routes");
  EXPECT_EQ(d.message, "a request channel needs at least one route");
}

TEST_F(PolicyLoadTest, KeysThatDoNotFitTheKind) {
  Diagnostic d = only_error(std::string(kMinimal) + "    routes: [{ method: GET, path: /x }]\n");
  EXPECT_EQ(where(d), "p.yaml:9:5 channels[docs-in].routes");
  EXPECT_EQ(d.message, "routes on a file channel");
  EXPECT_EQ(d.hint, "kind is file; only a request channel has it");

  d = only_error(std::string(kMinimal) + "    response: { allow_types: [json] }\n");
  EXPECT_EQ(where(d), "p.yaml:9:5 channels[docs-in].response");

  d = only_error(
      "schema: ferry-policy/1\nserial: 1\nchannels:\n"
      "  - name: api\n"
      "    direction: inbound\n"
      "    kind: request\n"
      "    max_size: 1MiB\n"
      "    routes: [{ method: GET, path: /x }]\n"
      "    approval: required\n");  // 9
  EXPECT_EQ(where(d), "p.yaml:9:5 channels[api].approval");

  // A file channel must say what it lets through.
  std::string text(kMinimal);
  text.erase(text.find("    allow_types"), std::string_view("    allow_types: [pdf]\n").size());
  d = only_error(text);
  EXPECT_EQ(where(d), "p.yaml:4:5 channels[docs-in].allow_types");
  EXPECT_EQ(d.message, "missing required key 'allow_types'");
}

TEST_F(PolicyLoadTest, DuplicateChannelName) {
  Diagnostic d = only_error(std::string(kMinimal) +
                            "  - name: docs-in\n"  // 9
                            "    direction: outbound\n"
                            "    kind: file\n"
                            "    allow_types: [txt]\n"
                            "    max_size: 1KiB\n");
  EXPECT_EQ(where(d), "p.yaml:9:11 channels[docs-in].name");
  EXPECT_EQ(d.message, "duplicate channel name \"docs-in\"");
  EXPECT_THAT(d.hint, StartsWith("first defined at line 4"));
}

TEST_F(PolicyLoadTest, BadDirectionAndKind) {
  std::string text(kMinimal);
  text.replace(text.find("inbound"), 7, "sideways");
  Diagnostic d = only_error(text);
  EXPECT_EQ(where(d), "p.yaml:5:16 channels[docs-in].direction");
  EXPECT_EQ(d.message, "unknown value \"sideways\"");
  EXPECT_EQ(d.hint, "known values: inbound, outbound");

  text = kMinimal;
  text.replace(text.find("kind: file"), 10, "kind: files");
  d = only_error(text);
  EXPECT_EQ(where(d), "p.yaml:6:11 channels[docs-in].kind");
  EXPECT_EQ(d.hint, "did you mean 'file'? known values: file, message, request");
}

TEST_F(PolicyLoadTest, InvalidChannelNameIsReportedUnderItsIndex) {
  std::string text(kMinimal);
  text.replace(text.find("docs-in"), 7, "Docs In");
  Diagnostic d = only_error(text);
  EXPECT_EQ(where(d), "p.yaml:4:11 channels[0].name");
  EXPECT_EQ(d.hint, "names are [a-z0-9][a-z0-9-]*, at most 64 characters");
}

TEST_F(PolicyLoadTest, SchemaMustBeFerryPolicy1) {
  std::string text(kMinimal);
  text.replace(text.find("ferry-policy/1"), 14, "ferry-policy/2");
  Diagnostic d = only_error(text);
  EXPECT_EQ(where(d), "p.yaml:1:9 schema");
  EXPECT_EQ(d.message, "unsupported schema \"ferry-policy/2\"");

  d = only_error(std::string(kMinimal).substr(std::string_view("schema: ferry-policy/1\n").size()));
  EXPECT_EQ(where(d), "p.yaml:1:1 schema");
  EXPECT_EQ(d.message, "missing required key 'schema'");
}

TEST_F(PolicyLoadTest, ArchivePiiRouteValues) {
  Diagnostic d = only_error(std::string(kMinimal) + "    archives: { max_depth: 2, max_ratio: 0 }\n");
  EXPECT_EQ(where(d), "p.yaml:9:42 channels[docs-in].archives.max_ratio");
  EXPECT_EQ(d.message, "must be between 1 and 100000, got 0");

  d = only_error(std::string(kMinimal) + "    pii: { detect: [cn_id, ssn], action: reject }\n");
  EXPECT_EQ(where(d), "p.yaml:9:28 channels[docs-in].pii.detect[1]");
  EXPECT_THAT(d.hint, HasSubstr("cn_id, cn_mobile, uscc, bank_card, email"));

  d = only_error(std::string(kMinimal) + "    pii: { detect: [email] }\n");
  EXPECT_EQ(where(d), "p.yaml:9:10 channels[docs-in].pii.action");

  d = only_error(std::string(kMinimal) + "    sanitize: [images, macros]\n");
  EXPECT_EQ(where(d), "p.yaml:9:24 channels[docs-in].sanitize[1]");

  d = only_error(std::string(kMinimal) + "    antivirus: maybe\n");
  EXPECT_EQ(where(d), "p.yaml:9:16 channels[docs-in].antivirus");

  const std::string request =
      "schema: ferry-policy/1\nserial: 1\nchannels:\n"
      "  - name: api\n"
      "    direction: inbound\n"
      "    kind: request\n"
      "    max_size: 1MiB\n"
      "    routes:\n";  // 8
  d = only_error(request + "      - { method: FETCH, path: /x }\n");
  EXPECT_EQ(where(d), "p.yaml:9:19 channels[api].routes[0].method");
  d = only_error(request + "      - { method: GET, path: api/x }\n");
  EXPECT_EQ(where(d), "p.yaml:9:30 channels[api].routes[0].path");
  EXPECT_EQ(d.message, "a route path starts with '/'");
  d = only_error(request + "      - { method: GET, path: /a/../b }\n");
  EXPECT_EQ(d.message, "dot segments are not allowed in a route path");
  d = only_error(request + "      - { method: POST, path: /a, content_type: json }\n");
  EXPECT_EQ(where(d), "p.yaml:9:49 channels[api].routes[0].content_type");
  d = only_error(request + "      - { method: GET, path: /a }\n      - { method: GET, path: /a }\n");
  EXPECT_EQ(where(d), "p.yaml:10:9 channels[api].routes[1]");
  d = only_error(request + "      - { method: GET, path: /a }\n    response: { allow_types: [json], via: x }\n");
  EXPECT_EQ(where(d), "p.yaml:10:38 channels[api].response.via");
}

TEST_F(PolicyLoadTest, DuplicateKeyInAChannel) {
  Diagnostic d = only_error(std::string(kMinimal) + "    max_size: 2MiB\n");
  EXPECT_EQ(where(d), "p.yaml:9:5 channels[docs-in].max_size");
  EXPECT_EQ(d.message, "duplicate key \"max_size\"");
  EXPECT_EQ(d.hint, "first given at line 8");
}

// --- many mistakes, all reported --------------------------------------------

TEST_F(PolicyLoadTest, EveryErrorOfADocumentIsReportedInLineOrder) {
  PolicyLoad r = load(
      "schema: ferry-policy/1\n"
      "serial: -4\n"                          // 2
      "colour: blue\n"                        // 3
      "channels:\n"
      "  - name: docs-in\n"
      "    direction: sideways\n"             // 6
      "    kind: file\n"
      "    allow_types: [pdf, exe]\n"         // 8
      "    max_size: 50MB\n"                  // 9
      "    deny_keywords: [nope]\n"           // 10
      "  - name: api\n"
      "    direction: inbound\n"
      "    kind: request\n"                   // 13: no routes
      "    max_size: 1MiB\n");
  ASSERT_FALSE(r.ok());
  std::vector<std::string> got;
  for (const Diagnostic& d : r.errors) got.push_back(where(d));
  EXPECT_THAT(got, ElementsAre("p.yaml:2:9 serial", "p.yaml:3:1 colour", "p.yaml:6:16 channels[docs-in].direction",
                               "p.yaml:8:24 channels[docs-in].allow_types[1]", "p.yaml:9:15 channels[docs-in].max_size",
                               "p.yaml:10:21 channels[docs-in].deny_keywords[0]", "p.yaml:11:5 channels[api].routes"));
}

TEST_F(PolicyLoadTest, TooManyErrorsAreCapped) {
  std::string text(kMinimal);
  for (int i = 0; i < 500; ++i) text += "k" + std::to_string(i) + ": 1\n";
  PolicyLoad r = load(text);
  ASSERT_EQ(r.errors.size(), 101u);
  EXPECT_EQ(r.errors.back().message, "more than 100 errors; the rest are not shown");
}

// --- the text itself ---------------------------------------------------------

TEST_F(PolicyLoadTest, YamlSyntaxErrorHasItsPlace) {
  Diagnostic d = only_error("schema: ferry-policy/1\nserial: 1\nchannels: [\n  - x\n");
  EXPECT_EQ(d.file, "p.yaml");
  EXPECT_GT(d.line, 0);
  EXPECT_THAT(d.message, StartsWith("YAML syntax error: "));

  d = only_error("schema: ferry-policy/1\nserial: 1: 2\n");
  EXPECT_EQ(where(d), "p.yaml:2:10 ");
  EXPECT_EQ(d.message, "YAML syntax error: illegal map value");
}

TEST_F(PolicyLoadTest, DocumentThatIsNotAMapping) {
  Diagnostic d = only_error("- schema: ferry-policy/1\n");
  EXPECT_EQ(where(d), "p.yaml:1:1 ");
  EXPECT_EQ(d.message, "expected a mapping (key: value), got a list");
  d = only_error("just words\n");
  EXPECT_EQ(d.message, "expected a mapping (key: value), got \"just words\"");
}

TEST_F(PolicyLoadTest, EmptyFile) {
  for (std::string_view text : {"", "# only a comment\n"}) {
    const std::string path = write("empty.yaml", text);
    PolicyLoad r = load_policy_file(path);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].to_string(),
              path + ":1:1: empty document (hint: a policy starts with 'schema: ferry-policy/1')");
  }
}

TEST_F(PolicyLoadTest, UnreadableOrOversizedFile) {
  PolicyLoad r = load_policy_file(dir_ + "/missing.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].to_string(), dir_ + "/missing.yaml: cannot read the policy: No such file or directory");

  r = load_policy_file(dir_);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].message, HasSubstr("is a directory"));

  // Refused from its size, before anything is read or parsed (sparse file).
  const std::string big = write("big.yaml", "");
  ASSERT_EQ(::truncate(big.c_str(), static_cast<off_t>(kMaxPolicyFileSize + 1)), 0);
  r = load_policy_file(big);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].message, HasSubstr("larger than 4194304 bytes"));

  // A FIFO is not read: opening it must not wait for a writer.
  const std::string fifo = dir_ + "/fifo.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  r = load_policy_file(fifo);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_THAT(r.errors[0].message, HasSubstr("not a regular file"));
}

TEST_F(PolicyLoadTest, InvalidUtf8InThePolicy) {
  Diagnostic d = only_error(std::string(kMinimal) + "lists:\n  x: [\"ab\xc3\x28\"]\n");
  EXPECT_EQ(where(d), "p.yaml:10:10 ");
  EXPECT_EQ(d.message, "not valid UTF-8");
}

// --- keyword lists -------------------------------------------------------------

TEST_F(PolicyLoadTest, ListFileRelativeToThePolicyWithCommentsAndBlankLines) {
  write("lists/markings.txt",
        "\xEF\xBB\xBF# classification markings\r\n"
        "绝密\r\n"
        "\r\n"
        "   机密  \n"
        "  # an indented comment\n"
        "OPERATION SKYFALL\n"
        "秘密★#3\n"
        "\t\n");
  const std::string policy = write("policy.yaml", std::string(kMinimal) +
                                                      "    deny_keywords: [markings]\n"
                                                      "lists:\n"
                                                      "  markings: { file: lists/markings.txt }\n");
  PolicyLoad r = load_policy_file(policy);
  ASSERT_TRUE(r.ok()) << to_string(r.errors);
  const TermList* list = r.policy->find_list("markings");
  ASSERT_NE(list, nullptr);
  EXPECT_THAT(list->terms, ElementsAre("绝密", "机密", "OPERATION SKYFALL", "秘密★#3"));
  ASSERT_TRUE(list->file);
  EXPECT_EQ(list->file->path, dir_ + "/lists/markings.txt");
  EXPECT_EQ(list->file->sm3, ferry::crypto::Sm3::digest(ferry::crypto::as_bytes(slurp(dir_ + "/lists/markings.txt"))));
  EXPECT_EQ(r.policy->channels[0].deny_keywords, std::vector<std::string>{"markings"});
}

TEST_F(PolicyLoadTest, ListFileResolvesAgainstBaseDirForText) {
  write("sub/terms.txt", "alpha\n");
  PolicyLoad r = load_policy_text("schema: ferry-policy/1\nserial: 1\nchannels: []\nlists:\n  a: { file: terms.txt }\n",
                                  "p.yaml", dir_ + "/sub");
  ASSERT_TRUE(r.ok()) << to_string(r.errors);
  EXPECT_EQ(r.policy->lists[0].terms, std::vector<std::string>{"alpha"});
  // An absolute path is taken as it is.
  r = load_policy_text("schema: ferry-policy/1\nserial: 1\nchannels: []\nlists:\n  a: { file: " + dir_ +
                           "/sub/terms.txt }\n",
                       "p.yaml", "/nonexistent");
  ASSERT_TRUE(r.ok()) << to_string(r.errors);
}

TEST_F(PolicyLoadTest, ListFileMissing) {
  Diagnostic d = only_error(std::string(kMinimal) + "lists:\n  codes: { file: codes.txt }\n");
  EXPECT_EQ(where(d), "p.yaml:10:18 lists.codes.file");
  EXPECT_EQ(d.message, "cannot read list file " + dir_ + "/codes.txt: No such file or directory");
  EXPECT_EQ(d.hint, "relative paths are resolved against the policy file's directory");
}

TEST_F(PolicyLoadTest, ListFileWithInvalidUtf8PointsIntoTheListFile) {
  write("codes.txt", "good\nalso good\nbad \xff here\n");
  Diagnostic d = only_error(std::string(kMinimal) + "lists:\n  codes: { file: codes.txt }\n");
  EXPECT_EQ(d.file, dir_ + "/codes.txt");
  EXPECT_EQ(d.line, 3);
  EXPECT_EQ(d.column, 5);
  EXPECT_EQ(d.key, "lists.codes");
  EXPECT_EQ(d.message, "not valid UTF-8");
}

TEST_F(PolicyLoadTest, ListsThatMatchNothingAreRefused) {
  write("empty.txt", "# nothing yet\n\n");
  Diagnostic d = only_error(std::string(kMinimal) + "lists:\n  codes: { file: empty.txt }\n");
  EXPECT_EQ(where(d), "p.yaml:10:18 lists.codes.file");
  EXPECT_THAT(d.message, HasSubstr("has no terms"));

  d = only_error(std::string(kMinimal) + "lists:\n  codes: []\n");
  EXPECT_EQ(where(d), "p.yaml:10:10 lists.codes");
  d = only_error(std::string(kMinimal) + "lists:\n  codes: [a, \"\"]\n");
  EXPECT_EQ(where(d), "p.yaml:10:14 lists.codes[1]");
  EXPECT_EQ(d.message, "empty term");
}

TEST_F(PolicyLoadTest, ListFileMustBeARegularFileOfBoundedSize) {
  ASSERT_EQ(::mkfifo((dir_ + "/fifo.txt").c_str(), 0600), 0);
  Diagnostic d = only_error(std::string(kMinimal) + "lists:\n  codes: { file: fifo.txt }\n");
  EXPECT_THAT(d.message, HasSubstr("is not a regular file"));

  const std::string big = write("big.txt", "");
  ASSERT_EQ(::truncate(big.c_str(), static_cast<off_t>(kMaxListFileSize + 1)), 0);
  d = only_error(std::string(kMinimal) + "lists:\n  codes: { file: big.txt }\n");
  EXPECT_THAT(d.message, HasSubstr("larger than 16777216 bytes"));
}

TEST_F(PolicyLoadTest, ListShapesAndNames) {
  PolicyLoad r = load(std::string(kMinimal) + "lists:\n  codes: { path: x.txt }\n");
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(where(r.errors[0]), "p.yaml:10:10 lists.codes.file");
  EXPECT_EQ(r.errors[0].message, "missing required key 'file'");
  EXPECT_EQ(where(r.errors[1]), "p.yaml:10:12 lists.codes.path");
  EXPECT_EQ(r.errors[1].hint, "allowed here: file");
  Diagnostic d;
  d = only_error(std::string(kMinimal) + "lists:\n  codes: alpha\n");
  EXPECT_EQ(where(d), "p.yaml:10:10 lists.codes");
  EXPECT_EQ(d.message, "expected a list of terms or { file: PATH }, got \"alpha\"");
  d = only_error(std::string(kMinimal) + "lists:\n  Codes: [a]\n");
  EXPECT_EQ(where(d), "p.yaml:10:3 lists.Codes");
}

TEST_F(PolicyLoadTest, AnchorsAndAliasesAreRefused) {
  PolicyLoad r = load(std::string(kMinimal) + "lists:\n  a: &terms [x, y]\n  b: *terms\n");
  ASSERT_EQ(r.errors.size(), 2u) << to_string(r.errors);
  EXPECT_EQ(where(r.errors[0]), "p.yaml:10:6 ");
  EXPECT_EQ(where(r.errors[1]), "p.yaml:11:6 ");
}

}  // namespace
