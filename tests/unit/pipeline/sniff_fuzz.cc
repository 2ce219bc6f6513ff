// One target per structural sniffer (pdf, png, jpeg, zip), chosen at build
// time by FERRY_SNIFFER: whatever the bytes, no crash, no hang, and an answer
// that is either "sound" or a reason.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ferry/pipeline/sniff.h"
#include "ferry/pipeline/zip.h"

namespace {

struct Drain final : ferry::pipeline::ZipMemberSink {
  std::uint64_t bytes = 0;
  ferry::crypto::Result<bool> begin(const ferry::pipeline::ZipEntryInfo&) override { return true; }
  ferry::crypto::Status data(std::string_view piece) override {
    bytes += piece.size();
    if (bytes > (std::uint64_t{64} << 20)) return ferry::crypto::make_error(ferry::crypto::Errc::exhausted, "cap");
    return {};
  }
  ferry::crypto::Status end() override { return {}; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::pipeline;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
#if FERRY_SNIFFER == 1
  (void)check_pdf_structure(bytes);
#elif FERRY_SNIFFER == 2
  (void)check_png_structure(bytes);
#elif FERRY_SNIFFER == 3
  (void)check_jpeg_structure(bytes);
#else
  ferry::crypto::Result<ZipDirectory> dir = read_zip_directory(bytes);
  if (dir.ok()) {
    for (const ZipMember& m : dir->members) {
      if (m.local_offset >= size) std::abort();  // the walk checked every local header
    }
    PackageType p = classify_package(bytes, *dir);
    if (p.type.empty()) std::abort();
    Drain drain;
    (void)read_members(bytes, drain);
  }
#endif
  return 0;
}
