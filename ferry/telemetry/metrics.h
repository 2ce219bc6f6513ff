// Prometheus metrics: the text exposition format 0.0.4 and the HTTP
// endpoint a Prometheus server scrapes.
//
// Format reference: https://prometheus.io/docs/instrumenting/exposition_formats/
// Naming: https://prometheus.io/docs/practices/naming/ (counters end in
// _total, units are base units: _bytes, _seconds).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.h"

namespace boost::asio {
class io_context;
}

namespace ferry::telemetry {

enum class MetricKind { counter, gauge };

// Builds one scrape's text. Metric and label names are ours, not input:
// a bad one, a sample of an undeclared family, or a family declared twice
// is a bug and asserts. Label values may be anything (object names,
// channel names) and are escaped.
class Exposition {
 public:
  using Kind = MetricKind;
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  // Declares a family: "# HELP" and "# TYPE" lines, then its samples. A
  // counter's name ends in _total (asserted).
  void family(std::string_view name, Kind kind, std::string_view help);
  // One sample of a declared family; samples of a family stay together in
  // text() whatever the order of the calls. Integral values print as
  // integers (no exponent), others in the shortest form that reads back
  // the same; NaN and infinities as NaN, +Inf, -Inf.
  void sample(std::string_view name, Labels labels, double value);

  std::string text() const;

 private:
  struct Family {
    std::string name;
    Kind kind;
    std::string help;
    std::string samples;  // rendered lines
  };
  std::vector<Family> families_;
};

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved for Prometheus).
bool valid_label_name(std::string_view name);
// The text format's number: see Exposition::sample.
std::string format_sample_value(double value);

struct MetricsServerOptions {
  std::size_t header_limit = 8 * 1024;           // request line and headers
  std::chrono::milliseconds read_timeout{5000};  // for the whole request
  std::size_t max_connections = 16;              // more are closed at once
};

// GET /metrics over HTTP/1.1 (Boost.Beast) on the caller's io_context, which
// must be run by one thread: render() is called on it, and start(), stop()
// and the destructor must be called on it (or before it runs).
// One request per connection (the response says Connection: close).
class MetricsServer {
 public:
  // listen: "127.0.0.1:9750", "[::1]:9750"; port 0 picks a free one.
  // Errc::invalid_argument for a malformed address, Errc::io when the
  // socket cannot be bound.
  static crypto::Result<std::unique_ptr<MetricsServer>> start(boost::asio::io_context& io, std::string_view listen,
                                                              std::function<std::string()> render,
                                                              MetricsServerOptions options = {});
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::uint16_t port() const;
  // Closes the listening socket and every open connection; idempotent.
  void stop();

  struct State;

 private:
  explicit MetricsServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace ferry::telemetry
