// The driver fuzz targets link when libFuzzer is not available (g++): runs the target once on each
// file named on the command line, and on each file of each directory named (sorted, not recursive;
// README* and .gitkeep are skipped). Arguments starting with '-' are libFuzzer options and ignored,
// so ctest gives both drivers the same command line: fuzz_<name> -runs=0 corpus/<name> regressions/<name>.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool replay(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::cerr << "cannot read " << file << '\n';
    return false;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return true;
}

bool skipped(const std::filesystem::path& file) {
  const std::string name = file.filename().string();
  return name == ".gitkeep" || name.rfind("README", 0) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (!arg.empty() && arg[0] == '-') continue;
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(arg, ec)) {
        if (entry.is_regular_file() && !skipped(entry.path())) files.push_back(entry.path());
      }
      if (ec) {
        std::cerr << "cannot list " << arg << ": " << ec.message() << '\n';
        return 1;
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        if (!replay(f)) return 1;
        ++count;
      }
    } else {
      if (!replay(arg)) return 1;
      ++count;
    }
  }
  std::cout << "replayed " << count << " inputs\n";
  return 0;
}
