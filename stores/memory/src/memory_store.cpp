// The in-memory store. Dedup keys live in 16 shards, each a hash map from a 128-bit digest of the key
// to a 16-byte slot plus a min-heap of done keys by end of retention (for purging and eviction). The
// inbox is one map by id under one lock, with ordered indexes of due entries, done entries by end
// of retention, ids per state, and ids by key. One atomic counter bounds both roles together.
#include "hookrx/memory_store.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

namespace hookrx {
namespace {

using std::chrono::milliseconds;

// Times as time_point's own count (nanoseconds since the epoch with libstdc++ and libc++).
using tick = time_point::rep;
constexpr tick tick_min = std::numeric_limits<tick>::min();
constexpr tick tick_max = std::numeric_limits<tick>::max();

tick ticks(time_point t) noexcept { return t.time_since_epoch().count(); }
time_point at(tick t) noexcept { return time_point(time_point::duration(t)); }

// now + d; a negative span counts as zero, a huge one saturates to "forever".
tick add(tick now, milliseconds d) noexcept {
  static const tick per_ms = std::chrono::duration_cast<time_point::duration>(milliseconds(1)).count();
  if (d.count() <= 0) return now;
  if (d.count() > (tick_max - now) / per_ms) return tick_max;
  return now + static_cast<tick>(d.count()) * per_ms;
}

// A random non-zero token that differs from `previous` (the token it replaces), so that a stale
// token can never own the new lease.
std::uint64_t new_token(std::uint64_t previous) {
  thread_local std::mt19937_64 gen = [] {
    std::random_device rd;
    std::seed_seq seed{rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seed);
  }();
  std::uint64_t t = 0;
  while (t == 0 || t == previous) t = gen();
  return t;
}

// --- key digests ---------------------------------------------------------------------------------

struct digest {
  std::uint64_t a = 0;  // picks the shard
  std::uint64_t b = 0;  // hashes within the shard
  friend bool operator==(const digest& x, const digest& y) noexcept { return x.a == y.a && x.b == y.b; }
};

// noexcept and cheap, so libstdc++ does not cache the hash in each node (8 bytes per key saved).
struct digest_hash {
  std::size_t operator()(const digest& d) const noexcept { return static_cast<std::size_t>(d.b); }
};

struct md_deleter {
  void operator()(EVP_MD* md) const noexcept { EVP_MD_free(md); }
};
struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

// The first 128 bits of SHA-256(key); nullopt only if OpenSSL fails.
std::optional<digest> digest_of(std::string_view key) {
  static const std::unique_ptr<EVP_MD, md_deleter> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  thread_local const std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx(EVP_MD_CTX_new());
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (!md || !ctx || EVP_DigestInit_ex2(ctx.get(), md.get(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), key.data(), key.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len < 16) {
    return std::nullopt;
  }
  digest d;
  std::memcpy(&d.a, out.data(), sizeof d.a);
  std::memcpy(&d.b, out.data() + sizeof d.a, sizeof d.b);
  return d;
}

// --- dedup shards --------------------------------------------------------------------------------

// A dedup key: claimed by `token` until `until`, or done (token 0) until `until`.
struct dedup_slot {
  std::uint64_t token = 0;
  tick until = 0;
};

// A done key and the end of its retention, as the heap holds it. A heap entry goes stale when its
// key is claimed again, evicted or purged; it is then skipped when it reaches the top.
struct retained {
  tick until = 0;
  digest key;
};
struct ends_later {
  bool operator()(const retained& x, const retained& y) const noexcept { return x.until > y.until; }
};

struct alignas(64) shard {
  std::mutex mutex;
  std::unordered_map<digest, dedup_slot, digest_hash> slots;
  std::vector<retained> done_heap;  // min-heap by `until`

  [[nodiscard]] bool is_current(const retained& r) const {
    auto it = slots.find(r.key);
    return it != slots.end() && it->second.token == 0 && it->second.until == r.until;
  }
  void pop_top() {
    std::pop_heap(done_heap.begin(), done_heap.end(), ends_later{});
    done_heap.pop_back();
  }
  // Forgets done keys whose retention ended, looking at `budget` heap entries at most; returns how
  // many keys went.
  std::size_t purge(tick now, std::size_t budget) {
    std::size_t n = 0;
    for (; budget > 0 && !done_heap.empty() && done_heap.front().until <= now; --budget) {
      const retained top = done_heap.front();
      pop_top();
      if (is_current(top)) {
        slots.erase(top.key);
        ++n;
      }
    }
    return n;
  }
  // The end of retention of the done key that expires first, dropping stale heap entries on the way.
  std::optional<tick> soonest_done() {
    while (!done_heap.empty()) {
      if (is_current(done_heap.front())) return done_heap.front().until;
      pop_top();
    }
    return std::nullopt;
  }
};

// Opportunistic purging on each complete(): heap entries looked at, so that no call pays for a
// large batch of keys expiring at once.
constexpr std::size_t purge_budget = 4;
constexpr std::size_t shard_count = 16;

std::size_t state_index(entry_state s) noexcept { return static_cast<std::size_t>(s); }

}  // namespace

struct memory_store::impl {
  std::size_t capacity = 0;
  std::shared_ptr<const clock> time;
  std::atomic<std::size_t> held{0};
  // When expired claims were last swept (done at capacity when nothing else can go), so that a
  // store full of live claims does not rescan on every call.
  std::atomic<tick> last_claim_sweep{tick_min};

