// The in-memory store. Dedup keys live in 16 shards, each an open-addressed table (probe_table.hpp)
// of 32-byte slots (a 128-bit digest of the key, its claim token and an expiry) plus a min-heap of
// done keys by end of retention (for purging and eviction). The inbox is under one lock, kept
// short: offer() builds its entry (the record moved in, the key hashed) before taking it, then does
// a few constant-time steps: a probe of an open-addressed table by key, one by id, an append to the
// FIFO of entries due now, and an append to the ordered ids of queued entries. Only retries and
// leases, whose due times come in any order, go into an ordered set. One atomic counter bounds both
// roles together.
#include "hookrx/memory_store.hpp"

#include <openssl/evp.h>
#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <utility>

#include "probe_table.hpp"

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

// The inbox's one lock, held a few hundred nanoseconds per offer. With more sender threads than
// cores, the scheduler preempts holders now and then, and std::mutex puts every thread that finds
// it taken to sleep in the kernel at once: a convoy, measured as a 2.5-4 ms p99 accept at 64
// senders on 2 cores. glibc's adaptive mutex spins briefly first: p99 0.01-0.1 ms, same code.
#if defined(PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP)
class inbox_lock {
 public:
  inbox_lock() = default;
  inbox_lock(const inbox_lock&) = delete;
  inbox_lock& operator=(const inbox_lock&) = delete;
  ~inbox_lock() { pthread_mutex_destroy(&mutex_); }
  void lock() noexcept { pthread_mutex_lock(&mutex_); }
  void unlock() noexcept { pthread_mutex_unlock(&mutex_); }

 private:
  pthread_mutex_t mutex_ = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
};
#else
using inbox_lock = std::mutex;
#endif

// --- key digests ---------------------------------------------------------------------------------

struct digest {
  std::uint64_t a = 0;  // picks the shard
  std::uint64_t b = 0;  // its top bits pick the slot within the shard; never 0 (an empty slot)
  friend bool operator==(const digest& x, const digest& y) noexcept { return x.a == y.a && x.b == y.b; }
};

struct md_deleter {
  void operator()(EVP_MD* md) const noexcept { EVP_MD_free(md); }
};
struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

// The first 128 bits of SHA-256(key); nullopt only if OpenSSL fails. A delivery asks about its key
// twice, usually on one thread (claim, then complete or release): the last key hashed on each
// thread is remembered with its digest, which saves one SHA-256 of the key per delivery.
std::optional<digest> digest_of(std::string_view key) {
  struct last_hashed {
    std::string key;
    digest value;
  };
  static const std::unique_ptr<EVP_MD, md_deleter> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  thread_local const std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx(EVP_MD_CTX_new());
  thread_local std::optional<last_hashed> last;
  if (last && last->key == key) return last->value;
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
  // b == 0 marks an empty slot. A key with b == 0 (one in 2^64) then shares its digest with a key
  // whose b is 1 and whose a is the same: a collision as unlikely (2^-128) as any other.
  if (d.b == 0) d.b = 1;
  if (!last) last.emplace();
  last->key.assign(key);  // reuses the string's buffer from one key to the next
  last->value = d;
  return d;
}

// --- dedup shards --------------------------------------------------------------------------------

// A dedup key: claimed by `token` until `until`, or done (token 0) until `until`. 32 bytes, held
// inline in the shard's table.
struct dedup_slot {
  digest key;  // key.b == 0: an empty slot
  std::uint64_t token = 0;
  tick until = 0;
};
static_assert(sizeof(dedup_slot) == 32, "two slots per cache line");
struct dedup_policy {
  static bool empty(const dedup_slot& x) noexcept { return x.key.b == 0; }
  static std::uint64_t spread(const dedup_slot& x) noexcept { return x.key.b; }
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
  detail::probe_table<dedup_slot, dedup_policy> slots;
  std::vector<retained> done_heap;  // min-heap by `until`
  // done_heap.size(), written under `mutex`: eviction skips a shard with no done key without
  // taking its lock (with only the inbox in use, every shard, on every offer at capacity).
  std::atomic<std::size_t> retained_count{0};

