// Every rebuild and every active-content check on the same hostile bytes:
// none may crash, leak or hang, whatever the type claims.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ferry/disarm/disarm.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ferry::policy::FileType;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ferry::disarm::Limits limits;
  limits.max_pixels = 1'000'000;
  limits.max_output = 8 << 20;
  limits.max_part = 4 << 20;
  limits.max_package = 16 << 20;
  for (FileType t : {FileType::jpeg, FileType::png, FileType::pdf, FileType::docx, FileType::ofd}) {
    (void)ferry::disarm::rebuild(t, bytes, limits);
    (void)ferry::disarm::find_active_content(t, bytes, limits);
  }
  return 0;
}
