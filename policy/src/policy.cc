#include "policy/policy.h"

namespace ferry::policy {

std::string_view to_string(Direction v) { return name_of<Direction>(kDirectionNames, v); }
std::string_view to_string(ChannelKind v) { return name_of<ChannelKind>(kChannelKindNames, v); }
std::string_view to_string(FileType v) { return name_of<FileType>(kFileTypeNames, v); }
std::string_view to_string(Antivirus v) { return name_of<Antivirus>(kAntivirusNames, v); }
std::string_view to_string(SanitizeStep v) { return name_of<SanitizeStep>(kSanitizeStepNames, v); }
std::string_view to_string(PiiKind v) { return name_of<PiiKind>(kPiiKindNames, v); }
std::string_view to_string(PiiAction v) { return name_of<PiiAction>(kPiiActionNames, v); }
std::string_view to_string(Approval v) { return name_of<Approval>(kApprovalNames, v); }
std::string_view to_string(HttpMethod v) { return name_of<HttpMethod>(kHttpMethodNames, v); }

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(name.front())) return false;
  for (char c : name) {
    if (!lower_or_digit(c) && c != '-') return false;
  }
  return true;
}

const Channel* Policy::find(std::string_view name) const {
  for (const Channel& c : channels) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const TermList* Policy::find_list(std::string_view name) const {
  for (const TermList& l : lists) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

}  // namespace ferry::policy
