// The whole content inspection of one object, on a channel that allows every
// type and has keyword and personal-data rules: whatever the bytes, no crash,
// a type answer, and a rejection always carries a code.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "ferry/pipeline/inspect.h"
#include "policy/policy.h"

namespace {

constexpr std::string_view kPolicy = R"(schema: ferry-policy/1
serial: 1
lists:
  marks: ["绝密", "OPERATION SKYFALL"]
channels:
  - name: all
    direction: inbound
    kind: file
    allow_types: [pdf, ofd, docx, xlsx, pptx, txt, csv, json, xml, png, jpeg, zip]
    max_size: 16MiB
    antivirus: off
    archives: { max_depth: 2, max_entries: 200, max_ratio: 100, max_expanded: 16MiB }
    deny_keywords: [marks]
    pii: { detect: [cn_id, cn_mobile, uscc, bank_card, email], action: reject }
)";

struct Setup {
  ferry::policy::Policy policy;
  std::unique_ptr<ferry::pipeline::Inspector> inspector;
  Setup() {
    ferry::policy::PolicyLoad load = ferry::policy::load_policy_text(kPolicy, "fuzz-policy.yaml", ".");
    if (!load.ok()) std::abort();
    policy = std::move(*load.policy);
    auto in = ferry::pipeline::Inspector::create(policy);
    if (!in.ok()) std::abort();
    inspector = std::move(*in);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Setup setup;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // The name claims the type the bytes start like, so the deeper stages run.
  std::string_view name = "object.txt";
  if (bytes.starts_with("%PDF")) name = "object.pdf";
  if (bytes.starts_with("\x89PNG")) name = "object.png";
  if (bytes.starts_with("\xff\xd8")) name = "object.jpg";
  if (bytes.starts_with("PK")) name = bytes.find("word/") != std::string_view::npos ? "object.docx"
                                    : bytes.find("xl/") != std::string_view::npos   ? "object.xlsx"
                                    : bytes.find("ppt/") != std::string_view::npos  ? "object.pptx"
                                    : bytes.find("OFD.xml") != std::string_view::npos ? "object.ofd"
                                                                                     : "object.zip";
  if (bytes.starts_with("{")) name = "object.json";
  const ferry::pipeline::Inspection in = setup.inspector->inspect(*setup.policy.find("all"), name, bytes);
  for (const auto& r : in.reasons) {
    if (r.code.empty()) std::abort();
  }
  return 0;
}
