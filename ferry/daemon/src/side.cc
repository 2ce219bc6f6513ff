#include "ferry/daemon/side.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <algorithm>
#include <filesystem>
#include <functional>
#include <thread>
#include <map>
#include <tuple>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "crypto/device.h"
#include "crypto/selftest.h"
#include "crypto/sm2.h"
#include "ferry/audit/event.h"
#include "ferry/audit/json.h"
#include "ferry/audit/log.h"
#include "ferry/audit/record.h"
#include "ferry/control/server.h"
#include "ferry/daemon/status.h"
#include "ferry/fs/durable_file.h"
#include "ferry/link/engine.h"
#include "ferry/pipeline/inspect.h"
#include "ferry/pipeline/pipeline.h"
#include "ferry/sandbox/worker.h"
#include "ferry/spool/applied_serial.h"
#include "ferry/spool/delivered_ids.h"
#include "ferry/spool/delivery.h"
#include "ferry/spool/free_space.h"
#include "ferry/spool/inotify_watch.h"
#include "ferry/spool/source_scanner.h"
#include "ferry/spool/spool.h"
#include "ferry/telemetry/metrics.h"
#include "ferry/telemetry/syslog.h"
#include "hw/frame_transport.h"

namespace ferry::daemon {
namespace {

namespace asio = boost::asio;
using crypto::Errc;
using crypto::make_error;
using crypto::Result;
using crypto::Status;
using spool::State;

constexpr crypto::KeyIndex kIdentityKey{1};
// Objects taken, inspected, committed or delivered per turn of the loop, with
// one group commit each (fs/sync_barrier.h): large enough that a drop of
// thousands of small files pays a few barriers per hundred files, small
// enough that a turn stays short and the link keeps moving.
constexpr std::size_t kBatch = 64;
constexpr std::uint64_t kBatchBytes = std::uint64_t{64} << 20;
// Ingest stays this far ahead of the link (see enough_queued()).
constexpr std::size_t kQueueAheadObjects = 256;
constexpr std::uint64_t kQueueAheadBytes = std::uint64_t{128} << 20;
// Objects up to this size are received into memory and committed in batches,
// while the objects held so add up to at most kInMemoryTotal; the others are
// written to a partial file as they arrive (and resume after a restart).
constexpr std::uint64_t kInMemoryMax = std::uint64_t{1} << 20;
constexpr std::uint64_t kInMemoryTotal = std::uint64_t{64} << 20;
constexpr std::chrono::minutes kInMemoryIdle{10};
// How long the receiving side remembers a delivered object id. A sender
// offers an object again only while it still holds it (until DONE), so this
// must outlast the longest outage between the sides; 90 days is generous.
constexpr std::chrono::hours kDeliveredIdRetention{24 * 90};
// A finished object leaves done/ at once (forget_done); anything left there
// by a crash between the move and the removal goes after this long.
constexpr std::chrono::hours kDoneRetention{1};
// Reason codes this side puts in REJECT (link reserves 1..99).
constexpr std::uint16_t kRejectChannel = 100;
constexpr std::uint16_t kRejectName = 101;
constexpr std::uint16_t kRejectSize = 102;
constexpr std::uint16_t kRejectUnbound = 103;
constexpr std::uint16_t kRejectSpool = 104;
// A pending object's record keeps what the officers decide on as reasons
// (spool/object_record.h has no other repeatable field): the type the
// worker found, and one approval per officer who gave one.
constexpr std::string_view kPendingType = "pending.type";
constexpr std::string_view kApprovalGiven = "approval.given";

spool::ObjectId to_spool(const link::ObjectId& id) { return spool::ObjectId(id.bytes); }
link::ObjectId to_link(const spool::ObjectId& id) {
  link::ObjectId out;
  out.bytes = id.bytes();
  return out;
}

std::uint16_t reject_code_for(const std::string& reason_code) {
  if (reason_code.starts_with("channel.")) return kRejectChannel;
  if (reason_code.starts_with("name.")) return kRejectName;
  if (reason_code.starts_with("size.")) return kRejectSize;
  return kRejectSpool;
}

Result<std::string> read_text(const std::string& path) {
  Result<crypto::Bytes> b = fs::read_file(path, 64 * 1024);
  if (!b.ok()) return b.error();
  return std::string(b->begin(), b->end());
}

struct SourceChannel {
  std::string channel;
  std::string dir;
  std::unique_ptr<spool::SourceScanner> scanner;
  std::optional<spool::InotifyWatch> watch;
  std::unique_ptr<asio::posix::stream_descriptor> watch_fd;
  // Settled files found by the last scan and not yet taken: a drop of ten
  // thousand files is walked once, then taken a few per turn.
  std::deque<spool::Candidate> pending;
};

class RunningSide final : public Side, public link::ObjectSource, public link::ObjectSink, public control::Handler {
 public:
  RunningSide(asio::io_context& io, config::Config config, AdmittedPolicy policy)
      : io_(io),
        config_(std::move(config)),
        policy_(std::make_shared<const policy::Policy>(std::move(policy.policy))),
        policy_signer_(std::move(policy.signer)),
        policy_text_(std::move(policy.text)),
        side_(config_.side == config::Side::outer ? pipeline::Side::outer : pipeline::Side::inner),
        side_name_(config_.side == config::Side::outer ? "outer" : "inner"),
        pipeline_(pipeline::Pipeline::standard()),
        tick_timer_(io),
        scan_timer_(io),
        status_timer_(io),
        signals_(io, SIGTERM, SIGINT, SIGHUP) {}

  Status start() {
    Result<std::shared_ptr<const pipeline::Inspector>> inspector = make_inspector(*policy_);
    if (!inspector.ok()) return inspector.error();
    // Identity key into the device: after this the key is only used by index.
    Result<std::string> key_pem = read_text(config_.identity.key);
    if (!key_pem.ok()) return key_pem.error();
    Result<crypto::Sm2PrivateKey> key = crypto::Sm2PrivateKey::from_pem(*key_pem);
    if (!key.ok()) return make_error(key.error().code, config_.identity.key + ": " + key.error().message);
    if (Status s = device_.install_key(kIdentityKey, std::move(key).value()); !s.ok()) return s;
    Result<std::unique_ptr<crypto::CryptoSession>> session = device_.open_session();
    if (!session.ok()) return session.error();
    session_ = std::move(session).value();
    Result<std::string> peer_pem = read_text(config_.identity.peer);
    if (!peer_pem.ok()) return peer_pem.error();
    Result<crypto::Sm2PublicKey> peer = crypto::Sm2PublicKey::from_pem(*peer_pem);
    if (!peer.ok()) return make_error(peer.error().code, config_.identity.peer + ": " + peer.error().message);

    if (Status s = fs::make_directories(config_.audit.dir, 0700); !s.ok()) return s;
    // The audit trail's checkpoints and head seal are signed with this
    // side's key: verifiable with its public key (ferryctl audit verify --pub).
    Result<crypto::Sm2PrivateKey> audit_key = crypto::Sm2PrivateKey::from_pem(*key_pem);
    if (!audit_key.ok()) return audit_key.error();
    audit::LogOptions lo;
    lo.dir = config_.audit.dir;
    lo.side = side_name_;
    lo.segment_size = config_.audit.segment_size;
    lo.checkpoint_records = config_.audit.checkpoint_records;
    lo.checkpoint_interval = config_.audit.checkpoint_interval;
    lo.retention = config_.audit.retention;
    lo.max_size = config_.audit.max_size;
    lo.min_free = config_.audit.min_free;
    lo.warn_at = config_.audit.warn_at_percent / 100.0;
    lo.on_full = config_.audit.on_full == config::AuditOnFull::block ? audit::OnFull::block
                                                                     : audit::OnFull::overwrite_oldest;
    Result<std::unique_ptr<audit::AuditLog>> log = audit::AuditLog::open(lo, std::move(audit_key).value());
    if (!log.ok()) return make_error(log.error().code, config_.audit.dir + ": " + log.error().message);
    recorder_ = std::make_unique<audit::Recorder>(std::move(log).value());
    if (config_.audit.syslog) {
      Result<telemetry::SyslogTarget> target = telemetry::parse_syslog_target(*config_.audit.syslog);
      if (!target.ok()) return make_error(target.error().code, "audit.syslog: " + target.error().message);
      telemetry::SyslogExporter::Options so;
      char host[256] = {};
      if (::gethostname(host, sizeof host - 1) == 0) so.hostname = host;
      so.procid = static_cast<long>(::getpid());
      Result<std::unique_ptr<telemetry::SyslogExporter>> ex =
          telemetry::SyslogExporter::start(config_.audit.dir, *target, so);
      if (!ex.ok()) return make_error(ex.error().code, "audit.syslog: " + ex.error().message);
      syslog_ = std::move(ex).value();
    }

    if (Status s = fs::make_directories(config_.spool.dir, 0700); !s.ok()) return s;
    Result<spool::AppliedSerial> applied = spool::AppliedSerial::open(config_.spool.dir);
    if (!applied.ok()) return applied.error();
    if (Status s = applied->check(policy_->serial); !s.ok()) {
      return make_error(s.error().code, "policy refused (rollback): " + config_.policy + ": " + s.error().message);
    }
    if (Status s = applied->record(policy_->serial); !s.ok()) return s;
    applied_serial_.emplace(std::move(applied).value());
    Result<spool::Spool> sp = spool::Spool::open(config_.spool.dir);
    if (!sp.ok()) return sp.error();
    spool_ = std::make_unique<spool::Spool>(std::move(sp).value());
    Result<spool::RecoveryReport> rec = spool_->recover();
    if (!rec.ok()) return rec.error();
    Result<spool::DeliveredIds> ids = spool::DeliveredIds::open(spool_->delivered_ids_dir());
    if (!ids.ok()) return ids.error();
    delivered_ = std::make_unique<spool::DeliveredIds>(std::move(ids).value());
    // Directories of workers a previous ferryd left behind (killed with it).
    {
      std::error_code ec;
      std::filesystem::remove_all(config_.spool.dir + "/worker", ec);
    }
    worker_ = make_worker(policy_text_);
    note(audit::Event{"config.loaded", audit::Severity::notice, {}}
             .with("file", config_.source)
             .with("detail", "side " + side_name_ + ", spool " + config_.spool.dir + ", audit " + config_.audit.dir));
    note(audit::Event{"policy.loaded", audit::Severity::notice, {}}
             .with("file", config_.policy)
             .with("serial", std::to_string(policy_->serial))
             .with("sm3", crypto::to_hex(policy_->sm3))
             .with("signer", policy_signer_));
    // The power-on self-tests ran before start (main, which refuses to go
    // on if one fails); run again here so their results are on the record.
    for (const crypto::SelfTestOutcome& t : crypto::run_selftests(crypto::power_on_selftests())) {
      note(audit::Event{t.passed ? "selftest.passed" : "selftest.failed",
                        t.passed ? audit::Severity::info : audit::Severity::error, {}}
               .with("test", t.name)
               .with("source", t.source)
               .with("detail", t.detail));
    }
    if (policy_signer_.empty()) note_unsigned_policy();
    for (const std::string& line : config_.inactive_features()) {
      note(audit::Event{"config.inactive", audit::Severity::notice, {}}.with("detail", line));
    }
    report_unenforced_rules();
    // Last of the start-up records: what was loaded, checked and recovered
    // is on the record before the side says it runs.
    note(audit::Event{"side.started", audit::Severity::notice, {}}
             .with("pid", std::to_string(::getpid()))
             .with("policy_serial", std::to_string(policy_->serial))
             .with("policy_signer", policy_signer_)
             .with("recovered", describe(*rec)));

    // Objects that finished just before a crash: their removal is redone.
    // A received one's id is made durable first (see deliver_received).
    if (Result<std::vector<spool::ObjectRecord>> done = spool_->list(State::done); done.ok()) {
      for (const spool::ObjectRecord& r : *done) {
        if (r.verdict == "delivered" && !delivered_->contains(r.id)) {
          if (Status st = delivered_->remember(r.id); !st.ok()) return st;
        }
        forget_done(r.id);
      }
    }
    // Queues rebuilt from the spool (Postfix: the queue is the directories).
    for (State st : spool::kAllStates) {
      if (st == State::done) continue;
      Result<std::vector<spool::ObjectRecord>> list = spool_->list(st);
      if (!list.ok()) return list.error();
      for (const spool::ObjectRecord& r : *list) {
        count(r.channel, st, r.size, +1);
        if (st == State::outgoing) queue_outgoing(r);
        if (st == State::received) to_check_.push_back(r.id);
        if (st == State::incoming) to_inspect_.push_back(r.id);
      }
    }

    for (const config::Binding& b : config_.channels) {
      if (b.role != config::BindingRole::source) continue;
      if (Status s = fs::make_directories(b.target, 0755); !s.ok()) return s;
      SourceChannel sc;
      sc.channel = b.channel;
      sc.dir = b.target;
      sc.scanner = std::make_unique<spool::SourceScanner>(b.channel, b.target, config_.ingest.settle);
      Result<spool::ClaimRecovery> claims = sc.scanner->recover_claims(*spool_);
      if (!claims.ok()) return claims.error();
      if (claims->retaken > 0 || claims->released > 0) {
        note(audit::Event{"source.claims_recovered", audit::Severity::notice, {}}
                 .with("channel", b.channel)
                 .with("retaken", std::to_string(claims->retaken))
                 .with("released", std::to_string(claims->released)));
      }
      Result<spool::InotifyWatch> w = spool::InotifyWatch::open(b.target);
      if (w.ok()) {
        sc.watch.emplace(std::move(w).value());
        sc.watch_fd = std::make_unique<asio::posix::stream_descriptor>(io_, ::dup(sc.watch->fd()));
      } else {
        note(audit::Event{"source.inotify_unavailable", audit::Severity::warning, {}}
                 .with("channel", b.channel)
                 .with("detail", w.error().message));
      }
      sources_.push_back(std::move(sc));
    }
    for (const config::Binding& b : config_.channels) {
      if (b.role != config::BindingRole::deliver) continue;
      if (Status s = fs::make_directories(b.target, 0755); !s.ok()) return s;
    }

    link::LinkParams params = link::LinkParams::defaults(side_ == pipeline::Side::outer ? link::Side::outer
                                                                                       : link::Side::inner);
    params.max_frame = static_cast<std::size_t>(config_.link.max_frame);
    params.chunk_size = params.max_frame - link::kFrameOverhead;
    params.rekey_bytes = config_.link.rekey_bytes;
    params.rekey_interval = std::chrono::duration_cast<std::chrono::milliseconds>(config_.link.rekey_interval);
    params.keepalive_interval =
        std::chrono::duration_cast<std::chrono::milliseconds>(config_.link.keepalive_interval);
    params.policy_serial = policy_->serial;
    // The loop also does the spool's fsyncs (tens of milliseconds per object
    // on a VM disk), so a reply can take a few hundred milliseconds; a first
    // timeout below that only retransmits what is already on its way.
    params.retransmit_timeout = std::chrono::milliseconds(1000);
    if (std::optional<std::string> bad = params.check()) {
      return make_error(Errc::invalid_argument, "link parameters: " + *bad);
    }
    engine_ = std::make_unique<link::LinkEngine>(
        params, *session_, kIdentityKey, std::move(peer).value(), this, this,
        [this](crypto::ByteView frame) { transport_->send(frame); },
        [this](const link::LinkEvent& e) { on_link_event(e); });

    hw::UnixTransportOptions topt;
    topt.role = side_ == pipeline::Side::inner ? hw::UnixTransportOptions::Role::listen
                                               : hw::UnixTransportOptions::Role::connect;
    topt.path = config_.link.path;
    topt.max_frame = params.max_frame;
    transport_ = hw::make_unix_transport(io_, topt);
    started_ms_ = spool_->now_ms();

    // Officers' requests (ferryctl pending/approve/reject/quarantine).
    const config::Officers none;
    const config::Officers& o = config_.officers ? *config_.officers : none;
    Result<control::OfficerKeys> officers = control::OfficerKeys::load(o.sysadmin, o.secadmin, o.auditor);
    if (!officers.ok()) return make_error(officers.error().code, "officers: " + officers.error().message);
    Result<std::unique_ptr<control::ControlServer>> control =
        control::ControlServer::start(io_, config_.spool.dir + "/" + kControlSocketName, side_name_,
                                      std::move(officers).value(), *this, crypto::to_hex(engine_->status().own_fingerprint));
    if (!control.ok()) return make_error(control.error().code, "control socket: " + control.error().message);
    control_ = std::move(control).value();
    if (config_.metrics) {
      Result<std::unique_ptr<telemetry::MetricsServer>> m =
          telemetry::MetricsServer::start(io_, config_.metrics->listen, [this] { return render_metrics(); });
      if (!m.ok()) return make_error(m.error().code, "metrics.listen " + config_.metrics->listen + ": " + m.error().message);
      metrics_ = std::move(m).value();
    }
    return {};
  }

