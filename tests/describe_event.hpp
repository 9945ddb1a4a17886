// tests/describe_event.hpp: every member of an event written out as text, so that two events
// compare equal only when a handler could not tell them apart. Used by the event-reuse tests and
// the parser fuzzers (a reused event must parse exactly like a fresh one).
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "hookrx/events.hpp"

namespace hookrx_test {

// Every member of every payload, written out, so that two events compare equal only when a
// handler could not tell them apart.
class describer {
 public:
  template <class T>
  describer& operator()(const char* name, const T& value) {
    out_ << name << '=';
    put(value);
    out_ << '\n';
    return *this;
  }
  [[nodiscard]] std::string str() const { return out_.str(); }

 private:
  template <class T>
  void put(const std::optional<T>& v) {
    if (v) {
      put(*v);
    } else {
      out_ << "(absent)";
    }
  }
  void put(const std::string& s) { out_ << '"' << s << '"'; }
  void put(const hookrx::document_summary& s) {
    out_ << '{' << s.total << ',' << s.completed << ',' << s.failed << ',' << s.processing << '}';
  }
  void put(const std::vector<std::pair<std::string, std::string>>& fields) {
    for (const auto& [k, v] : fields) out_ << '[' << k << ':' << v << ']';
  }
  template <class T>
  void put(const T& v) {
    static_assert(std::is_arithmetic_v<T> || std::is_enum_v<T>, "teach describer this member type");
    if constexpr (std::is_enum_v<T>) {
      out_ << static_cast<int>(v);
    } else {
      out_ << v;
    }
  }
  std::ostringstream out_;
};

inline std::string describe(const hookrx::event& ev) {
  describer d;
  d("source", ev.source())("name", std::string(ev.name()))("key", std::string(ev.key()))("test", ev.is_test())(
      "raw_json", std::string(ev.raw_json()))("payload", ev.data().index());
  std::visit(
      [&d](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, hookrx::document_completed>) {
          d("extraction_id", p.extraction_id)("document_id", p.document_id)("status", p.status)(
              "parser_id", p.parser_id)("parser_name", p.parser_name)("filename", p.filename)(
              "error_message", p.error_message)("created_at", p.created_at)("updated_at", p.updated_at)(
              "page_count", p.page_count)("credits_used", p.credits_used)("processing_time_ms", p.processing_time_ms)(
              "confidence", p.confidence)("extracted_data", p.extracted_data);
        } else if constexpr (std::is_same_v<T, hookrx::job_completed>) {
          d("extraction_id", p.extraction_id)("status", p.status)("parser_id", p.parser_id)(
              "completed_at", p.completed_at)("file_count", p.file_count)("page_count", p.page_count)(
              "credits_used", p.credits_used)("summary", p.summary)("documents", p.documents);
        } else if constexpr (std::is_same_v<T, hookrx::batch_finished>) {
          d("outcome", p.outcome)("extraction_id", p.extraction_id)("batch_id", p.batch_id)("parser_id", p.parser_id)(
              "parser_name", p.parser_name)("status", p.status)("completed_at", p.completed_at)(
              "file_count", p.file_count)("summary", p.summary);
        } else if constexpr (std::is_same_v<T, hookrx::document_event>) {
          d("topic", p.topic)("topic_name", p.topic_name)("id", p.id)("type", p.type)("request_id", p.request_id)(
              "document_id", p.document_id)("tenant_id", p.tenant_id)("status", p.status)(
              "sla_deadline", p.sla_deadline)("external_id", p.external_id)("created_at", p.created_at)(
              "updated_at", p.updated_at)("custom_fields", p.custom_fields);
        } else {
          static_assert(std::is_same_v<T, hookrx::unknown_event>, "describe() covers every event type");
          d("extraction_id", p.extraction_id)("document_id", p.document_id);
        }
      },
      ev.data());
  return d.str();
}

/// describe() for a parse outcome: the event, or the error's code and message.
inline std::string describe(const hookrx::status& st, const hookrx::event& ev) {
  return st ? describe(ev) : "error " + std::string(hookrx::to_string(st.error().code())) + ": " + st.error().message();
}
inline std::string describe(const hookrx::result<hookrx::event>& ev) {
  return ev ? describe(*ev)
            : "error " + std::string(hookrx::to_string(ev.error().code())) + ": " + ev.error().message();
}

}  // namespace hookrx_test
