// For tests: scrape an HTTP endpoint on loopback and read what it says in
// the Prometheus text format 0.0.4, independently of the code that wrote it
// (ferry/telemetry/metrics.h), so a round trip checks both.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"

namespace ferry::test {

struct PromSample {
  std::string name;                           // with any _total/_sum/... suffix
  std::map<std::string, std::string> labels;  // values unescaped
  double value = 0;
};

struct PromFamily {
  std::string name;
  std::string type;  // counter, gauge, histogram, summary, untyped
  std::string help;  // unescaped
  std::vector<PromSample> samples;
};

struct PromScrape {
  std::vector<PromFamily> families;  // in the order of their first line

  const PromFamily* family(std::string_view name) const;
  // The value of the sample `name` whose labels include all of `labels`;
  // nullopt when there is none.
  std::optional<double> value(std::string_view name, const std::map<std::string, std::string>& labels = {}) const;
};

// Strict about what 0.0.4 requires: HELP/TYPE at most once per family and
// before its samples, samples of a family together, valid names, escapes
// (\\, \", \n) and numbers (Go's ParseFloat forms, NaN, +Inf, -Inf);
// a sample without TYPE gets a family of type "untyped". An optional
// timestamp after the value is accepted and ignored.
crypto::Result<PromScrape> parse_prometheus_text(std::string_view text);

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Sends `request` verbatim to 127.0.0.1:port and reads until the server
// closes (or `timeout`). Errc::io for connect failures and timeouts; a
// connection closed before a status line is a reply with status 0.
crypto::Result<HttpReply> http_exchange(std::uint16_t port, std::string_view request,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
// GET path with Host and Connection: close.
crypto::Result<HttpReply> http_get(std::uint16_t port, std::string_view path,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace ferry::test
