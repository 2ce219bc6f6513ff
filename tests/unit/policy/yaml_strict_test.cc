// The strict reader both loaders stand on: unknown keys, duplicates, types,
// and every problem collected with its place.
#include "policy/yaml_strict.h"

#include <array>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ferry::policy::Diagnostic;
using ferry::policy::yaml::Diagnostics;
using ferry::policy::yaml::Field;
using ferry::policy::yaml::Mapping;
using ferry::policy::yaml::Named;

// Parses `text` and hands the root to `read`; returns what was reported.
template <class F>
std::vector<Diagnostic> read(std::string_view text, F&& read) {
  Diagnostics diag("doc.yaml");
  std::optional<YAML::Node> root = ferry::policy::yaml::parse_document(text, diag);
  if (root) read(ferry::policy::yaml::root_field(*root, diag));
  return diag.take();
}

std::string place(const Diagnostic& d) {
  return d.key + "@" + std::to_string(d.line) + ":" + std::to_string(d.column);
}

TEST(DiagnosticText, FileLineColumnKeyMessageHint) {
  Diagnostic d{"p.yaml", 3, 7, "channels[a].max_size", "malformed size", "sizes are written 50MiB"};
  EXPECT_EQ(d.to_string(), "p.yaml:3:7: channels[a].max_size: malformed size (hint: sizes are written 50MiB)");
  d.hint.clear();
  EXPECT_EQ(d.to_string(), "p.yaml:3:7: channels[a].max_size: malformed size");
  d.key.clear();
  EXPECT_EQ(d.to_string(), "p.yaml:3:7: malformed size");
  d.line = 0;
  d.column = 0;
  EXPECT_EQ(d.to_string(), "p.yaml: malformed size");
}

TEST(YamlStrict, PositionsAreOneBased) {
  YAML::Mark m;
  m.line = 0;
  m.column = 4;
  EXPECT_EQ(ferry::policy::yaml::position_of(m).line, 1);
  EXPECT_EQ(ferry::policy::yaml::position_of(m).column, 5);
  EXPECT_EQ(ferry::policy::yaml::position_of(YAML::Mark::null_mark()).line, 0);
}

TEST(YamlStrict, UnknownKeyIsNamedWithAllowedKeysAndSuggestion) {
  auto errors = read("alpha: 1\nbetta: 2\n", [](const Field& root) {
    std::optional<Mapping> m = root.mapping({"alpha", "beta"});
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->has("alpha"));
    EXPECT_FALSE(m->has("betta"));  // left out of the result
  });
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(place(errors[0]), "betta@2:1");
  EXPECT_THAT(errors[0].message, HasSubstr("unknown key \"betta\""));
  EXPECT_EQ(errors[0].hint, "did you mean 'beta'? allowed here: alpha, beta");
}

TEST(YamlStrict, DuplicateKeyPointsAtTheSecondAndNamesTheFirst) {
  auto errors = read("a: 1\nb: 2\na: 3\n", [](const Field& root) {
    std::optional<Mapping> m = root.mapping({"a", "b"});
    ASSERT_TRUE(m);
    EXPECT_EQ(m->get("a")->node().Scalar(), "1");
  });
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(place(errors[0]), "a@3:1");
  EXPECT_EQ(errors[0].hint, "first given at line 1");
}

TEST(YamlStrict, MissingRequiredKeyIsReportedAtTheMapping) {
  auto errors = read("outer:\n  a: 1\n", [](const Field& root) {
    std::optional<Field> outer = root.mapping({"outer"})->get("outer");
    ASSERT_TRUE(outer);
    std::optional<Mapping> m = outer->mapping({"a", "b"});
    EXPECT_FALSE(m->require("b"));
  });
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(place(errors[0]), "outer.b@2:3");
  EXPECT_EQ(errors[0].message, "missing required key 'b'");
}