  [[nodiscard]] dedup_slot* find(const digest& d) {
    return slots.find(d.b, [&d](const dedup_slot& x) { return x.key == d; });
  }
  // The key of heap entry `r`, if it is still done until then; nullptr for a stale entry.
  [[nodiscard]] dedup_slot* current(const retained& r) {
    dedup_slot* x = find(r.key);
    return x != nullptr && x->token == 0 && x->until == r.until ? x : nullptr;
  }
  void push(const retained& r) {
    done_heap.push_back(r);
    std::push_heap(done_heap.begin(), done_heap.end(), ends_later{});
    retained_count.store(done_heap.size(), std::memory_order_relaxed);
  }
  void pop_top() {
    std::pop_heap(done_heap.begin(), done_heap.end(), ends_later{});
    done_heap.pop_back();
    retained_count.store(done_heap.size(), std::memory_order_relaxed);
  }
  // Forgets done keys whose retention ended, looking at `budget` heap entries at most; returns how
  // many keys went.
  std::size_t purge(tick now, std::size_t budget) {
    std::size_t n = 0;
    for (; budget > 0 && !done_heap.empty() && done_heap.front().until <= now; --budget) {
      const retained top = done_heap.front();
      pop_top();
      if (dedup_slot* x = current(top)) {
        slots.erase(x);
        ++n;
      }
    }
    return n;
  }
  // The done key that expires first (the heap's top once stale entries are dropped), or nullptr.
  // Valid until the next insert or erase, like find().
  [[nodiscard]] dedup_slot* soonest_done() {
    while (!done_heap.empty()) {
      if (dedup_slot* x = current(done_heap.front())) return x;
      pop_top();
    }
    return nullptr;
  }
};

// Opportunistic purging on each complete(): heap entries looked at, so that no call pays for a
// large batch of keys expiring at once.
constexpr std::size_t purge_budget = 4;
constexpr std::size_t shard_count = 16;

std::size_t state_index(entry_state s) noexcept { return static_cast<std::size_t>(s); }

// --- inbox ---------------------------------------------------------------------------------------

struct inbox_item {
  inbox_entry entry;
  std::uint64_t key_hash = 0;  // of entry.record.key
  tick done_until = 0;         // state done: the key is a duplicate until then
};

std::uint64_t hash_key(std::string_view key) noexcept { return std::hash<std::string_view>{}(key); }
std::uint64_t hash_id(std::int64_t id) noexcept { return static_cast<std::uint64_t>(id); }

// Inbox items by a 64-bit hash (of the key, or the id itself). The hash is scrambled (Fibonacci
// hashing) before its top bits pick a slot, so sequential ids spread out instead of piling into one
// run. Slots keep the scrambled hash, which the table reads on every probe; the scrambling is a
// bijection, so equal scrambled hashes mean equal hashes.
class item_index {
 public:
  // The item whose stored hash is `h` and that `same` accepts; nullptr if none.
  template <class Same>
  [[nodiscard]] inbox_item* find(std::uint64_t h, Same&& same) const {
    const std::uint64_t sh = spread(h);
    const slot* s = slots_.find(sh, [&](const slot& x) { return x.spread == sh && same(*x.item); });
    return s == nullptr ? nullptr : s->item;
  }
  // Adds `item`, which is not in the index.
  void insert(std::uint64_t h, inbox_item* item) { slots_.insert(slot{spread(h), item}); }
  // Removes `item`, stored under `h`; a no-op if it is not there.
  void erase(std::uint64_t h, const inbox_item* item) noexcept {
    if (const slot* s = slots_.find(spread(h), [item](const slot& x) { return x.item == item; })) slots_.erase(s);
  }
  template <class Fn>
  void for_each(Fn&& fn) const {
    slots_.for_each([&fn](const slot& x) { fn(x.item); });
  }

 private:
  struct slot {
    std::uint64_t spread = 0;
    inbox_item* item = nullptr;  // nullptr: an empty slot
  };
  static std::uint64_t spread(std::uint64_t h) noexcept { return h * 0x9E3779B97F4A7C15ULL; }
  struct policy {
    static bool empty(const slot& x) noexcept { return x.item == nullptr; }
    static std::uint64_t spread(const slot& x) noexcept { return x.spread; }
  };

  detail::probe_table<slot, policy> slots_;
};

// A queued entry due at once (offered, released or replayed), in the order lease() takes them.
struct ready_entry {
  tick due = 0;
  std::int64_t id = 0;
  inbox_item* item = nullptr;
};

}  // namespace

