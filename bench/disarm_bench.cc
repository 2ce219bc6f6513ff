// ferry-disarm-bench ([disarm] benchmark): what rebuilding costs, and what
// the sandboxed worker costs per object.
//
//   PDF disarm     MB/s of disarm::rebuild_pdf over generated PDFs with
//                  active content, beside qpdf copying the same files
//                  unchanged (read and write, no walk): the ratio is the
//                  disarm walk's share.
//   images         images/s of rebuild_jpeg and rebuild_png (decode and
//                  re-encode, metadata named), beside decoding alone.
//   worker         the cost per object of going through ferry-worker (IPC,
//                  descriptors, the answer's re-check) beside the same
//                  examination in-process, on small text objects; and the
//                  cost of starting a fresh worker (exec, policy, libmagic,
//                  warm-up, confinement), paid once per max_use objects
//                  and after every failure, shown also as max_use = 1.
//
// Every figure is measured in the same run as its baseline; ratios are what
// carry across machines. Files are generated (tests/support), in memory.
#include <fcntl.h>

#include <cstdio>  // before jpeglib.h, which uses FILE

#include <jpeglib.h>
#include <png.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <csetjmp>
#include <filesystem>
#include <string>
#include <vector>

// qpdf 11: PointerHolder is on its way out; say we use none of it.
#define POINTERHOLDER_TRANSITION 4
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFWriter.hh>

#include "ferry/disarm/disarm.h"
#include "ferry/pipeline/inspect.h"
#include "ferry/sandbox/examine.h"
#include "ferry/sandbox/worker.h"
#include "bench/best_of.h"
#include "policy/policy.h"
#include "tests/support/fixtures.h"
#include "tests/support/fixtures_media.h"

namespace {

using Clock = std::chrono::steady_clock;

using ferry::bench::best_of_3;

int failures = 0;
void fail(const std::string& what) {
  std::fprintf(stderr, "ferry-disarm-bench: %s\n", what.c_str());
  ++failures;
}

// qpdf reading and writing a file unchanged: the floor any qpdf-based
// rebuild stands on.
std::size_t qpdf_copy(const std::string& pdf) {
  QPDF q;
  q.setSuppressWarnings(true);
  q.processMemoryFile("bench.pdf", pdf.data(), pdf.size());
  QPDFWriter w(q);
  w.setOutputMemory();
  w.setStreamDataMode(qpdf_s_preserve);
  w.write();
  return w.getBufferSharedPointer()->getSize();
}

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
};
void jpeg_fail(j_common_ptr c) { std::longjmp(reinterpret_cast<JpegError*>(c->err)->jump, 1); }

// Decoding alone, every scanline: the floor of a decode-and-encode rebuild.
bool jpeg_decode(const std::string& bytes) {
  jpeg_decompress_struct d;
  JpegError err;
  d.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&d);
    return false;
  }
  jpeg_create_decompress(&d);
  jpeg_mem_src(&d, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&d, TRUE);
  jpeg_start_decompress(&d);
  std::vector<unsigned char> row(static_cast<std::size_t>(d.output_width) * d.output_components);
  while (d.output_scanline < d.output_height) {
    JSAMPROW r = row.data();
    jpeg_read_scanlines(&d, &r, 1);
  }
  jpeg_finish_decompress(&d);
  jpeg_destroy_decompress(&d);
  return true;
}

bool png_decode(const std::string& bytes) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) return false;
  image.format = PNG_FORMAT_RGBA;
  std::vector<unsigned char> pixels(PNG_IMAGE_SIZE(image));
  const bool ok = png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr) != 0;
  png_image_free(&image);
  return ok;
}

constexpr std::string_view kPolicy = R"(schema: ferry-policy/1
serial: 1
lists:
  classified-markings: ["绝密", "机密", "秘密★", "内部资料"]
channels:
  - name: files
    direction: inbound
    kind: file
    allow_types: [txt, pdf, png, jpeg]
    max_size: 20MiB
    antivirus: off
    deny_keywords: [classified-markings]
    pii: { detect: [cn_id, cn_mobile, bank_card], action: reject }
)";

}  // namespace

