#include "parse/form/value_parser.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace liaison::parse {
namespace {

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::optional<int> digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (!isDigit(c)) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Latin-1 supplement (U+00C0..U+00FF) folded to lower-case ASCII.
constexpr std::array<const char*, 64> kLatin1Fold = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",   // C0-CF
    "d", "n", "o", "o", "o", "o", "o",  " ", "o", "u", "u", "u", "u", "y", "th", "ss",  // D0-DF
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",   // E0-EF
    "d", "n", "o", "o", "o", "o", "o",  " ", "o", "u", "u", "u", "u", "y", "th", "y",   // F0-FF
};

}  // namespace

bool isValidDate(int year, int month, int day) {
  if (year < 1800 || year > 2200 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int max = kDays[month - 1];
  if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) max = 29;
  return day <= max;
}

std::optional<form::Date> parseFhirDate(std::string_view s) {
  if (s.size() < 4) return std::nullopt;
  auto year = digits(s.substr(0, 4));
  if (!year) return std::nullopt;
  if (s.size() == 4) return form::Date{*year, 0, 0};
  if (s.size() < 7 || s[4] != '-') return std::nullopt;
  auto month = digits(s.substr(5, 2));
  if (!month || *month < 1 || *month > 12) return std::nullopt;
  if (s.size() == 7) return form::Date{*year, *month, 0};
  if (s.size() < 10 || s[7] != '-') return std::nullopt;
  auto day = digits(s.substr(8, 2));
  if (!day || !isValidDate(*year, *month, *day)) return std::nullopt;
  if (s.size() > 10 && s[10] != 'T') return std::nullopt;
  return form::Date{*year, *month, *day};
}

std::optional<form::Date> parseHumanDate(std::string_view s) {
  s = trim(s);
  if (s.size() == 10 && s[4] == '-' && s[7] == '-') return parseFhirDate(s);
  // d/m/yyyy with '/', '-', '.' or ' ' as separator, day and month on 1 or 2 digits.
  std::array<std::string_view, 3> parts;
  std::size_t n = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '/' || s[i] == '-' || s[i] == '.' || s[i] == ' ') {
      if (n == 3) return std::nullopt;
      parts[n++] = s.substr(start, i - start);
      start = i + 1;
    }
  }
  if (n != 3 || parts[0].size() > 2 || parts[1].size() > 2 || parts[2].size() != 4)
    return std::nullopt;
  auto day = digits(parts[0]);
  auto month = digits(parts[1]);
  auto year = digits(parts[2]);
  if (!day || !month || !year || !isValidDate(*year, *month, *day)) return std::nullopt;
  return form::Date{*year, *month, *day};
}

std::optional<double> parseHumanDecimal(std::string_view s, std::string* unit) {
  s = trim(s);
  std::string number;
  std::size_t i = 0;
  bool seen_digit = false;
  bool seen_sep = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (isDigit(c)) {
      number += c;
      seen_digit = true;
    } else if ((c == ',' || c == '.') && !seen_sep && seen_digit) {
      number += '.';
      seen_sep = true;
    } else {
      break;
    }
  }
  if (!seen_digit) return std::nullopt;
  std::string_view rest = trim(s.substr(i));
  for (char c : rest) {
    if (isDigit(c)) return std::nullopt;  // "72 à 75": not one number
  }
  if (unit != nullptr) *unit = normalizeLabel(rest);
  double v = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
  if (ec != std::errc() || ptr != number.data() + number.size()) return std::nullopt;
  return v;
}

std::optional<long long> parseHumanInteger(std::string_view s) {
  s = trim(s);
  std::size_t i = 0;
  long long v = 0;
  for (; i < s.size() && isDigit(s[i]); ++i) {
    if (v > 1'000'000'000'000LL) return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  if (i == 0) return std::nullopt;
  for (char c : s.substr(i)) {
    if (isDigit(c)) return std::nullopt;
  }
  return v;
}

namespace {

// Calls put(piece, i) with each character's folded form (lower-case ASCII; " " for what
// separates words) and the byte index where the character starts.
template <class Put>
void foldCharacters(std::string_view s, Put&& put) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    const std::size_t at = i;
    if (c < 0x80) {
      if (c >= 'A' && c <= 'Z') {
        char lower = static_cast<char>(c - 'A' + 'a');
        put(std::string_view(&lower, 1), at);
      } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        put(std::string_view(&s[i], 1), at);
      } else {
        put(" ", at);
      }
    } else if (c == 0xC3 && i + 1 < s.size()) {
      auto next = static_cast<unsigned char>(s[i + 1]);
      if (next >= 0x80 && next <= 0xBF) put(kLatin1Fold[(next - 0x80) % 64], at);
      ++i;
    } else if (c == 0xC5 && i + 1 < s.size() && (s[i + 1] == '\x92' || s[i + 1] == '\x93')) {
      put("oe", at);
      ++i;
    } else {
      // Other non-ASCII characters (quotes, degree sign, no-break spaces…) separate words.
      std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      i += len - 1;
      put(" ", at);
    }
  }
}

}  // namespace