  // --- control::Handler ---------------------------------------------------

  control::Reply handle(const control::Request& q, const std::optional<control::Actor>& actor,
                        const control::Peer& peer) override {
    Officer who;
    if (actor) who = {std::string(control::to_string(actor->role)), actor->fingerprint, actor->key_name};
    Answer a;
    switch (q.op) {
      case control::Op::pending: a = list_objects(State::pending); break;
      case control::Op::quarantine_list: a = list_objects(State::quarantine); break;
      case control::Op::show: a = show_object(q.object); break;
      case control::Op::approve: a = approve(q.object, who, State::pending); break;
      case control::Op::release: a = approve(q.object, who, State::quarantine); break;
      case control::Op::reject: a = reject(q.object, who, q.reason); break;
      case control::Op::purge: a = purge(q.object, who); break;
    }
    if (control::is_change(q.op) && !a.ok) {
      // A refused change is on the record too, with who asked.
      note(audit::Event{"control.refused", audit::Severity::warning, {}}
               .with("op", std::string(control::to_string(q.op)))
               .with("object", q.object)
               .with("actor", who.actor())
               .with("reason", a.code)
               .with("peer_uid", std::to_string(peer.uid))
               .with("detail", a.message));
    }
    control::Reply r;
    r.ok = a.ok;
    r.code = a.code;
    r.message = a.message;
    r.entries = std::move(a.entries);
    return r;
  }

  void refused(const control::Request& q, const std::optional<control::Actor>& actor, const control::Reply& reply,
               const control::Peer& peer) override {
    if (!control::is_change(q.op)) return;
    note(audit::Event{"control.refused", audit::Severity::warning, {}}
             .with("op", std::string(control::to_string(q.op)))
             .with("object", q.object)
             .with("actor", actor ? std::string(control::to_string(actor->role)) + ":" + actor->fingerprint
                                  : "unverified:" + q.key)
             .with("reason", reply.code)
             .with("peer_uid", std::to_string(peer.uid))
             .with("detail", reply.message));
  }

  // --- metrics (Prometheus text, metrics.listen) -------------------------

  std::string render_metrics() {
    using K = telemetry::MetricKind;
    telemetry::Exposition x;
    x.family("ferry_objects_total", K::counter,
             "Objects by channel, direction and verdict (accepted, rejected, approved, officer_rejected, released, "
             "sent, received, delivered, duplicate, purged), counted from the audit events");
    x.family("ferry_object_bytes_total", K::counter, "Bytes of the objects counted in ferry_objects_total");
    for (const auto& [key, n] : object_counts_) {
      const auto& [channel, direction, verdict] = key;
      x.sample("ferry_objects_total", {{"channel", channel}, {"direction", direction}, {"verdict", verdict}},
               static_cast<double>(n.objects));
      x.sample("ferry_object_bytes_total", {{"channel", channel}, {"direction", direction}, {"verdict", verdict}},
               static_cast<double>(n.bytes));
    }
    x.family("ferry_queue_objects", K::gauge, "Objects in the spool by channel and state");
    x.family("ferry_queue_bytes", K::gauge, "Bytes in the spool by channel and state");
    for (const auto& [channel, states] : depth_) {
      for (const auto& [st, d] : states) {
        const std::string state(spool::state_name(st));
        x.sample("ferry_queue_objects", {{"channel", channel}, {"state", state}}, static_cast<double>(d.objects));
        x.sample("ferry_queue_bytes", {{"channel", channel}, {"state", state}}, static_cast<double>(d.bytes));
      }
    }
    const link::LinkStatus ls = engine_->status();
    const link::LinkCounters& c = ls.counters;
    auto events = [this](std::initializer_list<std::string_view> types) {
      std::uint64_t n = 0;
      for (std::string_view t : types) {
        auto it = event_counts_.find(std::string(t));
        if (it != event_counts_.end()) n += it->second;
      }
      return static_cast<double>(n);
    };
    x.family("ferry_link_up", K::gauge, "1 while the link to the other side is up");
    x.sample("ferry_link_up", {}, ls.state == link::LinkState::up ? 1 : 0);
    x.family("ferry_link_handshakes_total", K::counter, "Handshakes completed");
    x.sample("ferry_link_handshakes_total", {}, static_cast<double>(c.handshakes));
    x.family("ferry_link_handshake_failures_total", K::counter, "Handshakes that failed or were refused, either end");
    x.sample("ferry_link_handshake_failures_total", {}, events({"link.handshake_failed", "link.refused", "link.refused_by_peer"}));
    x.family("ferry_link_rekeys_total", K::counter, "Session keys renewed");
    x.sample("ferry_link_rekeys_total", {}, events({"link.rekeyed"}));
    x.family("ferry_link_frames_total", K::counter, "Frames on the isolation link");
    x.sample("ferry_link_frames_total", {{"direction", "in"}}, static_cast<double>(c.frames_in));
    x.sample("ferry_link_frames_total", {{"direction", "out"}}, static_cast<double>(c.frames_out));
    x.family("ferry_link_bytes_total", K::counter, "Bytes on the isolation link");
    x.sample("ferry_link_bytes_total", {{"direction", "in"}}, static_cast<double>(c.bytes_in));
    x.sample("ferry_link_bytes_total", {{"direction", "out"}}, static_cast<double>(c.bytes_out));
    x.family("ferry_link_frames_dropped_total", K::counter,
             "Frames dropped, by reason (corrupt: failed authentication or decryption)");
    const std::pair<const char*, std::uint64_t> dropped[] = {
        {"malformed", c.dropped.malformed}, {"wrong_session", c.dropped.wrong_session}, {"replay", c.dropped.replay},
        {"out_of_window", c.dropped.out_of_window}, {"corrupt", c.dropped.corrupt}, {"unexpected", c.dropped.unexpected}};
    for (const auto& [reason, n] : dropped) {
      x.sample("ferry_link_frames_dropped_total", {{"reason", reason}}, static_cast<double>(n));
    }
    x.family("ferry_link_retransmissions_total", K::counter, "Data frames sent again");
    x.sample("ferry_link_retransmissions_total", {}, static_cast<double>(c.data_retransmitted));
    x.family("ferry_worker_crashes_total", K::counter, "Inspection workers that crashed on an object");
    x.sample("ferry_worker_crashes_total", {}, events({"worker.crash"}));
    x.family("ferry_worker_timeouts_total", K::counter, "Inspection workers killed for taking too long");
    x.sample("ferry_worker_timeouts_total", {}, events({"worker.timeout"}));
    x.family("ferry_worker_bad_answers_total", K::counter, "Inspection workers killed for a wrong answer");
    x.sample("ferry_worker_bad_answers_total", {}, events({"worker.bad_answer"}));
    audit::AuditLog& log = recorder_->log();
    const audit::Storage st = log.storage();
    x.family("ferry_audit_records_total", K::counter, "Records in the audit trail (its last sequence number)");
    x.sample("ferry_audit_records_total", {}, static_cast<double>(log.last_seq()));
    x.family("ferry_audit_last_checkpoint_age_seconds", K::gauge, "Seconds since the last signed checkpoint");
    x.sample("ferry_audit_last_checkpoint_age_seconds", {},
             std::chrono::duration<double>(std::chrono::system_clock::now() - log.last_checkpoint()).count());
    x.family("ferry_audit_storage_fill_ratio", K::gauge, "The audit trail's fill: 1 is full (audit.on_full applies)");
    x.sample("ferry_audit_storage_fill_ratio", {}, st.fill);
    x.family("ferry_audit_storage_bytes", K::gauge, "Bytes of the audit trail's segments");
    x.sample("ferry_audit_storage_bytes", {}, static_cast<double>(st.bytes));
    x.family("ferry_ingest_blocked", K::gauge, "1 while no new object is taken because the audit trail is full");
    x.sample("ferry_ingest_blocked", {}, ingest_blocked_ ? 1 : 0);
    if (syslog_) {
      const telemetry::SyslogExporter::Stats ss = syslog_->stats();
      x.family("ferry_audit_exported_seq", K::gauge, "The last audit record handed to the syslog target");
      x.sample("ferry_audit_exported_seq", {}, static_cast<double>(syslog_->exported_seq()));
      x.family("ferry_audit_syslog_errors_total", K::counter, "Failed connections and sends to the syslog target");
      x.sample("ferry_audit_syslog_errors_total", {}, static_cast<double>(ss.send_errors));
    }
    x.family("ferry_policy_serial", K::gauge, "Serial of the policy in force");
    x.sample("ferry_policy_serial", {}, static_cast<double>(policy_->serial));
    return x.text();
  }

  int run() override {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) { on_signal(ec, sig); });
    transport_->start([this](crypto::ByteView frame) { on_frame(frame); },
                      [this](bool up, const std::string& why) { on_transport(up, why); });
    for (SourceChannel& sc : sources_) watch_source(sc);
    inspect_incoming();
    schedule_scan(std::chrono::milliseconds(0));
    schedule_tick(std::chrono::milliseconds(0));
    status_loop();
    housekeeping_loop(std::chrono::minutes(1));
    asio::post(io_, [this] { check_received(); });
    io_.run();
    return exit_status_;
  }

  // --- ObjectSource: the outgoing queue -----------------------------------

