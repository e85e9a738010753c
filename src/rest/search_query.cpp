#include "rest/search_query.hpp"

#include <algorithm>
#include <set>

namespace liaison::rest {
namespace {

std::vector<std::string> splitValues(std::string_view s) {
  std::vector<std::string> out;
  std::string current;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == ',' || s[i + 1] == '\\')) {
      current += s[++i];
    } else if (s[i] == ',') {
      out.push_back(std::move(current));
      current.clear();
    } else {
      current += s[i];
    }
  }
  out.push_back(std::move(current));
  return out;
}

std::optional<SearchValue> dateValue(std::string_view v) {
  SearchValue out;
  out.op = "eq";
  if (v.size() > 2 && v[0] >= 'a' && v[0] <= 'z' && v[1] >= 'a' && v[1] <= 'z') {
    out.op = std::string(v.substr(0, 2));
    v.remove_prefix(2);
    static const std::set<std::string> ops{"eq", "ne", "gt", "lt", "ge", "le"};
    if (!ops.count(out.op)) return std::nullopt;
  }
  auto range = map::dateRange(v);
  if (!range) return std::nullopt;
  out.first = range->first;
  out.second = range->second;
  return out;
}

}  // namespace

Result<ParsedSearch> parseSearch(std::string_view type, const Target& t,
                                 const map::SearchParameters& params, SearchLimits options,
                                 std::string_view base) {
  ParsedSearch out;
  out.request.type = std::string(type);
  out.request.count = options.default_count;
  std::set<std::string> names;
  for (const auto& [raw_name, value] : t.query) {
    std::string name = raw_name;
    std::string modifier;
    if (const std::size_t colon = name.find(':'); colon != std::string::npos) {
      modifier = name.substr(colon + 1);
      name.resize(colon);
    }
    names.insert(name);
    if (name == "_count") {
      auto n = parseCount(value, options.max_count);
      if (!n) return n.error();
      out.request.count = *n;
      if (*n == 0) out.request.count_only = true;
      continue;
    }
    if (name == "_sort") {
      if (value == "_lastUpdated") {
        out.request.oldest_first = true;
      } else if (value != "-_lastUpdated") {
        return makeError(Errc::RestSearchInvalid,
                         "_sort : seuls _lastUpdated et -_lastUpdated sont pris en charge");
      }
      continue;
    }
    if (name == "_summary") {
      if (value != "count")
        return makeError(Errc::RestSearchInvalid,
                         "_summary : seule la valeur count est prise en charge");
      out.request.count_only = true;
      continue;
    }
    if (name == "_total") {
      if (value == "accurate") out.request.total = true;
      continue;
    }
    if (name == "_cursor") {
      out.request.after = value;
      continue;
    }
    if (name == "_format") continue;
    if (name == "_include") {
      // "ServiceRequest:patient": the resources a reference parameter points to.
      const std::size_t colon = value.find(':');
      const std::string source = value.substr(0, colon);
      const std::string param = colon == std::string::npos ? "" : value.substr(colon + 1);
      const map::SearchParameter* p = params.find(source, param);
      if (source != type || p == nullptr || p->kind != SearchKind::Reference)
        return makeError(Errc::RestSearchInvalid, "_include non pris en charge : " + value);
      out.includes.emplace_back(source, p);
      continue;
    }
    SearchClause clause;
    clause.param = name;
    const map::SearchParameter* p = nullptr;
    if (name == "_lastUpdated") {
      clause.kind = SearchKind::Date;
    } else {
      p = params.find(type, name);
      if (p == nullptr)
        return makeError(Errc::RestSearchUnknown,
                         "Paramètre de recherche inconnu pour " + std::string(type) + " : " + name);
      clause.kind = p->kind;
    }
    for (const std::string& v : splitValues(value)) {
      if (v.empty()) return makeError(Errc::RestSearchInvalid, name + " : valeur vide");
      SearchValue sv;
      switch (clause.kind) {
        case SearchKind::Token:
          if (!modifier.empty())
            return makeError(Errc::RestSearchInvalid, name + " : modificateur non pris en charge");
          if (const std::size_t bar = v.find('|'); bar != std::string::npos) {
            sv.op = "system";
            sv.first = v.substr(0, bar);
            sv.second = v.substr(bar + 1);
          } else {
            sv.second = v;
          }
          break;
        case SearchKind::String:
          if (!modifier.empty() && modifier != "exact" && modifier != "contains")
            return makeError(Errc::RestSearchInvalid, name + " : modificateur non pris en charge");
          sv.op = modifier.empty() ? "prefix" : modifier;
          sv.second = map::foldText(v);
          if (sv.second.empty()) return makeError(Errc::RestSearchInvalid, name + " : valeur vide");
          break;
        case SearchKind::Date: {
          auto d = dateValue(v);
          if (!d) return makeError(Errc::RestSearchInvalid, name + " : date invalide");
          sv = *d;
          break;
        }
        case SearchKind::Reference: {
          std::string ref = v;
          if (!base.empty() && ref.rfind(std::string(base) + "/", 0) == 0)
            ref = ref.substr(base.size() + 1);
          if (ref.find('/') == std::string::npos) {
            const std::string target_type = !modifier.empty() ? modifier : p->target;
            if (target_type.empty())
              return makeError(Errc::RestSearchInvalid,
                               name + " : préciser le type (" + name + ":Patient=… ou Patient/…)");
            ref = target_type + "/" + ref;
          }
          sv.second = ref;
          break;
        }
      }
      clause.any.push_back(std::move(sv));
    }
    out.request.all.push_back(std::move(clause));
  }
  for (const std::string& n : names)
    out.names += (out.names.empty() ? "" : ",") + n;
  return out;
}

