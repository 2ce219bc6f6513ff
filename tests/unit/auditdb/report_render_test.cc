// The HTML report as a browser draws it: Debian's chromium, headless, takes
// a screenshot of the page opened from a file (offline, as an assessor
// would), and the charts' bar colours must cover a plausible area of it.
// chromium is a build dependency (scripts/install-deps); without it this
// test fails rather than pass without having looked.
#include <png.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "ferry/auditdb/report.h"
#include "tests/support/subprocess.h"
#include "tests/unit/auditdb/trail_writer.h"

namespace ferry::auditdb {
namespace {

using test::TempDir;
using test::TrailWriter;

struct Rgb {
  int r, g, b;
};
constexpr Rgb kFirstChannel{0x1f, 0x77, 0xb4};  // report_html.cc kChannelColours[0]
constexpr Rgb kReason{0xd6, 0x27, 0x28};        // report_html.cc kReasonColour

struct Screenshot {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::vector<std::uint8_t> rgba;

  std::uint64_t count_near(Rgb c) const {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i + 3 < rgba.size(); i += 4) {
      if (std::abs(rgba[i] - c.r) <= 3 && std::abs(rgba[i + 1] - c.g) <= 3 && std::abs(rgba[i + 2] - c.b) <= 3) ++n;
    }
    return n;
  }
  std::uint64_t count_not_white() const {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i + 3 < rgba.size(); i += 4) {
      if (rgba[i] < 240 || rgba[i + 1] < 240 || rgba[i + 2] < 240) ++n;
    }
    return n;
  }
};

std::optional<Screenshot> read_png(const std::string& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_file(&image, path.c_str()) == 0) return std::nullopt;
  image.format = PNG_FORMAT_RGBA;
  Screenshot s;
  s.width = image.width;
  s.height = image.height;
  s.rgba.resize(PNG_IMAGE_SIZE(image));
  if (png_image_finish_read(&image, nullptr, s.rgba.data(), 0, nullptr) == 0) {
    png_image_free(&image);
    return std::nullopt;
  }
  return s;
}

std::string oid(int n) {
  std::string s = std::to_string(n);
  return std::string(32 - s.size(), '0') + s;
}

TEST(AuditReportRender, ChromiumDrawsTheCharts) {
  const std::optional<std::string> chromium = ferry::test::find_on_path("chromium");
  ASSERT_TRUE(chromium) << "chromium is not on PATH: install Debian's chromium package (scripts/install-deps); "
                           "this test renders the report in it and cannot check the charts without it";

  TempDir dir;
  TrailWriter w(dir.path());
  const char* channels[] = {"docs", "mail", "web"};
  const char* reasons[] = {"macro", "keyword", "av", "type_mismatch", "size"};
  int n = 0;
  for (int day = 1; day <= 14; ++day) {
    const std::string date = std::string("2026-11-") + (day < 10 ? "0" : "") + std::to_string(day);
    for (int i = 0; i < 20 + day; ++i) {
      const std::string ts = date + "T" + (i % 24 < 10 ? "0" : "") + std::to_string(i % 24) + ":00:00.000Z";
      ++n;
      w.add(ts, "object.accepted",
            {{"channel", channels[i % 3]}, {"object", oid(n)}, {"name", "<script>alert(" + std::to_string(n) + ")</script>"},
             {"size", "4096"}});
      if (i % 4 == 0) {
        w.add(ts, "object.refused",
              {{"channel", channels[i % 3]}, {"object", oid(100000 + n)}, {"name", "\"><svg onload=alert(1)>"},
               {"reasons", reasons[i % 5]}, {"type", "docm"}});
      }
    }
  }
  crypto::Result<AuditIndex> index = AuditIndex::open(dir.path());
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE(index->update().ok());
  crypto::Result<ReportFigures> figures = compute_report(*index, "2026-11-01", "2026-11-14");
  ASSERT_TRUE(figures.ok());
  const std::string html_path = dir.path() + "/report.html";
  std::ofstream(html_path) << render_html(*figures, ChainCheck{});
  const std::string png_path = dir.path() + "/report.png";

  ferry::test::ProcessOptions options;
  options.timeout = std::chrono::seconds(120);
  const ferry::test::ProcessOutcome run = ferry::test::run_process(
      {*chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=" + dir.path() + "/profile",
       "--screenshot=" + png_path, "--window-size=1280,2000", "file://" + html_path},
      options);
  ASSERT_TRUE(run.succeeded()) << "chromium: " << run.describe() << "\n" << run.err;

  const std::optional<Screenshot> shot = read_png(png_path);
  ASSERT_TRUE(shot) << png_path << " is not a PNG chromium wrote";
  EXPECT_EQ(shot->width, 1280u);
  EXPECT_EQ(shot->height, 2000u);
  const std::uint64_t pixels = std::uint64_t{shot->width} * shot->height;
  // 14 stacked bars ~50 px wide, a third of each in the first channel's
  // colour; five reason bars 16 px high and up to 660 px long.
  const std::uint64_t volume_px = shot->count_near(kFirstChannel);
  const std::uint64_t reason_px = shot->count_near(kReason);
  std::printf("screenshot %ux%u: %llu px volume-bar colour, %llu px reason-bar colour, %llu px not white\n",
              shot->width, shot->height, static_cast<unsigned long long>(volume_px),
              static_cast<unsigned long long>(reason_px), static_cast<unsigned long long>(shot->count_not_white()));
  EXPECT_GT(volume_px, 3000u) << "the volume chart's bars are not drawn";
  EXPECT_LT(volume_px, pixels / 4);
  EXPECT_GT(reason_px, 3000u) << "the rejection-reason bars are not drawn";
  EXPECT_LT(reason_px, pixels / 4);
  EXPECT_GT(shot->count_not_white(), pixels / 50) << "the page is blank";
}

}  // namespace
}  // namespace ferry::auditdb
