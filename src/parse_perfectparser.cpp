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
  if (error_code ec = v.get_object().get(obj)) {
    if (!json::is_null(v)) return ec;
    out.reset();
    return ok;
  }
  document_summary s;
  for (auto member : obj) {
    std::string_view key;
    if (error_code ec = json::key_of(member, key)) return ec;
    od::value& value = member.value_unsafe().value();  // key_of checked the member
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

// A member kept as its JSON text (`extracted_data`, `documents`) rather than as a string value.
struct json_text {
  std::string& text;
};

// Reading, emptying and testing a member, by the member's type. An empty required string counts
// as absent, as `require` does.
error_code read_value(od::value& v, std::string& m) { return json::read(v, m); }
error_code read_value(od::value& v, json_text m) { return json::read_raw(v, m.text); }
error_code read_value(od::value& v, std::optional<document_summary>& m) { return read_summary(v, m); }
template <class T>
error_code read_value(od::value& v, std::optional<T>& m) {
  return json::read(v, m);
}
void reset(std::string& m) noexcept { m.clear(); }
void reset(json_text m) noexcept { m.text.clear(); }
template <class T>
void reset(std::optional<T>& m) noexcept {
  m.reset();
}
bool present(const std::string& m) noexcept { return !m.empty(); }
bool present(json_text m) noexcept { return !m.text.empty(); }
template <class T>
bool present(const std::optional<T>& m) noexcept {
  return m.has_value();
}

// The member of each event type a field fills, in one place: `f(member)` is called for it, and ok
// returned for a field the type does not have. Reading a body and resetting the members it did
// not fill both go through here.
template <class F>
error_code with_member(document_completed& d, field id, F&& f) {
  switch (id) {
    case field::extraction_id: return f(d.extraction_id);
    case field::document_id: return f(d.document_id);
    case field::status: return f(d.status);
    case field::parser_id: return f(d.parser_id);
    case field::parser_name: return f(d.parser_name);
    case field::filename: return f(d.filename);
    case field::error_message: return f(d.error_message);
    case field::created_at: return f(d.created_at);
    case field::updated_at: return f(d.updated_at);
    case field::page_count: return f(d.page_count);
    case field::credits_used: return f(d.credits_used);
    case field::processing_time_ms: return f(d.processing_time_ms);
    case field::confidence: return f(d.confidence);
    case field::extracted_data: return f(json_text{d.extracted_data});
    default: return ok;
  }
}

template <class F>
error_code with_member(job_completed& j, field id, F&& f) {
  switch (id) {
    case field::extraction_id: return f(j.extraction_id);
    case field::status: return f(j.status);
    case field::parser_id: return f(j.parser_id);
    case field::completed_at: return f(j.completed_at);
    case field::file_count: return f(j.file_count);
    case field::page_count: return f(j.page_count);
    case field::credits_used: return f(j.credits_used);
    case field::document_summary: return f(j.summary);
    case field::documents: return f(json_text{j.documents});
    default: return ok;
  }
}

// batch.* may name its extraction `batch_id` instead; `extraction_id` wins when both are sent.
template <class F>
error_code with_member(batch_finished& b, field id, F&& f) {
  switch (id) {
    case field::extraction_id: return f(b.extraction_id);
    case field::batch_id: return f(b.batch_id);
    case field::parser_id: return f(b.parser_id);
    case field::parser_name: return f(b.parser_name);
    case field::status: return f(b.status);
    case field::completed_at: return f(b.completed_at);
    case field::file_count: return f(b.file_count);
    case field::document_summary: return f(b.summary);
    default: return ok;
  }
}

template <class F>
error_code with_member(unknown_event& u, field id, F&& f) {
  switch (id) {
    case field::extraction_id: return f(u.extraction_id);
    case field::document_id: return f(u.document_id);
    default: return ok;
  }
}

// The fields a parse has filled with a value: the pass over `data` skips them, and the members of
// a reused payload that stay unfilled are reset at the end.
class field_set {
 public:
  void set(field f, bool filled) noexcept { bits_ = filled ? bits_ | bit(f) : bits_ & ~bit(f); }
  [[nodiscard]] bool has(field f) const noexcept { return (bits_ & bit(f)) != 0; }

 private:
  static constexpr std::uint32_t bit(field f) noexcept { return std::uint32_t{1} << static_cast<unsigned>(f); }
  std::uint32_t bits_ = 0;
};
static_assert(static_cast<unsigned>(field::unknown) <= 32, "field_set has one bit per modelled field");

// What one pass over an object level found besides the event's own fields.
struct pass_state {
  std::optional<bool> test;
  bool has_data = false;
  field_set filled;
  field failed = field::unknown;  // the field whose value could not be read
};

// Reads `v` into `member` unless the top level already filled it.
template <class M>
error_code fill(od::value& v, M&& member, field id, pass_state& st, level at) {
  if (at == level::nested && st.filled.has(id)) return ok;
  const error_code ec = read_value(v, member);
  st.filled.set(id, ec == ok && present(member));
  return ec;
}

template <class T>
error_code read_member(T& out, field id, od::value& v, pass_state& st, level at) {
  return with_member(out, id, [&](auto&& member) {
    error_code ec = fill(v, member, id, st, at);
    if constexpr (std::is_same_v<T, unknown_event>) {
      // An event we do not model is never an error: ids of another type count as absent, so a
      // future event of a different shape is still acknowledged and handed on.
      if (json::is_type_error(ec)) {
        reset(member);
        ec = ok;
      }
    }
    return ec;
  });
}

// Resets the members of `out` that this parse did not fill: a reused payload keeps no value from
// the body it held before.
template <class T>
void reset_unfilled(T& out, const field_set& filled) {
  for (std::size_t i = 0; i < spec::field_names.size(); ++i) {
    const auto id = static_cast<field>(i);
    if (filled.has(id)) continue;
    static_cast<void>(with_member(out, id, [](auto&& member) {
      reset(member);
      return ok;
    }));
  }
}

template <class T>
error_code read_level(od::object& obj, T& out, pass_state& st, level at) {
  for (auto member : obj) {
    std::string_view key;
    if (error_code ec = json::key_of(member, key)) return ec;
    od::value& v = member.value_unsafe().value();  // key_of checked the member
    const field id = lookup(key);
    error_code ec = ok;
    switch (id) {
      case field::data: st.has_data = st.has_data || at == level::top; break;
      case field::event:
      case field::type:
      case field::unknown: break;
      case field::test: ec = fill(v, st.test, id, st, at); break;
      default: ec = read_member(out, id, v, st, at);
    }
    if (ec) {
      st.failed = id;
      return ec;
    }
  }
  return ok;
}

// The event name: `event`, or `type` when there is no `event` (a `type` of the wrong type only
// matters then). Read with the same key handling as the fields; leaves `root` rewound. The view
// lasts until the next string is read.
result<std::string_view> read_name(od::object& root) {
  std::optional<std::string_view> event_name;
  std::optional<std::string_view> type_name;
  error_code type_error = ok;
  for (auto member : root) {
    std::string_view key;
    if (error_code ec = json::key_of(member, key)) return json::document_error(ec);
    od::value& v = member.value_unsafe().value();  // key_of checked the member
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
  if (event_name) return *event_name;
  if (type_error != ok) return json::field_error(type_error, spec::name_of(field::type));
  if (type_name) return *type_name;
  return error(errc::missing_field, std::string(spec::name_of(field::event)));
}

// Reads the fields of `T` from the top level, then from `data` for what is still missing, and
// resets what neither had. The document must end with the top-level object (checked before `data`
// is revisited).
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
  reset_unfilled(out, st.filled);
  test = st.test;
  return {};
}

status require(const std::string& value, field id) {
  if (value.empty()) return error(errc::missing_field, std::string(spec::name_of(id)));
  return {};
}

void make_key(std::string& key, std::string_view name, std::string_view first_id, std::string_view second_id = {}) {
  key.clear();
  json::grow_to(key, spec::key_prefix.size() + name.size() + first_id.size() + second_id.size() + 2);
  key.append(spec::key_prefix).append(name).append(1, ':').append(first_id);
  if (!second_id.empty()) key.append(1, ':').append(second_id);
}

// Reads an event of type T in place: its fields, then the required ones, then its key.
template <class T, class Check, class Key>
status build(event& ev, od::document& doc, od::object& root, Check check, Key make_key_of) {
  T& typed = event_builder::reuse<T>(ev, provider::perfectparser);
  std::optional<bool> test;
  if (status st = read_fields(doc, root, typed, test); !st) return st;
  if (status st = check(typed); !st) return st;
  make_key_of(event_builder::key(ev), event_builder::name(ev), typed);
  event_builder::set_test(ev, test.value_or(false));
  return {};
}

}  // namespace

