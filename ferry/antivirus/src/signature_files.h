// Which files of a directory are ClamAV signature files: the ones libclamav's
// directory loader reads (CLI_DBEXT in libclamav/readdb.h, ClamAV 1.4), less
// the obsolete formats the ClamAV documentation no longer describes (.db,
// .db2, .db3, .sdb, .zmd, .rmd). The scanner dates a database by these files
// and the installer copies only these, so that what is tested, dated and
// installed is the same set of files.
#pragma once

#include <string_view>

namespace ferry::antivirus {

// True for "daily.cvd", "local.hdb", "Local.NDB" (libclamav compares the
// extension case-insensitively, so do we).
bool is_signature_file(std::string_view name);

// The accepted extensions, for messages ("... .cvd .cld ...").
std::string_view signature_extensions();

}  // namespace ferry::antivirus