TEST(YamlStrict, TypedScalars) {
  auto errors = read(R"(s: hello
q: "7"
n: 42
neg: -3
frac: 2.5
big: 99999999999999999999
t: true
y: yes
sz: 64KiB
bad_sz: 64kb
ctl: "a\u0001b"
empty:
list: [a, b]
)",
                     [](const Field& root) {
                       std::optional<Mapping> m = root.any_mapping();
                       ASSERT_TRUE(m);
                       EXPECT_EQ(m->get("s")->string(), "hello");
                       EXPECT_EQ(m->get("q")->string(), "7");  // a quoted number is a string
                       EXPECT_FALSE(m->get("q")->unsigned_integer());
                       EXPECT_EQ(m->get("n")->unsigned_integer(), 42u);
                       EXPECT_FALSE(m->get("n")->unsigned_integer(50, 60));
                       EXPECT_FALSE(m->get("neg")->unsigned_integer());
                       EXPECT_FALSE(m->get("frac")->unsigned_integer());
                       EXPECT_FALSE(m->get("big")->unsigned_integer());
                       EXPECT_EQ(m->get("t")->boolean(), true);
                       EXPECT_FALSE(m->get("y")->boolean());  // YAML 1.1 "yes" is not a boolean here
                       EXPECT_EQ(m->get("sz")->size(), 64u * 1024);
                       EXPECT_FALSE(m->get("bad_sz")->size());
                       EXPECT_FALSE(m->get("ctl")->string());
                       EXPECT_FALSE(m->get("empty")->string());
                       EXPECT_FALSE(m->get("list")->string());
                       EXPECT_EQ(m->get("list")->string_list(), (std::vector<std::string>{"a", "b"}));
                     });
  std::vector<std::string> places;
  for (const Diagnostic& d : errors) places.push_back(place(d) + " " + d.message);
  EXPECT_THAT(places,
              ElementsAre("q@2:4 expected a whole number, got the quoted string \"7\"",
                          "n@3:4 must be between 50 and 60, got 42",
                          "neg@4:6 must not be negative, got \"-3\"",
                          "frac@5:7 expected a whole number, got the fraction \"2.5\"",
                          "big@6:6 number is too large",
                          "y@8:4 expected true or false, got \"yes\"",
                          "bad_sz@10:9 malformed size \"64kb\": unknown unit 'kb' (units are KiB, MiB, GiB, TiB: powers of 1024)",
                          "ctl@11:6 control character in \"a\\x01b\"",
                          // An empty value is reported at its key, not at the next line.
                          "empty@12:1 expected a string, got nothing",
                          "list@13:7 expected a string, got a list"));
}

enum class Colour { red, green };
constexpr std::array<Named<Colour>, 2> kColours{{{"red", Colour::red}, {"green", Colour::green}}};

TEST(YamlStrict, ChoicesAndChoiceLists) {
  auto errors = read("one: green\nbad: blue\nmany: [red, green]\ntwice: [red, red]\n", [](const Field& root) {
    std::optional<Mapping> m = root.any_mapping();
    EXPECT_EQ(m->get("one")->choice<Colour>(kColours), Colour::green);
    EXPECT_FALSE(m->get("bad")->choice<Colour>(kColours));
    EXPECT_EQ(m->get("many")->choice_list<Colour>(kColours), (std::vector<Colour>{Colour::red, Colour::green}));
    EXPECT_FALSE(m->get("twice")->choice_list<Colour>(kColours));
  });
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(place(errors[0]), "bad@2:6");
  EXPECT_EQ(errors[0].hint, "known values: red, green");
  EXPECT_EQ(place(errors[1]), "twice[1]@4:14");
  EXPECT_EQ(errors[1].message, "'red' is listed twice");
}

