#include "hookrx/clock.hpp"

namespace hookrx {
namespace {

class system_clock_source final : public clock {
 public:
  [[nodiscard]] time_point now() const noexcept override { return std::chrono::system_clock::now(); }
};

}  // namespace

std::shared_ptr<const clock> system_clock() {
  static const auto instance = std::make_shared<const system_clock_source>();
  return instance;
}

}  // namespace hookrx
