// Reading a file a document names, bounded and without surprises: only a
// regular file is read (a FIFO, a device or /dev/stdin named in a hostile
// document must not block or stream forever), and never more than a limit.
#pragma once

#include <cstddef>
#include <string>

#include "crypto/result.h"

namespace ferry::policy::detail {

crypto::Result<std::string> read_regular_file(const std::string& path, std::size_t max_size);

}  // namespace ferry::policy::detail