TEST(YamlStrict, RefusesWhatADocumentMustNotContain) {
  struct Case {
    const char* text;
    const char* message;
    int line;
    int column;
  };
  const Case cases[] = {
      {"a: &x 1\n", "anchors (&name) are not allowed", 1, 4},
      {"a: [1]\nb: *x\n", "the referenced anchor is not defined", 2, 4},
      {"a: !!str 1\n", "explicit tag", 1, 4},
      {"a: !custom 1\n", "explicit tag", 1, 4},
      {"a: 1\n---\nb: 2\n", "a second YAML document", 2, 1},
      {"a: 1\nb: \xff\n", "not valid UTF-8", 2, 4},
      {"a: 1\nb: \xed\xa0\x80\n", "not valid UTF-8", 2, 4},  // a UTF-16 surrogate
      {"a: [1, 2\nb: 3\n", "YAML syntax error", 2, 2},
      {"a: b: c\n", "YAML syntax error: illegal map value", 1, 5},
      {"a:\n  - 1\n  b: 2\n", "YAML syntax error", 3, 3},
  };
  for (const Case& c : cases) {
    auto errors = read(c.text, [](const Field&) { FAIL() << "must not be read"; });
    ASSERT_FALSE(errors.empty()) << c.text;
    EXPECT_THAT(errors[0].message, HasSubstr(c.message)) << c.text;
    if (c.line != 0) {
      EXPECT_EQ(errors[0].line, c.line) << c.text;
      EXPECT_EQ(errors[0].column, c.column) << c.text;
    }
  }
}

TEST(YamlStrict, NulByteIsRefusedWithItsPlace) {
  auto errors = read(std::string_view("a: 1\nb:\0 2\n", 11), [](const Field&) { FAIL(); });
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(place(errors[0]), "@2:3");
  EXPECT_EQ(errors[0].message, "NUL byte in the document");
}

TEST(YamlStrict, AliasAfterAnchorIsRefusedBeforeAnyExpansion) {
  auto errors = read("a: &x [1, 2]\nb: *x\n", [](const Field&) { FAIL(); });
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(place(errors[0]), "@1:4");
  EXPECT_EQ(place(errors[1]), "@2:4");
  EXPECT_THAT(errors[1].message, HasSubstr("aliases"));
}

TEST(YamlStrict, DeepNestingIsAnErrorNotACrash) {
  const std::string deep(100000, '[');
  auto errors = read(deep, [](const Field&) { FAIL(); });
  ASSERT_FALSE(errors.empty());
}

TEST(YamlStrict, EmptyAndCommentOnlyDocumentsAreNull) {
  for (std::string_view text : {"", "# nothing\n", "\n\n"}) {
    bool seen = false;
    auto errors = read(text, [&](const Field& root) {
      seen = true;
      EXPECT_TRUE(root.is_null());
      EXPECT_EQ(root.position().line, 1);
    });
    EXPECT_TRUE(seen);
    EXPECT_TRUE(errors.empty());
  }
}

TEST(YamlStrict, DiagnosticsAreCappedAndSorted) {
  Diagnostics diag("f", 3);
  diag.add({5, 1}, "e", "five");
  diag.add({0, 0}, "", "unplaced");
  diag.add({2, 9}, "b", "two-nine");
  diag.add({2, 1}, "a", "two-one");
  diag.add({1, 1}, "z", "dropped");
  std::vector<std::string> messages;
  for (const Diagnostic& d : diag.take()) messages.push_back(d.message);
  // The first three are kept, then sorted; the cap's note comes last.
  EXPECT_THAT(messages, ElementsAre("two-nine", "five", "unplaced", "more than 3 errors; the rest are not shown"));
}

TEST(YamlStrict, ReferredFilesSortAfterTheDocument) {
  Diagnostics diag("main.yaml");
  diag.add_in("list.txt", {1, 1}, "lists.x", "in the list");
  diag.add({9, 1}, "k", "in the document");
  std::vector<Diagnostic> out = diag.take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].file, "main.yaml");
  EXPECT_EQ(out[1].file, "list.txt");
}

}  // namespace
