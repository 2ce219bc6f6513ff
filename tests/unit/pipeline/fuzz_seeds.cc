// Writes the seed files of the sniffer fuzz targets (corpus/pdf, png, jpeg,
// zip, inspect; inspect also seeds fuzz_disarm) from the fixture
// generators, so that every binary seed in the tree has its generator:
//   build/tests/pipeline_fuzz_seeds tests/unit/pipeline/corpus
#include <cstdio>
#include <fstream>
#include <string>

#include "tests/support/fixtures.h"

namespace {

bool write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) std::fprintf(stderr, "pipeline_fuzz_seeds: cannot write %s\n", path.c_str());
  return static_cast<bool>(out);
}

ferry::test::ZipEntry entry(std::string name, std::string data,
                           ferry::test::ZipEntry::Kind kind = ferry::test::ZipEntry::file) {
  ferry::test::ZipEntry e;
  e.name = std::move(name);
  e.data = std::move(data);
  e.kind = kind;
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pipeline_fuzz_seeds CORPUS_DIR\n");
    return 2;
  }
  using namespace ferry::test;
  const std::string dir = argv[1];
  const std::string pdf = make_pdf({"Hello", "second page"});
  const std::string png = make_png(3, 2, true);
  const std::string jpeg = make_jpeg(8, 8, true);
  const std::string zip = make_zip({entry("a.txt", "some text"), entry("d/", "", ZipEntry::dir), entry("d/b.txt", "more text")});
  const std::string docx = make_docx({"paragraph"});
  const std::string ofd = make_ofd({"page"});
  bool ok = write(dir + "/pdf/small.pdf", pdf) && write(dir + "/png/small.png", png) &&
            write(dir + "/jpeg/small.jpg", jpeg) && write(dir + "/zip/plain.zip", zip) &&
            write(dir + "/zip/docx.zip", docx) && write(dir + "/zip/ofd.zip", ofd);
  ok = ok && write(dir + "/inspect/small.pdf", pdf) && write(dir + "/inspect/small.png", png) &&
       write(dir + "/inspect/nested.zip", make_zip({entry("in.zip", zip), entry("p.pdf", pdf)})) &&
       write(dir + "/inspect/small.xlsx", make_xlsx({{"a", "b"}})) && write(dir + "/inspect/small.pptx", make_pptx({"s"})) &&
       write(dir + "/inspect/small.docx", docx) && write(dir + "/inspect/small.ofd", ofd) &&
       write(dir + "/inspect/small.json", R"({"a": [1, "x"]})") &&
       write(dir + "/inspect/small.jpg", jpeg);  // also fuzz_disarm's seeds (tests/unit/disarm)
  return ok ? 0 : 1;
}
