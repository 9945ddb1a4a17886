// Fuzzes the PerfectParser payload parser (checks: fuzz_parse.hpp).
#include <cstddef>
#include <cstdint>

#include "fuzz_parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return hookrx_fuzz::check_parse(hookrx::provider::perfectparser, "perfectparser:", data, size);
}
