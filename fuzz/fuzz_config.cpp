// Fuzzes the hookrx binary's TOML config parser (cli/config.hpp: parse_config_text). Link with
// hookrx_cli_core. What must hold for any input: no crash, hang or leak; a failure is
// errc::invalid_config with a message; a success holds only known settings, each with at least one
// value, and a secret only as its `<name>_file` path, never as a value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config.hpp"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

bool is_setting(std::string_view key, bool& secret) {
  for (const hookrx::cli::setting_spec& s : hookrx::cli::settings()) {
    if (s.key == key) {
      secret = s.secret;
      return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const hookrx::result<hookrx::cli::raw_values> parsed = hookrx::cli::parse_config_text(text, "fuzz.toml");
  if (!parsed) {
    require(parsed.error() == hookrx::errc::invalid_config);
    require(!parsed.error().detail().empty());
    return 0;
  }
  for (const auto& [key, values] : *parsed) {
    require(!values.empty());
    bool secret = false;
    if (is_setting(key, secret)) {
      require(!secret);  // a secret's value never comes from the file
    } else {
      require(key.size() > 5 && key.compare(key.size() - 5, 5, "_file") == 0);
      require(is_setting(std::string_view(key).substr(0, key.size() - 5), secret) && secret);
      require(values.size() == 1);
    }
  }
  return 0;
}