Result<ParsedAuditSearch> parseAuditSearch(const Target& t, SearchLimits limits,
                                           std::string_view base) {
  ParsedAuditSearch out;
  out.query.count = limits.default_count;
  std::set<std::string> names;
  for (const auto& [name, value] : t.query) {
    names.insert(name);
    if (name == "_count") {
      auto n = parseCount(value, limits.max_count);
      if (!n) return n.error();
      out.query.count = std::max(*n, 1);  // no count-only page here
      continue;
    }
    if (name == "_cursor") {
      out.query.after = value;
      continue;
    }
    std::vector<std::string> any;
    if (name == "date" && splitValues(value).size() > 1)
      return makeError(Errc::RestSearchInvalid, "date : une seule valeur par paramètre");
    for (std::string v : splitValues(value)) {
      if (name == "patient") {
        if (!base.empty() && v.rfind(std::string(base) + "/", 0) == 0)
          v = v.substr(base.size() + 1);
        if (v.rfind("Patient/", 0) == 0) v = v.substr(8);
        if (!isFhirId(v))
          return makeError(Errc::RestSearchInvalid, "patient : Patient/<id> ou <id> attendu");
      } else if (name == "date") {
        auto d = dateValue(v);
        if (!d) return makeError(Errc::RestSearchInvalid, "date : date invalide");
        out.query.recorded.push_back(std::move(*d));
        continue;  // several dates: each a condition (ge…&le… is a range)
      } else if (name == "subtype") {
        if (const std::size_t bar = v.find('|'); bar != std::string::npos) v = v.substr(bar + 1);
      } else if (name == "action") {
        if (v.size() != 1 || std::string_view("CRUDE").find(v[0]) == std::string_view::npos)
          return makeError(Errc::RestSearchInvalid, "action : C, R, U, D ou E");
      } else if (name != "agent" && name != "principal") {
        return makeError(Errc::RestSearchUnknown,
                         "Paramètre inconnu pour AuditEvent : " + name +
                             " (patient, date, agent, subtype, action, _count)");
      }
      if (v.empty()) return makeError(Errc::RestSearchInvalid, name + " : valeur vide");
      any.push_back(std::move(v));
    }
    if (name == "patient") out.query.patients.push_back(std::move(any));
    if (name == "subtype") out.query.subtypes.push_back(std::move(any));
    if (name == "action") out.query.actions.push_back(std::move(any));
    if (name == "agent" || name == "principal") out.query.principals.push_back(std::move(any));
  }
  for (const std::string& n : names)
    out.names += (out.names.empty() ? "" : ",") + n;
  return out;
}

}  // namespace liaison::rest
