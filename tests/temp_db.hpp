// tests/temp_db.hpp: a fresh database file in a temporary directory, removed with the object.
#pragma once

#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace hookrx_test {

struct temp_db {
  std::filesystem::path dir;
  temp_db() {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() / ("hookrx-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir);
  }
  temp_db(const temp_db&) = delete;
  temp_db& operator=(const temp_db&) = delete;
  ~temp_db() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  [[nodiscard]] std::string path() const { return (dir / "hookrx.db").string(); }
};

}  // namespace hookrx_test