std::string normalizeLabel(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  foldCharacters(s, [&](std::string_view piece, std::size_t) {
    for (char c : piece) {
      if (c == ' ') {
        pending_space = !out.empty();
      } else {
        if (pending_space) out += ' ';
        pending_space = false;
        out += c;
      }
    }
  });
  return out;
}

std::string compactKeyWithOffsets(std::string_view s, std::vector<std::uint32_t>& offsets) {
  std::string key;
  key.reserve(s.size());
  offsets.assign(s.size() + 1, 0);
  std::size_t next = 0;  // first byte whose offset is not yet set
  foldCharacters(s, [&](std::string_view piece, std::size_t at) {
    for (; next <= at; ++next)
      offsets[next] = static_cast<std::uint32_t>(key.size());
    for (char c : piece) {
      if (c != ' ') key += c;
    }
  });
  for (; next <= s.size(); ++next)
    offsets[next] = static_cast<std::uint32_t>(key.size());
  return key;
}

std::optional<bool> parseHumanBoolean(std::string_view s) {
  std::string n = normalizeLabel(s);
  static constexpr std::array<std::string_view, 11> kTrue = {
      "oui", "o", "yes", "y", "x", "vrai", "true", "1", "fourni", "fournie", "joint"};
  static constexpr std::array<std::string_view, 11> kFalse = {
      "non",        "n",           "no",     "faux",  "false",    "0",
      "non fourni", "non fournie", "absent", "aucun", "non joint"};
  for (auto t : kTrue) {
    if (n == t) return true;
  }
  for (auto f : kFalse) {
    if (n == f) return false;
  }
  return std::nullopt;
}

std::vector<std::string> optionLabels(const form::Item& item, std::size_t option) {
  std::vector<std::string> labels;
  auto add = [&](std::string label) {
    if (!label.empty() && std::find(labels.begin(), labels.end(), label) == labels.end()) {
      labels.push_back(std::move(label));
    }
  };
  const form::Coding& coding = item.options[option];
  std::string d = normalizeLabel(coding.display);
  add(d);
  add(normalizeLabel(coding.code));
  if (option < item.option_aliases.size()) {
    for (const std::string& alias : item.option_aliases[option])
      add(normalizeAnswer(alias));
  }
  // Inclusive job titles: "Infirmier(e)" also answers "Infirmier" and "Infirmière",
  // "Pharmacien(ne)" also "Pharmacien" and "Pharmacienne".
  for (std::string_view suffix : {" e", " ne"}) {
    for (std::size_t at = d.find(suffix); at != std::string::npos; at = d.find(suffix, at + 1)) {
      std::size_t end = at + suffix.size();
      if (end != d.size() && d[end] != ' ') continue;
      // Built by append: GCC 12 reports a false -Wrestrict on chained operator+ at -O3.
      std::string masculine(d, 0, at);
      masculine.append(d, end, std::string::npos);
      std::string feminine(d, 0, at);
      feminine.append(suffix.substr(1)).append(d, end, std::string::npos);
      add(std::move(masculine));
      add(std::move(feminine));
    }
  }
  return labels;
}

std::string normalizeAnswer(std::string_view text) {
  std::string n = normalizeLabel(text);
  // "?" (or "??") means "unknown"; normalising would leave nothing of it.
  if (n.empty() && text.find('?') != std::string_view::npos) n.push_back('?');
  return n;
}

std::string compactKey(std::string_view normalized) {
  std::string out;
  out.reserve(normalized.size());
  for (char c : normalized) {
    if (c != ' ') out += c;
  }
  return out;
}

std::string withoutParentheses(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  int depth = 0;
  for (char c : s) {
    if (c == '(') {
      ++depth;
      out += ' ';
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      out += c;
    }
  }
  return out;
}

std::optional<form::Coding> matchOption(const form::Item& item, std::string_view text) {
  std::string key = compactKey(normalizeAnswer(text));
  if (key.empty()) return std::nullopt;
  for (std::size_t o = 0; o < item.options.size(); ++o) {
    for (const std::string& label : optionLabels(item, o)) {
      if (compactKey(label) == key) return item.options[o];
    }
  }
  // A display that starts with the text ("Type 2" for "Type 2 (non insulinodépendant)") is not
  // accepted: a short prefix would silently pick the wrong option.
  return std::nullopt;
}

