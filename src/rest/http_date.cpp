#include "rest/http_date.hpp"

#include <chrono>
#include <cstdio>

#ifndef LIAISON_BUILD_DATE
#error "LIAISON_BUILD_DATE is set by src/CMakeLists.txt"
#endif

namespace liaison::rest {
namespace {

// The digits at [at, at + n) of s as a number; -1 if any is not a digit.
int digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace

std::optional<std::string> httpDate(std::string_view s) {
  using namespace std::chrono;
  // YYYY-MM-DDThh:mm:ss[.f+](Z|±hh:mm)
  const int y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  const int h = digits(s, 11, 2), mi = digits(s, 14, 2), sec = digits(s, 17, 2);
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      y < 0 || mo < 0 || d < 0 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
    return std::nullopt;
  std::size_t at = 19;
  if (s[at] == '.') {
    ++at;
    const std::size_t first = at;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9')
      ++at;
    if (at == first) return std::nullopt;
  }
  int offset_minutes = 0;
  const std::string_view zone = s.substr(at);
  if (zone == "Z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const int zh = digits(zone, 1, 2), zm = digits(zone, 4, 2);
    if (zh < 0 || zh > 14 || zm < 0 || zm > 59) return std::nullopt;
    offset_minutes = (zone[0] == '-' ? -1 : 1) * (zh * 60 + zm);
  } else {
    return std::nullopt;
  }
  const year_month_day day{year{y}, month{static_cast<unsigned>(mo)},
                           std::chrono::day{static_cast<unsigned>(d)}};
  if (!day.ok()) return std::nullopt;
  const sys_seconds utc =
      sys_days{day} + hours{h} + minutes{mi} + seconds{sec} - minutes{offset_minutes};
  const sys_days utc_day = floor<days>(utc);
  const year_month_day ymd{utc_day};
  const hh_mm_ss<seconds> time{utc - utc_day};
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char out[40];
  std::snprintf(out, sizeof out, "%s, %02u %s %04d %02d:%02d:%02d GMT",
                kDays[weekday{utc_day}.c_encoding()], static_cast<unsigned>(ymd.day()),
                kMonths[static_cast<unsigned>(ymd.month()) - 1], static_cast<int>(ymd.year()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return std::string(out);
}

std::string_view buildDate() {
  return LIAISON_BUILD_DATE;
}

}  // namespace liaison::rest
