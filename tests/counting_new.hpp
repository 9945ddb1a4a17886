// Counting replacements of the global operator new, for the tests and benchmarks that assert or
// report how many heap allocations a call makes. Linking tests/counting_new.cpp into a binary
// replaces the operators for that whole binary; read the counter before and after a call.
//
//   const std::size_t before = hookrx_test::new_calls_on_this_thread();
//   verifier.verify(request);
//   CHECK(hookrx_test::new_calls_on_this_thread() == before);
#pragma once

#include <cstddef>

namespace hookrx_test {

/// False in sanitizer builds: their runtimes replace operator new themselves (clang links them
/// statically, so a second definition does not even link), and nothing is counted.
[[nodiscard]] bool counting_new_available() noexcept;

/// Calls of the global operator new (any form) made on this thread so far.
[[nodiscard]] std::size_t new_calls_on_this_thread() noexcept;

}  // namespace hookrx_test