status parse_perfectparser(std::string_view body, event& into) {
  std::string& raw = event_builder::raw_json(into);
  json::copy_padded(body, raw);
  json::thread_parser parser;
  od::document doc;
  if (error_code ec = parser.iterate(raw, doc)) return json::document_error(ec);
  result<od::object> root = json::root_object(doc);
  if (!root) return root.error();
  result<std::string_view> name_read = read_name(*root);
  if (!name_read) return name_read.error();
  std::string& name = event_builder::name(into);
  name.assign(*name_read);

  if (name == spec::document_completed) {
    return build<document_completed>(
        into, doc, *root,
        [](const document_completed& d) -> status {
          if (status s = require(d.extraction_id, field::extraction_id); !s) return s;
          if (status s = require(d.document_id, field::document_id); !s) return s;
          return require(d.status, field::status);
        },
        [](std::string& key, std::string_view n, const document_completed& d) {
          make_key(key, n, d.extraction_id, d.document_id);
        });
  }
  if (name == spec::job_completed) {
    return build<job_completed>(
        into, doc, *root, [](const job_completed& j) { return require(j.extraction_id, field::extraction_id); },
        [](std::string& key, std::string_view n, const job_completed& j) { make_key(key, n, j.extraction_id); });
  }
  if (name == spec::batch_completed || name == spec::batch_failed || name == spec::batch_partial) {
    const batch_outcome outcome = name == spec::batch_completed ? batch_outcome::completed
                                  : name == spec::batch_failed  ? batch_outcome::failed
                                                                : batch_outcome::partial;
    return build<batch_finished>(
        into, doc, *root,
        [outcome](batch_finished& b) {
          b.outcome = outcome;
          if (b.extraction_id.empty() && b.batch_id) b.extraction_id = *b.batch_id;
          return require(b.extraction_id, field::extraction_id);
        },
        [](std::string& key, std::string_view n, const batch_finished& b) { make_key(key, n, b.extraction_id); });
  }
  return build<unknown_event>(
      into, doc, *root, [](const unknown_event&) { return status{}; },
      [body](std::string& key, std::string_view n, const unknown_event& u) {
        if (u.extraction_id && u.document_id) return make_key(key, n, *u.extraction_id, *u.document_id);
        if (u.extraction_id || u.document_id) {
          return make_key(key, n, u.extraction_id ? *u.extraction_id : *u.document_id);
        }
        key.assign(spec::body_hash_key_prefix).append(sha256_hex(body));
      });
}

}  // namespace hookrx::detail
