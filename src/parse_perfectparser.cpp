// PerfectParser payloads (shared/spec/perfectparser.md, "Payload bodies"). The vendor does not
// publish them, so the reader is tolerant: one pass collects every modelled field from the top
// level and from `data`, then the event name decides which fields are required.
#include <utility>

#include "crypto.hpp"
#include "json.hpp"
#include "parse.hpp"
#include "wire_perfectparser.hpp"

namespace hookrx::detail {
namespace {
namespace spec = wire::perfectparser;
namespace od = json::od;

// One modelled field as read. A value at the top level wins over one inside `data`; a top-level
// null leaves room for `data`.
template <class T>
struct slot {
  std::optional<T> value;
  std::optional<error> err;
  bool from_top = false;

  void set(json::field<T>&& f, bool top) {
    if (!top && from_top) return;
    if (top && !f.value && !f.err) return;
    value = std::move(f.value);
    err = std::move(f.err);
    from_top = top && (value || err);
  }
};

struct fields {
  slot<std::string> event, type, extraction_id, batch_id, document_id, status, parser_id, parser_name,
      filename, error_message, created_at, updated_at, completed_at, extracted_data, documents;
  slot<std::int64_t> page_count, credits_used, processing_time_ms, file_count;
  slot<double> confidence;
  slot<bool> test;
  slot<document_summary> summary;
};

json::field<document_summary> read_summary(od::value v, std::string_view name) {
  simdjson::error_code ec{};
  if (json::is_null(v, ec)) return {};
  od::object obj;
  if (ec || (ec = v.get_object().get(obj))) return {std::nullopt, json::field_error(ec, name)};
  document_summary s;
  for (auto f : obj) {
    std::string_view key;
    od::value value;
    if ((ec = f.unescaped_key().get(key)) || (ec = f.value().get(value))) return {std::nullopt, json::document_error(ec)};
    std::int64_t* target = key == "total" ? &s.total
                           : key == "completed" ? &s.completed
                           : key == "failed" ? &s.failed
                           : key == "processing" ? &s.processing
                           : nullptr;
    if (target == nullptr) continue;
    auto n = json::read_int(value, "document_summary." + std::string(key));
    if (n.err) return {std::nullopt, std::move(n.err)};
    *target = n.value.value_or(0);
  }
  return {s, std::nullopt};
}

// Stores a field read at one level. A broken value means a broken document: that stops the read.
template <class T>
status keep(slot<T>& s, json::field<T>&& f, bool top) {
  if (f.err && f.err->code() == errc::invalid_json) return *f.err;
  s.set(std::move(f), top);
  return {};
}

// Reads the fields of one object level; recurses once into `data`.
status read_level(od::object obj, fields& f, bool top) {
  for (auto field : obj) {
    std::string_view key;
    od::value v;
    if (auto ec = field.unescaped_key().get(key)) return json::document_error(ec);
    if (auto ec = field.value().get(v)) return json::document_error(ec);
    status st;
    if (key == spec::nested_fields) {
      od::object nested;
      if (top && !v.get_object().get(nested)) st = read_level(nested, f, false);
    }
    else if (key == spec::event_field) { if (top) st = keep(f.event, json::read_string(v, key), top); }
    else if (key == spec::event_field_fallback) { if (top) st = keep(f.type, json::read_string(v, key), top); }
    else if (key == "extraction_id") st = keep(f.extraction_id, json::read_string(v, key), top);
    else if (key == spec::batch_id_fallback) st = keep(f.batch_id, json::read_string(v, key), top);
    else if (key == "document_id") st = keep(f.document_id, json::read_string(v, key), top);
    else if (key == "status") st = keep(f.status, json::read_string(v, key), top);
    else if (key == "parser_id") st = keep(f.parser_id, json::read_string(v, key), top);
    else if (key == "parser_name") st = keep(f.parser_name, json::read_string(v, key), top);
    else if (key == "filename") st = keep(f.filename, json::read_string(v, key), top);
    else if (key == "error_message") st = keep(f.error_message, json::read_string(v, key), top);
    else if (key == "created_at") st = keep(f.created_at, json::read_string(v, key), top);
    else if (key == "updated_at") st = keep(f.updated_at, json::read_string(v, key), top);
    else if (key == "completed_at") st = keep(f.completed_at, json::read_string(v, key), top);
    else if (key == "extracted_data") st = keep(f.extracted_data, json::read_raw(v, key), top);
    else if (key == "documents") st = keep(f.documents, json::read_raw(v, key), top);
    else if (key == "page_count") st = keep(f.page_count, json::read_int(v, key), top);
    else if (key == "credits_used") st = keep(f.credits_used, json::read_int(v, key), top);
    else if (key == "processing_time_ms") st = keep(f.processing_time_ms, json::read_int(v, key), top);
    else if (key == "file_count") st = keep(f.file_count, json::read_int(v, key), top);
    else if (key == "confidence") st = keep(f.confidence, json::read_double(v, key), top);
    else if (key == "test") st = keep(f.test, json::read_bool(v, key), top);
    else if (key == "document_summary") st = keep(f.summary, read_summary(v, key), top);
    // Anything else is a field we do not model: skipped here, kept in the event's raw JSON.
    if (!st) return st;
  }
  return {};
}

// Moves modelled fields into a typed event, remembering the first error met.
class extractor {
 public:
  template <class T>
  void optional(slot<T>& s, std::optional<T>& out) {
    if (s.err) note(*s.err);
    else out = std::move(s.value);
  }
  template <class T>
  void required(slot<T>& s, std::string_view name, T& out) {
    if (s.err) note(*s.err);
    else if (!s.value) note(error(errc::missing_field, std::string(name)));
    else out = std::move(*s.value);
  }
  void raw(slot<std::string>& s, std::string& out) {
    if (s.err) note(*s.err);
    else if (s.value) out = std::move(*s.value);
  }
  [[nodiscard]] const std::optional<error>& first() const noexcept { return first_; }

