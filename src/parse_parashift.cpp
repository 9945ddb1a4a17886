// Parashift payloads (shared/spec/parashift.md): a JSON:API-like document with `topic` and
// `attributes`. Field names and types are documented, so modelled fields are read strictly.
#include <utility>

#include "crypto.hpp"
#include "json.hpp"
#include "parse.hpp"
#include "wire_parashift.hpp"

namespace hookrx::detail {
namespace {
namespace spec = wire::parashift;
namespace od = json::od;

// Copies a read field into `out`, or returns its error.
template <class T>
status take(json::field<T>&& f, std::optional<T>& out) {
  if (f.err) return *f.err;
  out = std::move(f.value);
  return {};
}

status read_custom_fields(od::value v, std::vector<std::pair<std::string, std::string>>& out) {
  simdjson::error_code ec{};
  if (json::is_null(v, ec)) return {};
  od::object obj;
  if (ec || (ec = v.get_object().get(obj))) return json::field_error(ec, "attributes.custom_fields");
  for (auto f : obj) {
    std::string_view key;
    od::value value;
    if ((ec = f.unescaped_key().get(key)) || (ec = f.value().get(value))) return json::document_error(ec);
    std::optional<std::string> s;
    if (auto st = take(json::read_string(value, "attributes.custom_fields"), s); !st) return st;
    if (s) out.emplace_back(std::string(key), std::move(*s));
  }
  return {};
}

status read_attributes(od::value v, document_event& e) {
  simdjson::error_code ec{};
  if (json::is_null(v, ec)) return {};
  od::object obj;
  if (ec || (ec = v.get_object().get(obj))) return json::field_error(ec, "attributes");
  for (auto field : obj) {
    std::string_view key;
    od::value value;
    if ((ec = field.unescaped_key().get(key)) || (ec = field.value().get(value))) return json::document_error(ec);
    status st;
    if (key == "status") st = take(json::read_string(value, "attributes.status"), e.status);
    else if (key == "tenant_id") st = take(json::read_int(value, "attributes.tenant_id"), e.tenant_id);
    else if (key == "document_id") st = take(json::read_int(value, "attributes.document_id"), e.document_id);
    else if (key == "sla_deadline") st = take(json::read_string(value, "attributes.sla_deadline"), e.sla_deadline);
    else if (key == "external_id") st = take(json::read_string(value, "attributes.external_id"), e.external_id);
    else if (key == "created_at") st = take(json::read_string(value, "attributes.created_at"), e.created_at);
    else if (key == "updated_at") st = take(json::read_string(value, "attributes.updated_at"), e.updated_at);
    else if (key == "custom_fields") st = read_custom_fields(value, e.custom_fields);
    if (!st) return st;
  }
  return {};
}

}  // namespace

result<event> parse_parashift(std::string_view body) {
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
  document_event e;
  std::optional<std::string> topic;
  for (auto field : root) {
    std::string_view key;
    od::value value;
    if (auto ec = field.unescaped_key().get(key)) return json::document_error(ec);
    if (auto ec = field.value().get(value)) return json::document_error(ec);
    status st;
    if (key == "topic") st = take(json::read_string(value, key), topic);
    else if (key == "id") st = take(json::read_string(value, key), e.id);
    else if (key == "type") st = take(json::read_string(value, key), e.type);
    else if (key == "request_id") st = take(json::read_string(value, key), e.request_id);
    else if (key == "attributes") st = read_attributes(value, e);
    if (!st) return st.error();
  }
  if (json::has_trailing_content(doc)) return error(errc::invalid_json, "content after the JSON object");
  if (!topic) return error(errc::missing_field, "topic");

  e.topic_name = *topic;
  e.topic = parse_parashift_topic(e.topic_name);
  std::string key;
  if (e.id && e.updated_at) {
    key.append(spec::key_prefix).append(e.topic_name).append(1, ':').append(*e.id).append(1, ':').append(*e.updated_at);
  } else {
    key = std::string(spec::body_hash_key_prefix) + sha256_hex(body);
  }
  return event(provider::parashift, std::move(*topic), std::move(key), false, std::move(raw), std::move(e));
}

}  // namespace hookrx::detail
