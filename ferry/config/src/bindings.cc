// Side roles (issue [ferry-core]): a channel's direction decides which side
// sends (inbound = outer -> inner), and its kind what each side binds.
#include <algorithm>

#include "ferry/config/config.h"

namespace ferry::config {
namespace {

struct Roles {
  std::vector<BindingRole> sending;
  std::vector<BindingRole> receiving;
};

Roles roles_for(policy::ChannelKind kind) {
  switch (kind) {
    case policy::ChannelKind::file:
      return {{BindingRole::source}, {BindingRole::deliver}};
    case policy::ChannelKind::request:
      return {{BindingRole::listen}, {BindingRole::upstream}};
    case policy::ChannelKind::message:
      return {{BindingRole::listen, BindingRole::source}, {BindingRole::upstream, BindingRole::deliver}};
  }
  return {};
}

std::string or_list(const std::vector<BindingRole>& roles) {
  std::string out;
  for (BindingRole r : roles) {
    if (!out.empty()) out += " or ";
    out += "`" + std::string(to_string(r)) + "`";
  }
  return out;
}

}  // namespace

std::vector<Diagnostic> check_bindings(const Config& config, const policy::Policy& policy) {
  std::vector<Diagnostic> out;
  for (const Binding& b : config.channels) {
    const std::string key = "channels." + b.channel;
    const policy::Channel* channel = policy.find(b.channel);
    if (channel == nullptr) {
      std::string names;
      for (const policy::Channel& c : policy.channels) names += (names.empty() ? "" : ", ") + c.name;
      out.push_back(Diagnostic{config.source, b.position.line, b.position.column, key,
                               "channel " + b.channel + " is not in the policy (" + policy.source + ")",
                               "the policy's channels: " + (names.empty() ? std::string("(none)") : names)});
      continue;
    }
    const Side sender = sending_side(channel->direction);
    const bool sending = config.side == sender;
    const Roles roles = roles_for(channel->kind);
    const std::vector<BindingRole>& mine = sending ? roles.sending : roles.receiving;
    if (std::find(mine.begin(), mine.end(), b.role) != mine.end()) continue;

    const Side other = sender == Side::outer ? Side::inner : Side::outer;
    const std::string flow = std::string(to_string(channel->direction)) + " (" + std::string(to_string(sender)) +
                             " -> " + std::string(to_string(other)) + ")";
    const std::vector<BindingRole>& theirs = sending ? roles.receiving : roles.sending;
    std::string message = "`" + std::string(to_string(b.role)) + "` for " +
                          std::string(to_string(channel->kind)) + " channel " + b.channel + " on the " +
                          std::string(to_string(config.side)) + " side, but the channel is " + flow;
    std::string hint = "on the " + std::string(to_string(config.side)) + " side bind " + or_list(mine);
    if (std::find(theirs.begin(), theirs.end(), b.role) != theirs.end()) {
      hint += "; `" + std::string(to_string(b.role)) + "` belongs on the " +
              std::string(to_string(sending ? other : sender)) + " side";
    }
    out.push_back(Diagnostic{config.source, b.role_position.line, b.role_position.column,
                             key + "." + std::string(to_string(b.role)), message, hint});
  }
  return out;
}

}  // namespace ferry::config