 private:
  void note(const error& e) {
    if (!first_) first_ = e;
  }
  std::optional<error> first_;
};

std::string make_key(std::string_view name, std::string_view first_id, std::string_view second_id = {}) {
  std::string key;
  key.reserve(spec::key_prefix.size() + name.size() + first_id.size() + second_id.size() + 2);
  key.append(spec::key_prefix).append(name).append(1, ':').append(first_id);
  if (!second_id.empty()) key.append(1, ':').append(second_id);
  return key;
}

}  // namespace

result<event> parse_perfectparser(std::string_view body) {
  std::string raw = json::padded_copy(body);
  od::document doc;
  if (auto ec = json::thread_parser().iterate(raw.data(), raw.size(), raw.capacity()).get(doc)) {
    return json::document_error(ec);
  }
  od::object root;
  if (auto ec = doc.get_object().get(root)) {
    return ec == simdjson::INCORRECT_TYPE ? error(errc::invalid_json, "the body is not a JSON object")
                                          : json::document_error(ec);
  }
  fields f;
  if (auto st = read_level(root, f, true); !st) return st.error();
  if (json::has_trailing_content(doc)) return error(errc::invalid_json, "content after the JSON object");

  if (f.event.err) return *f.event.err;
  if (!f.event.value) {
    if (f.type.err) return *f.type.err;
    if (!f.type.value) return error(errc::missing_field, std::string(spec::event_field));
    f.event.value = std::move(f.type.value);
  }
  std::string name = std::move(*f.event.value);

  extractor x;
  bool test = false;
  const auto read_test = [&] {
    std::optional<bool> t;
    x.optional(f.test, t);
    test = t.value_or(false);
  };

  if (name == spec::document_completed) {
    document_completed d;
    x.required(f.extraction_id, "extraction_id", d.extraction_id);
    x.required(f.document_id, "document_id", d.document_id);
    x.required(f.status, "status", d.status);
    x.optional(f.parser_id, d.parser_id);
    x.optional(f.parser_name, d.parser_name);
    x.optional(f.filename, d.filename);
    x.optional(f.error_message, d.error_message);
    x.optional(f.created_at, d.created_at);
    x.optional(f.updated_at, d.updated_at);
    x.optional(f.page_count, d.page_count);
    x.optional(f.credits_used, d.credits_used);
    x.optional(f.processing_time_ms, d.processing_time_ms);
    x.optional(f.confidence, d.confidence);
    x.raw(f.extracted_data, d.extracted_data);
    read_test();
    if (x.first()) return *x.first();
    std::string key = make_key(name, d.extraction_id, d.document_id);
    return event(provider::perfectparser, std::move(name), std::move(key), test, std::move(raw), std::move(d));
  }

  if (name == spec::job_completed) {
    job_completed j;
    x.required(f.extraction_id, "extraction_id", j.extraction_id);
    x.optional(f.status, j.status);
    x.optional(f.parser_id, j.parser_id);
    x.optional(f.completed_at, j.completed_at);
    x.optional(f.file_count, j.file_count);
    x.optional(f.page_count, j.page_count);
    x.optional(f.credits_used, j.credits_used);
    x.optional(f.summary, j.summary);
    x.raw(f.documents, j.documents);
    read_test();
    if (x.first()) return *x.first();
    std::string key = make_key(name, j.extraction_id);
    return event(provider::perfectparser, std::move(name), std::move(key), test, std::move(raw), std::move(j));
  }

  if (name == spec::batch_completed || name == spec::batch_failed || name == spec::batch_partial) {
    batch_finished b;
    b.outcome = name == spec::batch_completed ? batch_outcome::completed
                : name == spec::batch_failed  ? batch_outcome::failed
                                              : batch_outcome::partial;
    if (!f.extraction_id.value && !f.extraction_id.err) f.extraction_id = std::move(f.batch_id);
    x.required(f.extraction_id, "extraction_id", b.extraction_id);
    x.optional(f.parser_id, b.parser_id);
    x.optional(f.parser_name, b.parser_name);
    x.optional(f.status, b.status);
    x.optional(f.completed_at, b.completed_at);
    x.optional(f.file_count, b.file_count);
    x.optional(f.summary, b.summary);
    read_test();
    if (x.first()) return *x.first();
    std::string key = make_key(name, b.extraction_id);
    return event(provider::perfectparser, std::move(name), std::move(key), test, std::move(raw), std::move(b));
  }

  // An event we do not model: never an error. Ids that fail to parse are treated as absent, so a
  // future event with a different shape is still acknowledged and handed on.
  unknown_event u;
  u.extraction_id = std::move(f.extraction_id.value);
  u.document_id = std::move(f.document_id.value);
  test = f.test.value.value_or(false);
  std::string key;
  if (u.extraction_id || u.document_id) {
    key = make_key(name, u.extraction_id ? *u.extraction_id : *u.document_id,
                   u.extraction_id && u.document_id ? std::string_view(*u.document_id) : std::string_view());
  } else {
    key = std::string(spec::body_hash_key_prefix) + sha256_hex(body);
  }
  return event(provider::perfectparser, std::move(name), std::move(key), test, std::move(raw), std::move(u));
}

}  // namespace hookrx::detail
