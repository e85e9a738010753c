#include "map/search_parameters.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace liaison::map {
namespace {

using Value = rapidjson::Value;

std::string_view str(const Value& v) {
  return v.IsString() ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view{};
}

std::string_view member(const Value& object, const char* key) {
  if (!object.IsObject()) return {};
  auto it = object.FindMember(key);
  return it == object.MemberEnd() ? std::string_view{} : str(it->value);
}

std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    out.emplace_back(path.substr(start, dot - start));
    start = dot + 1;
  }
  return out;
}

// Every value at `path` from `v`, arrays walked at each step.
void collect(const Value& v, const std::vector<std::string>& path, std::size_t step,
             std::vector<const Value*>& out) {
  if (v.IsArray()) {
    for (const Value& item : v.GetArray())
      collect(item, path, step, out);
    return;
  }
  if (step == path.size()) {
    out.push_back(&v);
    return;
  }
  if (!v.IsObject()) return;
  auto it = v.FindMember(path[step].c_str());
  if (it != v.MemberEnd()) collect(it->value, path, step + 1, out);
}

void tokens(const Value& v, std::vector<std::pair<std::string, std::string>>& out) {
  if (v.IsString()) {
    out.emplace_back("", std::string(str(v)));
  } else if (v.IsBool()) {
    out.emplace_back("", v.GetBool() ? "true" : "false");
  } else if (v.IsObject()) {
    if (auto codings = v.FindMember("coding");
        codings != v.MemberEnd() && codings->value.IsArray()) {
      for (const Value& c : codings->value.GetArray())
        tokens(c, out);
    }
    if (auto code = member(v, "code"); !code.empty()) {  // Coding
      out.emplace_back(std::string(member(v, "system")), std::string(code));
    } else if (auto value = member(v, "value"); !value.empty()) {  // Identifier
      out.emplace_back(std::string(member(v, "system")), std::string(value));
    }
  }
}

int digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

std::string ymd(std::chrono::year_month_day d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return buf;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> dateRange(std::string_view s) {
  using namespace std::chrono;
  const int y = digits(s, 0, 4);
  if (y < 1 || y > 9999) return std::nullopt;
  if (s.size() == 4) return std::pair{ymd(year{y} / 1 / 1), ymd(year{y + 1} / 1 / 1)};
  if (s.size() < 7 || s[4] != '-') return std::nullopt;
  const int m = digits(s, 5, 2);
  if (m < 1 || m > 12) return std::nullopt;
  const year_month ym{year{y}, month{static_cast<unsigned>(m)}};
  if (s.size() == 7) return std::pair{ymd(ym / 1), ymd((ym + months{1}) / 1)};
  if (s.size() < 10 || s[7] != '-') return std::nullopt;
  const int d = digits(s, 8, 2);
  const year_month_day day{ym / d};
  if (d < 1 || !day.ok()) return std::nullopt;
  if (s.size() == 10) return std::pair{ymd(day), ymd(year_month_day{sys_days{day} + days{1}})};
  // dateTime / instant: hh:mm[:ss[.fff]] with Z or ±hh:mm; a point in time.
  if (s[10] != 'T' || digits(s, 11, 2) < 0 || digits(s, 11, 2) > 23 || s.size() < 16 ||
      s[13] != ':' || digits(s, 14, 2) < 0 || digits(s, 14, 2) > 59) {
    return std::nullopt;
  }
  if (s.size() >= 19 && s[16] == ':' && (digits(s, 17, 2) < 0 || digits(s, 17, 2) > 60))
    return std::nullopt;
  for (char c : s.substr(16)) {
    const bool ok =
        (c >= '0' && c <= '9') || c == ':' || c == '.' || c == 'Z' || c == '+' || c == '-';
    if (!ok) return std::nullopt;
  }
  return std::pair{std::string(s), std::string(s)};
}

std::string foldText(std::string_view text) {
  // Same folding as the form labels: lower case, Latin accents removed, punctuation → space.
  std::string out;
  out.reserve(text.size());
  bool space = false;
  static constexpr std::string_view kFold[64] = {
      "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
      "d", "n", "o", "o", "o", "o", "o",  " ", "o", "u", "u", "u", "u", "y", "th", "ss",
      "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
      "d", "n", "o", "o", "o", "o", "o",  " ", "o", "u", "u", "u", "u", "y", "th", "y"};
  auto put = [&](std::string_view piece) {
    for (char c : piece) {
      if (c == ' ') {
        space = !out.empty();
        continue;
      }
      if (space) out += ' ';
      space = false;
      out += c;
    }
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c >= 'A' && c <= 'Z') {
        const char lower = static_cast<char>(c - 'A' + 'a');
        put(std::string_view(&lower, 1));
      } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        put(text.substr(i, 1));
      } else {
        put(" ");
      }
    } else if (c == 0xC3 && i + 1 < text.size()) {
      const auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0xBF) put(kFold[next - 0x80]);
      ++i;
    } else if (c == 0xC5 && i + 1 < text.size() &&
               (text[i + 1] == '\x92' || text[i + 1] == '\x93')) {
      put("oe");
      ++i;
    } else {
      // Other non-ASCII bytes pass through (a search folds the same way).
      if (space) out += ' ';
      space = false;
      out += static_cast<char>(c);
    }
  }
  return out;
}

