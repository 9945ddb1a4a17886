// The response parsers (parse_api.hpp). Each resource object whose JSON text is kept (raw_json)
// is cut out of the body by simdjson and read again from that copy with its own parser: On-Demand
// hands out an object's text only before its fields are read, and an API answer is small next to
// the round trip that brought it.
#include "parse_api.hpp"

#include <simdjson.h>

#include <string>
#include <utility>

#include "json.hpp"

namespace hookrx::detail::api {
namespace {

namespace od = simdjson::ondemand;
namespace json = hookrx::detail::json;
using simdjson::error_code;
constexpr error_code ok = simdjson::SUCCESS;

api_error unparsable(std::string detail) { return api_error{api_errc::unparsable, 0, {}, std::move(detail), 0}; }

api_error document_error(error_code ec, std::string_view where) {
  std::string d(where);
  d += ": ";
  d += simdjson::error_message(ec);
  return unparsable(std::move(d));
}

// The error for `ec` met at `field` of `where`.
api_error field_error(error_code ec, std::string_view where, std::string_view field) {
  if (json::is_type_error(ec))
    return unparsable(std::string(where) + ": field " + std::string(field) + " has the wrong type");
  return document_error(ec, where);
}

api_error missing(std::string_view where, std::string_view field) {
  return unparsable(std::string(where) + ": field " + std::string(field) + " is missing");
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  return s;
}

// One JSON text, copied with simdjson's padding and iterated.
class text_doc {
 public:
  error_code open(std::string_view text) {
    json::copy_padded(text, buf_);
    if (json::nests_too_deep(buf_)) return simdjson::DEPTH_ERROR;
    return parser_.iterate(buf_.data(), buf_.size(), buf_.capacity()).get(doc_);
  }
  error_code root(od::object& out) { return doc_.get_object().get(out); }
  [[nodiscard]] bool trailing() { return json::has_trailing_content(doc_); }
  [[nodiscard]] std::string_view text() const noexcept { return buf_; }

