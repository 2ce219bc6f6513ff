// One side of ferry at run time: the spool, the sources it ingests from, the
// pipeline, the link engine over its transport, delivery, status and audit,
// all driven by one single-threaded Boost.Asio loop. Every durable step is
// taken by the spool (write, fsync, rename, fsync the directory), so the
// process may be killed at any moment and a restart resumes.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "crypto/result.h"
#include "ferry/config/config.h"
#include "ferry/daemon/policy_admission.h"

namespace ferry::daemon {

class Side {
 public:
  // Loads the keys, opens and recovers the spool, recovers source claims,
  // opens the audit sink, and refuses a policy older than the highest this
  // side has applied (spool/applied_serial.h). Errors here are start-up
  // errors (exit 2).
  static crypto::Result<std::unique_ptr<Side>> create(boost::asio::io_context& io, config::Config config,
                                                      AdmittedPolicy policy);
  virtual ~Side() = default;

  // Runs until SIGTERM/SIGINT; SIGHUP reloads the policy. Returns the exit status.
  virtual int run() = 0;
};

}  // namespace ferry::daemon