  std::array<shard, shard_count> shards;

  // The inbox.
  struct item {
    inbox_entry entry;
    tick done_until = 0;  // state done: the key is a duplicate until then
  };
  std::mutex inbox_mutex;
  std::map<std::int64_t, item> entries;
  std::unordered_map<std::string, std::int64_t> by_key;
  std::set<std::pair<tick, std::int64_t>> due;         // queued by next_attempt_at, leased by lease_until
  std::set<std::pair<tick, std::int64_t>> done_order;  // done by end of retention
  std::array<std::set<std::int64_t>, 4> by_state;      // ids per entry_state, for list()
  std::int64_t next_id = 1;

  [[nodiscard]] tick now() const noexcept { return ticks(time->now()); }
  shard& shard_for(const digest& d) noexcept { return shards[d.a % shard_count]; }

  // Takes one unit of capacity, if there is one.
  bool reserve() noexcept {
    std::size_t cur = held.load(std::memory_order_relaxed);
    while (cur < capacity) {
      if (held.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel)) return true;
    }
    return false;
  }
  void give_back(std::size_t n) noexcept {
    if (n > 0) held.fetch_sub(n, std::memory_order_acq_rel);
  }

  // --- inbox helpers; the caller holds inbox_mutex ---

  static tick due_tick(const inbox_entry& e) noexcept {
    return ticks(e.state == entry_state::leased ? e.lease_until : e.next_attempt_at);
  }
  void set_state(inbox_entry& e, entry_state s) {
    by_state[state_index(e.state)].erase(e.id);
    e.state = s;
    by_state[state_index(s)].insert(e.id);
  }
  void unindex_due(const inbox_entry& e) {
    if (e.state == entry_state::queued || e.state == entry_state::leased) due.erase({due_tick(e), e.id});
  }
  // Forgets an entry; its unit of capacity is given back unless `give` is false (eviction hands it on).
  void erase_item(std::map<std::int64_t, item>::iterator it, bool give = true) {
    const inbox_entry& e = it->second.entry;
    unindex_due(e);
    if (e.state == entry_state::done) done_order.erase({it->second.done_until, e.id});
    by_state[state_index(e.state)].erase(e.id);
    by_key.erase(e.record.key);
    entries.erase(it);
    if (give) give_back(1);
  }
  std::size_t purge_inbox(tick t) {
    std::size_t n = 0;
    while (!done_order.empty() && done_order.begin()->first <= t) {
      erase_item(entries.find(done_order.begin()->second));
      ++n;
    }
    return n;
  }
  // The leased entry `id` if `token` holds its lease; otherwise not_found or in_progress.
  result<item*> owned(std::int64_t id, std::uint64_t token) {
    auto it = entries.find(id);
    if (it == entries.end()) return error(errc::not_found, "memory: no inbox entry " + std::to_string(id));
    inbox_entry& e = it->second.entry;
    if (e.state != entry_state::leased || token == 0 || e.lease_token != token) {
      return error(errc::in_progress, "memory: the lease on entry " + std::to_string(id) + " is not this worker's");
    }
    return &it->second;
  }
  // Ends a lease: the entry leaves the due index and forgets its token.
  void end_lease(inbox_entry& e) {
    unindex_due(e);
    e.lease_token = 0;
    e.lease_until = time_point{};
  }

