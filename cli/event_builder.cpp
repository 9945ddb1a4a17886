#include "event_builder.hpp"

#include <array>
#include <cstdint>
#include <ctime>
#include <random>

#include "wire_parashift.hpp"
#include "wire_perfectparser.hpp"

namespace hookrx::cli {
namespace {

namespace pp = wire::perfectparser;
namespace ps = wire::parashift;

using clock_type = std::chrono::system_clock;

constexpr std::array<std::string_view, 5> perfectparser_events = {
    pp::document_completed, pp::job_completed, pp::batch_completed, pp::batch_failed, pp::batch_partial};

// One generator per thread, seeded from the OS: ids only need to be distinct, not secret.
std::mt19937_64& generator() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen;
}

std::string pp_names_joined() {
  std::string out;
  for (std::string_view n : perfectparser_events) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// A JSON object written member by member; values are already-serialised JSON.
class object_writer {
 public:
  object_writer& raw(std::string_view name, std::string_view json) {
    out_ += out_.size() > 1 ? "," : "";
    out_ += json_string(name);
    out_ += ':';
    out_ += json;
    return *this;
  }
  object_writer& str(std::string_view name, std::string_view value) { return raw(name, json_string(value)); }
  object_writer& num(std::string_view name, std::int64_t value) { return raw(name, std::to_string(value)); }
  [[nodiscard]] std::string done() { return std::move(out_) + "}"; }

 private:
  std::string out_ = "{";
};

std::string summary_json(std::int64_t total, std::int64_t completed, std::int64_t failed) {
  return object_writer{}
      .num("total", total)
      .num("completed", completed)
      .num("failed", failed)
      .num("processing", total - completed - failed)
      .done();
}

struct pp_context {
  const event_spec& spec;
  std::string extraction_id;
  std::string document_id;
  std::string created_at;
  std::string updated_at;
};

constexpr std::string_view parser_id = "prs_7f3a9c21d4e8";
constexpr std::string_view parser_name = "Supplier invoices";
constexpr std::string_view filename = "invoice-2026-0042.pdf";

std::string extracted_data_json() {
  const std::string line = object_writer{}
                               .str("description", "Recycled paper A4, 500 sheets")
                               .num("quantity", 10)
                               .raw("unit_price", "25.05")
                               .raw("amount", "250.5")
                               .done();
  return object_writer{}
      .str("invoice_number", "INV-2026-0042")
      .str("invoice_date", "2026-06-18")
      .str("vendor_name", "Acme Supplies GmbH")
      .str("currency", "EUR")
      .raw("subtotal", "1050.84")
      .raw("tax", "199.66")
      .raw("total", "1250.5")
      .raw("line_items", "[" + line + "]")
      .done();
}

std::string document_completed_body(const pp_context& c) {
  object_writer w;
  w.str("event", c.spec.name)
      .str("extraction_id", c.extraction_id)
      .str("document_id", c.document_id)
      .str("status", "completed")
      .str("parser_id", parser_id)
      .str("parser_name", parser_name)
      .str("filename", filename)
      .num("page_count", 2)
      .num("credits_used", 2)
      .raw("confidence", "0.97")
      .num("processing_time_ms", 4210)
      .raw("extracted_data", extracted_data_json())
      .raw("error_message", "null")
      .str("created_at", c.created_at)
      .str("updated_at", c.updated_at);
  if (c.spec.test) w.raw("test", "true");
  return w.done();
}

std::string job_completed_body(const pp_context& c) {
  const std::string document = object_writer{}
                                   .str("document_id", c.document_id)
                                   .str("filename", filename)
                                   .str("status", "completed")
                                   .num("page_count", 2)
                                   .num("credits_used", 2)
                                   .raw("error_message", "null")
                                   .str("created_at", c.created_at)
                                   .str("updated_at", c.updated_at)
                                   .done();
  object_writer w;
  w.str("event", c.spec.name)
      .str("extraction_id", c.extraction_id)
      .str("status", "completed")
      .str("parser_id", parser_id)
      .num("file_count", 1)
      .num("page_count", 2)
      .num("credits_used", 2)
      .raw("document_summary", summary_json(1, 1, 0))
      .raw("documents", "[" + document + "]")
      .str("completed_at", c.updated_at);
  if (c.spec.test) w.raw("test", "true");
  return w.done();
}

std::string batch_body(const pp_context& c, std::string_view status, std::int64_t completed, std::int64_t failed) {
  object_writer w;
  w.str("event", c.spec.name)
      .str("extraction_id", c.extraction_id)
      .str("parser_id", parser_id)
      .str("parser_name", parser_name)
      .str("status", status)
      .num("file_count", 3)
      .raw("document_summary", summary_json(3, completed, failed))
      .str("completed_at", c.updated_at);
  if (c.spec.test) w.raw("test", "true");
  return w.done();
}

result<std::string> perfectparser_body(const event_spec& spec) {
  const clock_type::time_point at = spec.at == clock_type::time_point{} ? clock_type::now() : spec.at;
  pp_context c{spec, spec.extraction_id.empty() ? random_id("ext_", 24) : spec.extraction_id,
               spec.document_id.empty() ? random_id("doc_", 24) : spec.document_id,
               iso8601(at - std::chrono::seconds(45)), iso8601(at)};
  if (spec.name == pp::document_completed) return document_completed_body(c);
  if (spec.name == pp::job_completed) return job_completed_body(c);
  if (spec.name == pp::batch_completed) return batch_body(c, "completed", 3, 0);
  if (spec.name == pp::batch_failed) return batch_body(c, "failed", 0, 3);
  if (spec.name == pp::batch_partial) return batch_body(c, "partial", 2, 1);
  return error(errc::invalid_config,
               "--event: '" + spec.name + "' is not a PerfectParser event (one of " + pp_names_joined() + ")");
}

// The document status a Parashift topic reports: received documents are pending, finished ones
// done or failed, everything in between in progress.
std::string_view parashift_status(parashift_topic t) {
  switch (t) {
    case parashift_topic::document_received: return "pending";
    case parashift_topic::processing_finished: return "done";
    case parashift_topic::processing_failed: return "failed";
    default: return "in_progress";
  }
}

result<std::string> parashift_body(const event_spec& spec) {
  const parashift_topic topic = parse_parashift_topic(spec.name);
  if (topic == parashift_topic::unknown)
    return error(errc::invalid_config,
                 "--event: '" + spec.name + "' is not one of the 22 Parashift topics (see hookrx send --list)");
  std::string id = spec.document_id.empty() ? random_number(9) : spec.document_id;
  if (!all_digits(id) || id.size() > 18)
    return error(errc::invalid_config, "--document-id: a Parashift document id is a number (up to 18 digits)");
  const clock_type::time_point at = spec.at == clock_type::time_point{} ? clock_type::now() : spec.at;
  const std::string attributes = object_writer{}
                                     .str("status", parashift_status(topic))
                                     .num("tenant_id", 1385)
                                     .raw("sla_deadline", "null")
                                     .raw("custom_fields", object_writer{}.str("SomeCustomField", "free text").done())
                                     .str("external_id", "EX123456789")
                                     .str("created_at", iso8601(at - std::chrono::milliseconds(73)))
                                     .str("updated_at", iso8601(at))
                                     .raw("document_id", id)
                                     .done();
  object_writer w;
  w.str("id", id)
      .str("type", "documents")
      .raw("attributes", attributes)
      .str("request_id", random_id("", 32))
      .str("topic", spec.name);
  if (spec.test) w.raw("test", "true");
  return w.done();
}

}  // namespace

std::vector<std::string_view> event_names(provider source) {
  if (source == provider::perfectparser) return {perfectparser_events.begin(), perfectparser_events.end()};
  return {ps::topics.begin(), ps::topics.end()};
}

std::optional<provider> provider_of_event(std::string_view name) {
  for (std::string_view n : perfectparser_events)
    if (n == name) return provider::perfectparser;
  if (parse_parashift_topic(name) != parashift_topic::unknown) return provider::parashift;
  return std::nullopt;
}

result<std::string> build_event_body(const event_spec& spec) {
  return spec.source == provider::perfectparser ? perfectparser_body(spec) : parashift_body(spec);
}

std::string iso8601(clock_type::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const auto secs = static_cast<std::time_t>(ms / 1000);
  std::tm parts{};
  gmtime_r(&secs, &parts);
  std::array<char, 32> buf{};
  const std::size_t n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &parts);
  std::string out(buf.data(), n);
  const auto millis = static_cast<int>(ms % 1000);
  out += '.';
  out += static_cast<char>('0' + millis / 100);
  out += static_cast<char>('0' + millis / 10 % 10);
  out += static_cast<char>('0' + millis % 10);
  out += 'Z';
  return out;
}

std::string random_id(std::string_view prefix, std::size_t hex_digits) {
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string out(prefix);
  std::uniform_int_distribution<std::size_t> digit(0, 15);
  for (std::size_t i = 0; i < hex_digits; ++i) out += hex[digit(generator())];
  return out;
}

std::string random_number(std::size_t digits) {
  std::string out;
  std::uniform_int_distribution<int> first(1, 9);
  std::uniform_int_distribution<int> rest(0, 9);
  for (std::size_t i = 0; i < digits; ++i) out += static_cast<char>('0' + (i == 0 ? first : rest)(generator()));
  return out;
}

std::string json_string(std::string_view text) {
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4U];
          out += hex[c & 0xFU];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace hookrx::cli
