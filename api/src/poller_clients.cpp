// poller_api over the real clients: kept apart from poller.cpp so that a program (or test) that
// brings its own poller_api does not link the HTTP clients.
#include <memory>
#include <string>
#include <utility>

#include "hookrx/poller.hpp"

namespace hookrx {
namespace {

// --- the clients behind poller_api ------------------------------------------------------------

class client_api final : public poller_api {
 public:
  client_api(std::shared_ptr<perfectparser_client> pp, std::shared_ptr<parashift_client> ps)
      : pp_(std::move(pp)), ps_(std::move(ps)) {}
  api_result<pp_extraction> get_extraction(std::string_view id) override {
    if (!pp_) return missing("PerfectParser");
    return pp_->get_extraction(id);
  }
  api_result<pp_document> get_document(std::string_view ext, std::string_view doc) override {
    if (!pp_) return missing("PerfectParser");
    return pp_->get_document(ext, doc);
  }
  api_result<pp_extraction_page> list_extractions_page(const list_extractions_query& q,
                                                       std::string_view cursor) override {
    if (!pp_) return missing("PerfectParser");
    return pp_->list_extractions_page(q, cursor);
  }
  api_result<parashift_document> get_parashift_document(std::string_view id) override {
    if (!ps_) return missing("Parashift");
    return ps_->get_document(id);
  }

 private:
  static api_error missing(std::string_view vendor) {
    return api_error{api_errc::invalid_argument, 0, {}, "no " + std::string(vendor) + " client configured", 0};
  }
  std::shared_ptr<perfectparser_client> pp_;
  std::shared_ptr<parashift_client> ps_;
};

}  // namespace

std::shared_ptr<poller_api> poller_api_of(std::shared_ptr<perfectparser_client> perfectparser,
                                          std::shared_ptr<parashift_client> parashift) {
  return std::make_shared<client_api>(std::move(perfectparser), std::move(parashift));
}

}  // namespace hookrx