int main() {
  std::printf("ferry-disarm-bench: generated files, from memory, best of 3, 1 thread\n\n");

  // --- PDF ----------------------------------------------------------------
  std::vector<std::string> pdfs;
  std::size_t pdf_bytes = 0;
  for (unsigned i = 0; i < 40; ++i) {
    std::vector<std::string> pages;
    for (unsigned p = 0; p < 20; ++p) {
      std::string page;
      for (unsigned l = 0; l < 40; ++l) page += "Line " + std::to_string(l) + " of page " + std::to_string(p) + " of a public notice.\n";
      pages.push_back(page);
    }
    ferry::test::PdfOptions js;
    js.javascript = true;
    pdfs.push_back(i % 4 == 0 ? ferry::test::make_active_pdf() : ferry::test::make_pdf(pages, js));
    pdf_bytes += pdfs.back().size();
  }
  const double rebuild_s = best_of_3([&] {
    for (const std::string& p : pdfs) {
      auto r = ferry::disarm::rebuild_pdf(p);
      if (!r.ok() || r->removed.empty()) fail("a PDF was not rebuilt or had nothing removed");
    }
  });
  const double copy_s = best_of_3([&] {
    for (const std::string& p : pdfs) (void)qpdf_copy(p);
  });
  const double mb = static_cast<double>(pdf_bytes) / 1e6;
  std::printf("%-34s %10s %12s %12s %8s\n", "PDF disarm", "files", "rebuild", "qpdf copy", "ratio");
  std::printf("%-34s %10zu %9.1f MB/s %7.1f MB/s %7.2fx\n", "JavaScript, actions, 20 pages", pdfs.size(), mb / rebuild_s,
              mb / copy_s, copy_s / rebuild_s);
  std::printf("  (%zu bytes on average; ratio: disarm rate / unchanged qpdf copy rate)\n\n", pdf_bytes / pdfs.size());

  // --- images -------------------------------------------------------------
  std::printf("%-34s %10s %12s %12s %8s\n", "images", "pixels", "rebuild/s", "decode/s", "ratio");
  struct ImageSet {
    const char* what;
    unsigned w, h;
    bool jpeg;
    std::vector<std::string> files;
  } images[] = {{"JPEG with Exif/GPS, XMP, comment", 1024, 768, true, {}},
                {"PNG with text and eXIf chunks", 1024, 768, false, {}}};
  for (ImageSet& set : images) {
    for (unsigned i = 0; i < 20; ++i) {
      set.files.push_back(set.jpeg ? ferry::test::make_jpeg_with_metadata(set.w, set.h)
                                   : ferry::test::make_png(set.w, set.h, true));
    }
    const double rebuild = best_of_3([&] {
      for (const std::string& f : set.files) {
        auto r = set.jpeg ? ferry::disarm::rebuild_jpeg(f) : ferry::disarm::rebuild_png(f);
        if (!r.ok() || r->removed.empty()) fail(std::string(set.what) + ": not rebuilt, or nothing removed");
      }
    });
    const double decode = best_of_3([&] {
      for (const std::string& f : set.files) {
        if (!(set.jpeg ? jpeg_decode(f) : png_decode(f))) fail("a fixture does not decode");
      }
    });
    const double n = static_cast<double>(set.files.size());
    std::printf("%-34s %4ux%-5u %12.1f %12.1f %7.2fx\n", set.what, set.w, set.h, n / rebuild, n / decode, decode / rebuild);
  }
  std::printf("  (ratio: rebuild rate / decode-only rate)\n\n");

  // --- the worker ---------------------------------------------------------
  const std::string dir = (std::filesystem::temp_directory_path() / ("ferry-disarm-bench-" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir);
  ferry::policy::PolicyLoad load = ferry::policy::load_policy_text(kPolicy, "bench-policy.yaml", dir);
  if (!load.ok()) {
    fail(load.errors.front().to_string());
    return 2;
  }
  const ferry::policy::Policy& policy = *load.policy;
  const std::string text = "关于做好政务公开工作的通知：各单位要按照要求，及时公开政策文件和办事指南。\n";
  const std::string object = dir + "/notice.txt";
  {
    std::FILE* f = std::fopen(object.c_str(), "wb");
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  auto examiner = ferry::sandbox::Examiner::create(policy, nullptr, "no antivirus in the bench");
  if (!examiner.ok()) {
    fail(examiner.error().message);
    return 2;
  }
  constexpr int kObjects = 2000;
  const double in_process = best_of_3([&] {
    for (int i = 0; i < kObjects; ++i) {
      std::string out;
      if (!(*examiner)->examine(ferry::sandbox::Role::send, "files", "notice.txt", text, &out).accepted()) {
        fail("in-process examination rejected the object");
      }
    }
  });
  ferry::sandbox::WorkerOptions o;
  o.program = ferry::sandbox::default_worker_program();
  o.work_dir = dir + "/work";
  o.max_use = kObjects * 4;
  ferry::sandbox::Worker worker(o, {std::string(kPolicy), "bench-policy.yaml", dir});
  const auto spawn_start = Clock::now();
  if (ferry::crypto::Status s = worker.start(); !s.ok()) {
    fail("ferry-worker did not start: " + s.error().message);
    return 2;
  }
  const double spawn = std::chrono::duration<double>(Clock::now() - spawn_start).count();
  const int fd = ::open(object.c_str(), O_RDONLY | O_CLOEXEC);
  const double through_worker = best_of_3([&] {
    for (int i = 0; i < kObjects; ++i) {
      auto e = worker.examine(ferry::sandbox::Role::send, policy, "files", "notice.txt", fd, text.size());
      if (!e.answer.accepted()) fail("the worker rejected the object: " + e.answer.reasons.front().detail);
    }
  });
  // As ferryd sends them: batches of 64, requests ahead of answers.
  const std::vector<ferry::sandbox::Worker::WorkItem> batch(64, {"files", "notice.txt", fd, text.size()});
  const double batched = best_of_3([&] {
    for (int i = 0; i < kObjects / 64; ++i) {
      for (const auto& e : worker.examine_batch(ferry::sandbox::Role::send, policy, batch)) {
        if (!e.answer.accepted()) fail("the worker rejected an object of a batch");
      }
    }
  });
  const int batched_objects = kObjects / 64 * 64;
  ferry::sandbox::WorkerOptions fresh = o;
  fresh.max_use = 1;
  ferry::sandbox::Worker one_shot(fresh, {std::string(kPolicy), "bench-policy.yaml", dir});
  constexpr int kFresh = 20;
  const auto fresh_start = Clock::now();
  for (int i = 0; i < kFresh; ++i) {
    auto e = one_shot.examine(ferry::sandbox::Role::send, policy, "files", "notice.txt", fd, text.size());
    if (!e.answer.accepted()) fail("a fresh worker rejected the object");
  }
  const double fresh_each = std::chrono::duration<double>(Clock::now() - fresh_start).count() / kFresh;
  ::close(fd);
  worker.stop();
  one_shot.stop();
  std::filesystem::remove_all(dir);

  const double per_in = in_process / kObjects * 1e6, per_worker = through_worker / kObjects * 1e6;
  std::printf("%-34s %14s %14s %8s\n", "worker, small text object", "in-process", "via worker", "ratio");
  std::printf("%-34s %11.1f us %11.1f us %7.2fx\n", "per object (persistent worker)", per_in, per_worker, per_worker / per_in);
  std::printf("%-34s %14s %11.1f us\n", "  fixed cost of the worker", "", per_worker - per_in);
  const double per_batched = batched / batched_objects * 1e6;
  std::printf("%-34s %11.1f us %11.1f us %7.2fx\n", "per object, batches of 64 (ferryd)", per_in, per_batched,
              per_batched / per_in);
  std::printf("%-34s %14s %11.1f ms\n", "starting a worker", "", spawn * 1e3);
  std::printf("%-34s %11.1f us %11.1f ms %7.0fx\n", "per object, fresh worker each", per_in, fresh_each * 1e3,
              fresh_each * 1e6 / per_in);
  std::printf("  (ratio: per-object time through the worker / the same examination in-process; confinement:\n   %s)\n",
              worker.confinement().c_str());
  return failures == 0 ? 0 : 1;
}
