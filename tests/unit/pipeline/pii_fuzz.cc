// The personal-data scanner reads the text of hostile files. Whatever the
// bytes: no crash, every match inside the text, in order, not overlapping,
// and each one passes its own validator.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ferry/pipeline/pii.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ferry::pipeline;
  using ferry::policy::PiiKind;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<PiiMatch> found =
      find_pii(text, {PiiKind::cn_id, PiiKind::cn_mobile, PiiKind::uscc, PiiKind::bank_card, PiiKind::email});
  std::size_t end = 0;
  for (const PiiMatch& m : found) {
    if (m.offset < end || m.length == 0 || m.offset + m.length > size) std::abort();
    end = m.offset + m.length;
    const std::string_view s = text.substr(m.offset, m.length);
    bool valid = true;
    switch (m.kind) {
      case PiiKind::cn_id: valid = is_cn_id(s, 99991231); break;
      case PiiKind::uscc: valid = is_uscc(s); break;
      case PiiKind::bank_card: valid = is_bank_card(s); break;
      case PiiKind::email: valid = is_email(s); break;
      case PiiKind::cn_mobile: valid = s.size() == 13 || is_cn_mobile(s); break;  // 3-4-4 groups
    }
    if (!valid) std::abort();
  }
  return 0;
}
