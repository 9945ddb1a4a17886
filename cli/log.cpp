// Structured logs: one JSON object per line, one write(2) per line.
#include "log.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace hookrx::cli {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t clean = 0;  // start of the run of characters that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u != '"' && u != '\\') continue;
    out.append(s.data() + clean, i - clean);
    clean = i + 1;
    switch (u) {
      case '"': out += R"(\")"; break;
      case '\\': out += R"(\\)"; break;
      case '\n': out += R"(\n)"; break;
      case '\r': out += R"(\r)"; break;
      case '\t': out += R"(\t)"; break;
      default:
        out += "\\u00";
        out.push_back(hex[u >> 4U]);
        out.push_back(hex[u & 0xFU]);
    }
  }
  out.append(s.data() + clean, s.size() - clean);
  out.push_back('"');
}

void append_minified_json(std::string& out, std::string_view json) {
  // JSON strings cannot hold a raw line break, so a body without one is a single line already:
  // copied as it is (the usual case, and memchr finds that out fast).
  if (std::memchr(json.data(), '\n', json.size()) == nullptr &&
      std::memchr(json.data(), '\r', json.size()) == nullptr) {
    out.append(json);
    return;
  }
  // Otherwise whitespace between tokens goes, copying runs rather than bytes.
  const char* p = json.data();
  const char* const end = p + json.size();
  const auto keep = [&out](const char* from, const char* to) { out.append(from, static_cast<std::size_t>(to - from)); };
  while (p < end) {
    const char* run = p;
    while (p < end && *p != '"' && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') ++p;
    keep(run, p);
    if (p == end) break;
    if (*p != '"') {
      ++p;
      continue;
    }
    run = p++;  // a string, kept whole through its closing quote (escaped quotes included)
    while (p < end && *p != '"') p += (*p == '\\' && p + 1 < end) ? 2 : 1;
    if (p < end) ++p;
    keep(run, p);
  }
}

void logger::write(level l, std::string_view msg, std::initializer_list<field> fields) const {
  if (!enabled(l)) return;
  static constexpr std::string_view names[] = {"debug", "info", "warn", "error"};
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[96];
  (void)std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line = R"({"ts":")";
  line += ts;
  line += R"(","level":")";
  line += names[static_cast<int>(l)];
  line += R"(","msg":)";
  append_json_string(line, msg);
  for (const field& f : fields) {
    line.push_back(',');
    append_json_string(line, f.name);
    line.push_back(':');
    if (const auto* s = std::get_if<std::string_view>(&f.v)) {
      append_json_string(line, *s);
    } else if (const auto* i = std::get_if<std::int64_t>(&f.v)) {
      line += std::to_string(*i);
    } else if (const auto* d = std::get_if<double>(&f.v)) {
      char buf[32];
      (void)std::snprintf(buf, sizeof buf, "%.6g", *d);
      line += buf;
    } else {
      line += std::get<bool>(f.v) ? "true" : "false";
    }
  }
  line += "}\n";
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stderr gone: nothing sensible left to do with a log line
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace hookrx::cli