struct memory_store::impl {
  std::size_t capacity = 0;
  std::shared_ptr<const clock> time;
  std::atomic<std::size_t> held{0};
  // When expired claims were last swept (done at capacity when nothing else can go), so that a
  // store full of live claims does not rescan on every call.
  std::atomic<tick> last_claim_sweep{tick_min};

  std::array<shard, shard_count> shards;

  // The inbox. Items are owned through `by_id` (freed by erase_item() and ~impl); every index
  // holds either the item or its id. A queued entry is in exactly one of `ready` and `timed`, a
  // leased one is in `timed` by lease_until, done and dead ones in neither.
  inbox_lock inbox_mutex;
  item_index by_id;
  item_index by_key;
  std::deque<ready_entry> ready;                       // queued, due at once: strictly by (due, id)
  std::set<std::pair<tick, std::int64_t>> timed;       // queued for later by next_attempt_at, leased by lease_until
  std::set<std::pair<tick, std::int64_t>> done_order;  // done by end of retention
  // Ids of the queued, leased and dead entries, per state, for list(). Not of the done ones, which
  // can be a million: a set of them cost a tree insert and erase per delivery (and 48 bytes a
  // key); list(done), an operator's occasional call, walks done_order instead.
  std::array<std::set<std::int64_t>, 4> by_state;
  std::int64_t next_id = 1;

  // The poller's state: a few entries per watched extraction, not bounded by `capacity`.
  std::mutex poll_mutex;
  std::map<std::pair<provider, std::string>, watch_entry, std::less<>> watches;
  std::map<std::string, time_point, std::less<>> watermarks;
  std::map<std::string, std::pair<std::string, time_point>, std::less<>> leaders;

  impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  ~impl() {
    by_id.for_each([](inbox_item* x) { delete x; });
  }

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

  result<leased_offer> offer(inbox_record rec, std::optional<std::chrono::milliseconds> lease);

  // --- inbox helpers; the caller holds inbox_mutex ---

  // Done: only the key is kept, until `retention` has passed.
  status ack(std::int64_t id, std::uint64_t token, tick t, std::chrono::milliseconds retention) {
    auto owner = owned(id, token);
    if (!owner) return owner.error();
    inbox_item& x = **owner;
    end_lease(x.entry);
    set_state(x.entry, entry_state::done);
    // The body and headers go (std::string().swap frees their memory).
    std::string().swap(x.entry.record.body);
    std::string().swap(x.entry.record.headers);
    x.done_until = add(t, retention);
    // Acks come in about the order of their end of retention (now + a fixed retention): placed
    // from the end, a set of millions of done keys takes the new one in constant time, where a
    // search from the root missed the cache at every level (the store slowed as it grew).
    done_order.emplace_hint(done_order.end(), x.done_until, id);
    return {};
  }

