// Events from what the API returned, built as the webhook body the vendor would have sent and
// read by the same parser as a webhook: the key and the fields cannot drift from the webhook
// path's, and the inbox, which stores bodies and parses them again, sees an ordinary body.
#include <array>
#include <cstdio>
#include <string>

#include "hookrx/api.hpp"

namespace hookrx {
namespace {

api_error bad(std::string detail) { return api_error{api_errc::invalid_argument, 0, {}, std::move(detail), 0}; }

class json_object {
 public:
  json_object() : out_("{") {}
  json_object& str(std::string_view name, std::string_view value) {
    key(name);
    quote(value);
    return *this;
  }
  json_object& opt_str(std::string_view name, const std::optional<std::string>& value) {
    if (value) str(name, *value);
    return *this;
  }
  json_object& num(std::string_view name, std::int64_t value) { return raw(name, std::to_string(value)); }
  json_object& opt_num(std::string_view name, const std::optional<std::int64_t>& value) {
    if (value) raw(name, std::to_string(*value));
    return *this;
  }
  json_object& opt_num(std::string_view name, const std::optional<double>& value) {
    if (value) {
      std::array<char, 32> buf{};
      const int n = std::snprintf(buf.data(), buf.size(), "%.17g", *value);
      raw(name, std::string_view(buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0));
    }
    return *this;
  }
  json_object& raw(std::string_view name, std::string_view json) {
    if (json.empty()) return *this;
    key(name);
    out_ += json;
    return *this;
  }
  std::string done() && {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void key(std::string_view name) {
    if (out_.size() > 1) out_ += ',';
    quote(name);
    out_ += ':';
  }
  void quote(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out_ += '"';
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (u < 0x20) {
        out_ += "\\u00";
        out_ += hex[u >> 4];
        out_ += hex[u & 15];
      } else {
        out_ += c;
      }
    }
    out_ += '"';
  }
  std::string out_;
};

api_result<event> parsed(provider p, const std::string& body) {
  result<event> ev = parse_event(p, body);
  if (!ev) return bad("the rebuilt webhook body does not parse: " + ev.error().message());
  return std::move(*ev);
}

std::string summary_json(const std::vector<pp_extraction_document>& docs) {
  std::int64_t completed = 0;
  std::int64_t failed = 0;
  for (const auto& d : docs) {
    completed += d.status == "completed" ? 1 : 0;
    failed += d.status == "failed" ? 1 : 0;
  }
  const auto total = static_cast<std::int64_t>(docs.size());
  return std::move(json_object()
                       .num("total", total)
                       .num("completed", completed)
                       .num("failed", failed)
                       .num("processing", total - completed - failed))
      .done();
}

std::string documents_json(const std::vector<pp_extraction_document>& docs) {
  std::string out = "[";
  for (const auto& d : docs) {
    if (out.size() > 1) out += ',';
    out += std::move(json_object()
                         .str("document_id", d.document_id)
                         .str("status", d.status)
                         .opt_str("filename", d.filename)
                         .opt_num("page_count", d.page_count)
                         .opt_num("credits_used", d.credits_used)
                         .opt_str("error_message", d.error_message)
                         .opt_str("created_at", d.created_at)
                         .opt_str("updated_at", d.updated_at))
               .done();
  }
  return out + ']';
}

}  // namespace

bool is_terminal_status(std::string_view s) noexcept { return s == "completed" || s == "failed" || s == "partial"; }

api_result<event> to_event(const pp_document& doc) {
  if (doc.status != "completed" && doc.status != "failed") {
    return bad("document " + doc.document_id + " is " + doc.status + ", not completed or failed");
  }
  if (doc.extraction_id.empty() || doc.document_id.empty())
    return bad("document: extraction_id and document_id needed");
  const auto start = [&] {
    json_object body;
    body.str("event", "extraction.document_completed")
        .str("extraction_id", doc.extraction_id)
        .str("document_id", doc.document_id)
        .str("status", doc.status);
    return body;
  };
  if (!doc.raw_json.empty()) {
    // Every field the API sent, unknown ones included. The webhook parser is strict about the
    // types of the fields it models where the API parser left a mistyped one out; such a document
    // is rebuilt from its typed fields below rather than lost.
    json_object body = start();
    body.raw("data", doc.raw_json);
    if (auto ev = parsed(provider::perfectparser, std::move(body).done())) return ev;
  }
  json_object body = start();
  body.opt_str("parser_id", doc.parser_id)
      .opt_str("parser_name", doc.parser_name)
      .opt_str("filename", doc.filename)
      .opt_num("page_count", doc.page_count)
      .opt_num("credits_used", doc.credits_used)
      .opt_num("confidence", doc.confidence)
      .opt_num("processing_time_ms", doc.processing_time_ms)
      .raw("extracted_data", doc.extracted_data)
      .opt_str("error_message", doc.error_message)
      .opt_str("created_at", doc.created_at)
      .opt_str("updated_at", doc.updated_at);
  return parsed(provider::perfectparser, std::move(body).done());
}

api_result<event> to_event(const pp_extraction& ext) {
  if (!is_terminal_status(ext.status)) {
    return bad("extraction " + ext.extraction_id + " is " + ext.status + ", not completed, failed or partial");
  }
  const auto start = [&] {
    json_object body;
    body.str("event", "extraction.job_completed")
        .str("extraction_id", ext.extraction_id)
        .str("status", ext.status)
        .raw("document_summary", summary_json(ext.documents));
    return body;
  };
  if (!ext.raw_json.empty()) {
    json_object body = start();
    body.raw("data", ext.raw_json);  // as for documents: rebuilt from typed fields if this does not parse
    if (auto ev = parsed(provider::perfectparser, std::move(body).done())) return ev;
  }
  json_object body = start();
  body.opt_str("parser_id", ext.parser_id)
      .opt_num("file_count", ext.file_count)
      .opt_num("page_count", ext.page_count)
      .opt_num("credits_used", ext.credits_used)
      .opt_str("completed_at", ext.completed_at)
      .raw("documents", documents_json(ext.documents));
  return parsed(provider::perfectparser, std::move(body).done());
}

api_result<event> to_batch_event(const pp_extraction& ext) {
  if (!is_terminal_status(ext.status)) {
    return bad("extraction " + ext.extraction_id + " is " + ext.status + ", not completed, failed or partial");
  }
  json_object body;
  body.str("event", "batch." + ext.status)
      .str("extraction_id", ext.extraction_id)
      .str("status", ext.status)
      .opt_str("parser_id", ext.parser_id)
      .opt_str("parser_name", ext.parser_name)
      .opt_num("file_count", ext.file_count)
      .raw("document_summary", summary_json(ext.documents))
      .opt_str("completed_at", ext.completed_at);
  return parsed(provider::perfectparser, std::move(body).done());
}

api_result<event> to_event(const parashift_document& doc) {
  std::string_view topic;
  if (doc.status == "done") topic = "processing-finished";
  if (doc.status == "failed") topic = "processing-failed";
  if (topic.empty())
    return bad("parashift document " + doc.id + " is " + doc.status.value_or("without a status") +
               ", not done or failed");
  if (doc.id.empty() || !doc.updated_at) return bad("parashift document: id and attributes.updated_at needed");
  const auto build = [&](const std::string& attributes) {
    json_object body;
    body.str("id", doc.id)
        .str("type", doc.type.empty() ? std::string_view("documents") : std::string_view(doc.type))
        .raw("attributes", attributes)
        .str("topic", topic);
    return parsed(provider::parashift, std::move(body).done());
  };
  if (!doc.attributes_json.empty()) {
    if (auto ev = build(doc.attributes_json)) return ev;  // else rebuilt from the typed fields
  }
  json_object a;
  a.opt_str("status", doc.status)
      .opt_num("tenant_id", doc.tenant_id)
      .opt_str("sla_deadline", doc.sla_deadline)
      .opt_str("external_id", doc.external_id)
      .opt_str("created_at", doc.created_at)
      .opt_str("updated_at", doc.updated_at)
      .opt_num("document_id", doc.document_id);
  if (!doc.custom_fields.empty()) {
    json_object cf;
    for (const auto& [name, value] : doc.custom_fields) cf.str(name, value);
    a.raw("custom_fields", std::move(cf).done());
  }
  return build(std::move(a).done());
}

}  // namespace hookrx