  std::optional<link::OutgoingObject> next() override {
    while (!outgoing_.empty()) {
      const auto [id, bytes] = outgoing_.front();
      outgoing_.pop_front();
      outgoing_bytes_ -= bytes;
      Result<spool::ObjectRecord> r = spool_->read(id, State::outgoing);
      if (!r.ok()) continue;  // gone meanwhile (e.g. quarantined by a reload)
      std::string path = spool_->data_path(id, State::outgoing);
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        error_event("spool.read_failed", path + ": " + std::strerror(errno));
        continue;
      }
      sending_[id] = Sending{fd, *r};
      return link::OutgoingObject{to_link(id), r->channel, r->path, r->size, r->sm3};
    }
    return std::nullopt;
  }

  Result<std::size_t> read(const link::ObjectId& lid, std::uint64_t offset, crypto::MutableByteView out) override {
    auto it = sending_.find(to_spool(lid));
    if (it == sending_.end()) return make_error(Errc::invalid_argument, "object not in flight");
    std::size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(it->second.fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return make_error(Errc::io, "read of outgoing object failed");
      done += static_cast<std::size_t>(n);
    }
    return done;
  }

  void on_done(const link::ObjectId& lid) override {
    const spool::ObjectId id = to_spool(lid);
    std::optional<spool::ObjectRecord> r = close_sending(id);
    if (!r) {
      Result<spool::ObjectRecord> read = spool_->read(id, State::outgoing);
      if (!read.ok()) return error_event("spool.read_failed", read.error().message);
      r = std::move(*read);
    }
    // The peer holds it durably: the object leaves the spool in one step
    // (the audit line below keeps its facts), without waiting for the disk:
    // if a crash brings it back, the peer answers its offer DUPLICATE.
    if (Status st = spool_->forget(id, State::outgoing); !st.ok()) {
      return error_event("spool.discard_failed", id.hex() + ": " + st.error().message);
    }
    count(r->channel, State::outgoing, r->size, -1);
    note(audit::Event{"object.sent", audit::Severity::info, {}}
             .with("object", id.hex())
             .with("channel", r->channel)
             .with("name", r->path)
             .with("size", std::to_string(r->size))
             .with("sm3", crypto::to_hex(r->sm3)));
  }

  void on_rejected(const link::ObjectId& lid, std::uint16_t code, std::string_view text) override {
    const spool::ObjectId id = to_spool(lid);
    close_sending(id);
    Result<spool::ObjectRecord> r =
        spool_->move(id, State::outgoing, State::quarantine, [&](spool::ObjectRecord& rec) {
          rec.verdict = "rejected";
          rec.reasons.push_back({"peer.rejected", "code " + std::to_string(code) + ": " + std::string(text)});
        });
    if (!r.ok()) return error_event("spool.move_failed", r.error().message);
    count(r->channel, State::outgoing, r->size, -1);
    count(r->channel, State::quarantine, r->size, +1);
    note(audit::Event{"object.quarantined", audit::Severity::warning, {}}
             .with("object", id.hex())
             .with("channel", r->channel)
             .with("name", r->path)
             .with("reason", "peer.rejected")
             .with("detail", std::string(text)));
  }

  // --- ObjectSink: receiving, verify half ---------------------------------

  link::OfferAnswer offer(const link::IncomingObject& in) override {
    const spool::ObjectId id = to_spool(in.id);
    // Receiving-side verification: the sender's checks are not trusted.
    pipeline::Context ctx{*policy_, side_, pipeline::Role::receiving};
    if (std::optional<pipeline::Reason> why = pipeline_.run({in.channel, in.path, in.size, {}}, ctx)) {
      refused(id, in, why->code, why->detail);
      return link::OfferAnswer::reject(reject_code_for(why->code), why->code + ": " + why->detail);
    }
    const config::Binding* b = config_.find(in.channel);
    if (b == nullptr || b->role != config::BindingRole::deliver) {
      refused(id, in, "channel.unbound", "no deliver directory for channel '" + in.channel + "' on this side");
      return link::OfferAnswer::reject(kRejectUnbound, "channel.unbound: no deliver directory on the " +
                                                           side_name_ + " side");
    }
    if (delivered_->contains(id)) return duplicate(id, in);
    if (committing_.contains(id)) return link::OfferAnswer::busy();  // its DONE is on its way
    if (auto m = in_memory_.find(id); m != in_memory_.end()) {
      // Offered again (the sender reconnected): nothing of it is durable.
      count(m->second.record.channel, State::partial, m->second.record.size, -1);
      in_memory_bytes_ -= m->second.record.size;
      in_memory_.erase(m);
    }
    Result<std::optional<State>> where = spool_->find(id);
    if (!where.ok()) return link::OfferAnswer::busy();
    if (*where == State::received || *where == State::done) return duplicate(id, in);
    // Audit storage full (on_full: block): nothing new is taken; the
    // sender keeps the object and offers it again.
    if (ingest_blocked_) return link::OfferAnswer::busy();
    if (*where == State::partial) {
      Result<std::uint64_t> have = spool_->partial_size(id);
      if (have.ok()) return link::OfferAnswer::accept(*have);
      if (Status s = spool_->discard(id, State::partial); !s.ok()) {
        error_event("spool.discard_failed", s.error().message);
        return link::OfferAnswer::busy();
      }
    }
    // Backpressure: below the watermark nothing new is accepted; the sender
    // keeps the object queued and offers it again.
    // Space promised already: objects being received (their full size) and
    // received ones waiting for delivery (delivery writes a second copy).
    std::uint64_t reserved = 0;
    for (const auto& [channel, states] : depth_) {
      for (State st : {State::partial, State::received}) {
        auto it = states.find(st);
        if (it != states.end()) reserved += it->second.bytes;
      }
    }
    Result<std::uint64_t> free_space = spool::free_bytes(config_.spool.dir);
    if (!free_space.ok() || *free_space < config_.spool.min_free + reserved + in.size) {
      if (!busy_) {
        busy_ = true;
        note(audit::Event{"spool.below_watermark", audit::Severity::warning, {}}
                 .with("free", free_space.ok() ? std::to_string(*free_space) : "unknown")
                 .with("min_free", std::to_string(config_.spool.min_free)));
      }
      return link::OfferAnswer::busy();
    }
    if (busy_) {
      busy_ = false;
      note(audit::Event{"spool.space_returned", audit::Severity::notice, {}});
    }
    spool::ObjectRecord rec;
    rec.id = id;
    rec.channel = in.channel;
    rec.path = in.path;
    rec.size = in.size;
    rec.sm3 = in.sm3;
    rec.verdict = "receiving";
    rec.peer_serial = in.sender_policy_serial;
    if (in.size <= kInMemoryMax && in_memory_bytes_ + in.size <= kInMemoryTotal) {
      in_memory_bytes_ += in.size;
      // Small objects are received into memory and committed straight into
      // received/ with many others (commit_received): no partial file.
      in_memory_[id] = InMemory{std::move(rec), {}};
      in_memory_[id].bytes.reserve(static_cast<std::size_t>(in.size));
      count(in.channel, State::partial, in.size, +1);
      return link::OfferAnswer::accept(0);
    }
    Result<std::uint64_t> resume = spool_->open_partial(rec);
    if (!resume.ok()) {
      error_event("spool.partial_failed", resume.error().message);
      return link::OfferAnswer::busy();
    }
    count(in.channel, State::partial, in.size, +1);
    return link::OfferAnswer::accept(*resume);
  }

  Status write(const link::ObjectId& id, std::uint64_t offset, crypto::ByteView data) override {
    if (auto m = in_memory_.find(to_spool(id)); m != in_memory_.end()) {
      crypto::Bytes& b = m->second.bytes;
      if (offset != b.size() || data.size() > m->second.record.size - b.size()) {
        return make_error(Errc::invalid_argument, "write out of order or past the declared size");
      }
      b.insert(b.end(), data.begin(), data.end());
      m->second.touched = std::chrono::steady_clock::now();
      return {};
    }
    Status s = spool_->write_partial(to_spool(id), offset, data);
    if (!s.ok()) error_event("spool.write_failed", s.error().message);
    return s;
  }

  link::CompleteAnswer complete(const link::ObjectId& lid, std::uint64_t total, const crypto::Sm3Digest& sm3) override {
    const spool::ObjectId id = to_spool(lid);
    if (auto m = in_memory_.find(id); m != in_memory_.end()) {
      const crypto::Bytes& b = m->second.bytes;
      if (b.size() != total || total != m->second.record.size ||
          !crypto::equal_constant_time(crypto::Sm3::digest(b), sm3)) {
        count(m->second.record.channel, State::partial, m->second.record.size, -1);
        const std::string why = id.hex() + ": have " + std::to_string(b.size()) +
                                " bytes that do not match the offered size and SM3";
        in_memory_bytes_ -= m->second.record.size;
        in_memory_.erase(m);
        error_event("object.verify_failed", why);
        return link::CompleteAnswer::failed(why);
      }
      to_commit_.push_back(id);
      committing_.insert(id);
      if (!commit_posted_) {
        commit_posted_ = true;
        asio::post(io_, [this] { commit_received(); });
      }
      return link::CompleteAnswer::pending();
    }
    // A large object, received into its partial file: committed now.
    Result<spool::ObjectRecord> r = spool_->complete_partial(id, total, sm3);
    if (!r.ok()) {
      // The engine restarts the transfer from 0: drop what we hold.
      if (Result<spool::ObjectRecord> old = spool_->read(id, State::partial); old.ok()) {
        count(old->channel, State::partial, old->size, -1);
      }
      if (Status s = spool_->discard(id, State::partial); !s.ok()) {
        error_event("spool.discard_failed", s.error().message);
      }
      error_event("object.verify_failed", id.hex() + ": " + r.error().message);
      return link::CompleteAnswer::failed(r.error().message);
    }
    if (Status s = delivered_->remember(id); !s.ok()) return link::CompleteAnswer::failed(s.error().message);
    count(r->channel, State::partial, r->size, -1);
    count(r->channel, State::received, r->size, +1);
    note(audit::Event{"object.received", audit::Severity::info, {}}
             .with("object", id.hex())
             .with("channel", r->channel)
             .with("name", r->path)
             .with("size", std::to_string(r->size))
             .with("sm3", crypto::to_hex(r->sm3))
             .with("peer_serial", r->peer_serial ? std::to_string(*r->peer_serial) : ""));
    to_check_.push_back(id);
    verified_now_.insert(id);
    check_received();
    sync_audit();  // the record is durable before the engine acknowledges
    return link::CompleteAnswer::committed();
  }

  // An object offered again that this side already has: suppressed and audited.
  link::OfferAnswer duplicate(const spool::ObjectId& id, const link::IncomingObject& in) {
    note(audit::Event{"object.duplicate", audit::Severity::info, {}}
             .with("object", id.hex())
             .with("channel", in.channel)
             .with("name", in.path)
             .with("size", std::to_string(in.size))
             .with("detail", "offered again after it was received; answered DUPLICATE, not stored twice"));
    return link::OfferAnswer::duplicate();
  }

  // Group commit of the small objects complete() answered pending for: one
  // create_batch into received/, one remember_batch of their ids, one audit
  // sync; only then does the engine acknowledge them (DONE).
  void commit_received() {
    commit_posted_ = false;
    std::vector<spool::ObjectId> ids;
    std::vector<spool::Spool::NewObject> objects;
    std::vector<InMemory> held;
    while (!to_commit_.empty() && ids.size() < kBatch) {
      const spool::ObjectId id = to_commit_.front();
      to_commit_.pop_front();
      auto m = in_memory_.find(id);
      if (m == in_memory_.end()) continue;
      held.push_back(std::move(m->second));
      in_memory_.erase(m);
      ids.push_back(id);
    }
    for (InMemory& h : held) {
      spool::Spool::NewObject o;
      o.record = h.record;
      o.state = State::received;
      o.bytes = crypto::ByteView(h.bytes.data(), h.bytes.size());
      objects.push_back(std::move(o));
    }
    std::vector<Result<spool::ObjectRecord>> created = spool_->create_batch(objects);
    std::vector<spool::ObjectId> committed;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      if (created[k].ok()) committed.push_back(ids[k]);
    }
    Status remembered = committed.empty() ? Status() : delivered_->remember_batch(committed);
    std::vector<std::pair<spool::ObjectId, Status>> outcomes;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      const spool::ObjectRecord& rec = held[k].record;
      in_memory_bytes_ -= rec.size;
      count(rec.channel, State::partial, rec.size, -1);
      if (!created[k].ok()) {
        error_event("spool.commit_failed", ids[k].hex() + ": " + created[k].error().message);
        outcomes.emplace_back(ids[k], created[k].error());
        continue;
      }
      count(rec.channel, State::received, rec.size, +1);
      to_check_.push_back(ids[k]);
      verified_now_.insert(ids[k]);
      if (!remembered.ok()) {
        // In received/ but its id not durable: not acknowledged. The sender
        // offers it again, and offer() finds it there (DUPLICATE).
        error_event("spool.remember_failed", ids[k].hex() + ": " + remembered.error().message);
        outcomes.emplace_back(ids[k], remembered.error());
        continue;
      }
      note(audit::Event{"object.received", audit::Severity::info, {}}
               .with("object", ids[k].hex())
               .with("channel", rec.channel)
               .with("name", rec.path)
               .with("size", std::to_string(created[k]->size))
               .with("sm3", crypto::to_hex(created[k]->sm3))
               .with("peer_serial", rec.peer_serial ? std::to_string(*rec.peer_serial) : ""));
      outcomes.emplace_back(ids[k], Status());
    }
    sync_audit();  // the records are durable before the engine acknowledges
    const auto now = link::Clock::now();
    for (auto& [id, outcome] : outcomes) {
      committing_.erase(id);
      engine_->completed(to_link(id), std::move(outcome), now);
    }
    check_received();
    if (!to_commit_.empty() && !commit_posted_) {
      commit_posted_ = true;
      asio::post(io_, [this] { commit_received(); });
    }
    kick_engine();
  }

 private:
  // Records go out at once and are made durable together at the end of the
  // turn (one fdatasync for every record of the turn), or earlier by
  // sync_audit() where something is about to be acknowledged.
  void note(const audit::Event& e) {
    count_event(e);
    if (Status s = recorder_->note(e); !s.ok()) last_error_ = "audit: " + s.error().message;
    if (!audit_sync_posted_) {
      audit_sync_posted_ = true;
      asio::post(io_, [this] { sync_audit(); });
    }
  }

  void sync_audit() {
    audit_sync_posted_ = false;
    if (Status s = recorder_->sync(); !s.ok()) last_error_ = "audit: " + s.error().message;
    // Only records under a head seal leave the box.
    if (syslog_) syslog_->advance(recorder_->log().sealed_seq());
  }

  // The metrics are counted from the audit events themselves, so the two
  // can never disagree: objects and bytes by channel, direction and
  // verdict, and every event by its type (worker crashes, handshake
  // failures, ... are read from there).
  void count_event(const audit::Event& e) {
    ++event_counts_[e.type];
    static const std::map<std::string_view, std::string_view> kVerdict = {
        {"object.accepted", "accepted"},  {"object.quarantined", "rejected"}, {"object.refused", "rejected"},
        {"object.approved", "approved"},  {"object.rejected", "officer_rejected"},
        {"object.released", "released"},  {"object.sent", "sent"},           {"object.received", "received"},
        {"object.delivered", "delivered"}, {"object.duplicate", "duplicate"}, {"object.purged", "purged"}};
    auto v = kVerdict.find(e.type);
    if (v == kVerdict.end()) return;
    std::string channel, size;
    for (const auto& [k, val] : e.fields) {
      if (k == "channel" && channel.empty()) channel = val;
      if (k == "size" && size.empty()) size = val;
    }
    // object.approved is counted once the object is released, not per officer.
    if (e.type == "object.approved" || e.type == "object.released") {
      bool complete = false;
      for (const auto& [k, val] : e.fields) complete = complete || (k == "verdict");
      if (!complete) return;
    }
    const policy::Channel* c = policy_->find(channel);
    const std::string direction = c != nullptr ? std::string(policy::to_string(c->direction)) : "unknown";
    ObjectCount& n = object_counts_[{channel, direction, std::string(v->second)}];
    n.objects += 1;
    n.bytes += size.empty() ? 0 : std::strtoull(size.c_str(), nullptr, 10);
  }

  void error_event(const std::string& type, const std::string& detail) {
    last_error_ = type + ": " + detail;
    note(audit::Event{type, audit::Severity::error, {}}.with("detail", detail));
  }

  void refused(const spool::ObjectId& id, const link::IncomingObject& in, const std::string& code,
               const std::string& detail) {
    note(audit::Event{"object.refused", audit::Severity::warning, {}}
             .with("object", id.hex())
             .with("channel", in.channel)
             .with("name", in.path)
             .with("size", std::to_string(in.size))
             .with("verdict", "rejected")
             .with("reason", code)
             .with("detail", detail));
  }

  static std::string describe(const spool::RecoveryReport& r) {
    std::string out;
    for (const auto& [st, n] : r.objects) {
      if (!out.empty()) out += " ";
      out += std::string(spool::state_name(st)) + "=" + std::to_string(n);
    }
    out += " tmp_removed=" + std::to_string(r.tmp_removed) + " moves_finished=" + std::to_string(r.moves_finished);
    return out;
  }

  // Rules of the policy that are parsed but not enforced as written yet:
  // said at start-up and on reload, never silently ignored.
  void report_unenforced_rules() {
    for (const policy::Channel& c : policy_->channels) {
      std::vector<std::string> later;
      if (c.kind != policy::ChannelKind::file) later.push_back("kind " + std::string(policy::to_string(c.kind)));
      if (!c.routes.empty()) later.push_back("routes");
      if (c.response) later.push_back("response");
      if (later.empty()) continue;
      std::string list;
      for (const std::string& l : later) list += (list.empty() ? "" : ", ") + l;
      note(audit::Event{"policy.not_yet_enforced", audit::Severity::warning, {}}
               .with("channel", c.name)
               .with("rules", list)
               .with("detail", "enforced now: channel, direction, max_size, names, true type, archives, "
                               "keywords, personal data, antivirus, sanitize, approval; request and message "
                               "channels arrive later"));
    }
  }

  // --- officers' decisions (the control socket, ferry/control) -------------
  //
  // The control server has checked the signature, the challenge and the
  // role before any of these runs; here the object's state decides.

  using Entry = std::vector<std::pair<std::string, std::string>>;
  struct Answer {
    bool ok = false;
    std::string code;     // a token: ok, unknown_object, not_pending, duplicate_reviewer, ...
    std::string message;  // one line for the officer
    std::vector<Entry> entries;
  };
  struct Officer {
    std::string role;  // secadmin, ...
    std::string fingerprint;
    std::string key_name;
    std::string actor() const { return role + ":" + fingerprint; }
  };

  static Answer refuse(std::string code, std::string message) { return {false, std::move(code), std::move(message), {}}; }

  // The object an officer names, if it is in one of `states`.
  Result<spool::ObjectRecord> find_for_officer(const std::string& hex, std::initializer_list<State> states,
                                               Answer& refusal) {
    std::optional<spool::ObjectId> id = spool::ObjectId::parse(hex);
    if (!id) {
      refusal = refuse("unknown_object", "'" + hex + "' is not an object id (32 hex digits, as ferryctl pending lists them)");
      return make_error(Errc::invalid_argument, refusal.message);
    }
    Result<std::optional<State>> where = spool_->find(*id);
    if (!where.ok() || !*where) {
      refusal = refuse("unknown_object", "no object " + hex + " on the " + side_name_ +
                                             " side (objects leave the spool once sent or delivered; the audit "
                                             "trail keeps them: ferryctl audit query --object " + hex + ")");
      return make_error(Errc::invalid_argument, refusal.message);
    }
    if (std::find(states.begin(), states.end(), **where) == states.end()) {
      refusal = refuse("not_pending", "object " + hex + " is in " + std::string(spool::state_name(**where)) +
                                          ", not " + std::string(spool::state_name(*states.begin())));
      return make_error(Errc::invalid_argument, refusal.message);
    }
    Result<spool::ObjectRecord> r = spool_->read(*id, **where);
    if (!r.ok()) refusal = refuse("internal", r.error().message);
    return r;
  }

  static std::vector<std::string> approvals_of(const spool::ObjectRecord& r) {
    std::vector<std::string> out;
    for (const spool::Reason& why : r.reasons) {
      if (why.code == kApprovalGiven) out.push_back(why.detail);
    }
    return out;
  }

  unsigned reviewers_for(const std::string& channel) const {
    const policy::Channel* c = policy_->find(channel);
    return c != nullptr ? std::max(1u, c->reviewers) : 1u;
  }

  // What the channel checked, for the officer: the stages an object of it
  // passed before it could wait for approval.
  std::string checks_of(const std::string& channel, const std::string& type) const {
    const policy::Channel* c = policy_->find(channel);
    std::string out = "channel, name, size";
    if (c == nullptr) return out;
    out += ", type" + (type.empty() ? std::string() : " (" + type + ")") + ", archive";
    if (!c->deny_keywords.empty()) {
      out += ", keywords (";
      for (std::size_t k = 0; k < c->deny_keywords.size(); ++k) out += (k ? ", " : "") + c->deny_keywords[k];
      out += ")";
    }
    if (c->pii) out += ", personal data (" + std::string(policy::to_string(c->pii->action)) + ")";
    if (c->antivirus != policy::Antivirus::off) out += ", antivirus (" + std::string(policy::to_string(c->antivirus)) + ")";
    if (!c->sanitize.empty()) out += ", disarm";
    return out;
  }

  // The first bytes of a text object, for the officer's eye: valid UTF-8 is
  // shown as it is, anything else escaped (json_string), so no byte of a
  // hostile file reaches the officer's terminal as a control sequence.
  std::string preview_of(const spool::ObjectRecord& r, const std::string& type) const {
    if (type != "txt" && type != "csv" && type != "json" && type != "xml") return {};
    constexpr std::size_t kPreview = 512;
    const std::string path = spool_->data_path(r.id, r.state);
    fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    std::string text(kPreview, '\0');
    const ssize_t n = fd.valid() ? ::pread(fd.get(), text.data(), kPreview, 0) : -1;
    if (n < 0) return "(unreadable: " + path + ": " + std::strerror(errno) + ")";
    text.resize(static_cast<std::size_t>(n));
    // A character cut by the 512-byte limit is dropped, not escaped.
    if (r.size > text.size()) {
      std::size_t lead = text.size();
      while (lead > 0 && text.size() - lead < 3 && (static_cast<unsigned char>(text[lead - 1]) & 0xC0) == 0x80) --lead;
      if (lead > 0) {
        const unsigned char c = static_cast<unsigned char>(text[lead - 1]);
        const std::size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (text.size() - (lead - 1) < want) text.resize(lead - 1);
      }
    }
    std::string shown = audit::json_string(text);
    return shown.substr(1, shown.size() - 2) + (r.size > kPreview ? " ..." : "");
  }

  Entry entry_of(const spool::ObjectRecord& r) const {
    std::string type;
    std::vector<std::string> reasons;
    for (const spool::Reason& why : r.reasons) {
      if (why.code == kPendingType) type = why.detail;
      else if (why.code != kApprovalGiven) reasons.push_back(why.code + ": " + why.detail);
    }
    const std::vector<std::string> given = approvals_of(r);
    std::string approvals = std::to_string(given.size()) + " of " + std::to_string(reviewers_for(r.channel));
    for (const std::string& g : given) approvals += "; " + g.substr(0, g.find(' '));
    Entry e{{"object", r.id.hex()},
            {"state", std::string(spool::state_name(r.state))},
            {"channel", r.channel},
            {"name", r.path},
            {"type", type},
            {"size", std::to_string(r.size)},
            {"sm3", crypto::to_hex(r.sm3)},
            {"waiting_since", audit::format_timestamp(std::chrono::system_clock::time_point(
                                  std::chrono::milliseconds(r.updated_ms)))}};
    if (r.state == State::pending) {
      e.emplace_back("checks", checks_of(r.channel, type));
      e.emplace_back("approvals", approvals);
      e.emplace_back("preview", preview_of(r, type));
    } else {
      std::string all;
      for (const std::string& why : reasons) all += (all.empty() ? "" : "; ") + why;
      e.emplace_back("reasons", all);
      if (!given.empty()) e.emplace_back("approvals", approvals);
    }
    return e;
  }

  Answer list_objects(State st) {
    Result<std::vector<spool::ObjectRecord>> list = spool_->list(st);
    if (!list.ok()) return refuse("internal", list.error().message);
    Answer a{true, "ok", std::to_string(list->size()) + " object" + (list->size() == 1 ? "" : "s") + " in " +
                             std::string(spool::state_name(st)), {}};
    for (const spool::ObjectRecord& r : *list) a.entries.push_back(entry_of(r));
    return a;
  }

  Answer show_object(const std::string& hex) {
    Answer refusal;
    Result<spool::ObjectRecord> r = find_for_officer(hex, {State::pending, State::quarantine}, refusal);
    if (!r.ok()) return refusal;
    return {true, "ok", "object " + hex, {entry_of(*r)}};
  }

  // approve (a pending object) and release (a quarantined one): each
  // officer's approval is made durable in the object's record; the object
  // goes on when the channel's reviewers have all approved — different
  // officers, one approval each (the two-person rule).
  Answer approve(const std::string& hex, const Officer& who, State from) {
    Answer refusal;
    Result<spool::ObjectRecord> r = find_for_officer(hex, {from}, refusal);
    if (!r.ok()) return refusal;
    const unsigned needed = reviewers_for(r->channel);
    std::vector<std::string> given = approvals_of(*r);
    for (const std::string& g : given) {
      if (g.starts_with(who.actor() + " ") || g == who.actor()) {
        return refuse("duplicate_reviewer", "you (" + who.key_name + ") have already approved object " + hex + "; " +
                                                std::to_string(given.size()) + " of " + std::to_string(needed) +
                                                " approvals, another officer must approve");
      }
    }
    const std::string approval = who.actor() + " " + who.key_name;
    given.push_back(approval);
    const bool complete = given.size() >= needed;
    const bool release = from == State::quarantine;
    const std::string event = release ? "object.released" : "object.approved";
    if (!complete) {
      Result<spool::ObjectRecord> u = spool_->update(r->id, from, [&](spool::ObjectRecord& rec) {
        rec.reasons.push_back({std::string(kApprovalGiven), approval});
      });
      if (!u.ok()) return refuse("internal", u.error().message);
      note(audit::Event{event, audit::Severity::notice, {}}
               .with("object", hex)
               .with("channel", r->channel)
               .with("name", r->path)
               .with("actor", who.actor())
               .with("approvals", std::to_string(given.size()) + " of " + std::to_string(needed))
               .with("detail", "approved by " + who.key_name + "; waiting for another officer"));
      sync_audit();
      return {true, "ok", "approved (" + std::to_string(given.size()) + " of " + std::to_string(needed) +
                              "); object " + hex + " waits for another officer's approval", {}};
    }
    // Where it goes: the sending side sends it, the receiving side delivers.
    const bool sending = side_sends(r->channel);
    const State to = sending ? State::outgoing : State::received;
    Result<spool::ObjectRecord> m = spool_->move(r->id, from, to, [&](spool::ObjectRecord& rec) {
      rec.verdict = release ? "released" : "accepted";
      rec.reasons.clear();
      if (release) {
        for (const std::string& g : given) rec.reasons.push_back({std::string(kApprovalGiven), g});
      }
    });
    if (!m.ok()) return refuse("internal", m.error().message);
    count(r->channel, from, r->size, -1);
    count(r->channel, to, m->size, +1);
    std::string by;
    for (const std::string& g : given) by += (by.empty() ? "" : ", ") + g.substr(g.find(' ') + 1);
    note(audit::Event{event, audit::Severity::notice, {}}
             .with("object", hex)
             .with("channel", r->channel)
             .with("name", r->path)
             .with("size", std::to_string(m->size))
             .with("sm3", crypto::to_hex(m->sm3))
             .with("verdict", release ? "released" : "approved")
             .with("actor", who.actor())
             .with("approvals", std::to_string(given.size()) + " of " + std::to_string(needed))
             .with("detail", (release ? "released from quarantine by " : "approved by ") + by));
    sync_audit();
    if (sending) {
      queue_outgoing(*m);
      kick_engine();
    } else {
      to_deliver_.push_back(m->id);
      post_delivery();
    }
    return {true, "ok", std::string(release ? "released" : "approved") + "; object " + hex +
                            (sending ? " is queued for the link" : " is being delivered"), {}};
  }

  bool side_sends(const std::string& channel) const {
    const config::Binding* b = config_.find(channel);
    return b != nullptr && b->role == config::BindingRole::source;
  }

  Answer reject(const std::string& hex, const Officer& who, const std::string& reason) {
    Answer refusal;
    Result<spool::ObjectRecord> r = find_for_officer(hex, {State::pending}, refusal);
    if (!r.ok()) return refusal;
    if (reason.empty()) return refuse("bad_request", "a rejection needs a reason (--reason TEXT)");
    Result<spool::ObjectRecord> m = spool_->move(r->id, State::pending, State::quarantine, [&](spool::ObjectRecord& rec) {
      rec.verdict = "rejected";
      std::vector<spool::Reason> keep;
      for (const spool::Reason& why : rec.reasons) {
        if (why.code == kPendingType) keep.push_back(why);
      }
      keep.push_back(record_reason({"approval.rejected", who.key_name + ": " + reason}));
      rec.reasons = std::move(keep);
    });
    if (!m.ok()) return refuse("internal", m.error().message);
    count(r->channel, State::pending, r->size, -1);
    count(r->channel, State::quarantine, r->size, +1);
    note(audit::Event{"object.rejected", audit::Severity::notice, {}}
             .with("object", hex)
             .with("channel", r->channel)
             .with("name", r->path)
             .with("size", std::to_string(r->size))
             .with("verdict", "rejected")
             .with("reason", "approval.rejected")
             .with("actor", who.actor())
             .with("detail", reason));
    sync_audit();
    return {true, "ok", "rejected; object " + hex + " is in quarantine", {}};
  }

  Answer purge(const std::string& hex, const Officer& who) {
    Answer refusal;
    Result<spool::ObjectRecord> r = find_for_officer(hex, {State::quarantine}, refusal);
    if (!r.ok()) return refusal;
    // Audited before the bytes go: the record of the purge must exist if
    // the purge does.
    note(audit::Event{"object.purged", audit::Severity::notice, {}}
             .with("object", hex)
             .with("channel", r->channel)
             .with("name", r->path)
             .with("size", std::to_string(r->size))
             .with("sm3", crypto::to_hex(r->sm3))
             .with("actor", who.actor())
             .with("detail", "quarantined object deleted by " + who.key_name));
    sync_audit();
    if (Status st = spool_->discard(r->id, State::quarantine); !st.ok()) return refuse("internal", st.error().message);
    count(r->channel, State::quarantine, r->size, -1);
    return {true, "ok", "purged; object " + hex + " is deleted", {}};
  }

  void count(const std::string& channel, State st, std::uint64_t bytes, int delta) {
    QueueDepth& d = depth_[channel][st];
    if (delta > 0) {
      d.objects += 1;
      d.bytes += bytes;
    } else {
      d.objects -= d.objects > 0 ? 1 : 0;
      d.bytes -= std::min(d.bytes, bytes);
    }
  }

  // A finished object's bytes are needed no more: the peer holds them (sent)
  // or the deliver folder does (delivered), DeliveredIds answers a second
  // offer, and the audit line keeps the facts. Keeping the data would make
  // every delivered file take twice its size on the receiving disk.
  void forget_done(const spool::ObjectId& id) {
    if (Status st = spool_->discard(id, State::done); !st.ok()) {
      error_event("spool.discard_failed", id.hex() + ": " + st.error().message);
    }
  }

  std::optional<spool::ObjectRecord> close_sending(const spool::ObjectId& id) {
    auto it = sending_.find(id);
    if (it == sending_.end()) return std::nullopt;
    ::close(it->second.fd);
    spool::ObjectRecord r = std::move(it->second.record);
    sending_.erase(it);
    return r;
  }

  // --- ingest and the sending-side pipeline -------------------------------

  // An object after the content stages: moved (or not) out of incoming.
  struct Inspected {
    spool::ObjectRecord record;  // as it was in incoming
    std::string type;            // what the type stage found
    Result<spool::ObjectRecord> moved;
    std::vector<std::string> removed;  // what disarm took out
    std::vector<std::string> masked;   // what masking replaced
    std::string antivirus;             // the verdict, when the channel scans
    bool rebuilt = false;              // the object sent is the worker's output, not what was taken
    std::optional<std::string> incident;  // the worker failed on this object
    std::string incident_code;            // worker.crash, worker.timeout...
    bool retry = false;                   // no worker could be started: left in incoming, tried again later
  };

  void watch_source(SourceChannel& sc) {
    if (!sc.watch_fd) return;
    sc.watch_fd->async_wait(asio::posix::stream_descriptor::wait_read, [this, &sc](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      if (sc.watch->drain()) {
        last_activity_ = std::chrono::steady_clock::now();
        schedule_scan(std::chrono::milliseconds(0));
      }
      watch_source(sc);
    });
  }

  void schedule_scan(std::chrono::milliseconds delay) {
    const auto when = std::chrono::steady_clock::now() + delay;
    if (scan_pending_ && scan_timer_.expiry() <= when) return;
    scan_pending_ = true;
    scan_timer_.expires_at(when);
    scan_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      scan_pending_ = false;
      if (!stopping_) scan_sources();
    });
  }

  // Ingest: the loop scans the source directories and hands one batch at a
  // time to the ingest thread, which claims, copies, hashes and commits it
  // (SourceScanner::take_batch) while the loop keeps the link moving; the
  // results come back to the loop (taken()). While a batch is out, the loop
  // touches no scanner, so each scanner is only ever used by one thread at a
  // time; the spool is shared (spool.h says what may run concurrently).
  void scan_sources() {
    // taken() and examined() schedule the next scan. At most two batches
    // wait for the worker: taking goes on while one is examined, and no
    // further.
    if (ingesting_ || examining_ >= 2) return;
    // Before each batch, not only once a second: a burst of small files
    // writes records fast, and a full trail must stop the next batch.
    check_audit_storage();
    if (ingest_blocked_) {
      // Audit storage full (on_full: block): files wait in the source
      // folders; delivery and the link go on (CC FAU_STG.4).
      schedule_scan(std::chrono::seconds(1));
      return;
    }
    if (enough_queued()) {
      schedule_scan(std::chrono::milliseconds(10));
      return;
    }
    const std::int64_t now = spool_->now_ms();
    for (std::size_t n = 0; n < sources_.size(); ++n) {
      SourceChannel& sc = sources_[(next_source_ + n) % sources_.size()];
      if (sc.pending.empty()) {
        Result<std::vector<spool::Candidate>> found = sc.scanner->scan(now);
        if (!found.ok()) {
          error_event("source.scan_failed", sc.dir + ": " + found.error().message);
          continue;
        }
        sc.pending.assign(found->begin(), found->end());
        if (!found->empty()) last_activity_ = std::chrono::steady_clock::now();
      }
      if (sc.pending.empty()) continue;
      // One batch (one group commit) at a time; large files a few at a time.
      std::vector<spool::Candidate> batch;
      std::uint64_t bytes = 0;
      while (batch.size() < kBatch && !sc.pending.empty() && (batch.empty() || bytes < kBatchBytes)) {
        bytes += sc.pending.front().size;
        batch.push_back(std::move(sc.pending.front()));
        sc.pending.pop_front();
      }
      last_activity_ = std::chrono::steady_clock::now();
      next_source_ = (next_source_ + n + 1) % sources_.size();
      ingesting_ = true;
      asio::post(ingest_thread_, [this, &sc, batch = std::move(batch), policy = policy_, worker = worker_]() mutable {
        std::vector<Result<spool::ObjectRecord>> results = sc.scanner->take_batch(
            batch, *spool_, [&](spool::ObjectRecord& r, State& st) { classify(*policy, r, st); });
        asio::post(io_, [this, &sc, batch = std::move(batch), results = std::move(results), policy, worker] {
          taken(sc, batch, results, policy, worker);
        });
      });
      return;
    }
    schedule_next_scan(false);
  }

  void taken(SourceChannel& sc, const std::vector<spool::Candidate>& batch,
             const std::vector<Result<spool::ObjectRecord>>& results, std::shared_ptr<const policy::Policy> policy,
             std::shared_ptr<sandbox::Worker> worker) {
    ingesting_ = false;
    std::vector<spool::ObjectRecord> incoming;
    for (std::size_t k = 0; k < batch.size(); ++k) {
      if (!results[k].ok()) {
        // Gone or changed since the scan: the next scan sees it as it is now.
        error_event("source.take_failed", sc.dir + "/" + batch[k].relative_path + ": " + results[k].error().message);
        continue;
      }
      if (results[k]->state != State::incoming) {
        ingested(*results[k], nullptr);
      } else {
        incoming.push_back(*results[k]);
      }
    }
    // The content stages, on the spool's copy: what is examined is exactly
    // what will be sent, whatever happens to the source file. On the
    // examine thread, so that the next batch is taken meanwhile.
    if (!incoming.empty()) {
      ++examining_;
      asio::post(examine_thread_, [this, incoming = std::move(incoming), policy, worker]() mutable {
        std::vector<Inspected> inspected = inspect_batch(*policy, *worker, std::move(incoming));
        asio::post(io_, [this, inspected = std::move(inspected)] { examined(inspected); });
      });
    }
    if (sc.pending.empty()) sc.scanner->tidy();
    if (stopping_) return;
    bool more = false;
    for (const SourceChannel& s : sources_) more = more || !s.pending.empty();
    schedule_next_scan(more);
  }

  // A batch back from the worker: moved to outgoing or quarantine.
  void examined(const std::vector<Inspected>& inspected) {
    --examining_;
    std::vector<spool::ObjectId> held;
    for (const Inspected& i : inspected) {
      if (i.retry) {
        held.push_back(i.record.id);
        continue;
      }
      if (!i.moved.ok()) {
        // Still in incoming: inspected again after a restart.
        ingested(i.record, nullptr);
        error_event("spool.move_failed", i.record.id.hex() + ": " + i.moved.error().message);
        continue;
      }
      worker_incident(i);
      ingested(*i.moved, &i);
    }
    for (const Inspected& i : inspected) {
      if (i.retry) count(i.record.channel, State::incoming, i.record.size, +1);
    }
    hold_for_worker(held, inspected);
    if (stopping_ || ingesting_) return;  // taken() schedules the next scan
    // scan_sources() may have stood back while two batches were out.
    bool more = false;
    for (const SourceChannel& s : sources_) more = more || !s.pending.empty();
    schedule_next_scan(more);
  }

  // A file seen but not yet settled is only taken on a later scan: while
  // there was recent activity (an inotify event, a file taken), scan again
  // within the settle time; otherwise the periodic rescan catches what
  // inotify missed (its queue can overflow).
  void schedule_next_scan(bool more) {
    if (more) return schedule_scan(std::chrono::milliseconds(0));
    const bool waiting =
        std::chrono::steady_clock::now() - last_activity_ < 3 * config_.ingest.settle + std::chrono::seconds(1);
    schedule_scan(waiting ? std::max(std::chrono::milliseconds(50), config_.ingest.settle / 2)
                          : std::chrono::duration_cast<std::chrono::milliseconds>(config_.ingest.rescan_interval));
  }

  // The sending side's pipeline, first the stages that need no content
  // (channel, name, size), run as a file is taken: an object they reject is
  // committed straight into quarantine; one they pass goes to incoming for
  // the content stages (inspect_batch).
  // Runs on the ingest thread: it reads only the policy it is given, and
  // pipeline_ and side_, which never change.
  void classify(const policy::Policy& policy, spool::ObjectRecord& r, State& st) const {
    pipeline::Context ctx{policy, side_, pipeline::Role::sending};
    if (std::optional<pipeline::Reason> why = pipeline_.run({r.channel, r.path, r.size, {}}, ctx)) {
      st = State::quarantine;
      r.verdict = "rejected";
      r.reasons.push_back(record_reason(*why));
    }
  }

  // The content stages (pipeline/inspect.h) over objects in incoming, each
  // read from the spool, then their moves to outgoing or quarantine as one
  // group commit. Runs on the examine thread, the only user of the worker,
  // one batch at a time.
  // `after_restart`: the objects were found in incoming at start. A stop
  // between the rename of a rebuilt object over its data and the move that
  // records its new SM3 leaves data and record apart; the data's own size
  // and SM3 are then what the move records, whatever the worker says now.
  std::vector<Inspected> inspect_batch(const policy::Policy& policy, sandbox::Worker& worker,
                                       std::vector<spool::ObjectRecord> records, bool after_restart = false) const {
    std::vector<Inspected> out;
    std::vector<spool::Spool::Move> moves;
    std::vector<std::size_t> moved_index;  // out[] index of each move
    if (records.empty()) return out;
    // Every byte of the objects is parsed in the sandboxed worker, the
    // batch's requests sent ahead of its answers.
    const pipeline::Context ctx{policy, side_, pipeline::Role::sending};
    std::vector<std::vector<pipeline::Reason>> why_not(records.size());
    std::vector<fs::Fd> fds(records.size());
    std::vector<sandbox::Worker::WorkItem> items;
    std::vector<std::size_t> item_of(records.size(), SIZE_MAX);
    for (std::size_t k = 0; k < records.size(); ++k) {
      const spool::ObjectRecord& r = records[k];
      const std::string data = spool_->data_path(r.id, State::incoming);
      if (std::optional<pipeline::Reason> why = pipeline_.run({r.channel, r.path, r.size, data}, ctx)) {
        why_not[k].push_back(std::move(*why));  // the policy changed since it was taken
        continue;
      }
      fds[k] = fs::Fd(::open(data.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
      struct stat st;
      if (!fds[k].valid() || ::fstat(fds[k].get(), &st) != 0) {
        why_not[k].push_back({"object.unreadable", data + ": " + std::strerror(errno)});
        continue;
      }
      item_of[k] = items.size();
      items.push_back({r.channel, r.path, fds[k].get(), static_cast<std::uint64_t>(st.st_size)});
    }
    std::vector<sandbox::Examined> examined = worker.examine_batch(sandbox::Role::send, policy, items);
    for (std::size_t k = 0; k < records.size(); ++k) {
      spool::ObjectRecord& r = records[k];
      Inspected i{r, {}, make_error(Errc::internal, "not moved"), {}, {}, {}, false, {}, {}, false};
      std::optional<crypto::Sm3Digest> new_sm3;
      std::uint64_t new_size = 0;
      if (after_restart && fds[k].valid()) {
        if (Result<std::pair<std::uint64_t, crypto::Sm3Digest>> d = digest_of(fds[k].get()); d.ok()) {
          if (d->first != r.size || d->second != r.sm3) {
            new_size = d->first;
            new_sm3 = d->second;
          }
        }
      }
      if (item_of[k] != SIZE_MAX) {
        sandbox::Examined& ex = examined[item_of[k]];
        if (!ex.answer.reasons.empty() && ex.answer.reasons.front().code == "worker.unavailable") {
          // Not this object's fault: it waits in incoming for a worker.
          i.retry = true;
          i.incident = ex.incident;
          i.incident_code = "worker.unavailable";
          i.moved = make_error(Errc::io, ex.answer.reasons.front().detail);
          out.push_back(std::move(i));
          continue;
        }
        i.type = ex.answer.type;
        i.removed = ex.answer.removed;
        i.masked = ex.answer.masked;
        i.antivirus = sandbox::describe_antivirus(ex.answer);
        i.incident = ex.incident;
        if (ex.incident && !ex.answer.reasons.empty()) i.incident_code = ex.answer.reasons.front().code;
        for (const sandbox::WireReason& w : ex.answer.reasons) why_not[k].push_back({w.code, w.detail});
        if (why_not[k].empty() && ex.output.valid()) {
          // The object to send is the rebuilt one: it replaces the
          // spool's copy before the move commits its new size and SM3. A
          // crash in between leaves the rebuilt bytes in incoming with the
          // old record, and they are examined again after the restart
          // (rebuilding a rebuilt object changes nothing that matters).
          if (Status s = replace_incoming_data(r.id, ex.output.get(), ex.answer.output_size); !s.ok()) {
            i.moved = s.error();  // stays in incoming; retried after a restart
            out.push_back(std::move(i));
            continue;
          }
          new_sm3 = ex.answer.output_sm3;
          new_size = ex.answer.output_size;
          i.rebuilt = true;
        }
      }
      std::vector<spool::Reason> reasons;
      for (const pipeline::Reason& why : why_not[k]) reasons.push_back(record_reason(why));
      const policy::Channel* channel = policy.find(r.channel);
      const bool needs_approval = channel != nullptr && channel->approval == policy::Approval::required;
      if (reasons.empty()) {
        // Passed: to the link, or first to the officers (spool pending).
        moves.push_back({r.id, State::incoming, needs_approval ? State::pending : State::outgoing,
                         [new_sm3, new_size, needs_approval, type = i.type](spool::ObjectRecord& rec) {
                           rec.verdict = needs_approval ? "pending" : "accepted";
                           if (needs_approval) rec.reasons = {{std::string(kPendingType), type}};
                           if (new_sm3) {
                             rec.sm3 = *new_sm3;
                             rec.size = new_size;
                           }
                         }});
      } else {
        moves.push_back({r.id, State::incoming, State::quarantine, [reasons](spool::ObjectRecord& rec) {
                           rec.verdict = "rejected";
                           rec.reasons = reasons;
                         }});
      }
      moved_index.push_back(out.size());
      out.push_back(std::move(i));
    }
    std::vector<Result<spool::ObjectRecord>> moved = spool_->move_batch(moves);
    for (std::size_t k = 0; k < moved.size(); ++k) out[moved_index[k]].moved = std::move(moved[k]);
    return out;
  }

  // Size and SM3 of an open file, read from the start.
  static Result<std::pair<std::uint64_t, crypto::Sm3Digest>> digest_of(int fd) {
    crypto::Sm3 h;
    std::vector<std::uint8_t> buf(1 << 16);
    std::uint64_t total = 0;
    for (;;) {
      const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(total));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return make_error(Errc::io, std::strerror(errno));
      if (n == 0) break;
      h.update(crypto::ByteView(buf.data(), static_cast<std::size_t>(n)));
      total += static_cast<std::uint64_t>(n);
    }
    return std::make_pair(total, h.finish());
  }

  // The rebuilt object (a memfd from the worker) in place of incoming's
  // copy: written to tmp/, fsynced, renamed over it, directory fsynced.
  Status replace_incoming_data(const spool::ObjectId& id, int from, std::uint64_t size) const {
    const std::string tmp = spool_->dir() + "/tmp/" + id.hex() + ".rebuilt";
    const std::string target = spool_->data_path(id, State::incoming);
    fs::Fd to(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!to.valid()) return make_error(Errc::io, tmp + ": " + std::strerror(errno));
    off_t offset = 0;
    while (static_cast<std::uint64_t>(offset) < size) {
      const ssize_t n = ::sendfile(to.get(), from, &offset, static_cast<std::size_t>(size - static_cast<std::uint64_t>(offset)));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int e = n < 0 ? errno : EIO;
        ::unlink(tmp.c_str());
        return make_error(Errc::io, "writing " + tmp + ": " + std::strerror(e));
      }
    }
    if (::fsync(to.get()) != 0 || ::close(to.release()) != 0) {
      const int e = errno;
      ::unlink(tmp.c_str());
      return make_error(Errc::io, "fsync " + tmp + ": " + std::strerror(e));
    }
    if (::rename(tmp.c_str(), target.c_str()) != 0) {
      const int e = errno;
      ::unlink(tmp.c_str());
      return make_error(Errc::io, "rename " + tmp + ": " + std::strerror(e));
    }
    return fs::fsync_directory(spool_->state_dir(State::incoming));
  }

  // A worker that crashed, timed out or answered wrongly on an object:
  // counted by the worker, audited here.
  void worker_incident(const Inspected& i) {
    if (!i.incident) return;
    note(audit::Event{i.incident_code.empty() ? "worker.failed" : i.incident_code, audit::Severity::warning, {}}
             .with("object", i.record.id.hex())
             .with("channel", i.record.channel)
             .with("name", i.record.path)
             .with("detail", *i.incident));
  }

  // The sandboxed worker for a policy: a new one with every admitted
  // policy, used on the examine thread only.
  std::shared_ptr<sandbox::Worker> make_worker(const std::string& text, bool start_now = true) {
    sandbox::WorkerOptions o;
    const config::WorkerConfig& w = config_.worker;
    o.program = w.program.empty() ? sandbox::default_worker_program() : w.program;
    o.work_dir = config_.spool.dir + "/worker";
    o.user = w.user;
    o.memory = w.memory;
    o.timeout_floor = w.timeout_floor;
    o.timeout_per_mib = w.timeout_per_mib;
    o.timeout_ceiling = w.timeout_ceiling;
    o.max_use = w.max_use;
    std::uint64_t largest = 0;
    for (const policy::Channel& ch : policy_->channels) largest = std::max(largest, ch.max_size);
    // Room for a rebuild to outgrow its channel's max_size and be refused
    // for it (size.too_large), rather than be killed by RLIMIT_FSIZE.
    o.max_output = std::max<std::uint64_t>(std::uint64_t{16} << 20, 2 * largest);
    if (config_.antivirus) {
      o.av_database = config_.antivirus->database;
      o.av_max_age = std::chrono::duration_cast<std::chrono::hours>(config_.antivirus->max_age);
    }
    std::string dir = policy_->source;
    const std::size_t slash = dir.rfind('/');
    dir = slash == std::string::npos ? "." : dir.substr(0, slash);
    auto worker = std::make_shared<sandbox::Worker>(o, sandbox::WorkerPolicy{text, policy_->source, dir});
    if (!start_now) return worker;
    // Started now, on the examine thread, so that its confinement and its
    // antivirus engine are reported before the first object.
    asio::post(examine_thread_, [this, worker, serial = policy_->serial] {
      Status s = worker->start();
      asio::post(io_, [this, s, serial, confinement = worker->confinement(), av = worker->antivirus(),
                       loaded = worker->antivirus_loaded()] {
        worker_antivirus_loaded_ = loaded;
        if (!s.ok()) {
          last_error_ = "inspection worker: " + s.error().message;
          note(audit::Event{"worker.unavailable", audit::Severity::error, {}}
                   .with("policy_serial", std::to_string(serial))
                   .with("detail", s.error().message + "; objects are held (worker.unavailable) until it starts"));
          return;
        }
        note(audit::Event{"worker.started", audit::Severity::notice, {}}
                 .with("policy_serial", std::to_string(serial))
                 .with("confinement", confinement)
                 .with("antivirus", av));
      });
    });
    return worker;
  }

  // SIGHUP with the policy unchanged: a fresh worker loads the antivirus
  // database again, and replaces the running one only if its engine loaded
  // and passed the test scans (or the running one has none either); a
  // database that fails is refused and the running engine stays in service.
  void refresh_worker() {
    std::shared_ptr<sandbox::Worker> candidate = make_worker(policy_text_, false);
    asio::post(examine_thread_, [this, candidate, text = policy_text_] {
      Status s = candidate->start();
      asio::post(io_, [this, candidate, s, text] {
        if (text != policy_text_) {
          // Another policy was loaded while this one started: it has its
          // own worker, and this one must not replace it.
          asio::post(examine_thread_, [candidate] { candidate->stop(); });
          return;
        }
        const bool better = s.ok() && (candidate->antivirus_loaded() || !config_.antivirus);
        if (!better && s.ok() && worker_antivirus_loaded_) {
          note(audit::Event{"antivirus.reload_refused", audit::Severity::error, {}}
                   .with("detail", candidate->antivirus() + "; the engine loaded before stays in service"));
          asio::post(examine_thread_, [candidate] { candidate->stop(); });
          return;
        }
        if (!s.ok()) {
          note(audit::Event{"worker.unavailable", audit::Severity::error, {}}.with("detail", s.error().message));
          asio::post(examine_thread_, [candidate] { candidate->stop(); });
          return;
        }
        worker_ = candidate;
        worker_antivirus_loaded_ = candidate->antivirus_loaded();
        note(audit::Event{"worker.started", audit::Severity::notice, {}}
                 .with("policy_serial", std::to_string(policy_->serial))
                 .with("confinement", candidate->confinement())
                 .with("antivirus", candidate->antivirus()));
      });
    });
  }

  // Objects left in incoming because no worker could be started: audited
  // once per batch, and examined again in 10 s (fail closed: held, never
  // passed, never quarantined for a fault that is not theirs).
  void hold_for_worker(const std::vector<spool::ObjectId>& held, const std::vector<Inspected>& inspected) {
    if (held.empty()) return;
    std::string why;
    for (const Inspected& i : inspected) {
      if (i.retry && i.incident) {
        why = *i.incident;
        break;
      }
    }
    note(audit::Event{"worker.unavailable", audit::Severity::error, {}}
             .with("objects", std::to_string(held.size()))
             .with("detail", why + "; the objects wait in incoming and are examined again in 10 s"));
    retry_later(std::chrono::seconds(10), [this, held] {
      for (const spool::ObjectId& id : held) to_inspect_.push_back(id);
      inspect_incoming();
    });
  }

  void retry_later(std::chrono::seconds delay, std::function<void()> then) {
    auto t = std::make_shared<asio::steady_timer>(io_, delay);
    t->async_wait([this, t, then = std::move(then)](const boost::system::error_code& ec) {
      if (!ec && !stopping_) then();
    });
  }

  // --- the receiving side's check before delivery -------------------------

  // Received objects go through the worker once more (sandbox::Role::receive:
  // type and archive stages, no active content where the channel
  // sanitizes) before delivery; a batch at a time on the examine thread.
  void check_received() {
    if (checking_ || to_check_.empty() || stopping_) return;
    std::vector<spool::ObjectRecord> records;
    while (!to_check_.empty() && records.size() < kBatch) {
      Result<spool::ObjectRecord> r = spool_->read(to_check_.front(), State::received);
      to_check_.pop_front();
      if (r.ok()) records.push_back(std::move(*r));
    }
    if (records.empty()) return;
    checking_ = true;
    asio::post(examine_thread_, [this, records = std::move(records), policy = policy_, worker = worker_]() mutable {
      std::vector<std::pair<spool::ObjectRecord, sandbox::Examined>> checked;
      std::vector<fs::Fd> fds;
      std::vector<sandbox::Worker::WorkItem> items;
      std::vector<std::size_t> item_of;
      for (spool::ObjectRecord& r : records) {
        sandbox::Examined ex;
        const std::string data = spool_->data_path(r.id, State::received);
        fs::Fd fd(::open(data.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        struct stat st;
        if (!fd.valid() || ::fstat(fd.get(), &st) != 0) {
          ex.answer.reasons.push_back({"object.unreadable", data + ": " + std::strerror(errno)});
          item_of.push_back(SIZE_MAX);
        } else {
          item_of.push_back(items.size());
          items.push_back({r.channel, r.path, fd.get(), static_cast<std::uint64_t>(st.st_size)});
          fds.push_back(std::move(fd));
        }
        checked.emplace_back(std::move(r), std::move(ex));
      }
      std::vector<sandbox::Examined> examined = worker->examine_batch(sandbox::Role::receive, *policy, items);
      for (std::size_t k = 0; k < checked.size(); ++k) {
        if (item_of[k] != SIZE_MAX) checked[k].second = std::move(examined[item_of[k]]);
      }
      asio::post(io_, [this, checked = std::move(checked)]() mutable { received_checked(checked); });
    });
  }

  void received_checked(std::vector<std::pair<spool::ObjectRecord, sandbox::Examined>>& checked) {
    checking_ = false;
    std::vector<spool::ObjectId> held;
    for (auto& [r, ex] : checked) {
      if (!ex.answer.reasons.empty() && ex.answer.reasons.front().code == "worker.unavailable") {
        held.push_back(r.id);  // waits in received for a worker
        continue;
      }
      if (ex.incident) {
        note(audit::Event{ex.answer.reasons.front().code, audit::Severity::warning, {}}
                 .with("object", r.id.hex())
                 .with("channel", r.channel)
                 .with("name", r.path)
                 .with("detail", *ex.incident));
      }
      if (ex.answer.accepted()) {
        to_deliver_.push_back(r.id);
        continue;
      }
      std::vector<spool::Reason> reasons;
      for (const sandbox::WireReason& w : ex.answer.reasons) reasons.push_back(record_reason({w.code, w.detail}));
      Result<spool::ObjectRecord> q = spool_->move(r.id, State::received, State::quarantine, [&](spool::ObjectRecord& rec) {
        rec.verdict = "rejected";
        rec.reasons = reasons;
      });
      if (!q.ok()) {
        error_event("spool.move_failed", r.id.hex() + ": " + q.error().message);
        continue;
      }
      verified_now_.erase(r.id);
      count(r.channel, State::received, r.size, -1);
      count(r.channel, State::quarantine, r.size, +1);
      quarantined(*q, ex.answer.type);
    }
    if (!held.empty()) {
      note(audit::Event{"worker.unavailable", audit::Severity::error, {}}
               .with("objects", std::to_string(held.size()))
               .with("detail", "received objects wait for an inspection worker; checked again in 10 s"));
      retry_later(std::chrono::seconds(10), [this, held] {
        for (const spool::ObjectId& id : held) to_check_.push_back(id);
        check_received();
      });
    }
    if (!to_deliver_.empty()) post_delivery();
    check_received();
  }

  // The content stages a policy needs (its keyword lists compiled). A
  // detector that cannot run (libmagic's database missing) is not an error
  // here: every object is then held with type.unavailable, and that is said
  // once, now.
  Result<std::shared_ptr<const pipeline::Inspector>> make_inspector(const policy::Policy& policy) {
    Result<std::unique_ptr<pipeline::Inspector>> in = pipeline::Inspector::create(policy);
    if (!in.ok()) return make_error(in.error().code, policy.source + ": " + in.error().message);
    if (!(*in)->problem().empty()) {
      error_event("inspect.unavailable", (*in)->problem() + "; every object is held (type.unavailable)");
    }
    return std::shared_ptr<const pipeline::Inspector>(std::move(*in));
  }

  // A pipeline reason as the spool record keeps it (details are bounded
  // there; an archive member's path can make one long).
  static spool::Reason record_reason(const pipeline::Reason& why) {
    std::string detail = why.detail;
    if (detail.size() > spool::kMaxReasonDetailBytes) {
      std::size_t cut = spool::kMaxReasonDetailBytes - 3;
      while (cut > 0 && (static_cast<unsigned char>(detail[cut]) & 0xc0) == 0x80) --cut;  // a whole UTF-8 character
      detail = detail.substr(0, cut) + "...";
    }
    return {why.code, detail};
  }

  void ingested(const spool::ObjectRecord& r, const Inspected* i) {
    const std::string type = i ? i->type : std::string();
    const State st = r.state;
    count(r.channel, st, r.size, +1);
    note(audit::Event{"object.ingested", audit::Severity::info, {}}
             .with("object", r.id.hex())
             .with("channel", r.channel)
             .with("name", r.path)
             .with("size", std::to_string(i ? i->record.size : r.size))  // as taken, before any rebuild
             .with("sm3", crypto::to_hex(i ? i->record.sm3 : r.sm3)));
    if (st == State::quarantine) {
      quarantined(r, type);
      return;
    }
    if (st == State::outgoing || st == State::pending) {
      accepted(r, i);
      kick_engine();
    }
    // Left in incoming (a move that failed): inspected again after a restart.
  }

  void quarantined(const spool::ObjectRecord& r, const std::string& type) {
    std::string codes;
    for (const spool::Reason& why : r.reasons) codes += (codes.empty() ? "" : ",") + why.code;
    note(audit::Event{"object.quarantined", audit::Severity::warning, {}}
             .with("object", r.id.hex())
             .with("channel", r.channel)
             .with("name", r.path)
             .with("size", std::to_string(r.size))
             .with("sm3", crypto::to_hex(r.sm3))
             .with("verdict", "rejected")
             .with("type", type)
             .with("reason", r.reasons.empty() ? "name.invalid" : r.reasons.front().code)
             .with("reasons", codes)
             .with("detail", r.reasons.empty() ? "" : r.reasons.front().detail)
             .with("policy_serial", std::to_string(policy_->serial)));
  }

  // An object the sending side's pipeline passed: audited and queued for the link.
  void accepted(const spool::ObjectRecord& r, const Inspected* i) {
    audit::Event e{"object.accepted", audit::Severity::info, {}};
    e.with("object", r.id.hex())
        .with("channel", r.channel)
        .with("name", r.path)
        .with("size", std::to_string(r.size))
        .with("sm3", crypto::to_hex(r.sm3))
        .with("verdict", "accepted")
        .with("type", i ? i->type : std::string())
        .with("stages", "channel,name,size,type,archive,text,keyword,pii,antivirus,disarm,mask")
        .with("policy_serial", std::to_string(policy_->serial));
    if (i != nullptr) {
      auto joined = [](const std::vector<std::string>& v) {
        std::string out;
        for (const std::string& s : v) out += (out.empty() ? "" : "; ") + s;
        return out;
      };
      if (!i->antivirus.empty()) e.with("antivirus", i->antivirus);
      if (i->rebuilt) {
        // The object sent is the rebuilt one; ingested recorded the original's SM3.
        e.with("rebuilt_size", std::to_string(r.size)).with("rebuilt_sm3", crypto::to_hex(r.sm3));
        e.with("removed", joined(i->removed));
        if (!i->masked.empty()) e.with("masked", joined(i->masked));
      }
    }
    note(e);
    if (r.state == State::pending) {
      const policy::Channel* c = policy_->find(r.channel);
      note(audit::Event{"object.pending", audit::Severity::notice, {}}
               .with("object", r.id.hex())
               .with("channel", r.channel)
               .with("name", r.path)
               .with("size", std::to_string(r.size))
               .with("sm3", crypto::to_hex(r.sm3))
               .with("verdict", "pending")
               .with("reviewers", std::to_string(c != nullptr ? std::max(1u, c->reviewers) : 1u))
               .with("detail", "awaiting a security officer's approval (ferryctl pending / approve)"));
      return;
    }
    queue_outgoing(r);
  }

  void queue_outgoing(const spool::ObjectRecord& r) {
    outgoing_.emplace_back(r.id, r.size);
    outgoing_bytes_ += r.size;
  }

  // While the link is up and enough is queued ahead of it, taking more files
  // waits: the loop is the link's too, and a turn spent copying files the
  // link could not send for a while anyway is a turn the peer waits. The
  // files wait safely where they are; the queue is topped up as it drains.
  bool enough_queued() const {
    return engine_->status().state == link::LinkState::up &&
           (outgoing_.size() >= kQueueAheadObjects || outgoing_bytes_ >= kQueueAheadBytes);
  }

  // Objects found in incoming at start (taken before a crash, not yet
  // inspected): examined on the examine thread like a fresh batch.
  void inspect_incoming() {
    std::vector<spool::ObjectRecord> records;
    while (!to_inspect_.empty() && records.size() < kBatch) {
      Result<spool::ObjectRecord> r = spool_->read(to_inspect_.front(), State::incoming);
      to_inspect_.pop_front();
      if (r.ok()) records.push_back(std::move(*r));
    }
    if (records.empty()) return;
    asio::post(examine_thread_, [this, records = std::move(records), policy = policy_,
                                worker = worker_]() mutable {
      std::vector<Inspected> inspected = inspect_batch(*policy, *worker, std::move(records), true);
      asio::post(io_, [this, inspected = std::move(inspected)] {
        std::vector<spool::ObjectId> held;
        for (const Inspected& i : inspected) {
          if (i.retry) {
            held.push_back(i.record.id);
            continue;
          }
          if (!i.moved.ok()) {
            error_event("spool.move_failed", i.record.id.hex() + ": " + i.moved.error().message);
            continue;
          }
          count(i.record.channel, State::incoming, i.record.size, -1);
          count(i.record.channel, i.moved->state, i.moved->size, +1);
          worker_incident(i);
          if (i.moved->state == State::quarantine) {
            quarantined(*i.moved, i.type);
          } else {
            accepted(*i.moved, &i);
            kick_engine();
          }
        }
        hold_for_worker(held, inspected);
        if (!stopping_) inspect_incoming();
      });
    });
  }

  // --- delivery -------------------------------------------------------------

  // A batch of received objects into their deliver directories, one group
  // commit (spool::deliver_batch).
  void deliver_received() {
    deliver_posted_ = false;
    std::vector<spool::DeliveryRequest> requests;
    std::vector<spool::ObjectRecord> records;
    while (!to_deliver_.empty() && requests.size() < kBatch) {
      const spool::ObjectId id = to_deliver_.front();
      to_deliver_.pop_front();
      Result<spool::ObjectRecord> r = spool_->read(id, State::received);
      if (!r.ok()) continue;
      const config::Binding* b = config_.find(r->channel);
      if (b == nullptr || b->role != config::BindingRole::deliver) {
        error_event("object.undeliverable", id.hex() + ": channel '" + r->channel + "' has no deliver directory");
        continue;  // stays in received; a config change and restart deliver it
      }
      requests.push_back({id, b->target, verified_now_.erase(id) > 0});
      records.push_back(std::move(*r));
    }
    if (requests.empty()) return;
    // The ids are remembered when objects are received, before they are
    // acknowledged; but a crash between that commit and remember_batch()
    // leaves them unknown, and once an object leaves the spool the id store
    // is the only thing that refuses a second copy.
    std::vector<spool::ObjectId> unknown;
    for (const spool::DeliveryRequest& q : requests) {
      if (!delivered_->contains(q.id)) unknown.push_back(q.id);
    }
    if (!unknown.empty()) {
      if (Status st = delivered_->remember_batch(unknown); !st.ok()) {
        error_event("spool.remember_failed", st.error().message);
        for (const spool::DeliveryRequest& q : requests) to_deliver_.push_back(q.id);
        retry_delivery_later();
        return;
      }
    }
    std::vector<Result<spool::Delivery>> delivered = spool::deliver_batch(*spool_, requests);
    bool retry = false;
    for (std::size_t k = 0; k < requests.size(); ++k) {
      const spool::ObjectId& id = requests[k].id;
      const spool::ObjectRecord& r = records[k];
      const Result<spool::Delivery>& d = delivered[k];
      if (!d.ok()) {
        if (d.error().code == Errc::invalid_argument || d.error().code == Errc::verify_failed) {
          Result<spool::ObjectRecord> q = spool_->move(id, State::received, State::quarantine, [&](spool::ObjectRecord& rec) {
            rec.verdict = "rejected";
            rec.reasons.push_back({d.error().code == Errc::invalid_argument ? "name.invalid" : "digest.mismatch",
                                   d.error().message});
          });
          if (q.ok()) {
            count(r.channel, State::received, r.size, -1);
            count(r.channel, State::quarantine, r.size, +1);
          }
          note(audit::Event{"object.quarantined", audit::Severity::warning, {}}
                   .with("object", id.hex())
                   .with("channel", r.channel)
                   .with("name", r.path)
                   .with("detail", d.error().message));
        } else {
          // Disk full or an I/O error: the object stays in received and is
          // delivered on the next attempt; nothing is lost.
          error_event("object.delivery_failed", id.hex() + ": " + d.error().message);
          to_deliver_.push_back(id);
          retry = true;
        }
        continue;
      }
      count(r.channel, State::received, r.size, -1);
      audit::Event e{"object.delivered", audit::Severity::info, {}};
      e.with("object", id.hex())
          .with("channel", r.channel)
          .with("name", r.path)
          .with("size", std::to_string(r.size))
          .with("sm3", crypto::to_hex(r.sm3))
          .with("delivered_as", d->name);
      if (d->suffixed) e.with("note", "a file named '" + r.path + "' existed; delivered under a suffixed name");
      if (d->already_delivered) e.with("note", "found in place after a restart");
      note(e);
    }
    if (retry) {
      retry_delivery_later();
    } else if (!to_deliver_.empty()) {
      post_delivery();
    }
  }

  void post_delivery() {
    if (deliver_posted_) return;
    deliver_posted_ = true;
    asio::post(io_, [this] { deliver_received(); });
  }

  void retry_delivery_later() {
    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(1));
    t->async_wait([this, t](const boost::system::error_code& ec) {
      if (!ec && !stopping_) deliver_received();
    });
  }

  // --- the link ---------------------------------------------------------

  void on_transport(bool up, const std::string& why) {
    const auto now = link::Clock::now();
    if (up) {
      engine_->connected(now);
    } else {
      engine_->disconnected();
      if (!stopping_) {
        note(audit::Event{"link.transport_down", audit::Severity::warning, {}}.with("detail", why));
      }
    }
    schedule_tick(std::chrono::milliseconds(0));
  }

  void on_frame(crypto::ByteView frame) {
    engine_->receive(frame, link::Clock::now());
    kick_engine();
  }

  void on_link_event(const link::LinkEvent& e) {
    audit::Severity sev = audit::Severity::info;
    switch (e.kind) {
      case link::LinkEventKind::refused:
      case link::LinkEventKind::refused_by_peer:
      case link::LinkEventKind::handshake_failed:
      case link::LinkEventKind::link_dead:
      case link::LinkEventKind::object_rejected:
        sev = audit::Severity::warning;
        last_error_ = std::string(link::to_string(e.kind)) + ": " + e.text;
        break;
      case link::LinkEventKind::object_sent:
      case link::LinkEventKind::object_received:
        return;  // the spool transition logs these, with the object's details
      default:
        break;
    }
    audit::Event ev{"link." + std::string(link::to_string(e.kind)), sev, {}};
    if (e.object) ev.with("object", e.object->hex());
    ev.with("detail", e.text);
    note(ev);
  }

  // Ticks the engine right away (new objects queued, frames arrived) without
  // recursing into it from its own callbacks.
  void kick_engine() {
    if (kick_posted_) return;
    kick_posted_ = true;
    asio::post(io_, [this] {
      kick_posted_ = false;
      tick();
    });
  }

  void schedule_tick(std::chrono::milliseconds delay) {
    tick_timer_.expires_after(delay);
    tick_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  }

  void tick() {
    if (!engine_) return;
    const auto now = link::Clock::now();
    engine_->tick(now);
    if (stopping_) return;
    if (engine_->has_more_to_send()) kick_engine();
    auto delay = std::chrono::milliseconds(100);
    if (std::optional<link::TimePoint> next = engine_->next_deadline()) {
      delay = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(*next - now),
                         std::chrono::milliseconds(1), std::chrono::milliseconds(100));
    }
    schedule_tick(delay);
  }

  // --- housekeeping: bounded retention -------------------------------------

  void housekeeping_loop(std::chrono::milliseconds delay) {
    auto t = std::make_shared<asio::steady_timer>(io_, delay);
    t->async_wait([this, t](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      housekeeping();
      housekeeping_loop(std::chrono::hours(1));
    });
  }

  void housekeeping() {
    // Retention of the audit trail (and overwrite_oldest when full).
    last_maintain_ = std::chrono::system_clock::now();
    if (Result<audit::Maintenance> m = recorder_->log().maintain(last_maintain_, exported_seq()); !m.ok()) {
      error_event("audit.maintenance_failed", m.error().message);
    } else {
      audit_level_ = m->storage.level;
    }
    // A small object the engine stopped tracking (refused midway, or its
    // sender went away) is never completed; its bytes go after a while. If
    // the sender was only slow, its next write fails and it offers again.
    const auto stale = std::chrono::steady_clock::now() - kInMemoryIdle;
    for (auto it = in_memory_.begin(); it != in_memory_.end();) {
      if (it->second.touched < stale && !committing_.contains(it->first)) {
        const spool::ObjectRecord& r = it->second.record;
        note(audit::Event{"object.receive_abandoned", audit::Severity::warning, {}}
                 .with("object", r.id.hex())
                 .with("channel", r.channel)
                 .with("name", r.path)
                 .with("detail", "incomplete for 10 minutes: " + std::to_string(it->second.bytes.size()) + " of " +
                                     std::to_string(r.size) + " bytes dropped; the sender offers it again"));
        count(it->second.record.channel, State::partial, it->second.record.size, -1);
        in_memory_bytes_ -= it->second.record.size;
        it = in_memory_.erase(it);
      } else {
        ++it;
      }
    }
    const std::int64_t now = spool_->now_ms();
    Result<std::size_t> pruned =
        delivered_->prune(now - std::chrono::duration_cast<std::chrono::milliseconds>(kDeliveredIdRetention).count());
    if (!pruned.ok()) error_event("spool.prune_failed", pruned.error().message);
    Result<std::vector<spool::ObjectRecord>> done = spool_->list(State::done);
    if (!done.ok()) return error_event("spool.prune_failed", done.error().message);
    const std::int64_t cutoff = now - std::chrono::duration_cast<std::chrono::milliseconds>(kDoneRetention).count();
    std::size_t removed = 0;
    for (const spool::ObjectRecord& r : *done) {
      if (r.updated_ms >= cutoff) continue;
      if (Status st = spool_->discard(r.id, State::done); st.ok()) ++removed;
    }
    if (removed > 0 || (pruned.ok() && *pruned > 0)) {
      note(audit::Event{"spool.pruned", audit::Severity::info, {}}
               .with("done_removed", std::to_string(removed))
               .with("delivered_ids_removed", pruned.ok() ? std::to_string(*pruned) : "0"));
    }
  }

  // --- status, signals --------------------------------------------------

  void status_loop() {
    check_audit_storage();
    write_status();
    status_timer_.expires_after(std::chrono::seconds(1));
    status_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !stopping_) status_loop();
    });
  }

  // The audit trail's storage (CC FAU_STG.3/4), once a second: a level
  // change, or a full trail every second, runs the log's maintenance (which
  // records the level and, under overwrite_oldest, removes what it may);
  // a trail still full afterwards stops the taking of new objects.
  void check_audit_storage() {
    audit::AuditLog& log = recorder_->log();
    audit::Storage st = log.storage();
    const auto now = std::chrono::system_clock::now();
    if (st.level != audit_level_ || (st.level == audit::Storage::full && now - last_maintain_ >= std::chrono::seconds(1))) {
      last_maintain_ = now;
      Result<audit::Maintenance> m = log.maintain(now, exported_seq());
      if (m.ok()) {
        st = m->storage;
      } else {
        error_event("audit.maintenance_failed", m.error().message);
      }
      audit_level_ = st.level;
    }
    const bool block = st.level == audit::Storage::full;
    if (block == ingest_blocked_) return;
    ingest_blocked_ = block;
    if (block) {
      note(audit::Event{"ingest.blocked", audit::Severity::error, {}}
               .with("detail", std::string("the audit trail is full (") +
                                   (config_.audit.on_full == config::AuditOnFull::block
                                        ? "on_full: block"
                                        : "on_full: overwrite_oldest, and nothing is past retention or exported") +
                                   "): no new object is taken; files wait in the source folders, offers from the "
                                   "peer are answered BUSY; delivery and sending go on"));
    } else {
      note(audit::Event{"ingest.resumed", audit::Severity::notice, {}}
               .with("detail", "the audit trail has room again"));
    }
  }

  std::uint64_t exported_seq() const { return syslog_ ? syslog_->exported_seq() : 0; }

  void write_status() {
    const link::LinkStatus ls = engine_->status();
    StatusReport st;
    st.side = side_name_;
    st.pid = static_cast<long>(::getpid());
    st.started_ms = started_ms_;
    st.updated_ms = spool_->now_ms();
    st.policy_serial = policy_->serial;
    st.link_state = std::string(link::to_string(ls.state));
    if (ls.state == link::LinkState::up) {
      char sid[17];
      std::snprintf(sid, sizeof sid, "%016llx", static_cast<unsigned long long>(ls.session_id));
      st.session_id = sid;
      st.session_age_ms = ls.session_age.count();
    }
    st.own_fingerprint = crypto::to_hex(ls.own_fingerprint);
    st.peer_fingerprint = crypto::to_hex(ls.peer_fingerprint);
    if (ls.peer_policy_serial) st.peer_policy_serial = std::to_string(*ls.peer_policy_serial);
    const link::LinkCounters& c = ls.counters;
    st.counters = {{"frames_in", c.frames_in},
                   {"frames_out", c.frames_out},
                   {"bytes_in", c.bytes_in},
                   {"bytes_out", c.bytes_out},
                   {"dropped_malformed", c.dropped.malformed},
                   {"dropped_wrong_session", c.dropped.wrong_session},
                   {"dropped_replay", c.dropped.replay},
                   {"dropped_out_of_window", c.dropped.out_of_window},
                   {"dropped_corrupt", c.dropped.corrupt},
                   {"dropped_unexpected", c.dropped.unexpected},
                   {"handshakes", c.handshakes},
                   {"refusals", c.refusals},
                   {"retransmitted", c.data_retransmitted},
                   {"objects_sent", c.objects_sent},
                   {"objects_received", c.objects_received},
                   {"objects_rejected", c.objects_rejected}};
    for (const config::Binding& b : config_.channels) {
      if (b.role != config::BindingRole::source && b.role != config::BindingRole::deliver) continue;
      ChannelStatus& cs = st.channels[b.channel];
      cs.role = std::string(config::to_string(b.role));
      for (State s : spool::kAllStates) {
        if (s == State::done) continue;
        const QueueDepth d = depth_[b.channel][s];
        cs.states[std::string(spool::state_name(s))] = d;
      }
    }
    st.last_error = !ls.last_error.empty() && last_error_.empty() ? ls.last_error : last_error_;
    const std::string json = to_json(st) + "\n";
    if (Status s = fs::replace_file(config_.spool.dir + "/" + kStatusFileName, crypto::as_bytes(json), 0644); !s.ok()) {
      last_error_ = "status file: " + s.error().message;
    }
  }

  void on_signal(const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      reload_policy();
      signals_.async_wait([this](const boost::system::error_code& e, int s) { on_signal(e, s); });
      return;
    }
    stop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
  }

  void reload_policy() {
    PolicyAdmission admission = admit_policy(config_);
    // The content stages the new policy needs (its keyword lists compiled),
    // built before anything is recorded: a policy they refuse is refused.
    if (admission.ok()) {
      Result<std::shared_ptr<const pipeline::Inspector>> in = make_inspector(admission.admitted->policy);
      if (!in.ok()) admission = {std::nullopt, "invalid", in.error().message};
    }
    if (admission.ok()) {
      if (Status s = applied_serial_->check(admission.admitted->policy.serial); !s.ok()) {
        admission = {std::nullopt, "rollback", config_.policy + ": " + s.error().message};
      } else if (Status r = applied_serial_->record(admission.admitted->policy.serial); !r.ok()) {
        admission = {std::nullopt, "serial_not_recorded", r.error().message};
      }
    }
    if (!admission.ok()) {
      const std::string& m = admission.message;
      last_error_ = "policy reload refused: " + m.substr(0, m.find('\n'));
      note(audit::Event{"policy.reload_refused", audit::Severity::error, {}}
               .with("file", config_.policy)
               .with("reason", admission.reason)
               .with("errors", m)
               .with("kept_serial", std::to_string(policy_->serial)));
      return;
    }
    const policy::Serial old = policy_->serial;
    const bool same_text = admission.admitted->text == policy_text_;
    policy_ = std::make_shared<const policy::Policy>(std::move(admission.admitted->policy));
    policy_text_ = std::move(admission.admitted->text);
    if (same_text) {
      refresh_worker();  // the same policy: only the antivirus database may have changed
    } else {
      worker_ = make_worker(policy_text_);
    }
    policy_signer_ = std::move(admission.admitted->signer);
    engine_->set_policy_serial(policy_->serial, link::Clock::now());
    note(audit::Event{"policy.reloaded", audit::Severity::notice, {}}
             .with("file", config_.policy)
             .with("old_serial", std::to_string(old))
             .with("serial", std::to_string(policy_->serial))
             .with("sm3", crypto::to_hex(policy_->sm3))
             .with("signer", policy_signer_));
    if (policy_signer_.empty()) note_unsigned_policy();
    report_unenforced_rules();
  }

  void note_unsigned_policy() {
    note(audit::Event{"policy.unsigned_accepted", audit::Severity::warning, {}}
             .with("file", config_.policy)
             .with("serial", std::to_string(policy_->serial))
             .with("detail", std::string(kUnsignedAccepted)));
  }

  void stop(const std::string& why) {
    if (stopping_) return;
    stopping_ = true;
    note(audit::Event{"side.stopping", audit::Severity::notice, {}}.with("signal", why));
    engine_->shutdown(why, link::Clock::now());
    scan_timer_.cancel();
    status_timer_.cancel();
    tick_timer_.cancel();
    for (SourceChannel& sc : sources_) {
      if (sc.watch_fd) sc.watch_fd->cancel();
    }
    // Let the frame in flight and the CLOSE leave, for at most a second;
    // whatever is cut off resumes after the restart.
    drain_deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    finish_stop();
  }

  void finish_stop() {
    // A batch on the ingest thread is finished and its results noted (its
    // objects are committed either way; a restart would only lose the audit
    // lines). A batch is at most kBatch files or kBatchBytes.
    if (ingesting_ || examining_ > 0 || checking_ ||
        (transport_->queued_bytes() > 0 && std::chrono::steady_clock::now() < drain_deadline_)) {
      auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(10));
      t->async_wait([this, t](const boost::system::error_code&) { finish_stop(); });
      return;
    }
    transport_->stop();
    if (control_) control_->stop();
    if (metrics_) metrics_->stop();
    for (auto& [id, out] : sending_) ::close(out.fd);
    sending_.clear();
    write_status();
    note(audit::Event{"side.stopped", audit::Severity::notice, {}});
    // The trail ends on a signed checkpoint, so a clean stop leaves
    // nothing after the last signature.
    if (Status st = recorder_->log().checkpoint(std::chrono::system_clock::now()); !st.ok()) {
      last_error_ = "audit: " + st.error().message;
    }
    sync_audit();
    if (syslog_) {
      // The last records (this stop's) leave too, if the target takes them
      // within a second; otherwise after the restart, from the cursor.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      while (syslog_->exported_seq() < recorder_->log().sealed_seq() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      syslog_->stop();
    }
    signals_.cancel();
    io_.stop();
  }

  asio::io_context& io_;
  config::Config config_;
  // Shared with the ingest thread's batch under way, which keeps the policy
  // it started with across a reload.
  std::shared_ptr<const policy::Policy> policy_;
  std::string policy_signer_;  // AdmittedPolicy::signer of policy_
  std::string policy_text_;    // AdmittedPolicy::text of policy_: what the worker loads
  // The sandboxed worker for policy_, replaced with it; used on the examine
  // thread only (a batch holds the pair it started with).
  std::shared_ptr<sandbox::Worker> worker_;
  bool worker_antivirus_loaded_ = false;  // as worker_ reported when it started
  std::optional<spool::AppliedSerial> applied_serial_;
  pipeline::Side side_;
  std::string side_name_;
  pipeline::Pipeline pipeline_;
  crypto::SoftwareCryptoDevice device_;
  std::unique_ptr<crypto::CryptoSession> session_;
  std::unique_ptr<audit::Recorder> recorder_;
  std::unique_ptr<telemetry::SyslogExporter> syslog_;
  std::unique_ptr<control::ControlServer> control_;
  std::unique_ptr<telemetry::MetricsServer> metrics_;
  std::unique_ptr<spool::Spool> spool_;
  std::unique_ptr<spool::DeliveredIds> delivered_;
  std::vector<SourceChannel> sources_;
  std::unique_ptr<link::LinkEngine> engine_;
  std::unique_ptr<hw::FrameTransport> transport_;
  std::deque<spool::ObjectId> to_inspect_, to_check_, to_deliver_;
  bool checking_ = false;  // a batch of to_check_ is on the examine thread
  // Accepted objects the engine has not taken yet, with their sizes.
  std::deque<std::pair<spool::ObjectId, std::uint64_t>> outgoing_;
  std::uint64_t outgoing_bytes_ = 0;
  // Received objects this process hashed as it wrote them (no read-back at
  // delivery, see spool::DeliveryRequest).
  std::unordered_set<spool::ObjectId> verified_now_;
  // Objects the engine took: their open data file and their record.
  struct Sending {
    int fd;
    spool::ObjectRecord record;
  };
  std::unordered_map<spool::ObjectId, Sending> sending_;
  // The peer's small objects being received into memory, and those complete
  // whose group commit is pending (committing_ holds both queued and running).
  struct InMemory {
    spool::ObjectRecord record;
    crypto::Bytes bytes;
    std::chrono::steady_clock::time_point touched = std::chrono::steady_clock::now();
  };
  std::unordered_map<spool::ObjectId, InMemory> in_memory_;
  std::uint64_t in_memory_bytes_ = 0;  // declared sizes of in_memory_ and of those being committed
  std::deque<spool::ObjectId> to_commit_;
  std::unordered_set<spool::ObjectId> committing_;
  std::map<std::string, std::map<State, QueueDepth>> depth_;
  asio::steady_timer tick_timer_, scan_timer_, status_timer_;
  asio::signal_set signals_;
  bool scan_pending_ = false;
  bool kick_posted_ = false;
  bool audit_sync_posted_ = false;
  bool commit_posted_ = false;
  bool deliver_posted_ = false;
  bool busy_ = false;
  bool stopping_ = false;
  // Metrics (count_event).
  struct ObjectCount {
    std::uint64_t objects = 0;
    std::uint64_t bytes = 0;
  };
  std::map<std::tuple<std::string, std::string, std::string>, ObjectCount> object_counts_;  // channel, direction, verdict
  std::map<std::string, std::uint64_t> event_counts_;
  // The audit trail's storage level as last seen, and whether it stops
  // ingest (check_audit_storage).
  audit::Storage::Level audit_level_ = audit::Storage::ok;
  std::chrono::system_clock::time_point last_maintain_{};
  bool ingest_blocked_ = false;
  int exit_status_ = 0;
  std::int64_t started_ms_ = 0;
  std::chrono::steady_clock::time_point drain_deadline_{};
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
  std::string last_error_;
  bool ingesting_ = false;
  int examining_ = 0;  // batches posted to examine_thread_ and not back yet
  std::size_t next_source_ = 0;
  // Declared last, so destroyed first: its destructor waits for the batch
  // under way, which uses the spool and the scanners above.
  asio::thread_pool ingest_thread_{1};
  // The only thread that uses the worker: inspection of taken batches, the
  // receiving side's check, worker start-up.
  asio::thread_pool examine_thread_{1};
};

}  // namespace

Result<std::unique_ptr<Side>> Side::create(asio::io_context& io, config::Config config, AdmittedPolicy policy) {
  auto side = std::make_unique<RunningSide>(io, std::move(config), std::move(policy));
  if (crypto::Status s = side->start(); !s.ok()) return s.error();
  return std::unique_ptr<Side>(std::move(side));
}

}  // namespace ferry::daemon
