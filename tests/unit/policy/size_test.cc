#include "policy/size.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace {

using ::testing::HasSubstr;
using ferry::policy::format_size;
using ferry::policy::parse_size;

TEST(ParseSize, PlainBytesAndBinaryUnits) {
  EXPECT_EQ(*parse_size("0"), 0u);
  EXPECT_EQ(*parse_size("1024"), 1024u);
  EXPECT_EQ(*parse_size("64KiB"), 64u * 1024);
  EXPECT_EQ(*parse_size("50MiB"), 50u * 1024 * 1024);
  EXPECT_EQ(*parse_size("2GiB"), 2ull << 30);
  EXPECT_EQ(*parse_size("3TiB"), 3ull << 40);
  EXPECT_EQ(*parse_size("18446744073709551615"), 18446744073709551615ull);
}

std::string error_of(std::string_view text) {
  auto r = parse_size(text);
  return r.ok() ? "accepted " + std::to_string(*r) : r.error().message;
}

TEST(ParseSize, RefusesWhatItWouldHaveToGuess) {
  EXPECT_THAT(error_of("50MB"), HasSubstr("unknown unit 'MB'"));
  EXPECT_THAT(error_of("50mib"), HasSubstr("unknown unit 'mib'"));
  EXPECT_THAT(error_of("50M"), HasSubstr("unknown unit 'M'"));
  EXPECT_THAT(error_of("-1"), HasSubstr("negative"));
  EXPECT_THAT(error_of("1.5MiB"), HasSubstr("whole number"));
  EXPECT_THAT(error_of("50 MiB"), HasSubstr("no space"));
  EXPECT_THAT(error_of(""), HasSubstr("empty"));
  EXPECT_THAT(error_of("MiB"), HasSubstr("starts with a number"));
  EXPECT_THAT(error_of("+5"), HasSubstr("starts with a number"));
  EXPECT_THAT(error_of(" 5"), HasSubstr("starts with a number"));
  EXPECT_THAT(error_of("5MiB "), HasSubstr("unknown unit"));
  EXPECT_THAT(error_of("0x10"), HasSubstr("unknown unit 'x10'"));
}

TEST(ParseSize, RefusesOverflowInsteadOfWrapping) {
  EXPECT_THAT(error_of("18446744073709551616"), HasSubstr("too large"));
  EXPECT_THAT(error_of("16777216TiB"), HasSubstr("too large"));  // 2^64
  EXPECT_EQ(*parse_size("16777215TiB"), 16777215ull << 40);
  EXPECT_THAT(error_of("99999999999999999999999999GiB"), HasSubstr("too large"));
}

TEST(FormatSize, ShortestExactSpellingRoundTrips) {
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(1000), "1000");
  EXPECT_EQ(format_size(1024), "1KiB");
  EXPECT_EQ(format_size(50u << 20), "50MiB");
  EXPECT_EQ(format_size((1ull << 30) + 1024), "1048577KiB");
  EXPECT_EQ(format_size(2ull << 30), "2GiB");
  for (std::uint64_t v : {0ull, 1ull, 1023ull, 1536ull, 3ull << 40, 18446744073709551615ull}) {
    EXPECT_EQ(*parse_size(format_size(v)), v) << v;
  }
}

}  // namespace
