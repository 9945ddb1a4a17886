// Private: the event a delivery is parsed into, kept per thread between deliveries.
#pragma once

#include <cstddef>
#include <optional>
#include <utility>

#include "hookrx/events.hpp"
#include "parse.hpp"

namespace hookrx::detail {

/// The calling thread's event, reused from one delivery to the next: its strings keep their
/// capacity, so a steady stream of deliveries is parsed without allocating. A nested delivery on
/// the same thread (a handler that calls a receiver) gets an event of its own.
///
/// An event's strings are parts of the bodies parsed into it, so while every body was within
/// kept_body_bytes that bounds them all. After a larger body the event is let go: whatever an
/// acceptor took from it (the inbox moves out the body copy, not the payload), its buffers are freed.
class event_lease {
 public:
  /// For a delivery whose body is `body_size` bytes.
  explicit event_lease(std::size_t body_size) : kept_(&thread_event()), outsized_(body_size > kept_body_bytes) {
    if (kept_->busy) {
      kept_ = nullptr;
      own_.emplace();
    } else {
      kept_->busy = true;
    }
  }
  ~event_lease() {
    if (kept_ == nullptr) return;
    // Assigning a fresh event would keep the buffers (a string moved from an empty one keeps its
    // own); moving them out frees them.
    if (outsized_) {
      const event dropped(std::move(kept_->ev));
    }
    kept_->busy = false;
  }
  event_lease(const event_lease&) = delete;
  event_lease& operator=(const event_lease&) = delete;

  [[nodiscard]] event& get() noexcept { return kept_ != nullptr ? kept_->ev : *own_; }

 private:
  struct kept_event {
    event ev;
    bool busy = false;
  };
  static kept_event& thread_event() noexcept {
    thread_local kept_event kept;
    return kept;
  }

  kept_event* kept_;          // this thread's event, or nullptr when a delivery further up holds it
  bool outsized_;             // the body is over kept_body_bytes: let the event go afterwards
  std::optional<event> own_;  // the nested delivery's own event
};

}  // namespace hookrx::detail
