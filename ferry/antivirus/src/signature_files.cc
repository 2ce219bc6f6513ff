#include "ferry/antivirus/src/signature_files.h"

#include <algorithm>
#include <cctype>

namespace ferry::antivirus {
namespace {

// ClamAV docs, "Signatures" (manual/Signatures.md and the pages it links):
//   cvd cld cud            signed containers (freshclam's daily/main/bytecode)
//   hdb hsb hdu hsu        file hashes;  mdb msb mdu msu  PE section hashes
//   imp                    PE import table hashes
//   ndb ndu                extended body signatures;  ldb ldu  logical
//   idb                    icon signatures;  cdb  container metadata
//   cbc                    bytecode (run by the interpreter only, see scanner.cc)
//   pdb gdb wdb            phishing: protected domains, allow lists
//   fp sfp ign ign2        false-positive allow lists and ignored signatures
//   ftm                    file type magic;  cfg  dynamic engine configuration
//   crb cat                Authenticode trust and block lists
//   ioc                    indicators of compromise;  yar yara  YARA rules
//   pwdb                   archive password lists
// A ".info" file exists only inside a CVD (its index); libclamav ignores one
// in a directory, so an update carrying one is refused as foreign.
constexpr std::string_view kExtensions[] = {
    "cvd", "cld", "cud", "hdb", "hsb", "hdu", "hsu", "mdb", "msb", "mdu", "msu", "imp", "ndb",  "ndu",
    "ldb", "ldu", "idb", "cdb", "cbc", "pdb", "gdb", "wdb", "fp",  "sfp", "ign", "ign2", "ftm", "cfg",
    "crb", "cat", "ioc", "yar", "yara", "pwdb",
};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

bool is_signature_file(std::string_view name) {
  const std::size_t dot = name.rfind('.');
  // A name that is only an extension (".hdb") is a hidden file, not a database.
  if (dot == std::string_view::npos || dot == 0) return false;
  const std::string_view ext = name.substr(dot + 1);
  return std::any_of(std::begin(kExtensions), std::end(kExtensions),
                     [ext](std::string_view e) { return equal_ignoring_case(e, ext); });
}

std::string_view signature_extensions() {
  return ".cvd .cld .cud .hdb .hsb .hdu .hsu .mdb .msb .mdu .msu .imp .ndb .ndu .ldb .ldu .idb .cdb .cbc "
         ".pdb .gdb .wdb .fp .sfp .ign .ign2 .ftm .cfg .crb .cat .ioc .yar .yara .pwdb";
}

}  // namespace ferry::antivirus
