// Throughput of two engines in memory (no faults, no socket) beside the
// single-core throughput of the seal itself, measured in the same run. The
// engine pair seals on one side and opens on the other on one core, so its
// ceiling is about half the seal-only figure. Times are this thread's CPU
// time, so that other load on the machine does not skew the ratio.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <ctime>

#include "crypto/seal.h"
#include "tests/unit/link/link_harness.h"

namespace ferry::link::test {
namespace {

constexpr std::size_t kTotal = std::size_t{64} << 20;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double mb_per_s(std::size_t bytes, double since) { return static_cast<double>(bytes) / 1e6 / (cpu_seconds() - since); }

// A sink that writes into memory, as a write into the page cache would, and
// compares with the source at the end (the daemon's sink hashes instead).
class MemorySink : public ObjectSink {
 public:
  explicit MemorySink(const Bytes& expected) : expected_(expected) { data_.reserve(expected.size()); }
  OfferAnswer offer(const IncomingObject&) override { return OfferAnswer::accept(data_.size()); }
  crypto::Status write(const ObjectId&, std::uint64_t, ByteView d) override {
    data_.insert(data_.end(), d.begin(), d.end());
    return {};
  }
  CompleteAnswer complete(const ObjectId&, std::uint64_t total, const crypto::Sm3Digest&) override {
    if (total != data_.size() || std::memcmp(data_.data(), expected_.data(), data_.size()) != 0) {
      return CompleteAnswer::failed("content differs");
    }
    completed = true;
    return CompleteAnswer::committed();
  }
  bool completed = false;

 private:
  const Bytes& expected_;
  Bytes data_;
};

TEST(LinkThroughput, SixtyFourMiBBetweenTwoEnginesInMemory) {
  const LinkParams outer_params = LinkParams::defaults(Side::outer);
  LinkParams inner_params = LinkParams::defaults(Side::inner);

  // Baseline: seal and open alone, in chunk-sized boxes with a 52-byte header.
  const Bytes content = pattern(77, kTotal);
  const auto keys = crypto::SealKeys::derive(crypto::as_bytes("throughput"), "bench");
  crypto::Sealer sealer(keys, 1);
  crypto::Opener opener(keys);
  const Bytes header(kHeaderSize, 0x11);
  const std::size_t chunk = outer_params.chunk_size;
  const std::size_t chunks = (kTotal + chunk - 1) / chunk;
  Bytes boxes(kTotal + chunks * crypto::kSealOverhead);
  Bytes plain(kTotal);
  double t0 = cpu_seconds();
  for (std::size_t i = 0; i < chunks; ++i) {
    const std::size_t n = std::min(chunk, kTotal - i * chunk);
    ASSERT_TRUE(sealer.seal_into(header, ByteView(content).subspan(i * chunk, n),
                                 std::span(boxes).subspan(i * (chunk + crypto::kSealOverhead), n + crypto::kSealOverhead))
                    .ok());
  }
  const double seal_mbs = mb_per_s(kTotal, t0);
  t0 = cpu_seconds();
  for (std::size_t i = 0; i < chunks; ++i) {
    const std::size_t n = std::min(chunk, kTotal - i * chunk);
    ASSERT_TRUE(opener.open_into(header,
                                 std::span(boxes).subspan(i * (chunk + crypto::kSealOverhead), n + crypto::kSealOverhead),
                                 std::span(plain).subspan(i * chunk, n))
                    .ok());
  }
  ASSERT_EQ(plain, content);
  const double open_mbs = mb_per_s(kTotal, t0);

  // Two engines joined by in-memory queues.
  Device outer_device(TestKeys::get().outer);
  Device inner_device(TestKeys::get().inner);
  FakeSource source;
  const ObjectId id = source.add(make_id(1, 0xD0), "docs-in", "big.bin", content);
  MemorySink sink(content);
  FakeSource nothing;
  std::deque<Bytes> to_inner, to_outer;
  LinkEngine outer(outer_params, *outer_device.session, kIdentitySlot, TestKeys::get().inner.public_key(), &source,
                   nullptr, [&](ByteView f) { to_inner.emplace_back(f.begin(), f.end()); }, nullptr);
  LinkEngine inner(inner_params, *inner_device.session, kIdentitySlot, TestKeys::get().outer.public_key(), &nothing,
                   &sink, [&](ByteView f) { to_outer.emplace_back(f.begin(), f.end()); }, nullptr);
  TimePoint now = TimePoint{} + 1h;
  inner.connected(now);
  outer.connected(now);
  t0 = cpu_seconds();
  while (!source.done.contains(id)) {
    if (to_inner.empty() && to_outer.empty()) {
      now += 1ms;
      outer.tick(now);
      inner.tick(now);
      continue;
    }
    while (!to_inner.empty()) {
      Bytes f = std::move(to_inner.front());
      to_inner.pop_front();
      inner.receive(f, now);
    }
    while (!to_outer.empty()) {
      Bytes f = std::move(to_outer.front());
      to_outer.pop_front();
      outer.receive(f, now);
    }
  }
  const double link_mbs = mb_per_s(kTotal, t0);
  EXPECT_TRUE(sink.completed);
  EXPECT_EQ(outer.status().counters.data_retransmitted, 0u);

  std::printf("seal %.0f MB/s, open %.0f MB/s (one core); two engines in memory on one core, 64 MiB: %.0f MB/s "
              "= %.2f of seal, %.2f of the seal+open ceiling %.0f MB/s\n",
              seal_mbs, open_mbs, link_mbs, link_mbs / seal_mbs,
              link_mbs / (1 / (1 / seal_mbs + 1 / open_mbs)), 1 / (1 / seal_mbs + 1 / open_mbs));
  // One core does both sides' crypto, so about half the seal is the ceiling;
  // the engine's own work (copies, framing, acks) must not eat much of it.
  EXPECT_GT(link_mbs, 0.6 / (1 / seal_mbs + 1 / open_mbs));
}

}  // namespace
}  // namespace ferry::link::test
