// ferry-inspect-bench: inspection throughput in files/s for small DOCX and
// PDF files ([policy-inspect] benchmark), through the same Inspector ferryd
// and `ferryctl inspect` run: true type by both detectors, package limits,
// text extraction, keywords (the reference policy's two lists) and personal
// data (all five kinds). Antivirus and disarm are off on the channel: they
// are [disarm]'s and would only add a hold.
//
// Files are generated (tests/support/fixtures.h) and inspected from memory,
// so the figure is the pipeline's, not the disk's. The baseline, measured in
// the same run over the same bytes, is libmagic alone (what `file --mime`
// costs per file): the ratio says how many libmagic calls one full
// inspection is worth, which holds across machines better than files/s.
#include <magic.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "ferry/pipeline/inspect.h"
#include "bench/best_of.h"
#include "policy/policy.h"
#include "tests/support/fixtures.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kPolicy = R"(schema: ferry-policy/1
serial: 1
lists:
  classified-markings: ["绝密", "机密", "秘密★", "内部资料"]
  project-codenames: ["OPERATION SKYFALL", "PROJECT NIGHTJAR"]
channels:
  - name: release-out
    direction: outbound
    kind: file
    allow_types: [pdf, docx]
    max_size: 20MiB
    antivirus: off
    deny_keywords: [classified-markings, project-codenames]
    pii: { detect: [cn_id, cn_mobile, uscc, bank_card, email], action: reject }
)";

// A paragraph of an ordinary notice: Chinese with some English and numbers,
// no term and no personal data.
std::string paragraph(unsigned i) {
  return "关于做好第" + std::to_string(i) + "季度政务公开工作的通知：各单位要按照要求，及时公开政策文件和办事指南。"
         "Please submit the report (ref. " + std::to_string(1000 + i) + ") before the end of the month.";
}

using ferry::bench::best_of_3;

}  // namespace

int main() {
  ferry::policy::PolicyLoad load = ferry::policy::load_policy_text(kPolicy, "bench-policy.yaml", ".");
  if (!load.ok()) {
    std::fprintf(stderr, "ferry-inspect-bench: %s\n", load.errors.front().to_string().c_str());
    return 2;
  }
  auto inspector = ferry::pipeline::Inspector::create(*load.policy);
  if (!inspector.ok() || !(*inspector)->problem().empty()) {
    std::fprintf(stderr, "ferry-inspect-bench: inspector: %s\n",
                 inspector.ok() ? (*inspector)->problem().c_str() : inspector.error().message.c_str());
    return 2;
  }
  const ferry::policy::Channel& channel = *load.policy->find("release-out");
  magic_t cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_MIME_ENCODING | MAGIC_NO_CHECK_COMPRESS);
  if (cookie == nullptr || magic_load(cookie, nullptr) != 0) {
    std::fprintf(stderr, "ferry-inspect-bench: libmagic did not load\n");
    return 2;
  }

  constexpr unsigned kFiles = 200;
  struct Set {
    const char* what;
    const char* name;
    std::vector<std::string> files;
  } sets[] = {{"DOCX, 12 paragraphs", "notice.docx", {}}, {"PDF, 3 pages", "notice.pdf", {}}};
  for (unsigned i = 0; i < kFiles; ++i) {
    std::vector<std::string> paras;
    for (unsigned p = 0; p < 12; ++p) paras.push_back(paragraph(i * 12 + p));
    sets[0].files.push_back(ferry::test::make_docx(paras));
    // The PDF fixture writes Latin-1 (standard Type 1 font): English pages.
    std::vector<std::string> pages;
    for (unsigned p = 0; p < 3; ++p) {
      std::string page;
      for (unsigned l = 0; l < 30; ++l) page += "Line " + std::to_string(l) + " of the public notice, section " + std::to_string(p) + ".\n";
      pages.push_back(page);
    }
    sets[1].files.push_back(ferry::test::make_pdf(pages));
  }

  std::printf("ferry-inspect-bench: %u files per type, from memory, best of 3, 1 thread\n", kFiles);
  std::printf("%-22s %12s %14s %12s %10s\n", "files", "avg size", "ferry files/s", "libmagic f/s", "ratio");
  int status = 0;
  for (const Set& set : sets) {
    std::size_t bytes = 0, rejected = 0;
    for (const std::string& f : set.files) bytes += f.size();
    const double ours = best_of_3([&] {
      rejected = 0;
      for (const std::string& f : set.files) rejected += (*inspector)->inspect(channel, set.name, f).accepted() ? 0 : 1;
    });
    const double baseline = best_of_3([&] {
      for (const std::string& f : set.files) (void)magic_buffer(cookie, f.data(), f.size());
    });
    if (rejected != 0) {
      std::fprintf(stderr, "ferry-inspect-bench: %zu %s files were rejected; the bench measures accepted ones\n",
                   rejected, set.what);
      status = 1;
    }
    const double ours_rate = kFiles / ours, base_rate = kFiles / baseline;
    std::printf("%-22s %10zu B %14.0f %12.0f %9.2fx\n", set.what, bytes / kFiles, ours_rate, base_rate,
                ours_rate / base_rate);
  }
  std::printf("(ratio: full inspection per file / libmagic alone per file; below 1 means slower)\n");
  magic_close(cookie);
  return status;
}