  static tick due_tick(const inbox_entry& e) noexcept {
    return ticks(e.state == entry_state::leased ? e.lease_until : e.next_attempt_at);
  }
  [[nodiscard]] inbox_item* find(std::int64_t id) const {
    return by_id.find(hash_id(id), [](const inbox_item& /*same id*/) { return true; });
  }
  [[nodiscard]] inbox_item* find(const std::string& key, std::uint64_t h) const {
    return by_key.find(h, [&key](const inbox_item& x) { return x.entry.record.key == key; });
  }
  static bool indexed(entry_state s) noexcept { return s != entry_state::done; }
  void set_state(inbox_entry& e, entry_state s) {
    if (indexed(e.state)) by_state[state_index(e.state)].erase(e.id);
    e.state = s;
    // Mostly the newest id of its state (ids grow; entries settle in about offer order): the
    // hint makes that insert constant-time.
    if (indexed(s)) by_state[state_index(s)].insert(by_state[state_index(s)].end(), e.id);
  }
  // Makes a queued entry due at `t`. Appended to `ready` when that keeps it in (due, id) order,
  // as it does for every offer while the clock does not go back; in `timed` otherwise.
  void queue_at(inbox_item& x, tick t) {
    const std::int64_t id = x.entry.id;
    if (ready.empty() || ready.back().due < t || (ready.back().due == t && ready.back().id < id)) {
      ready.push_back(ready_entry{t, id, &x});
    } else {
      timed.emplace(t, id);
    }
  }
  // Takes a leased entry, or a queued one waiting for a retry, out of `timed`. (A queued entry in
  // `ready` leaves it only through lease().)
  void unindex_timed(const inbox_entry& e) {
    if (e.state == entry_state::queued || e.state == entry_state::leased) timed.erase({due_tick(e), e.id});
  }
  // Forgets a done entry; its unit of capacity is given back unless `give` is false (eviction
  // hands it on).
  void erase_item(inbox_item* x, bool give = true) {
    const inbox_entry& e = x->entry;
    unindex_timed(e);
    if (e.state == entry_state::done) done_order.erase({x->done_until, e.id});
    if (indexed(e.state)) by_state[state_index(e.state)].erase(e.id);
    by_key.erase(x->key_hash, x);
    by_id.erase(hash_id(e.id), x);
    delete x;
    if (give) give_back(1);
  }
  std::size_t purge_inbox(tick t) {
    std::size_t n = 0;
    while (!done_order.empty() && done_order.begin()->first <= t) {
      erase_item(find(done_order.begin()->second));
      ++n;
    }
    return n;
  }
  // The leased entry `id` if `token` holds its lease; otherwise not_found or in_progress.
  result<inbox_item*> owned(std::int64_t id, std::uint64_t token) {
    inbox_item* x = find(id);
    if (x == nullptr) return error(errc::not_found, "memory: no inbox entry " + std::to_string(id));
    const inbox_entry& e = x->entry;
    if (e.state != entry_state::leased || token == 0 || e.lease_token != token) {
      return error(errc::in_progress, "memory: the lease on entry " + std::to_string(id) + " is not this worker's");
    }
    return x;
  }
  // Ends a lease: the entry leaves the due index and forgets its token.
  void end_lease(inbox_entry& e) {
    unindex_timed(e);
    e.lease_token = 0;
    e.lease_until = time_point{};
  }

  // --- capacity ---

