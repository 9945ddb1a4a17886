// perfectparser_verifier::verify() makes no C++ heap allocation once warmed up.
//
// Every form of global operator new/delete is replaced in this file (the replacement applies to the
// whole test binary); a thread_local switch makes them count only inside a measured scope, on the
// measuring thread. OpenSSL allocates through its own malloc wrappers, which this does not see:
// the claim checked here is "hookrx itself allocates nothing per request", not "nothing does".
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "hookrx/verify.hpp"
#include "support.hpp"

// Sanitizer runtimes replace operator new themselves (clang links them statically, so a second
// definition does not even link): in such builds the operators below are left out and the cases
// that need them are skipped.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer) || \
    __has_feature(hwaddress_sanitizer)
#define HOOKRX_TESTS_COUNT_NEW 0
#endif
#endif
#if !defined(HOOKRX_TESTS_COUNT_NEW) && (defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__))
#define HOOKRX_TESTS_COUNT_NEW 0
#endif
#ifndef HOOKRX_TESTS_COUNT_NEW
#define HOOKRX_TESTS_COUNT_NEW 1
#endif

// GCC pairs the inlined replacement operator delete (free) with the operator new call and warns;
// both are ours and do match.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

thread_local bool counting = false;
thread_local std::size_t allocations = 0;

#if HOOKRX_TESTS_COUNT_NEW
void* allocate(std::size_t size) {
  if (counting) ++allocations;
  if (size == 0) size = 1;
  return std::malloc(size);
}

void* allocate_aligned(std::size_t size, std::align_val_t align) {
  if (counting) ++allocations;
  if (size == 0) size = 1;
  std::size_t alignment = static_cast<std::size_t>(align);
  if (alignment < sizeof(void*)) alignment = sizeof(void*);
  void* p = nullptr;
  if (posix_memalign(&p, alignment, size) != 0) return nullptr;
  return p;
}
#endif  // HOOKRX_TESTS_COUNT_NEW

/// Counts the C++ heap allocations made on this thread while it lives.
class allocation_counter {
 public:
  allocation_counter() {
    allocations = 0;
    counting = true;
  }
  allocation_counter(const allocation_counter&) = delete;
  allocation_counter& operator=(const allocation_counter&) = delete;
  ~allocation_counter() { counting = false; }
  std::size_t stop() {
    counting = false;
    return allocations;
  }
};

}  // namespace

#if HOOKRX_TESTS_COUNT_NEW
void* operator new(std::size_t size) {
  if (void* p = allocate(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (void* p = allocate(size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void* operator new(std::size_t size, std::align_val_t align) {
  if (void* p = allocate_aligned(size, align)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t align) {
  if (void* p = allocate_aligned(size, align)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return allocate_aligned(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  return allocate_aligned(size, align);
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
#endif  // HOOKRX_TESTS_COUNT_NEW

namespace {

const std::string secret = "wh_sec_a1l0c4t10na1l0c4t10na1l0c4t1";

std::string body_of_1kib() {
  std::string body = R"({"event":"extraction.document_completed","extraction_id":"ext_1","document_id":"doc_1",)"
                     R"("status":"completed","pad":")";
  body += std::string(1024 - body.size() - 2, 'x');
  body += "\"}";
  return body;
}

hookrx::perfectparser_verifier make_verifier(std::vector<std::string> secrets) {
  hookrx::perfectparser_credentials creds;
  creds.signing_secrets = std::move(secrets);
  auto v = hookrx::perfectparser_verifier::create(std::move(creds));
  REQUIRE(v.has_value());
  return std::move(v).value();
}

}  // namespace

TEST_SUITE("allocation") {
  TEST_CASE("the allocation counter sees an allocation made in its scope" * doctest::skip(!HOOKRX_TESTS_COUNT_NEW)) {
    std::size_t seen = 0;
    {
      allocation_counter counter;
      // Through a volatile pointer, so that the compiler cannot elide the new/delete pair.
      std::string* volatile p = new std::string(100, 'x');
      seen = counter.stop();
      delete p;
    }
    CHECK(seen >= 1);
  }

  TEST_CASE("verifying a valid 1 KiB delivery makes no C++ heap allocation" * doctest::skip(!HOOKRX_TESTS_COUNT_NEW)) {
    const auto v = make_verifier({"wh_sec_other_secret_first", secret});
    const std::string body = body_of_1kib();
    REQUIRE(body.size() == 1024);
    const hookrx_test::test_request req = hookrx_test::signed_request(body, secret);
    const hookrx::request_view view = req.view();
    {
      const auto warm = v.verify(view);
      REQUIRE(warm.has_value());
    }
    bool ok = false;
    std::size_t count = 0;
    {
      allocation_counter counter;
      const auto verdict = v.verify(view);
      ok = verdict.has_value() && verdict->secret_index == 1;
      count = counter.stop();
    }
    CHECK(ok);
    CHECK(count == 0);
  }

  TEST_CASE("refusing a delivery makes no C++ heap allocation either" * doctest::skip(!HOOKRX_TESTS_COUNT_NEW)) {
    const auto v = make_verifier({secret});
    const std::string body = body_of_1kib();
    const hookrx_test::test_request mismatch = hookrx_test::signed_request(body, "wh_sec_forger");
    const hookrx_test::test_request malformed(body, {{"X-PerfectParser-Signature", "sha256=abc"}});
    const hookrx_test::test_request missing(body);
    for (const auto* req : {&mismatch, &malformed, &missing}) {
      const hookrx::request_view view = req->view();
      { (void)v.verify(view); }
      hookrx::errc code = hookrx::errc::invalid_config;
      bool refused = false;
      std::size_t count = 0;
      {
        allocation_counter counter;
        const auto verdict = v.verify(view);
        refused = !verdict.has_value();
        if (refused) code = verdict.error().code();
        count = counter.stop();
      }
      INFO("verdict: " << std::string(hookrx::to_string(code)));
      CHECK(refused);
      CHECK(count == 0);
    }
  }

}  // TEST_SUITE
