// Fuzzes every hookrx::api response parser with the same bytes (api/src/parse_api.hpp): none may
// crash, hang or throw; what parses keeps its invariants (required fields present, a next page has
// a cursor); and a terminal document or extraction that parses always becomes an event with the
// webhook's key, so the poller can never hold a document it cannot hand on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "hookrx/api.hpp"
#include "parse_api.hpp"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);  // NOLINT: libFuzzer's bytes
  namespace api = hookrx::detail::api;

  if (auto d = api::parse_document(body, "ext_hint")) {
    require(!d->document_id.empty() && !d->status.empty() && !d->extraction_id.empty());
    if (d->status == "completed" || d->status == "failed") {
      auto ev = hookrx::to_event(*d);
      require(ev.has_value());
      require(ev->key() == "perfectparser:extraction.document_completed:" + d->extraction_id + ':' + d->document_id);
    }
  } else {
    require(d.error().code == hookrx::api_errc::unparsable && !d.error().detail.empty());
  }
  if (auto e = api::parse_extraction(body)) {
    require(!e->extraction_id.empty() && !e->status.empty());
    for (const auto& doc : e->documents) require(!doc.document_id.empty());
    if (hookrx::is_terminal_status(e->status)) {
      auto ev = hookrx::to_event(*e);
      require(ev.has_value() && ev->key() == "perfectparser:extraction.job_completed:" + e->extraction_id);
      require(hookrx::to_batch_event(*e).has_value());
    }
  }
  if (auto r = api::parse_results(body, "ext_hint")) {
    for (const auto& doc : r->documents) require(!doc.document_id.empty() && !doc.extraction_id.empty());
  }
  if (auto p = api::parse_extraction_page(body)) {
    require(!p->has_next_page || !p->next_cursor.empty());
    require(p->has_next_page || p->next_cursor.empty());
    for (const auto& x : p->extractions) require(!x.extraction_id.empty());
  }
  (void)api::parse_user(body);
  if (auto s = api::parse_submission(body)) require(!s->extraction_id.empty());
  if (auto ps = api::parse_parashift_document(body)) {
    require(!ps->id.empty());
    if ((ps->status == "done" || ps->status == "failed") && ps->updated_at) {
      auto ev = hookrx::to_event(*ps);
      require(ev.has_value() && starts_with(ev->key(), "parashift:processing-"));
    }
  }
  const api::error_body eb = api::parse_error_body(body);
  require(eb.code.size() <= body.size() && eb.message.size() <= body.size());
  return 0;
}