  // --- capacity ---

  // Forgets every done key (both roles) whose retention has ended; returns how many.
  std::size_t purge_all(tick t) {
    std::size_t n = 0;
    {
      const std::lock_guard<std::mutex> lock(inbox_mutex);
      n += purge_inbox(t);
    }
    for (auto& s : shards) {
      const std::lock_guard<std::mutex> lock(s.mutex);
      const std::size_t gone = s.purge(t, std::numeric_limits<std::size_t>::max());
      give_back(gone);
      n += gone;
    }
    return n;
  }

  enum class eviction : std::uint8_t { evicted, raced, nothing };

  // Evicts the done key closest to the end of its retention, from whichever part holds it. Its unit
  // of capacity is not given back: it passes to the caller.
  eviction evict_one() {
    constexpr std::size_t inbox_source = shard_count;
    std::optional<tick> best;
    std::size_t source = 0;
    for (std::size_t i = 0; i < shard_count; ++i) {
      const std::lock_guard<std::mutex> lock(shards[i].mutex);
      if (auto until = shards[i].soonest_done(); until && (!best || *until < *best)) {
        best = until;
        source = i;
      }
    }
    {
      const std::lock_guard<std::mutex> lock(inbox_mutex);
      if (!done_order.empty() && (!best || done_order.begin()->first < *best)) {
        best = done_order.begin()->first;
        source = inbox_source;
      }
    }
    if (!best) return eviction::nothing;
    if (source == inbox_source) {
      const std::lock_guard<std::mutex> lock(inbox_mutex);
      if (done_order.empty()) return eviction::raced;
      erase_item(entries.find(done_order.begin()->second), false);
      return eviction::evicted;
    }
    shard& s = shards[source];
    const std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.soonest_done()) return eviction::raced;
    s.slots.erase(s.done_heap.front().key);
    s.pop_top();
    return eviction::evicted;
  }

  // Takes one unit of capacity for a new key, making room when the store is full: done keys past
  // their retention go first, then the done key closest to the end of its retention (its unit passes
  // straight to this caller, so callers racing at capacity do not starve one another), then claims
  // whose lease ran out. False when everything held is queued, leased, claimed or dead. Takes one
  // lock at a time and is never called with a lock held.
  bool acquire() {
    for (int attempt = 0; attempt < 8; ++attempt) {
      if (reserve()) return true;
      const tick t = now();
      if (purge_all(t) > 0 && reserve()) return true;
      const eviction e = evict_one();
      if (e == eviction::evicted) return true;
      if (e == eviction::nothing && sweep_expired_claims(t) == 0) return reserve();
    }
    return false;
  }

  // Drops claims whose lease ran out (they mean the same as no claim), at most once a second.
  std::size_t sweep_expired_claims(tick t) {
    static const tick one_second = std::chrono::duration_cast<time_point::duration>(std::chrono::seconds(1)).count();
    tick last = last_claim_sweep.load(std::memory_order_acquire);
    if (last != tick_min && t - last < one_second) return 0;
    if (!last_claim_sweep.compare_exchange_strong(last, t, std::memory_order_acq_rel)) return 0;
    std::size_t n = 0;
    for (auto& s : shards) {
      const std::lock_guard<std::mutex> lock(s.mutex);
      for (auto it = s.slots.begin(); it != s.slots.end();) {
        if (it->second.token != 0 && it->second.until <= t) {
          it = s.slots.erase(it);
          ++n;
        } else {
          ++it;
        }
      }
    }
    give_back(n);
    return n;
  }

  error full() const {
    return {errc::store_unavailable,
            "memory: store full (" + std::to_string(capacity) + " keys held, none done to evict)"};
  }
};

std::shared_ptr<memory_store> memory_store::create(memory_store_options options, std::shared_ptr<const clock> time) {
  auto p = std::make_unique<impl>();
  p->capacity = options.capacity;
  p->time = time ? std::move(time) : system_clock();
  return std::shared_ptr<memory_store>(new memory_store(std::move(p)));
}

memory_store::memory_store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
memory_store::~memory_store() = default;

std::size_t memory_store::size() const noexcept { return impl_->held.load(std::memory_order_acquire); }
std::size_t memory_store::capacity() const noexcept { return impl_->capacity; }

