// Private to hookrx::memory: the open-addressed hash table behind the memory store's dedup shards
// and inbox indexes.
//
// Small slots held inline in one array: open addressing with linear probing, each run of occupied
// slots kept in order of home slot (Robin Hood), deletion by shifting the rest of the run back (no
// tombstones, so probes do not lengthen with churn). A lookup reads one or two cache lines and
// nothing is allocated per entry, where a node-based map chases a pointer per node and allocates
// one per insert. Keeping runs ordered lets a probe for an absent key stop as soon as it passes the
// slots of its home, which is what allows a high load factor (less memory per entry).
//
// `Policy` says of a `Slot`: `static bool empty(const Slot&)` (a value-initialised Slot is empty)
// and `static std::uint64_t spread(const Slot&)`, 64 well-mixed bits whose top bits pick its home.
// The table does not know keys: find() takes the spread of the key sought and a predicate.
//
//   struct entry { std::uint64_t hash = 0; int value = 0; };  // hash 0: empty
//   struct entry_policy {
//     static bool empty(const entry& e) noexcept { return e.hash == 0; }
//     static std::uint64_t spread(const entry& e) noexcept { return e.hash; }
//   };
//   hookrx::detail::probe_table<entry, entry_policy> t;
//   t.insert(entry{h, 42});
//   if (entry* e = t.find(h, [&](const entry& x) { return x.hash == h; })) t.erase(e);
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace hookrx::detail {

// Pointers to slots are valid until the next insert or erase: both move entries.
template <class Slot, class Policy>
class probe_table {
 public:
  // The slot whose spread is `h` and that `match` accepts; nullptr if none.
  template <class Match>
  [[nodiscard]] Slot* find(std::uint64_t h, Match&& match) {
    return const_cast<Slot*>(std::as_const(*this).find(h, std::forward<Match>(match)));
  }
  template <class Match>
  [[nodiscard]] const Slot* find(std::uint64_t h, Match&& match) const {
    if (slots_.empty()) return nullptr;
    for (std::size_t i = home(h), dist = 0;; i = next(i), ++dist) {
      const Slot& s = slots_[i];
      if (Policy::empty(s)) return nullptr;
      if (match(s)) return &s;
      if (distance(i, s) < dist) return nullptr;  // past the slots whose home is h's
    }
  }
  // Adds `x`, whose key is not in the table; returns where it went.
  Slot& insert(const Slot& x) {
    if ((count_ + 1) * max_load_den > slots_.size() * max_load_num) grow();
    ++count_;
    return place(x);
  }
  // Removes the slot `at` (from find()).
  void erase(const Slot* at) noexcept {
    auto i = static_cast<std::size_t>(at - slots_.data());
    // Pull the rest of the run back one slot, up to an entry already at its home.
    for (std::size_t j = next(i); !Policy::empty(slots_[j]) && distance(j, slots_[j]) > 0; j = next(j)) {
      slots_[i] = slots_[j];
      i = j;
    }
    slots_[i] = Slot{};
    --count_;
  }
  // Removes every slot that `pred` accepts; returns how many.
  template <class Pred>
  std::size_t erase_if(Pred&& pred) {
    if (count_ == 0) return 0;
    // Start after an empty slot: no run crosses it, and an erase only pulls later entries of its
    // run back into the slot just looked at, so one pass sees every entry.
    std::size_t i = 0;
    while (!Policy::empty(slots_[i])) i = next(i);
    std::size_t n = 0;
    for (std::size_t k = 0; k < slots_.size(); ++k) {
      i = next(i);
      while (!Policy::empty(slots_[i]) && pred(slots_[i])) {
        erase(&slots_[i]);
        ++n;
      }
    }
    return n;
  }
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const Slot& s : slots_) {
      if (!Policy::empty(s)) fn(s);
    }
  }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }

 private:
  static constexpr unsigned min_bits = 6;
  // At most 13/16 full. An insert walks from its home to the end of the run (shifting the entries
  // after its place), on average 1/2 (1 + 1/(1 - load)^2) slots: 15 at 13/16, 33 at 7/8, 8.5 at
  // 3/4. A lower bound makes inserts cheaper and the table larger.
  static constexpr std::size_t max_load_num = 13;
  static constexpr std::size_t max_load_den = 16;

  [[nodiscard]] std::size_t next(std::size_t i) const noexcept { return (i + 1) & (slots_.size() - 1); }
  [[nodiscard]] std::size_t home(std::uint64_t h) const noexcept { return static_cast<std::size_t>(h >> (64 - bits_)); }
  // How far slot i is from the home of its entry.
  [[nodiscard]] std::size_t distance(std::size_t i, const Slot& s) const noexcept {
    return (i - home(Policy::spread(s))) & (slots_.size() - 1);
  }
  // Puts `x` after the entries whose home is at or before its own and shifts the rest of the run
  // one slot on. The table has room.
  Slot& place(Slot x) {
    std::size_t i = home(Policy::spread(x));
    for (std::size_t dist = 0; !Policy::empty(slots_[i]) && distance(i, slots_[i]) >= dist; ++dist) i = next(i);
    Slot& at = slots_[i];
    // Each entry moves into the next slot, the last one into the empty slot that ends the run.
    for (; !Policy::empty(x); i = next(i)) std::swap(x, slots_[i]);
    return at;
  }
  void grow() {
    const unsigned bits = slots_.empty() ? min_bits : bits_ + 1;
    std::vector<Slot> old(std::size_t{1} << bits);
    old.swap(slots_);
    bits_ = bits;
    for (const Slot& s : old) {
      if (!Policy::empty(s)) place(s);
    }
  }

  std::vector<Slot> slots_;
  unsigned bits_ = 0;
  std::size_t count_ = 0;
};

}  // namespace hookrx::detail
