// The Prometheus text exposition format, version 0.0.4.
#include <cassert>
#include <charconv>
#include <cmath>

#include "ferry/telemetry/metrics.h"

namespace ferry::telemetry {

namespace {

bool name_char(char c, bool first, bool colon_ok) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon_ok && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

// Format 0.0.4: in HELP, backslash and line feed are escaped; in a label
// value, also the double quote.
std::string escape(std::string_view s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, true)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, false)) return false;
  }
  return true;
}

std::string format_sample_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == 0) return "0";  // also -0
  char buf[400];  // the longest fixed form of a double is 309 digits and a sign
  const bool integral = std::trunc(value) == value;
  const auto [end, ec] = integral ? std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed)
                                  : std::to_chars(buf, buf + sizeof buf, value);
  assert(ec == std::errc());
  return std::string(buf, end);
}

void Exposition::family(std::string_view name, Kind kind, std::string_view help) {
  assert(valid_metric_name(name) && "metric names are ours: [a-zA-Z_:][a-zA-Z0-9_:]*");
  assert((kind != Kind::counter || name.ends_with("_total")) && "a counter's name ends in _total (naming practices)");
  for ([[maybe_unused]] const Family& f : families_) assert(f.name != name && "a family is declared once");
  families_.push_back(Family{std::string(name), kind, std::string(help), {}});
}

void Exposition::sample(std::string_view name, Labels labels, double value) {
  Family* family = nullptr;
  for (Family& f : families_) {
    if (f.name == name) family = &f;
  }
  assert(family != nullptr && "declare the family before its samples");
  std::string& out = family->samples;
  out += name;
  if (labels.size() != 0) {
    out += '{';
    bool first = true;
    for (const auto& [label, label_value] : labels) {
      assert(valid_label_name(label) && "label names are ours: [a-zA-Z_][a-zA-Z0-9_]*");
      if (!first) out += ',';
      first = false;
      out += label;
      out += "=\"";
      out += escape(label_value, true);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  out += format_sample_value(value);
  out += '\n';
}

std::string Exposition::text() const {
  std::string out;
  for (const Family& f : families_) {
    out += "# HELP " + f.name + " " + escape(f.help, false) + "\n";
    out += "# TYPE " + f.name + (f.kind == Kind::counter ? " counter\n" : " gauge\n");
    out += f.samples;
  }
  return out;
}

}  // namespace ferry::telemetry
