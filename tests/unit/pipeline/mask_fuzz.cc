// Masking ([disarm]) rewrites hostile text in place. The input is masked as
// each text type in turn. Whatever the bytes: no crash, an error always says
// something, and a result that is returned is what the receiving side may
// see: it decodes, reads as its type, and the inspection finds no value in
// it; with nothing masked it is the input itself, byte for byte.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ferry/pipeline/keywords.h"
#include "ferry/pipeline/mask.h"
#include "ferry/pipeline/pii.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::pipeline;
  using ferry::policy::FileType;
  using ferry::policy::PiiKind;
  const std::vector<PiiKind> kinds = {PiiKind::cn_id, PiiKind::cn_mobile, PiiKind::uscc, PiiKind::bank_card,
                                      PiiKind::email};
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  TextLimits limits;
  limits.max_text = 1 << 20;
  for (const FileType type : {FileType::txt, FileType::csv, FileType::json, FileType::xml}) {
    const ferry::crypto::Result<Masked> r = mask_personal_data(type, input, kinds, limits);
    if (!r) {
      if (r.error().message.empty()) std::abort();
      continue;
    }
    if (r->masked.empty() && r->bytes != input) std::abort();
    if (!decode_text(r->bytes, limits)) std::abort();
    const ferry::crypto::Result<std::string> text = extract_text(type, r->bytes, limits);
    if (!text) std::abort();
    if (!find_pii(normalise_for_keywords(*text).text, kinds).empty()) std::abort();
  }
  return 0;
}