// --- dedup ---------------------------------------------------------------------------------------

result<claim> memory_store::try_claim(std::string_view key, std::chrono::milliseconds lease) {
  const auto d = digest_of(key);
  if (!d) return error(errc::store_unavailable, "memory: SHA-256 unavailable");
  shard& s = impl_->shard_for(*d);
  bool have_room = false;  // this call holds a unit of capacity
  while (true) {
    {
      const std::lock_guard<std::mutex> lock(s.mutex);
      const tick t = impl_->now();
      if (auto it = s.slots.find(*d); it != s.slots.end()) {
        if (have_room) impl_->give_back(1);
        dedup_slot& slot = it->second;
        if (t < slot.until) return claim{slot.token == 0 ? claim_state::done : claim_state::in_progress, 0};
        // Done past its retention, or a claim whose lease ran out: the key is free again.
        slot.token = new_token(slot.token);
        slot.until = add(t, lease);
        return claim{claim_state::claimed, slot.token};
      }
      if (have_room || impl_->reserve()) {
        const std::uint64_t token = new_token(0);
        s.slots.emplace(*d, dedup_slot{token, add(t, lease)});
        return claim{claim_state::claimed, token};
      }
    }
    have_room = impl_->acquire();
    if (!have_room) return impl_->full();
  }
}

status memory_store::complete(std::string_view key, std::uint64_t token, std::chrono::milliseconds retention) {
  const auto d = digest_of(key);
  if (!d) return error(errc::store_unavailable, "memory: SHA-256 unavailable");
  shard& s = impl_->shard_for(*d);
  const std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.slots.find(*d);
  if (it == s.slots.end() || token == 0 || it->second.token != token) {
    return error(errc::in_progress, "memory: the claim is no longer this caller's");
  }
  const tick t = impl_->now();
  it->second = dedup_slot{0, add(t, retention)};
  s.done_heap.push_back(retained{it->second.until, *d});
  std::push_heap(s.done_heap.begin(), s.done_heap.end(), ends_later{});
  impl_->give_back(s.purge(t, purge_budget));
  return {};
}

status memory_store::release(std::string_view key, std::uint64_t token) {
  const auto d = digest_of(key);
  if (!d) return error(errc::store_unavailable, "memory: SHA-256 unavailable");
  shard& s = impl_->shard_for(*d);
  const std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.slots.find(*d);
  if (it != s.slots.end() && token != 0 && it->second.token == token) {  // a stale token is a no-op
    s.slots.erase(it);
    impl_->give_back(1);
  }
  return {};
}

// --- inbox ---------------------------------------------------------------------------------------

result<offer_state> memory_store::offer(inbox_record rec) {
  impl& m = *impl_;
  bool have_room = false;  // this call holds a unit of capacity
  while (true) {
    {
      const std::lock_guard<std::mutex> lock(m.inbox_mutex);
      const tick t = m.now();
      if (auto k = m.by_key.find(rec.key); k != m.by_key.end()) {
        auto it = m.entries.find(k->second);
        const impl::item& known = it->second;
        if (known.entry.state != entry_state::done || t < known.done_until) {
          if (have_room) m.give_back(1);
          return offer_state::duplicate;
        }
        // Done past its retention: the key is new again, in the room its old entry had.
        m.erase_item(it, have_room);
        have_room = true;
      }
      if (have_room || m.reserve()) {
        const std::int64_t id = m.next_id++;
        inbox_entry& e = m.entries[id].entry;
        e.id = id;
        e.record = std::move(rec);
        e.state = entry_state::queued;
        e.next_attempt_at = at(t);
        m.due.emplace(t, id);
        m.by_state[state_index(entry_state::queued)].insert(id);
        m.by_key.emplace(e.record.key, id);
        return offer_state::queued;
      }
    }
    have_room = m.acquire();
    if (!have_room) return m.full();
  }
}