bool isNoneWord(std::string_view s) {
  std::string n = normalizeLabel(s);
  if (n.empty()) return s.find_first_of("-/") != std::string_view::npos;  // "-", "/", "--"
  static constexpr std::array<std::string_view, 9> kNone = {
      "neant", "aucun", "aucune", "non", "sans objet", "na", "n a", "sans", "pas de"};
  return std::find(kNone.begin(), kNone.end(), n) != kNone.end();
}

namespace {

struct UnitWord {
  std::string_view ucum;     // the item's unit
  std::string_view written;  // as people write it, normalised
  double factor;             // to the item's unit
};

// The units of the items people measure on the form; a written unit is one of these words.
constexpr std::array<UnitWord, 24> kUnitWords = {{
    {"kg", "kg", 1},
    {"kg", "kgs", 1},
    {"kg", "k", 1},
    {"kg", "kilo", 1},
    {"kg", "kilos", 1},
    {"kg", "kilogramme", 1},
    {"kg", "kilogrammes", 1},
    {"kg", "g", 0.001},
    {"kg", "gr", 0.001},
    {"kg", "grammes", 0.001},
    {"cm", "cm", 1},
    {"cm", "cms", 1},
    {"cm", "centimetre", 1},
    {"cm", "centimetres", 1},
    {"cm", "m", 100},
    {"cm", "metre", 100},
    {"cm", "metres", 100},
    {"cm", "mm", 0.1},
    {"a", "a", 1},
    {"a", "an", 1},
    {"a", "ans", 1},
    {"a", "annee", 1},
    {"a", "annees", 1},
    {"a", "mois", 1.0 / 12},
}};

}  // namespace

std::optional<Measure> parseMeasure(std::string_view s, std::string_view ucum) {
  s = trim(s);
  // "1m65", "1 m 65": metres and centimetres.
  if (ucum == "cm") {
    std::size_t m = s.find_first_of("mM");
    if (m != std::string_view::npos && m > 0) {
      auto metres = digits(trim(s.substr(0, m)));
      std::string_view cm = trim(s.substr(m + 1));
      auto centi = digits(cm);
      if (metres && centi && *metres < 3 && !cm.empty() && cm.size() <= 2) {
        return Measure{*metres * 100.0 + (cm.size() == 1 ? *centi * 10 : *centi), true, "m", {}};
      }
    }
  }
  std::string unit_text;
  // The number, then what follows it: its unit is the first word, the rest is kept apart.
  std::size_t i = 0;
  while (i < s.size() && (isDigit(s[i]) || s[i] == ',' || s[i] == '.' || s[i] == ' ')) {
    if (s[i] == ' ' && (i + 1 >= s.size() || !isDigit(s[i + 1]))) break;
    ++i;
  }
  std::string number_part;
  for (char c : s.substr(0, i)) {
    if (c != ' ') number_part += c;  // "72 500 g"
  }
  auto value = parseHumanDecimal(number_part, nullptr);
  if (!value) return std::nullopt;
  std::string after = normalizeLabel(s.substr(i));
  Measure out;
  out.value = *value;
  std::size_t space = after.find(' ');
  out.unit_written = after.substr(0, space);
  if (space != std::string::npos) out.rest = after.substr(space + 1);
  for (char c : out.rest) {
    if (isDigit(c)) return std::nullopt;  // "72 à 75 kg": not one number
  }
  if (ucum.empty()) {
    // No unit asked: what follows the number is its unit or a remark ("20 PA"), not read.
    if (!out.unit_written.empty()) {
      out.rest = out.rest.empty() ? out.unit_written : out.unit_written + " " + out.rest;
      out.unit_written.clear();
    }
    if (!out.rest.empty() && isDigit(out.rest[0])) return std::nullopt;
    out.rest.clear();
    return out;
  }
  if (out.unit_written.empty()) {
    // Heights are asked in cm but often written in metres ("1,72").
    if (ucum == "cm" && out.value < 3.0) {
      out.value = std::round(out.value * 1e8) / 1e6;
      out.converted = true;
    }
    return out;
  }
  for (const UnitWord& w : kUnitWords) {
    if (w.ucum == ucum && w.written == out.unit_written) {
      if (w.factor != 1) {
        // Rounded so that 1,10 m gives 110, not 110.00000000000001.
        out.value = std::round(out.value * w.factor * 1e6) / 1e6;
        out.converted = true;
      }
      return out;
    }
  }
  return std::nullopt;
}

}  // namespace liaison::parse
