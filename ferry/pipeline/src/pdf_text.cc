// PDF page text through poppler-cpp: what a reader shows, page by page.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <climits>
#include <memory>

#include "ferry/pipeline/src/text_parts.h"

namespace ferry::pipeline::text_parts {

namespace {

// Poppler reports every oddity of a hostile file on stderr; the outcome is
// what counts, and it comes back as a value.
void quiet(const std::string&, void*) {}

}  // namespace

crypto::Result<std::string> pdf_text(std::string_view pdf, const TextLimits& limits) {
  using crypto::Errc;
  using crypto::make_error;
  static const bool silenced = [] {
    poppler::set_debug_error_function(quiet, nullptr);
    return true;
  }();
  (void)silenced;
  if (pdf.size() > static_cast<std::size_t>(INT_MAX)) return make_error(Errc::exhausted, "the PDF is larger than 2 GiB");
  std::unique_ptr<poppler::document> doc(poppler::document::load_from_raw_data(pdf.data(), static_cast<int>(pdf.size())));
  if (!doc) return make_error(Errc::bad_format, "not a readable PDF");
  // A PDF that needs a password to open cannot be read, so its rules cannot
  // be checked. One encrypted only with an owner password (permissions, as
  // many government PDFs are) opens with the empty user password (ISO
  // 32000-1 7.6.3.3) and is read like any other.
  if (doc->is_locked()) return make_error(Errc::bad_format, "the PDF is encrypted and needs a password to open");
  const int pages = doc->pages();
  if (pages < 0 || static_cast<unsigned>(pages) > limits.max_pdf_pages) {
    return make_error(Errc::exhausted,
                      "the PDF has " + std::to_string(pages) + " pages, more than " + std::to_string(limits.max_pdf_pages));
  }
  TextOut out(limits.max_text);
  for (int i = 0; i < pages; ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    if (!page) return make_error(Errc::bad_format, "PDF page " + std::to_string(i + 1) + " cannot be read");
    const poppler::byte_array utf8 = page->text().to_utf8();
    if (crypto::Status st = out.append(std::string_view(utf8.data(), utf8.size())); !st) return st.error();
    if (crypto::Status st = out.end_line(); !st) return st.error();
  }
  return out.take();
}

}  // namespace ferry::pipeline::text_parts
