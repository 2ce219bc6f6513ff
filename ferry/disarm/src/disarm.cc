#include "ferry/disarm/disarm.h"

#include <algorithm>

namespace ferry::disarm {

using policy::FileType;

std::optional<policy::SanitizeStep> step_for(FileType type) {
  switch (type) {
    case FileType::png:
    case FileType::jpeg: return policy::SanitizeStep::images;
    case FileType::docx:
    case FileType::xlsx:
    case FileType::pptx: return policy::SanitizeStep::office;
    case FileType::pdf: return policy::SanitizeStep::pdf;
    case FileType::ofd: return policy::SanitizeStep::ofd;
    default: return std::nullopt;
  }
}

bool channel_sanitizes(const policy::Channel& channel, FileType type) {
  const std::optional<policy::SanitizeStep> step = step_for(type);
  return step && std::find(channel.sanitize.begin(), channel.sanitize.end(), *step) != channel.sanitize.end();
}

crypto::Result<Rebuilt> rebuild(FileType type, std::string_view bytes, const Limits& limits) {
  switch (type) {
    case FileType::jpeg: return rebuild_jpeg(bytes, limits);
    case FileType::png: return rebuild_png(bytes, limits);
    case FileType::pdf: return rebuild_pdf(bytes, limits);
    case FileType::docx:
    case FileType::xlsx:
    case FileType::pptx: return rebuild_ooxml(type, bytes, limits);
    case FileType::ofd: return rebuild_ofd(bytes, limits);
    default: break;
  }
  return crypto::make_error(crypto::Errc::invalid_argument,
                            "no rebuild for " + std::string(policy::to_string(type)));
}

crypto::Result<std::vector<std::string>> find_active_content(FileType type, std::string_view bytes,
                                                             const Limits& limits) {
  switch (type) {
    case FileType::jpeg: return find_active_jpeg(bytes);
    case FileType::png: return find_active_png(bytes);
    case FileType::pdf: return find_active_pdf(bytes, limits);
    case FileType::docx:
    case FileType::xlsx:
    case FileType::pptx: return find_active_ooxml(bytes, limits);
    case FileType::ofd: return find_active_ofd(bytes, limits);
    default: break;
  }
  return std::vector<std::string>{};
}

}  // namespace ferry::disarm
