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
using json::error_code;

// Reads one field into `out`; a type error names the field.
template <class T>
status take(od::value& v, std::string_view name, std::optional<T>& out) {
  if (error_code ec = json::read(v, out)) return json::field_error(ec, name);
  return {};
}

status read_custom_fields(od::value& v, std::vector<std::pair<std::string, std::string>>& out) {
  constexpr std::string_view name = "attributes.custom_fields";
  od::object obj;
  if (error_code ec = v.get_object().get(obj)) return json::is_null(v) ? status{} : json::field_error(ec, name);
  for (auto member : obj) {
    std::string_view key;
    if (error_code ec = json::key_of(member, key)) return json::document_error(ec);
    od::value& value = member.value_unsafe().value();  // key_of checked the member
    std::string_view text;
    if (error_code ec = value.get_string().get(text)) return json::field_error(ec, name);
    out.emplace_back(std::string(key), std::string(text));
  }
  return {};
}

status read_attributes(od::value& v, document_event& e) {
  od::object obj;
  if (error_code ec = v.get_object().get(obj)) return json::is_null(v) ? status{} : json::field_error(ec, "attributes");
  for (auto member : obj) {
    std::string_view key;
    if (error_code ec = json::key_of(member, key)) return json::document_error(ec);
    od::value& value = member.value_unsafe().value();  // key_of checked the member
    status st;
    if (key == "status")
      st = take(value, "attributes.status", e.status);
    else if (key == "updated_at")
      st = take(value, "attributes.updated_at", e.updated_at);
    else if (key == "document_id")
      st = take(value, "attributes.document_id", e.document_id);
    else if (key == "tenant_id")
      st = take(value, "attributes.tenant_id", e.tenant_id);
    else if (key == "created_at")
      st = take(value, "attributes.created_at", e.created_at);
    else if (key == "external_id")
      st = take(value, "attributes.external_id", e.external_id);
    else if (key == "sla_deadline")
      st = take(value, "attributes.sla_deadline", e.sla_deadline);
    else if (key == "custom_fields")
      st = read_custom_fields(value, e.custom_fields);
    if (!st) return st;
  }
  return {};
}

}  // namespace

// The payload starts empty (unlike PerfectParser's, it is not reused member by member); the raw
// body, name and key reuse the event's strings.
status parse_parashift(std::string_view body, event& into) {
  std::string& raw = event_builder::raw_json(into);
  json::copy_padded(body, raw);
  json::thread_parser parser;
  od::document doc;
  if (error_code ec = parser.iterate(raw, doc)) return json::document_error(ec);
  result<od::object> root = json::root_object(doc);
  if (!root) return root.error();
  auto& e = event_builder::start<document_event>(into, provider::parashift);
  std::optional<std::string_view> topic;
  for (auto member : *root) {
    std::string_view key;
    if (error_code ec = json::key_of(member, key)) return json::document_error(ec);
    od::value& value = member.value_unsafe().value();  // key_of checked the member
    status st;
    if (key == "topic") {
      st = take(value, key, topic);
      if (topic) e.topic_name.assign(*topic);  // the view lasts until the next string is read
    } else if (key == "id") {
      st = take(value, key, e.id);
    } else if (key == "attributes") {
      st = read_attributes(value, e);
    } else if (key == "type") {
      st = take(value, key, e.type);
    } else if (key == "request_id") {
      st = take(value, key, e.request_id);
    }
    if (!st) return st;
  }
  if (json::has_trailing_content(doc)) return error(errc::invalid_json, "content after the JSON object");
  if (!topic) return error(errc::missing_field, "topic");

  e.topic = parse_parashift_topic(e.topic_name);
  event_builder::name(into).assign(e.topic_name);
  std::string& key = event_builder::key(into);
  if (e.id && e.updated_at) {
    key.assign(spec::key_prefix).append(e.topic_name).append(1, ':').append(*e.id).append(1, ':').append(*e.updated_at);
  } else {
    key.assign(spec::body_hash_key_prefix).append(sha256_hex(body));
  }
  event_builder::set_test(into, false);
  return {};
}

}  // namespace hookrx::detail