result<std::vector<inbox_entry>> memory_store::lease(std::size_t max, std::chrono::milliseconds lease) {
  impl& m = *impl_;
  const std::lock_guard<std::mutex> lock(m.inbox_mutex);
  const tick t = m.now();
  std::vector<std::int64_t> picked;
  for (auto it = m.due.begin(); it != m.due.end() && it->first <= t && picked.size() < max; ++it) {
    picked.push_back(it->second);
  }
  std::vector<inbox_entry> out;
  out.reserve(picked.size());
  for (const std::int64_t id : picked) {
    inbox_entry& e = m.entries.find(id)->second.entry;
    m.due.erase({impl::due_tick(e), id});
    if (e.state != entry_state::leased) m.set_state(e, entry_state::leased);
    ++e.attempts;
    e.lease_token = new_token(e.lease_token);
    e.lease_until = at(add(t, lease));
    m.due.emplace(ticks(e.lease_until), id);
    out.push_back(e);
  }
  return out;
}

status memory_store::ack(std::int64_t id, std::uint64_t token, std::chrono::milliseconds retention) {
  impl& m = *impl_;
  const std::lock_guard<std::mutex> lock(m.inbox_mutex);
  auto owner = m.owned(id, token);
  if (!owner) return owner.error();
  impl::item& x = **owner;
  m.end_lease(x.entry);
  m.set_state(x.entry, entry_state::done);
  // Only the key is needed now; the body and headers go (std::string().swap frees their memory).
  std::string().swap(x.entry.record.body);
  std::string().swap(x.entry.record.headers);
  x.done_until = add(m.now(), retention);
  m.done_order.emplace(x.done_until, id);
  return {};
}

status memory_store::retry_at(std::int64_t id, std::uint64_t token, time_point when, std::string_view error) {
  impl& m = *impl_;
  const std::lock_guard<std::mutex> lock(m.inbox_mutex);
  auto owner = m.owned(id, token);
  if (!owner) return owner.error();
  inbox_entry& e = (*owner)->entry;
  m.end_lease(e);
  m.set_state(e, entry_state::queued);
  e.next_attempt_at = when;
  e.last_error = std::string(error);
  m.due.emplace(ticks(when), id);
  return {};
}

status memory_store::dead_letter(std::int64_t id, std::uint64_t token, std::string_view error) {
  impl& m = *impl_;
  const std::lock_guard<std::mutex> lock(m.inbox_mutex);
  auto owner = m.owned(id, token);
  if (!owner) return owner.error();
  inbox_entry& e = (*owner)->entry;
  m.end_lease(e);
  m.set_state(e, entry_state::dead);
  e.last_error = std::string(error);
  return {};
}

status memory_store::release(std::int64_t id, std::uint64_t token) {
  impl& m = *impl_;
  const std::lock_guard<std::mutex> lock(m.inbox_mutex);
  auto owner = m.owned(id, token);
  if (!owner) return owner.error();
  inbox_entry& e = (*owner)->entry;
  m.end_lease(e);
  m.set_state(e, entry_state::queued);
  e.attempts = std::max(0, e.attempts - 1);
  const tick t = m.now();
  e.next_attempt_at = at(t);
  m.due.emplace(t, id);
  return {};
}

result<std::vector<inbox_entry>> memory_store::list(entry_state state, std::size_t limit, std::int64_t after_id) {
  impl& m = *impl_;
  const std::lock_guard<std::mutex> lock(m.inbox_mutex);
  const auto& ids = m.by_state[state_index(state)];
  std::vector<inbox_entry> out;
  for (auto it = ids.upper_bound(after_id); it != ids.end() && out.size() < limit; ++it) {
    out.push_back(m.entries.find(*it)->second.entry);
  }
  return out;
}

result<std::optional<inbox_entry>> memory_store::get(std::int64_t id) {
  impl& m = *impl_;
  const std::lock_guard<std::mutex> lock(m.inbox_mutex);
  auto it = m.entries.find(id);
  if (it == m.entries.end()) return std::optional<inbox_entry>();
  return std::optional<inbox_entry>(it->second.entry);
}

status memory_store::replay(std::int64_t id) {
  impl& m = *impl_;
  const std::lock_guard<std::mutex> lock(m.inbox_mutex);
  auto it = m.entries.find(id);
  if (it == m.entries.end() || it->second.entry.state != entry_state::dead) {
    return error(errc::not_found, "memory: no dead letter with id " + std::to_string(id));
  }
  inbox_entry& e = it->second.entry;
  m.set_state(e, entry_state::queued);
  e.attempts = 0;
  const tick t = m.now();
  e.next_attempt_at = at(t);
  m.due.emplace(t, id);
  return {};
}

result<std::size_t> memory_store::purge_expired() { return impl_->purge_all(impl_->now()); }

}  // namespace hookrx