Result<SearchParameters> SearchParameters::load(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("resources") ||
      !doc["resources"].IsObject()) {
    return makeError(Errc::ProfileInvalid, "search-parameters.json: objet \"resources\" attendu");
  }
  SearchParameters out;
  for (const auto& resource : doc["resources"].GetObject()) {
    const std::string type = resource.name.GetString();
    if (!resource.value.IsObject())
      return makeError(Errc::ProfileInvalid,
                       "search-parameters.json: " + type + " n'est pas un objet");
    for (const auto& p : resource.value.GetObject()) {
      SearchParameter sp;
      sp.resource = type;
      sp.name = p.name.GetString();
      const std::string_view kind = member(p.value, "kind");
      if (kind == "token") {
        sp.kind = SearchKind::Token;
      } else if (kind == "string") {
        sp.kind = SearchKind::String;
      } else if (kind == "date") {
        sp.kind = SearchKind::Date;
      } else if (kind == "reference") {
        sp.kind = SearchKind::Reference;
      } else {
        return makeError(Errc::ProfileInvalid,
                         "search-parameters.json: " + type + "." + sp.name + " : kind inconnu");
      }
      sp.target = std::string(member(p.value, "target"));
      auto path = p.value.FindMember("path");
      if (path == p.value.MemberEnd() || !path->value.IsArray() || path->value.Empty())
        return makeError(Errc::ProfileInvalid,
                         "search-parameters.json: " + type + "." + sp.name + " : path manquant");
      for (const Value& alt : path->value.GetArray()) {
        if (!alt.IsString() || alt.GetStringLength() == 0)
          return makeError(Errc::ProfileInvalid,
                           "search-parameters.json: " + type + "." + sp.name + " : path invalide");
        sp.paths.push_back(split(str(alt)));
      }
      out.by_resource_[type][sp.name] = std::move(sp);
    }
  }
  return out;
}

const SearchParameter* SearchParameters::find(std::string_view resource,
                                              std::string_view name) const {
  auto r = by_resource_.find(resource);
  if (r == by_resource_.end()) return nullptr;
  auto p = r->second.find(std::string(name));
  return p == r->second.end() ? nullptr : &p->second;
}

std::vector<const SearchParameter*> SearchParameters::of(std::string_view resource) const {
  std::vector<const SearchParameter*> out;
  auto r = by_resource_.find(resource);
  if (r == by_resource_.end()) return out;
  for (const auto& [name, p] : r->second)
    out.push_back(&p);
  return out;
}

std::vector<std::string> SearchParameters::resources() const {
  std::vector<std::string> out;
  for (const auto& [type, params] : by_resource_)
    out.push_back(type);
  return out;
}

std::vector<IndexEntry> SearchParameters::extract(std::string_view resource_type,
                                                  std::string_view json) const {
  if (by_resource_.find(resource_type) == by_resource_.end()) return {};
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return {};
  return extract(resource_type, doc);
}

std::vector<IndexEntry> SearchParameters::extract(std::string_view resource_type,
                                                  const rapidjson::Value& doc) const {
  std::vector<IndexEntry> out;
  auto r = by_resource_.find(resource_type);
  if (r == by_resource_.end() || !doc.IsObject()) return out;
  for (const auto& [name, p] : r->second) {
    std::vector<const Value*> values;
    for (const auto& path : p.paths)
      collect(doc, path, 0, values);
    for (const Value* v : values) {
      switch (p.kind) {
        case SearchKind::Token: {
          std::vector<std::pair<std::string, std::string>> t;
          tokens(*v, t);
          for (auto& [system, code] : t)
            out.push_back({name, p.kind, std::move(system), std::move(code)});
          break;
        }
        case SearchKind::String:
          if (v->IsString() && v->GetStringLength() > 0) {
            const std::string folded = foldText(str(*v));
            out.push_back({name, p.kind, "", folded});
            // From each later word to the end, under "<name>#w": a prefix of any word is then
            // one index range ("dup" finds "fictif dupont").
            for (std::size_t at = folded.find(' '); at != std::string::npos;
                 at = folded.find(' ', at + 1))
              out.push_back(
                  {name + std::string(liaison::kWordSuffix), p.kind, "", folded.substr(at + 1)});
          }
          break;
        case SearchKind::Date: {
          std::optional<std::pair<std::string, std::string>> range;
          if (v->IsString()) {
            range = dateRange(str(*v));
          } else if (v->IsObject()) {  // Period
            auto start = dateRange(member(*v, "start"));
            auto end = dateRange(member(*v, "end"));
            if (start || end) {
              range = std::pair{start ? start->first : std::string("0001-01-01"),
                                end ? end->second : std::string("9999-12-31")};
            }
          }
          if (range)
            out.push_back({name, p.kind, std::move(range->first), std::move(range->second)});
          break;
        }
        case SearchKind::Reference: {
          const std::string_view ref = v->IsObject() ? member(*v, "reference") : str(*v);
          if (ref.empty()) break;
          if (!p.target.empty() && ref.substr(0, p.target.size() + 1) != p.target + "/") break;
          out.push_back({name, p.kind, "", std::string(ref)});
          break;
        }
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const IndexEntry& a, const IndexEntry& b) {
    return std::tie(a.param, a.kind, a.first, a.second) <
           std::tie(b.param, b.kind, b.first, b.second);
  });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace liaison::map
