// A zip archive rebuilt member by member (disarm.h, rebuild_zip): the
// members a channel sanitizes come back rebuilt, the others as they were,
// all written into a new zip so that nothing the old one carried besides
// its members' bytes (comments, extra fields, gaps, data after the end
// record, directory entries) crosses.
#include "ferry/disarm/disarm.h"
#include "ferry/disarm/src/package.h"

namespace ferry::disarm {

crypto::Result<Rebuilt> rebuild_zip(std::string_view bytes, const MemberRebuild& member, const Limits& limits) {
  crypto::Result<package::Package> pkg = package::read_package(bytes, limits, "zip archive");
  if (!pkg.ok()) return pkg.error();
  Rebuilt out;
  for (const std::string& other : pkg->others) {
    out.removed.push_back("member '" + other + "' (not a regular file)");
  }
  std::vector<package::Part> parts;
  parts.reserve(pkg->parts.size());
  std::uint64_t total = 0;
  for (const package::Part& p : pkg->parts) {
    if (p.name.ends_with('/')) continue;  // a directory: implied by its members' names
    crypto::Result<std::string> b = member(p.name, p.data, out.removed);
    if (!b.ok()) return b.error();
    total += b->size();
    if (total > limits.max_output) {
      return crypto::make_error(crypto::Errc::exhausted, "the rebuilt archive would exceed " +
                                                             std::to_string(limits.max_output) + " bytes");
    }
    parts.push_back({p.name, std::move(*b)});
  }
  std::vector<const package::Part*> order;
  order.reserve(parts.size());
  for (const package::Part& p : parts) order.push_back(&p);
  crypto::Result<std::string> zip = package::write_package(order, limits);
  if (!zip.ok()) return zip.error();
  out.bytes = std::move(*zip);
  return out;
}

}  // namespace ferry::disarm