 private:
  std::string buf_;
  od::parser parser_;
  od::document doc_;
};

// An optional field: null and a wrong type leave it absent; only a broken document is an error.
template <class T>
error_code opt(od::value& v, std::optional<T>& out) {
  error_code ec = json::read(v, out);
  if (json::is_type_error(ec)) {
    out.reset();
    return ok;
  }
  return ec;
}

// An optional string that may also come as a number (ids): kept as its JSON text.
error_code opt_id(od::value& v, std::optional<std::string>& out) {
  error_code ec = json::read(v, out);
  if (!json::is_type_error(ec)) return ec;
  std::int64_t n = 0;
  if (v.get_int64().get(n) == ok) {
    out = std::to_string(n);
    return ok;
  }
  out.reset();
  return ok;
}

// The JSON text of an object or array value (empty for null); a wrong type leaves `out` empty.
error_code raw_text(od::value& v, std::string_view& out) {
  od::json_type type{};
  if (error_code ec = v.type().get(type)) return ec;
  out = {};
  if (type == od::json_type::object) {
    od::object o;
    if (error_code ec = v.get_object().get(o)) return ec;
    if (error_code ec = o.raw_json().get(out)) return ec;
  } else if (type == od::json_type::array) {
    od::array a;
    if (error_code ec = v.get_array().get(a)) return ec;
    if (error_code ec = a.raw_json().get(out)) return ec;
  }
  out = trim(out);
  return ok;
}

bool is_object_text(std::string_view s) noexcept { return !s.empty() && s.front() == '{'; }

// Iterates the members of `o`, calling f(key, value) -> error_code for each.
template <class F>
error_code each_member(od::object& o, F&& f) {
  for (auto member : o) {
    std::string_view key;
    if (error_code ec = json::key_of(member, key)) return ec;
    od::value& v = member.value_unsafe().value();  // key_of checked the member
    if (error_code ec = f(key, v)) return ec;
  }
  return ok;
}

// --- documents ---

struct failed_at {
  std::string_view field;
};

error_code read_document_member(std::string_view key, od::value& v, pp_document& d, failed_at& at) {
  error_code ec = ok;
  if (key == "document_id") {
    std::optional<std::string> id;
    ec = opt_id(v, id);
    d.document_id = id.value_or(std::string());
  } else if (key == "extraction_id") {
    std::optional<std::string> id;
    ec = opt_id(v, id);
    if (id) d.extraction_id = *id;
  } else if (key == "status") {
    ec = json::read(v, d.status);
  } else if (key == "parser_id") {
    ec = opt(v, d.parser_id);
  } else if (key == "parser_name") {
    ec = opt(v, d.parser_name);
  } else if (key == "filename") {
    ec = opt(v, d.filename);
  } else if (key == "file_type") {
    ec = opt(v, d.file_type);
  } else if (key == "file_size") {
    ec = opt(v, d.file_size);
  } else if (key == "page_count") {
    ec = opt(v, d.page_count);
  } else if (key == "credits_used") {
    ec = opt(v, d.credits_used);
  } else if (key == "confidence") {
    ec = opt(v, d.confidence);
  } else if (key == "processing_time_ms") {
    ec = opt(v, d.processing_time_ms);
  } else if (key == "extracted_data") {
    ec = json::read_raw(v, d.extracted_data);
  } else if (key == "error_message") {
    ec = opt(v, d.error_message);
  } else if (key == "created_at") {
    ec = opt(v, d.created_at);
  } else if (key == "updated_at") {
    ec = opt(v, d.updated_at);
  }
  if (ec) at.field = key;
  return ec;
}

api_result<pp_document> document_from_text(std::string_view text, std::string_view extraction_id) {
  constexpr std::string_view where = "document";
  text_doc doc;
  od::object o;
  if (error_code ec = doc.open(text)) return document_error(ec, where);
  if (error_code ec = doc.root(o)) return field_error(ec, where, "document");
  pp_document d;
  failed_at at;
  if (error_code ec =
          each_member(o, [&](std::string_view k, od::value& v) { return read_document_member(k, v, d, at); })) {
    return at.field.empty() ? document_error(ec, where) : field_error(ec, where, at.field);
  }
  if (d.document_id.empty()) return missing(where, "document_id");
  if (d.status.empty()) return missing(where, "status");
  if (d.extraction_id.empty()) d.extraction_id.assign(extraction_id);
  d.raw_json.assign(trim(text));
  return d;
}

// --- extractions ---

error_code read_extraction_document(od::value& item, pp_extraction_document& d, failed_at& at) {
  od::object o;
  if (error_code ec = item.get_object().get(o)) return ec;
  return each_member(o, [&](std::string_view key, od::value& v) {
    error_code ec = ok;
    if (key == "document_id") {
      std::optional<std::string> id;
      ec = opt_id(v, id);
      d.document_id = id.value_or(std::string());
    } else if (key == "status") {
      ec = json::read(v, d.status);
    } else if (key == "filename") {
      ec = opt(v, d.filename);
    } else if (key == "page_count") {
      ec = opt(v, d.page_count);
    } else if (key == "credits_used") {
      ec = opt(v, d.credits_used);
    } else if (key == "error_message") {
      ec = opt(v, d.error_message);
    } else if (key == "created_at") {
      ec = opt(v, d.created_at);
    } else if (key == "updated_at") {
      ec = opt(v, d.updated_at);
    }
    if (ec) at.field = key;
    return ec;
  });
}

error_code read_documents_list(od::value& v, std::vector<pp_extraction_document>& out, failed_at& at) {
  if (json::is_null(v)) return ok;
  od::array a;
  if (error_code ec = v.get_array().get(a)) {
    at.field = "documents";
    return ec;
  }
  for (auto item : a) {
    od::value iv;
    if (error_code ec = item.get(iv)) return ec;
    pp_extraction_document d;
    if (error_code ec = read_extraction_document(iv, d, at)) {
      if (at.field.empty()) at.field = "documents";
      return ec;
    }
    if (d.document_id.empty()) {
      at.field = "documents[].document_id";
      return simdjson::INCORRECT_TYPE;
    }
    out.push_back(std::move(d));
  }
  return ok;
}

error_code read_summary(od::value& v, std::optional<document_summary>& out) {
  od::object o;
  error_code ec = v.get_object().get(o);
  if (json::is_type_error(ec)) {
    out.reset();
    return ok;
  }
  if (ec) return ec;
  document_summary s;
  ec = each_member(o, [&](std::string_view key, od::value& f) {
    std::optional<std::int64_t> n;
    if (error_code e = opt(f, n)) return e;
    if (key == "total") s.total = n.value_or(0);
    if (key == "completed") s.completed = n.value_or(0);
    if (key == "failed") s.failed = n.value_or(0);
    if (key == "processing") s.processing = n.value_or(0);
    return ok;
  });
  if (ec == ok) out = s;
  return ec;
}

// The fields extractions, summaries and submissions share.
template <class T>
error_code read_extraction_common(std::string_view key, od::value& v, T& e, bool& handled) {
  handled = true;
  if (key == "extraction_id") {
    std::optional<std::string> id;
    error_code ec = opt_id(v, id);
    e.extraction_id = id.value_or(std::string());
    return ec;
  }
  if (key == "parser_id") return opt(v, e.parser_id);
  if (key == "file_count") return opt(v, e.file_count);
  if (key == "page_count") return opt(v, e.page_count);
  if (key == "credits_used") return opt(v, e.credits_used);
  if (key == "created_at") return opt(v, e.created_at);
  handled = false;
  return ok;
}

// The fields an extraction and an item of the extraction list share beyond those of a submission.
template <class T>
error_code read_extraction_state(std::string_view key, od::value& v, T& e, bool& handled) {
  handled = true;
  if (key == "status") return json::read(v, e.status);
  if (key == "parser_name") return opt(v, e.parser_name);
  if (key == "updated_at") return opt(v, e.updated_at);
  if (key == "completed_at") return opt(v, e.completed_at);
  handled = false;
  return ok;
}

api_result<pp_extraction> extraction_from_text(std::string_view text) {
  constexpr std::string_view where = "extraction";
  text_doc doc;
  od::object o;
  if (error_code ec = doc.open(text)) return document_error(ec, where);
  if (error_code ec = doc.root(o)) return field_error(ec, where, "extraction");
  pp_extraction e;
  failed_at at;
  error_code ec = each_member(o, [&](std::string_view key, od::value& v) {
    bool handled = false;
    error_code e2 = read_extraction_common(key, v, e, handled);
    if (!handled) e2 = read_extraction_state(key, v, e, handled);
    if (!handled && key == "documents") {
      e2 = read_documents_list(v, e.documents, at);
      if (e2) return e2;
    }
    if (e2 && at.field.empty()) at.field = key;
    return e2;
  });
  if (ec) return at.field.empty() ? document_error(ec, where) : field_error(ec, where, at.field);
  if (e.extraction_id.empty()) return missing(where, "extraction_id");
  if (e.status.empty()) return missing(where, "status");
  e.raw_json.assign(trim(text));
  return e;
}

api_result<pp_extraction_summary> summary_from_text(std::string_view text) {
  constexpr std::string_view where = "extractions[]";
  text_doc doc;
  od::object o;
  if (error_code ec = doc.open(text)) return document_error(ec, where);
  if (error_code ec = doc.root(o)) return field_error(ec, where, "extractions[]");
  pp_extraction_summary e;
  failed_at at;
  error_code ec = each_member(o, [&](std::string_view key, od::value& v) {
    bool handled = false;
    error_code e2 = read_extraction_common(key, v, e, handled);
    if (!handled) e2 = read_extraction_state(key, v, e, handled);
    if (!handled && key == "document_summary") e2 = read_summary(v, e.summary);
    if (e2) at.field = key;
    return e2;
  });
  if (ec) return at.field.empty() ? document_error(ec, where) : field_error(ec, where, at.field);
  if (e.extraction_id.empty()) return missing(where, "extraction_id");
  e.raw_json.assign(trim(text));
  return e;
}

// Finds the value of `name` in the root object of `doc`, as object text. Absent: `found` false.
error_code envelope_text(text_doc& doc, std::string_view name, std::string_view& out, bool& found) {
  od::object root;
  if (error_code ec = doc.root(root)) return ec;
  found = false;
  error_code ec = each_member(root, [&](std::string_view key, od::value& v) {
    if (key != name || found) return ok;
    found = true;
    return raw_text(v, out);
  });
  if (ec) return ec;
  if (doc.trailing()) return simdjson::TRAILING_CONTENT;
  return ok;
}

}  // namespace

api_result<pp_document> parse_document(std::string_view body, std::string_view extraction_id) {
  text_doc doc;
  if (error_code ec = doc.open(body)) return document_error(ec, "body");
  std::string_view inner;
  bool found = false;
  if (error_code ec = envelope_text(doc, "document", inner, found)) return field_error(ec, "body", "document");
  if (!found) return document_from_text(doc.text(), extraction_id);  // tolerated: no envelope
  if (!is_object_text(inner)) return unparsable("body: field document is not an object");
  return document_from_text(inner, extraction_id);
}

api_result<pp_extraction> parse_extraction(std::string_view body) {
  text_doc doc;
  if (error_code ec = doc.open(body)) return document_error(ec, "body");
  std::string_view inner;
  bool found = false;
  if (error_code ec = envelope_text(doc, "extraction", inner, found)) return field_error(ec, "body", "extraction");
  if (!found) return extraction_from_text(doc.text());
  if (!is_object_text(inner)) return unparsable("body: field extraction is not an object");
  return extraction_from_text(inner);
}

namespace {

// One level of a results body: ids, status, and documents under `documents` / `results` (arrays),
// or under `extraction` / `results` (objects, one level down).
error_code read_results_level(od::object& o, pp_results& r, std::string_view hint, int depth,
                              std::optional<api_error>& err) {
  return each_member(o, [&](std::string_view key, od::value& v) {
    if (key == "extraction_id") {
      std::optional<std::string> id;
      if (error_code ec = opt_id(v, id)) return ec;
      if (id && r.extraction_id.empty()) r.extraction_id = *id;
      return ok;
    }
    if (key == "status") {
      std::optional<std::string> s;
      if (error_code ec = opt(v, s)) return ec;
      if (s && !r.status) r.status = s;
      return ok;
    }
    if (key != "documents" && key != "results" && key != "extraction") return ok;
    od::json_type type{};
    if (error_code ec = v.type().get(type)) return ec;
    if (type == od::json_type::array && key != "extraction") {
      od::array a;
      if (error_code ec = v.get_array().get(a)) return ec;
      for (auto item : a) {
        od::value iv;
        if (error_code ec = item.get(iv)) return ec;
        std::string_view text;
        if (error_code ec = raw_text(iv, text)) return ec;
        if (!is_object_text(text)) {
          err = unparsable("results: a document is not an object");
          return simdjson::INCORRECT_TYPE;
        }
        auto d = document_from_text(text, hint.empty() ? std::string_view(r.extraction_id) : hint);
        if (!d) {
          err = d.error();
          return simdjson::INCORRECT_TYPE;
        }
        r.documents.push_back(std::move(*d));
      }
      return ok;
    }
    if (type == od::json_type::object && key != "documents" && depth < 2) {
      od::object inner;
      if (error_code ec = v.get_object().get(inner)) return ec;
      return read_results_level(inner, r, hint, depth + 1, err);
    }
    return ok;
  });
}

}  // namespace

api_result<pp_results> parse_results(std::string_view body, std::string_view extraction_id) {
  text_doc doc;
  if (error_code ec = doc.open(body)) return document_error(ec, "body");
  od::object root;
  if (error_code ec = doc.root(root)) return field_error(ec, "body", "results");
  pp_results r;
  std::optional<api_error> err;
  if (error_code ec = read_results_level(root, r, extraction_id, 0, err)) {
    if (err) return *err;
    return document_error(ec, "results");
  }
  if (doc.trailing()) return document_error(simdjson::TRAILING_CONTENT, "body");
  if (r.extraction_id.empty()) r.extraction_id.assign(extraction_id);
  for (pp_document& d : r.documents) {
    if (d.extraction_id.empty()) d.extraction_id = r.extraction_id;
  }
  r.raw_json.assign(trim(body));
  return r;
}

api_result<pp_extraction_page> parse_extraction_page(std::string_view body) {
  text_doc doc;
  if (error_code ec = doc.open(body)) return document_error(ec, "body");
  od::object root;
  if (error_code ec = doc.root(root)) return field_error(ec, "body", "extractions");
  pp_extraction_page page;
  bool have_list = false;
  std::optional<api_error> err;
  failed_at at;
  const auto read_pagination_member = [&](std::string_view key, od::value& v) {
    error_code ec = ok;
    if (key == "has_next_page") {
      std::optional<bool> b;
      ec = json::read(v, b);
      page.has_next_page = b.value_or(false);
    } else if (key == "next_cursor") {
      std::optional<std::string> c;
      ec = opt_id(v, c);
      page.next_cursor = c.value_or(std::string());
    } else if (key == "limit") {
      ec = opt(v, page.limit);
    }
    if (ec) at.field = key;
    return ec;
  };
  error_code ec = each_member(root, [&](std::string_view key, od::value& v) {
    if (key == "extractions") {
      od::array a;
      if (error_code e = v.get_array().get(a)) {
        at.field = "extractions";
        return e;
      }
      have_list = true;
      for (auto item : a) {
        od::value iv;
        if (error_code e = item.get(iv)) return e;
        std::string_view text;
        if (error_code e = raw_text(iv, text)) return e;
        if (!is_object_text(text)) {
          err = unparsable("extractions: an item is not an object");
          return simdjson::INCORRECT_TYPE;
        }
        auto s = summary_from_text(text);
        if (!s) {
          err = s.error();
          return simdjson::INCORRECT_TYPE;
        }
        page.extractions.push_back(std::move(*s));
      }
      return ok;
    }
    if (key == "pagination") {
      if (json::is_null(v)) return ok;
      od::object p;
      if (error_code e = v.get_object().get(p)) {
        at.field = "pagination";
        return e;
      }
      return each_member(p, read_pagination_member);
    }
    return read_pagination_member(key, v);  // tolerated at the top level too
  });
  if (ec) {
    if (err) return *err;
    return at.field.empty() ? document_error(ec, "body") : field_error(ec, "body", at.field);
  }
  if (doc.trailing()) return document_error(simdjson::TRAILING_CONTENT, "body");
  if (!have_list) return missing("body", "extractions");
  if (page.has_next_page && page.next_cursor.empty()) return missing("pagination", "next_cursor");
  if (!page.has_next_page) page.next_cursor.clear();
  return page;
}

api_result<pp_user> parse_user(std::string_view body) {
  text_doc doc;
  if (error_code ec = doc.open(body)) return document_error(ec, "body");
  od::object root;
  if (error_code ec = doc.root(root)) return field_error(ec, "body", "user");
  pp_user u;
  bool found = false;
  const auto member = [&](std::string_view key, od::value& v) {
    if (key == "user_id") return opt_id(v, u.user_id);
    if (key == "email") return opt(v, u.email);
    if (key == "name") return opt(v, u.name);
    if (key == "credits_available") return opt(v, u.credits_available);
    if (key == "key_name") return opt(v, u.key_name);
    if (key == "key_expires_at") return opt(v, u.key_expires_at);
    if (key == "member_since") return opt(v, u.member_since);
    return ok;
  };
  error_code ec = each_member(root, [&](std::string_view key, od::value& v) {
    if (key != "user") return ok;
    od::object o;
    if (error_code e = v.get_object().get(o)) return e;
    found = true;
    return each_member(o, member);
  });
  if (ec) return field_error(ec, "body", "user");
  if (doc.trailing()) return document_error(simdjson::TRAILING_CONTENT, "body");
  if (!found) return missing("body", "user");
  return u;
}

api_result<pp_submission> parse_submission(std::string_view body) {
  text_doc doc;
  if (error_code ec = doc.open(body)) return document_error(ec, "body");
  std::string_view inner;
  bool found = false;
  if (error_code ec = envelope_text(doc, "extraction", inner, found)) return field_error(ec, "body", "extraction");
  const std::string_view text = found ? inner : doc.text();
  if (!is_object_text(text)) return unparsable("body: field extraction is not an object");
  text_doc sub;
  od::object o;
  if (error_code ec = sub.open(text)) return document_error(ec, "extraction");
  if (error_code ec = sub.root(o)) return field_error(ec, "extraction", "extraction");
  pp_submission s;
  failed_at at;
  error_code ec = each_member(o, [&](std::string_view key, od::value& v) {
    bool handled = false;
    error_code e = read_extraction_common(key, v, s, handled);
    if (!handled) {
      if (key == "status") {
        e = opt(v, s.status);
      } else if (key == "documents") {
        e = read_documents_list(v, s.documents, at);
        if (e) return e;
      }
    }
    if (e && at.field.empty()) at.field = key;
    return e;
  });
  if (ec) return at.field.empty() ? document_error(ec, "extraction") : field_error(ec, "extraction", at.field);
  if (s.extraction_id.empty()) return missing("extraction", "extraction_id");
  s.raw_json.assign(trim(body));
  return s;
}

namespace {

std::optional<api_error> parashift_data(std::string_view text, parashift_document& d) {
  constexpr std::string_view where = "data";
  text_doc doc;
  od::object o;
  if (error_code ec = doc.open(text)) return document_error(ec, where);
  if (error_code ec = doc.root(o)) return field_error(ec, where, "data");
  failed_at at;
  std::string_view attributes;
  error_code ec = each_member(o, [&](std::string_view key, od::value& v) {
    error_code e = ok;
    if (key == "id") {
      std::optional<std::string> id;
      e = opt_id(v, id);
      d.id = id.value_or(std::string());
    } else if (key == "type") {
      std::optional<std::string> t;
      e = opt(v, t);
      d.type = t.value_or(std::string());
    } else if (key == "attributes") {
      e = raw_text(v, attributes);
    }
    if (e) at.field = key;
    return e;
  });
  if (ec) return at.field.empty() ? document_error(ec, where) : field_error(ec, where, at.field);
  if (d.id.empty()) return missing(where, "id");
  if (is_object_text(attributes)) {
    d.attributes_json.assign(attributes);
    text_doc adoc;
    od::object a;
    if (error_code e = adoc.open(attributes)) return document_error(e, "attributes");
    if (error_code e = adoc.root(a)) return document_error(e, "attributes");
    ec = each_member(a, [&](std::string_view key, od::value& v) {
      error_code e = ok;
      if (key == "status") {
        e = opt(v, d.status);
      } else if (key == "document_id") {
        e = opt(v, d.document_id);
      } else if (key == "tenant_id") {
        e = opt(v, d.tenant_id);
      } else if (key == "sla_deadline") {
        e = opt(v, d.sla_deadline);
      } else if (key == "external_id") {
        e = opt(v, d.external_id);
      } else if (key == "created_at") {
        e = opt(v, d.created_at);
      } else if (key == "updated_at") {
        e = opt(v, d.updated_at);
      } else if (key == "custom_fields") {
        od::object cf;
        if (v.get_object().get(cf) != ok) return ok;  // null or another type: none
        e = each_member(cf, [&](std::string_view name, od::value& fv) {
          std::optional<std::string> s;
          if (error_code e3 = opt(fv, s)) return e3;
          if (s) d.custom_fields.emplace_back(std::string(name), std::move(*s));
          return ok;
        });
      }
      if (e) at.field = key;
      return e;
    });
    if (ec) return at.field.empty() ? document_error(ec, "attributes") : field_error(ec, "attributes", at.field);
  }
  return std::nullopt;
}

}  // namespace

api_result<parashift_document> parse_parashift_document(std::string_view body) {
  text_doc doc;
  if (error_code ec = doc.open(body)) return document_error(ec, "body");
  od::object root;
  if (error_code ec = doc.root(root)) return field_error(ec, "body", "data");
  std::string_view data;
  std::string_view included;
  bool found = false;
  error_code ec = each_member(root, [&](std::string_view key, od::value& v) {
    if (key == "data" && !found) {
      found = true;
      return raw_text(v, data);
    }
    if (key == "included") return raw_text(v, included);
    return ok;
  });
  if (ec) return field_error(ec, "body", "data");
  if (doc.trailing()) return document_error(simdjson::TRAILING_CONTENT, "body");
  if (!found) return missing("body", "data");
  if (!is_object_text(data)) return unparsable("body: field data is not an object");
  parashift_document d;
  if (std::optional<api_error> err = parashift_data(data, d)) return std::move(*err);
  d.included_json.assign(included);
  d.raw_json.assign(trim(body));
  return d;
}

error_body parse_error_body(std::string_view body) noexcept {
  error_body out;
  try {
    text_doc doc;
    od::object root;
    if (doc.open(body) != ok || doc.root(root) != ok) return out;
    const auto read_level = [&](od::object& o, auto& self, int depth) -> error_code {
      return each_member(o, [&](std::string_view key, od::value& v) {
        std::optional<std::string> s;
        if (key == "code" && out.code.empty()) {
          if (opt_id(v, s) == ok && s) out.code = *s;
        } else if ((key == "message" || key == "detail") && out.message.empty()) {
          if (opt(v, s) == ok && s) out.message = *s;
        } else if (key == "error" && depth == 0) {
          od::object inner;
          if (v.get_object().get(inner) == ok) return self(inner, self, depth + 1);
          if (opt(v, s) == ok && s && out.message.empty()) out.message = *s;
        }
        return ok;
      });
    };
    (void)read_level(root, read_level, 0);
  } catch (...) {  // allocation failure only: an error body is best effort
  }
  return out;
}

}  // namespace hookrx::detail::api
