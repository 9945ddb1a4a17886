// ISO-8601 and HTTP dates, by arithmetic (no locale, no TZ, no gmtime/timegm state).
#include <array>
#include <cstdio>
#include <string>

#include "hookrx/api.hpp"

namespace hookrx {
namespace {

using std::chrono::duration_cast;
using days = std::chrono::duration<std::int64_t, std::ratio<86400>>;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct civil {
  std::int64_t y;
  unsigned m;
  unsigned d;
};
constexpr civil civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2 ? 1 : 0), m, d};
}

constexpr bool leap(std::int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  constexpr std::array<unsigned, 12> n = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : n[m - 1];
}

// Reads exactly `width` digits at `pos`.
bool digits(std::string_view s, std::size_t& pos, std::size_t width, unsigned& out) noexcept {
  if (pos + width > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  pos += width;
  out = v;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) noexcept {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

std::optional<time_point> make_time(std::int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned sec,
                                    std::chrono::nanoseconds frac) noexcept {
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  const std::int64_t day = days_from_civil(y, mo, d);
  const std::chrono::seconds s(day * 86400 + static_cast<std::int64_t>(h) * 3600 + static_cast<std::int64_t>(mi) * 60 +
                               static_cast<std::int64_t>(sec));
  return time_point(duration_cast<time_point::duration>(s + frac));
}

}  // namespace

std::string to_iso8601(time_point t) {
  const auto ms_total = duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::int64_t day = ms_total / 86400000;
  std::int64_t ms_of_day = ms_total % 86400000;
  if (ms_of_day < 0) {
    ms_of_day += 86400000;
    --day;
  }
  const civil c = civil_from_days(day);
  const auto secs = ms_of_day / 1000;
  std::array<char, 40> buf{};
  const int n = std::snprintf(buf.data(), buf.size(), "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                              static_cast<long long>(c.y), c.m, c.d, static_cast<long long>(secs / 3600),
                              static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60),
                              static_cast<long long>(ms_of_day % 1000));
  return {buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0};
}

std::optional<time_point> parse_iso8601(std::string_view s) noexcept {
  std::size_t pos = 0;
  unsigned y = 0;
  unsigned mo = 0;
  unsigned d = 0;
  unsigned h = 0;
  unsigned mi = 0;
  unsigned sec = 0;
  if (!digits(s, pos, 4, y) || !expect(s, pos, '-') || !digits(s, pos, 2, mo) || !expect(s, pos, '-') ||
      !digits(s, pos, 2, d)) {
    return std::nullopt;
  }
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ')) return std::nullopt;
  ++pos;
  if (!digits(s, pos, 2, h) || !expect(s, pos, ':') || !digits(s, pos, 2, mi) || !expect(s, pos, ':') ||
      !digits(s, pos, 2, sec)) {
    return std::nullopt;
  }
  std::chrono::nanoseconds frac{0};
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    ++pos;
    std::int64_t scale = 100000000;
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac += std::chrono::nanoseconds(static_cast<std::int64_t>(s[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  std::chrono::seconds offset{0};
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const bool minus = s[pos] == '-';
    ++pos;
    unsigned oh = 0;
    unsigned om = 0;
    if (!digits(s, pos, 2, oh)) return std::nullopt;
    if (pos < s.size() && s[pos] == ':') ++pos;
    if (!digits(s, pos, 2, om) || oh > 23 || om > 59) return std::nullopt;
    offset = std::chrono::seconds(static_cast<std::int64_t>(oh) * 3600 + static_cast<std::int64_t>(om) * 60);
    if (minus) offset = -offset;
  } else {
    return std::nullopt;  // a time without a zone is ambiguous
  }
  if (pos != s.size()) return std::nullopt;
  auto t = make_time(y, mo, d, h, mi, sec, frac);
  if (!t) return std::nullopt;
  return *t - offset;
}

std::optional<time_point> parse_http_date(std::string_view s) noexcept {
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s.substr(25) != " GMT") return std::nullopt;
  static constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::size_t pos = 5;
  unsigned d = 0;
  unsigned y = 0;
  unsigned h = 0;
  unsigned mi = 0;
  unsigned sec = 0;
  if (!digits(s, pos, 2, d) || !expect(s, pos, ' ')) return std::nullopt;
  unsigned mo = 0;
  for (unsigned i = 0; i < months.size(); ++i) {
    if (s.substr(pos, 3) == months[i]) mo = i + 1;
  }
  if (mo == 0) return std::nullopt;
  pos += 3;
  if (!expect(s, pos, ' ') || !digits(s, pos, 4, y) || !expect(s, pos, ' ') || !digits(s, pos, 2, h) ||
      !expect(s, pos, ':') || !digits(s, pos, 2, mi) || !expect(s, pos, ':') || !digits(s, pos, 2, sec)) {
    return std::nullopt;
  }
  return make_time(y, mo, d, h, mi, sec, std::chrono::nanoseconds(0));
}

}  // namespace hookrx