  // Forgets every done key (both roles) whose retention has ended; returns how many.
  std::size_t purge_all(tick t) {
    std::size_t n = 0;
    {
      const std::lock_guard<inbox_lock> lock(inbox_mutex);
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
      // A shard that had no done key when looked at may get one meanwhile: evicting another key
      // first is fine (eviction is a best effort at the soonest end of retention).
      if (shards[i].retained_count.load(std::memory_order_relaxed) == 0) continue;
      const std::lock_guard<std::mutex> lock(shards[i].mutex);
      if (const dedup_slot* x = shards[i].soonest_done(); x != nullptr && (!best || x->until < *best)) {
        best = x->until;
        source = i;
      }
    }
    {
      const std::lock_guard<inbox_lock> lock(inbox_mutex);
      if (!done_order.empty() && (!best || done_order.begin()->first < *best)) {
        best = done_order.begin()->first;
        source = inbox_source;
      }
    }
    if (!best) return eviction::nothing;
    if (source == inbox_source) {
      const std::lock_guard<inbox_lock> lock(inbox_mutex);
      if (done_order.empty()) return eviction::raced;
      erase_item(find(done_order.begin()->second), false);
      return eviction::evicted;
    }
    shard& s = shards[source];
    const std::lock_guard<std::mutex> lock(s.mutex);
    const dedup_slot* x = s.soonest_done();
    if (x == nullptr) return eviction::raced;
    s.slots.erase(x);  // one lookup of the key, not two
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
      n += s.slots.erase_if([t](const dedup_slot& x) { return x.token != 0 && x.until <= t; });
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
      if (dedup_slot* found = s.find(*d)) {
        if (have_room) impl_->give_back(1);
        dedup_slot& slot = *found;
        if (t < slot.until) return claim{slot.token == 0 ? claim_state::done : claim_state::in_progress, 0};
        // Done past its retention, or a claim whose lease ran out: the key is free again.
        slot.token = new_token(slot.token);
        slot.until = add(t, lease);
        return claim{claim_state::claimed, slot.token};
      }
      if (have_room || impl_->reserve()) {
        const std::uint64_t token = new_token(0);
        s.slots.insert(dedup_slot{*d, token, add(t, lease)});
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
  dedup_slot* slot = s.find(*d);
  if (slot == nullptr || token == 0 || slot->token != token) {
    return error(errc::in_progress, "memory: the claim is no longer this caller's");
  }
  const tick t = impl_->now();
  slot->token = 0;
  slot->until = add(t, retention);
  s.push(retained{slot->until, *d});
  impl_->give_back(s.purge(t, purge_budget));
  return {};
}

status memory_store::release(std::string_view key, std::uint64_t token) {
  const auto d = digest_of(key);
  if (!d) return error(errc::store_unavailable, "memory: SHA-256 unavailable");
  shard& s = impl_->shard_for(*d);
  const std::lock_guard<std::mutex> lock(s.mutex);
  dedup_slot* slot = s.find(*d);
  if (slot != nullptr && token != 0 && slot->token == token) {  // a stale token is a no-op
    s.slots.erase(slot);
    impl_->give_back(1);
  }
  return {};
}

// --- inbox ---------------------------------------------------------------------------------------

result<offer_state> memory_store::offer(inbox_record rec) {
  auto stored = impl_->offer(std::move(rec), std::nullopt);
  if (!stored) return stored.error();
  return stored->state;
}

result<leased_offer> memory_store::offer_leased(inbox_record rec, std::chrono::milliseconds lease) {
  return impl_->offer(std::move(rec), lease);
}

// Queues `rec`, or stores it leased for `lease` and returns a copy of the leased entry.
result<leased_offer> memory_store::impl::offer(inbox_record rec, std::optional<std::chrono::milliseconds> lease) {
  // Built before the lock: the allocation, the record moved in (no copy of the body), the hash.
  // Declared before the lock guards, so that a duplicate's item is freed after the lock is released.
  auto fresh = std::make_unique<inbox_item>();
  fresh->key_hash = hash_key(rec.key);
  fresh->entry.record = std::move(rec);
  fresh->entry.state = lease ? entry_state::leased : entry_state::queued;
  bool have_room = false;  // this call holds a unit of capacity
  while (true) {
    {
      const std::lock_guard<inbox_lock> lock(inbox_mutex);
      const tick t = now();
      if (inbox_item* known = find(fresh->entry.record.key, fresh->key_hash)) {
        if (known->entry.state != entry_state::done || t < known->done_until) {
          if (have_room) give_back(1);
          return leased_offer{offer_state::duplicate, std::nullopt};
        }
        // Done past its retention: the key is new again, in the room its old entry had.
        erase_item(known, have_room);
        have_room = true;
      }
      if (have_room || reserve()) {
        inbox_item* x = fresh.release();
        inbox_entry& e = x->entry;
        e.id = next_id++;
        by_id.insert(hash_id(e.id), x);
        by_key.insert(x->key_hash, x);
        // Ids only grow, so the new id goes at the end: the hint makes the insert constant-time.
        auto& ids = by_state[state_index(e.state)];
        ids.insert(ids.end(), e.id);
        if (!lease) {
          e.next_attempt_at = at(t);
          queue_at(*x, t);
          return leased_offer{offer_state::queued, std::nullopt};
        }
        e.attempts = 1;
        e.lease_token = new_token(0);
        e.lease_until = at(add(t, *lease));
        e.next_attempt_at = e.lease_until;
        timed.emplace(ticks(e.lease_until), e.id);
        return leased_offer{offer_state::queued, e};
      }
    }
    have_room = acquire();
    if (!have_room) return full();
  }
}

result<std::vector<inbox_entry>> memory_store::lease(std::size_t max, std::chrono::milliseconds lease) {
  impl& m = *impl_;
  const std::lock_guard<inbox_lock> lock(m.inbox_mutex);
  const tick t = m.now();
  // Oldest due first: merge the FIFO of entries due at once with the ordered set of the others.
  std::vector<inbox_item*> picked;
  while (picked.size() < max) {
    const bool ready_due = !m.ready.empty() && m.ready.front().due <= t;
    const bool timed_due = !m.timed.empty() && m.timed.begin()->first <= t;
    if (ready_due && (!timed_due || std::make_pair(m.ready.front().due, m.ready.front().id) < *m.timed.begin())) {
      picked.push_back(m.ready.front().item);
      m.ready.pop_front();
    } else if (timed_due) {
      picked.push_back(m.find(m.timed.begin()->second));
      m.timed.erase(m.timed.begin());
    } else {
      break;
    }
  }
  std::vector<inbox_entry> out;
  out.reserve(picked.size());
  for (inbox_item* x : picked) {
    inbox_entry& e = x->entry;
    if (e.state != entry_state::leased) m.set_state(e, entry_state::leased);
    ++e.attempts;
    e.lease_token = new_token(e.lease_token);
    e.lease_until = at(add(t, lease));
    m.timed.emplace(ticks(e.lease_until), e.id);
    out.push_back(e);
  }
  return out;
}

status memory_store::ack(std::int64_t id, std::uint64_t token, std::chrono::milliseconds retention) {
  impl& m = *impl_;
  const std::lock_guard<inbox_lock> lock(m.inbox_mutex);
  return m.ack(id, token, m.now(), retention);
}

result<std::size_t> memory_store::ack_all(const std::vector<lease_ref>& leases, std::chrono::milliseconds retention) {
  impl& m = *impl_;
  const std::lock_guard<inbox_lock> lock(m.inbox_mutex);
  const tick t = m.now();
  std::size_t acknowledged = 0;
  for (const lease_ref& l : leases) {
    if (m.ack(l.id, l.token, t, retention)) ++acknowledged;
  }
  return acknowledged;
}

status memory_store::retry_at(std::int64_t id, std::uint64_t token, time_point when, std::string_view error) {
  impl& m = *impl_;
  const std::lock_guard<inbox_lock> lock(m.inbox_mutex);
  auto owner = m.owned(id, token);
  if (!owner) return owner.error();
  inbox_entry& e = (*owner)->entry;
  m.end_lease(e);
  m.set_state(e, entry_state::queued);
  e.next_attempt_at = when;
  e.last_error = std::string(error);
  m.timed.emplace(ticks(when), id);
  return {};
}

status memory_store::dead_letter(std::int64_t id, std::uint64_t token, std::string_view error) {
  impl& m = *impl_;
  const std::lock_guard<inbox_lock> lock(m.inbox_mutex);
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
  const std::lock_guard<inbox_lock> lock(m.inbox_mutex);
  auto owner = m.owned(id, token);
  if (!owner) return owner.error();
  inbox_item& x = **owner;
  inbox_entry& e = x.entry;
  m.end_lease(e);
  m.set_state(e, entry_state::queued);
  e.attempts = std::max(0, e.attempts - 1);
  const tick t = m.now();
  e.next_attempt_at = at(t);
  m.queue_at(x, t);
  return {};
}

result<std::vector<inbox_entry>> memory_store::list(entry_state state, std::size_t limit, std::int64_t after_id) {
  impl& m = *impl_;
  const std::lock_guard<inbox_lock> lock(m.inbox_mutex);
  std::vector<inbox_entry> out;
  if (!impl::indexed(state)) {  // done: the `limit` lowest ids after `after_id`, from done_order
    std::vector<std::int64_t> ids;
    for (const auto& ended : m.done_order) {
      if (ended.second > after_id) ids.push_back(ended.second);
    }
    const auto n = static_cast<std::ptrdiff_t>(std::min(limit, ids.size()));
    std::partial_sort(ids.begin(), ids.begin() + n, ids.end());
    for (auto it = ids.begin(); it != ids.begin() + n; ++it) out.push_back(m.find(*it)->entry);
    return out;
  }
  const auto& ids = m.by_state[state_index(state)];
  for (auto it = ids.upper_bound(after_id); it != ids.end() && out.size() < limit; ++it) {
    out.push_back(m.find(*it)->entry);
  }
  return out;
}

result<std::optional<inbox_entry>> memory_store::get(std::int64_t id) {
  impl& m = *impl_;
  const std::lock_guard<inbox_lock> lock(m.inbox_mutex);
  const inbox_item* x = m.find(id);
  if (x == nullptr) return std::optional<inbox_entry>();
  return std::optional<inbox_entry>(x->entry);
}

result<std::int64_t> memory_store::pending_count() {
  impl& m = *impl_;
  const std::lock_guard<inbox_lock> lock(m.inbox_mutex);
  return static_cast<std::int64_t>(m.by_state[state_index(entry_state::queued)].size() +
                                   m.by_state[state_index(entry_state::leased)].size());
}

result<std::optional<inbox_entry>> memory_store::find(std::string_view key) {
  impl& m = *impl_;
  const std::string k(key);
  const std::lock_guard<inbox_lock> lock(m.inbox_mutex);
  const inbox_item* x = m.find(k, hash_key(k));
  // A done key past its retention is new to offer(), so it is unknown here too.
  if (x == nullptr || (x->entry.state == entry_state::done && m.now() >= x->done_until)) {
    return std::optional<inbox_entry>();
  }
  return std::optional<inbox_entry>(x->entry);
}

status memory_store::replay(std::int64_t id) {
  impl& m = *impl_;
  const std::lock_guard<inbox_lock> lock(m.inbox_mutex);
  inbox_item* x = m.find(id);
  if (x == nullptr || x->entry.state != entry_state::dead) {
    return error(errc::not_found, "memory: no dead letter with id " + std::to_string(id));
  }
  inbox_entry& e = x->entry;
  m.set_state(e, entry_state::queued);
  e.attempts = 0;
  const tick t = m.now();
  e.next_attempt_at = at(t);
  m.queue_at(*x, t);
  return {};
}

// --- poller --------------------------------------------------------------------------------------

result<bool> memory_store::watch(const watch_entry& e) {
  const std::lock_guard<std::mutex> lock(impl_->poll_mutex);
  watch_entry fresh = e;
  fresh.polls = 0;
  fresh.documents_seen = 0;
  return impl_->watches.try_emplace({e.source, e.id}, std::move(fresh)).second;
}

status memory_store::note_document(provider source, std::string_view id, time_point due_if_new) {
  const std::lock_guard<std::mutex> lock(impl_->poll_mutex);
  auto [it, added] = impl_->watches.try_emplace({source, std::string(id)});
  if (added) {
    it->second.source = source;
    it->second.id = std::string(id);
    it->second.due_at = due_if_new;
  }
  ++it->second.documents_seen;
  return {};
}

result<std::vector<watch_entry>> memory_store::due(std::size_t max) {
  const time_point now = impl_->time->now();
  const std::lock_guard<std::mutex> lock(impl_->poll_mutex);
  std::vector<watch_entry> out;
  for (const auto& kv : impl_->watches) {
    if (kv.second.due_at <= now) out.push_back(kv.second);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const watch_entry& a, const watch_entry& b) { return a.due_at < b.due_at; });
  if (out.size() > max) out.resize(max);
  return out;
}

status memory_store::reschedule(provider source, std::string_view id, time_point next) {
  const std::lock_guard<std::mutex> lock(impl_->poll_mutex);
  auto it = impl_->watches.find(std::make_pair(source, std::string(id)));
  if (it == impl_->watches.end()) return error(errc::not_found, "memory: that id is not watched");
  ++it->second.polls;
  it->second.due_at = next;
  return {};
}

status memory_store::unwatch(provider source, std::string_view id) {
  const std::lock_guard<std::mutex> lock(impl_->poll_mutex);
  impl_->watches.erase(std::make_pair(source, std::string(id)));
  return {};
}

result<std::optional<watch_entry>> memory_store::watched(provider source, std::string_view id) {
  const std::lock_guard<std::mutex> lock(impl_->poll_mutex);
  auto it = impl_->watches.find(std::make_pair(source, std::string(id)));
  if (it == impl_->watches.end()) return std::optional<watch_entry>();
  return std::optional<watch_entry>(it->second);
}

result<std::optional<time_point>> memory_store::watermark(std::string_view name) {
  const std::lock_guard<std::mutex> lock(impl_->poll_mutex);
  auto it = impl_->watermarks.find(name);
  if (it == impl_->watermarks.end()) return std::optional<time_point>();
  return std::optional<time_point>(it->second);
}

status memory_store::set_watermark(std::string_view name, time_point at) {
  const std::lock_guard<std::mutex> lock(impl_->poll_mutex);
  impl_->watermarks.insert_or_assign(std::string(name), at);
  return {};
}

result<bool> memory_store::try_lead(std::string_view name, std::string_view holder, std::chrono::milliseconds lease) {
  const time_point now = impl_->time->now();
  const std::lock_guard<std::mutex> lock(impl_->poll_mutex);
  auto it = impl_->leaders.find(name);
  if (it != impl_->leaders.end() && it->second.first != holder && now < it->second.second) return false;
  impl_->leaders.insert_or_assign(std::string(name), std::make_pair(std::string(holder), at(add(ticks(now), lease))));
  return true;
}

status memory_store::resign(std::string_view name, std::string_view holder) {
  const std::lock_guard<std::mutex> lock(impl_->poll_mutex);
  auto it = impl_->leaders.find(name);
  if (it != impl_->leaders.end() && it->second.first == holder) impl_->leaders.erase(it);
  return {};
}

result<std::size_t> memory_store::purge_expired() { return impl_->purge_all(impl_->now()); }

}  // namespace hookrx
