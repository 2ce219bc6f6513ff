#include "ferry/pipeline/pipeline.h"

#include "ferry/spool/name_rule.h"

namespace ferry::pipeline {
namespace {

class ChannelStage final : public Stage {
 public:
  std::string_view name() const override { return "channel"; }
  std::optional<Reason> check(const ObjectView& object, const Context& context) const override {
    const policy::Channel* channel = context.policy.find(object.channel);
    if (channel == nullptr) {
      return Reason{"channel.unknown", "channel '" + object.channel + "' is not in policy serial " +
                                           std::to_string(context.policy.serial)};
    }
    const bool leaves_here = sends_from(*channel, context.side);
    if (leaves_here != (context.role == Role::sending)) {
      return Reason{"channel.direction", "channel '" + object.channel + "' is " +
                                             std::string(policy::to_string(channel->direction)) +
                                             (context.role == Role::sending ? ", it does not leave from the "
                                                                            : ", it does not arrive at the ") +
                                             (context.side == Side::outer ? "outer" : "inner") + " side"};
    }
    if (channel->kind != policy::ChannelKind::file) {
      return Reason{"channel.kind", "channel '" + object.channel + "' is of kind " +
                                        std::string(policy::to_string(channel->kind)) + ", not file"};
    }
    return std::nullopt;
  }
};

class NameStage final : public Stage {
 public:
  std::string_view name() const override { return "name"; }
  std::optional<Reason> check(const ObjectView& object, const Context&) const override {
    crypto::Status s = spool::check_relative_name(object.relative_path);
    if (s.ok()) return std::nullopt;
    std::string detail = s.error().message;
    static constexpr std::string_view kPrefix = "name.invalid: ";
    if (detail.starts_with(kPrefix)) detail.erase(0, kPrefix.size());
    return Reason{"name.invalid", detail};
  }
};

class SizeStage final : public Stage {
 public:
  std::string_view name() const override { return "size"; }
  std::optional<Reason> check(const ObjectView& object, const Context& context) const override {
    const policy::Channel* channel = context.policy.find(object.channel);
    if (channel == nullptr || object.size <= channel->max_size) return std::nullopt;
    return Reason{"size.too_large", std::to_string(object.size) + " bytes exceeds max_size " +
                                        describe_size(channel->max_size) + " of channel '" + object.channel + "'"};
  }
};

}  // namespace

bool sends_from(const policy::Channel& channel, Side side) {
  return (channel.direction == policy::Direction::inbound) == (side == Side::outer);
}

std::string describe_size(std::uint64_t bytes) {
  static constexpr struct {
    std::uint64_t unit;
    const char* name;
  } kUnits[] = {{std::uint64_t{1} << 30, "GiB"}, {std::uint64_t{1} << 20, "MiB"}, {std::uint64_t{1} << 10, "KiB"}};
  for (const auto& u : kUnits) {
    if (bytes >= u.unit && bytes % u.unit == 0) {
      return std::to_string(bytes / u.unit) + u.name + " (" + std::to_string(bytes) + ")";
    }
  }
  return std::to_string(bytes);
}

Pipeline Pipeline::standard() {
  Pipeline p;
  p.add(std::make_unique<ChannelStage>());
  p.add(std::make_unique<NameStage>());
  p.add(std::make_unique<SizeStage>());
  return p;
}

std::optional<Reason> Pipeline::run(const ObjectView& object, const Context& context) const {
  for (const auto& stage : stages_) {
    if (std::optional<Reason> r = stage->check(object, context)) return r;
  }
  return std::nullopt;
}

std::vector<std::string_view> Pipeline::stage_names() const {
  std::vector<std::string_view> out;
  for (const auto& s : stages_) out.push_back(s->name());
  return out;
}

}  // namespace ferry::pipeline
