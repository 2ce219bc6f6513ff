// The messages between ferryd (or ferryctl) and its sandboxed worker
// ([disarm]). One message per SOCK_SEQPACKET packet on a socketpair; bulk
// bytes never travel in messages: the policy text, each object and each
// rebuilt object are passed as file descriptors (SCM_RIGHTS), so the worker
// needs no file system at all.
//
//   ferryd -> worker   setup    + fd: the policy document (a sealed memfd)
//   worker -> ferryd   ready    what it loaded, and how it is confined
//   ferryd -> worker   request  + fd: the object (read-only)
//   worker -> ferryd   answer   the verdict; + fd: the rebuilt object, a
//                               sealed memfd, when there is one
//
// Encoding (little endian): u8 message type, then the fields in the order
// of the structs below; a string is u32 length + bytes, a list is u32 count
// + items, a digest is 32 bytes. A decoder takes the packet as hostile:
// every length is checked against what is left and against the limits
// here, trailing bytes are an error, and an answer is only a claim that
// ferryd then checks (ferry/sandbox/worker.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "crypto/sm3.h"

namespace ferry::sandbox {

inline constexpr std::size_t kMaxMessage = 128 * 1024;  // fits a default AF_UNIX socket buffer
inline constexpr std::size_t kMaxString = 16 * 1024;
inline constexpr std::size_t kMaxList = 256;

enum class MessageType : std::uint8_t { setup = 1, ready = 2, request = 3, answer = 4 };

struct Setup {
  std::string policy_name;   // as diagnostics name the policy file
  std::string policy_dir;    // where its `{ file: }` term lists are
  std::string av_database;   // empty: no antivirus configured
  std::uint32_t av_max_age_hours = 0;
  std::string temp_dir;      // the worker's own directory (the engine's temporary files)
  std::string user;          // drop to this user when started as root
  std::uint64_t memory = 0;  // RLIMIT_AS headroom beyond the size at start
  std::uint64_t max_output = 0;  // RLIMIT_FSIZE: the largest rebuilt object
  std::uint32_t cpu_seconds = 0;  // RLIMIT_CPU: the process's whole life (ferryd retires it before)
  bool require_chroot = true;     // refuse to serve where chroot is not possible
};

struct Ready {
  std::string problem;       // non-empty: the worker cannot serve (why), and exits
  std::string confinement;   // "user nobody, network namespace, chroot, seccomp, rlimits ..."
  crypto::Sm3Digest policy_sm3{};
  std::uint64_t policy_serial = 0;
  std::vector<std::string> list_digests;  // "name=sm3hex" of every list read from a file
  std::string antivirus;     // "1 signatures from DIR, built ..." or why there is no engine
  bool antivirus_loaded = false;  // an engine loaded and passed its test scans
};

enum class Role : std::uint8_t { send = 1, receive = 2 };

struct Request {
  std::uint64_t seq = 0;
  Role role = Role::send;
  std::string channel;
  std::string name;          // the object's path as the officer sees it
  std::uint64_t size = 0;    // of the object's file
};

struct WireReason {
  std::string code;
  std::string detail;
  bool operator==(const WireReason&) const = default;
};

enum class AvVerdict : std::uint8_t { none = 0, clean = 1, infected = 2, not_scanned = 3 };

struct Answer {
  std::uint64_t seq = 0;
  std::string type;                       // the true type found ("pdf"), or what libmagic said
  std::vector<WireReason> reasons;        // empty: accepted
  std::vector<std::string> removed;       // what disarm took out
  std::vector<std::string> masked;        // what masking replaced (no values)
  AvVerdict av = AvVerdict::none;         // none: the channel does not scan
  std::string av_detail;                  // the signature, or why not scanned
  bool has_output = false;                // the memfd holds the object to send instead
  std::uint64_t output_size = 0;
  crypto::Sm3Digest output_sm3{};

  bool accepted() const { return reasons.empty(); }
};

// The verdict as the audit and ferryctl show it: "clean", "infected: SIG",
// "not_scanned: WHY", or "" when the channel does not scan.
std::string describe_antivirus(const Answer& a);

std::string encode(const Setup& m);
std::string encode(const Ready& m);
std::string encode(const Request& m);
std::string encode(const Answer& m);

// What kind of message a packet holds, or nullopt (empty, unknown type).
std::optional<MessageType> peek_type(std::string_view packet);

// bad_format naming the field when the packet is not exactly one message
// of that type within the limits.
crypto::Result<Setup> decode_setup(std::string_view packet);
crypto::Result<Ready> decode_ready(std::string_view packet);
crypto::Result<Request> decode_request(std::string_view packet);
crypto::Result<Answer> decode_answer(std::string_view packet);

// Lists and strings cut to the limits above (with "... and N more" as the
// last item), so that an answer always encodes within kMaxMessage.
void fit(Answer& a);

}  // namespace ferry::sandbox
