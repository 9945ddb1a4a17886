// PerfectParser payloads (shared/spec/perfectparser.md, "Payload bodies"). The vendor does not
// publish them, so the reader is tolerant: the event name comes first (`event`, else `type`), then
// the fields of that event are read straight into its typed struct, from the top level and, for
// what the top level lacks, from `data`. Unknown fields are skipped and stay in the raw JSON.
#include <type_traits>
#include <utility>

#include "crypto.hpp"
#include "json.hpp"
#include "parse.hpp"
#include "wire_perfectparser.hpp"

namespace hookrx::detail {
namespace {
namespace spec = wire::perfectparser;
namespace od = json::od;
using json::error_code;
using spec::field;
constexpr error_code ok = simdjson::SUCCESS;

// The field a key names. Dispatches on length first: most keys cost one or two comparisons.
field lookup(std::string_view k) noexcept {
  const auto pick = [k](std::initializer_list<field> candidates) {
    for (field f : candidates) {
      if (k == spec::name_of(f)) return f;
    }
    return field::unknown;
  };
  switch (k.size()) {
    case 4: return pick({field::type, field::data, field::test});
    case 5: return pick({field::event});
    case 6: return pick({field::status});
    case 8: return pick({field::batch_id, field::filename});
    case 9: return pick({field::parser_id, field::documents});
    case 10:
      return pick({field::created_at, field::updated_at, field::page_count, field::file_count, field::confidence});
    case 11: return pick({field::document_id, field::parser_name});
    case 12: return pick({field::credits_used, field::completed_at});
    case 13: return pick({field::extraction_id, field::error_message});
    case 14: return pick({field::extracted_data});
    case 16: return pick({field::document_summary});
    case 18: return pick({field::processing_time_ms});
    default: return field::unknown;
  }
}

// The pass over `data` only fills what the top level left empty.
enum class level : bool { top, nested };

error_code read_summary(od::value& v, std::optional<document_summary>& out) {
  od::object obj;
  if (error_code ec = v.get_object().get(obj)) return json::is_null(v) ? ok : ec;
  document_summary s;
  for (auto member : obj) {
    std::string_view key;
    od::value value;
    if (error_code ec = json::key_of(member, key)) return ec;
    if (error_code ec = member.value().get(value)) return ec;
    std::int64_t* target = key == "total"        ? &s.total
                           : key == "completed"  ? &s.completed
                           : key == "failed"     ? &s.failed
                           : key == "processing" ? &s.processing
                                                 : nullptr;
    std::optional<std::int64_t> n;
    if (target == nullptr) continue;
    if (error_code ec = json::read(value, n)) return ec;
    *target = n.value_or(0);
  }
  out = s;
  return ok;
}

template <class T>
error_code fill(od::value& v, std::optional<T>& out, level at) {
  if (at == level::nested && out) return ok;
  if constexpr (std::is_same_v<T, document_summary>) {
    return read_summary(v, out);
  } else {
    return json::read(v, out);
  }
}
error_code fill(od::value& v, std::string& out, level at) {
  return at == level::nested && !out.empty() ? ok : json::read(v, out);
}
error_code fill_raw(od::value& v, std::string& out, level at) {
  return at == level::nested && !out.empty() ? ok : json::read_raw(v, out);
}

// One function per event type: reads `v` into the member `id` names, if the type has one.
error_code read_member(document_completed& d, field id, od::value& v, level at) {
  switch (id) {
    case field::extraction_id: return fill(v, d.extraction_id, at);
    case field::document_id: return fill(v, d.document_id, at);
    case field::status: return fill(v, d.status, at);
    case field::parser_id: return fill(v, d.parser_id, at);
    case field::parser_name: return fill(v, d.parser_name, at);
    case field::filename: return fill(v, d.filename, at);
    case field::error_message: return fill(v, d.error_message, at);
    case field::created_at: return fill(v, d.created_at, at);
    case field::updated_at: return fill(v, d.updated_at, at);
    case field::page_count: return fill(v, d.page_count, at);
    case field::credits_used: return fill(v, d.credits_used, at);
    case field::processing_time_ms: return fill(v, d.processing_time_ms, at);
    case field::confidence: return fill(v, d.confidence, at);
    case field::extracted_data: return fill_raw(v, d.extracted_data, at);
    default: return ok;
  }
}

error_code read_member(job_completed& j, field id, od::value& v, level at) {
  switch (id) {
    case field::extraction_id: return fill(v, j.extraction_id, at);
    case field::status: return fill(v, j.status, at);
    case field::parser_id: return fill(v, j.parser_id, at);
    case field::completed_at: return fill(v, j.completed_at, at);
    case field::file_count: return fill(v, j.file_count, at);
    case field::page_count: return fill(v, j.page_count, at);
    case field::credits_used: return fill(v, j.credits_used, at);
    case field::document_summary: return fill(v, j.summary, at);
    case field::documents: return fill_raw(v, j.documents, at);
    default: return ok;
  }
}

// batch.* may name its extraction `batch_id` instead; `extraction_id` wins when both are sent.
error_code read_member(batch_finished& b, field id, od::value& v, level at) {
  switch (id) {
    case field::extraction_id: return fill(v, b.extraction_id, at);
    case field::batch_id: return fill(v, b.batch_id, at);
    case field::parser_id: return fill(v, b.parser_id, at);
    case field::parser_name: return fill(v, b.parser_name, at);
    case field::status: return fill(v, b.status, at);
    case field::completed_at: return fill(v, b.completed_at, at);
    case field::file_count: return fill(v, b.file_count, at);
    case field::document_summary: return fill(v, b.summary, at);
    default: return ok;
  }
}

// An event we do not model is never an error: ids of another type count as absent, so a future
// event of a different shape is still acknowledged and handed on.
error_code read_member(unknown_event& u, field id, od::value& v, level at) {
  error_code ec = ok;
  if (id == field::extraction_id) ec = fill(v, u.extraction_id, at);
  if (id == field::document_id) ec = fill(v, u.document_id, at);
  return json::is_type_error(ec) ? ok : ec;
}

// What one pass over an object level found besides the event's own fields.
struct pass_state {
  std::optional<bool> test;
  bool has_data = false;
  field failed = field::unknown;  // the field whose value could not be read
};

template <class T>
error_code read_level(od::object& obj, T& out, pass_state& st, level at) {
  for (auto member : obj) {
    std::string_view key;
    od::value v;
    if (error_code ec = json::key_of(member, key)) return ec;
    if (error_code ec = member.value().get(v)) return ec;
    const field id = lookup(key);
    error_code ec = ok;
    switch (id) {
      case field::data: st.has_data = st.has_data || at == level::top; break;
      case field::event:
      case field::type:
      case field::unknown: break;
      case field::test: ec = fill(v, st.test, at); break;
      default: ec = read_member(out, id, v, at);
    }
    if (ec) {
      st.failed = id;
      return ec;
    }
  }
  return ok;
}

// The event name: `event`, or `type` when there is no `event` (a `type` of the wrong type only
// matters then). Read with the same key handling as the fields; leaves `root` rewound.
result<std::string> read_name(od::object& root) {
  std::optional<std::string> event_name;
  std::optional<std::string> type_name;
  error_code type_error = ok;
  for (auto member : root) {
    std::string_view key;
    od::value v;
    if (error_code ec = json::key_of(member, key)) return json::document_error(ec);
    if (error_code ec = member.value().get(v)) return json::document_error(ec);
    const field id = lookup(key);
    if (id == field::event) {
      if (error_code ec = json::read(v, event_name)) return json::field_error(ec, spec::name_of(id));
      if (event_name) break;
    } else if (id == field::type && !type_name && type_error == ok) {
      type_error = json::read(v, type_name);
      if (type_error != ok && !json::is_type_error(type_error)) return json::document_error(type_error);
    }
  }
  bool rewound = false;
  if (error_code ec = root.reset().get(rewound)) return json::document_error(ec);
  if (event_name) return std::move(*event_name);
  if (type_error != ok) return json::field_error(type_error, spec::name_of(field::type));
  if (type_name) return std::move(*type_name);
  return error(errc::missing_field, std::string(spec::name_of(field::event)));
}

// Reads the fields of `T` from the top level, then from `data` for what is still missing. The
// document must end with the top-level object (checked before `data` is revisited).
template <class T>
status read_fields(od::document& doc, od::object& root, T& out, std::optional<bool>& test) {
  pass_state st;
  error_code ec = read_level(root, out, st, level::top);
  if (ec == ok && json::has_trailing_content(doc)) return error(errc::invalid_json, "content after the JSON object");
  if (ec == ok && st.has_data) {
    bool rewound = false;
    od::value data;
    od::object nested;
    if (!(ec = root.reset().get(rewound)) && !(ec = root.find_field_unordered(spec::name_of(field::data)).get(data)) &&
        data.get_object().get(nested) == ok) {
      ec = read_level(nested, out, st, level::nested);
    }
  }
  if (ec) {
    return st.failed == field::unknown ? json::document_error(ec) : json::field_error(ec, spec::name_of(st.failed));
  }
  test = st.test;
  return {};
}

status require(const std::string& value, field id) {
  if (value.empty()) return error(errc::missing_field, std::string(spec::name_of(id)));
  return {};
}

std::string make_key(std::string_view name, std::string_view first_id, std::string_view second_id = {}) {
  std::string key;
  key.reserve(spec::key_prefix.size() + name.size() + first_id.size() + second_id.size() + 2);
  key.append(spec::key_prefix).append(name).append(1, ':').append(first_id);
  if (!second_id.empty()) key.append(1, ':').append(second_id);
  return key;
}

// Reads an event of type T in place: its fields, then the required ones, then its key.
template <class T, class Check, class Key>
status build(event& ev, od::document& doc, od::object& root, std::string& name, std::string& raw, Check check,
             Key key_of) {
  T& typed = event_builder::start<T>(ev, provider::perfectparser);
  std::optional<bool> test;
  if (status st = read_fields(doc, root, typed, test); !st) return st;
  if (status st = check(typed); !st) return st;
  std::string key = key_of(name, typed);
  event_builder::finish(ev, std::move(name), std::move(key), test.value_or(false), std::move(raw));
  return {};
}

status parse_into(std::string_view body, event& ev) {
  std::string raw = json::padded_copy(body);
  od::document doc;
  if (error_code ec = json::iterate(raw, doc)) return json::document_error(ec);
  result<od::object> root = json::root_object(doc);
  if (!root) return root.error();
  result<std::string> name_read = read_name(*root);
  if (!name_read) return name_read.error();
  std::string& name = *name_read;

  status st;
  if (name == spec::document_completed) {
    st = build<document_completed>(
        ev, doc, *root, name, raw,
        [](const document_completed& d) -> status {
          if (status s = require(d.extraction_id, field::extraction_id); !s) return s;
          if (status s = require(d.document_id, field::document_id); !s) return s;
          return require(d.status, field::status);
        },
        [](std::string_view n, const document_completed& d) { return make_key(n, d.extraction_id, d.document_id); });
  } else if (name == spec::job_completed) {
    st = build<job_completed>(
        ev, doc, *root, name, raw,
        [](const job_completed& j) { return require(j.extraction_id, field::extraction_id); },
        [](std::string_view n, const job_completed& j) { return make_key(n, j.extraction_id); });
  } else if (name == spec::batch_completed || name == spec::batch_failed || name == spec::batch_partial) {
    const batch_outcome outcome = name == spec::batch_completed ? batch_outcome::completed
                                  : name == spec::batch_failed  ? batch_outcome::failed
                                                                : batch_outcome::partial;
    st = build<batch_finished>(
        ev, doc, *root, name, raw,
        [outcome](batch_finished& b) {
          b.outcome = outcome;
          if (b.extraction_id.empty() && b.batch_id) b.extraction_id = *b.batch_id;
          return require(b.extraction_id, field::extraction_id);
        },
        [](std::string_view n, const batch_finished& b) { return make_key(n, b.extraction_id); });
  } else {
    st = build<unknown_event>(
        ev, doc, *root, name, raw, [](const unknown_event&) { return status{}; },
        [body](std::string_view n, const unknown_event& u) {
          if (u.extraction_id && u.document_id) return make_key(n, *u.extraction_id, *u.document_id);
          if (u.extraction_id || u.document_id) return make_key(n, u.extraction_id ? *u.extraction_id : *u.document_id);
          return std::string(spec::body_hash_key_prefix) + sha256_hex(body);
        });
  }
  return st;
}

}  // namespace

result<event> parse_perfectparser(std::string_view body) {
  result<event> out(std::in_place);
  if (status st = parse_into(body, *out); !st) out = st.error();
  return out;  // one object on every path, so the event is never moved
}

}  // namespace hookrx::detail
