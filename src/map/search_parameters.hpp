#pragma once
// The FHIR search parameters liaison serves, as data (profiles/fhir/search-parameters.json):
// which values of a resource each one indexes, and how. Pure: the text comes loaded.

#include <rapidjson/document.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error/result.hpp"
#include "core/ports/store.hpp"

namespace liaison::map {

struct SearchParameter {
  std::string resource;
  std::string name;
  SearchKind kind = SearchKind::Token;
  std::vector<std::vector<std::string>> paths;  // alternatives, each a list of element names
  std::string target;                           // reference: the only type it may point to
};

class SearchParameters {
 public:
  static Result<SearchParameters> load(std::string_view json);

  const SearchParameter* find(std::string_view resource, std::string_view name) const;
  std::vector<const SearchParameter*> of(std::string_view resource) const;
  std::vector<std::string> resources() const;

  // The index entries of a resource (JSON text), one per value per parameter, deduplicated.
  std::vector<IndexEntry> extract(std::string_view resource_type, std::string_view json) const;
  // The same from a resource already parsed (the transaction path: no second parse).
  std::vector<IndexEntry> extract(std::string_view resource_type,
                                  const rapidjson::Value& resource) const;

 private:
  std::map<std::string, std::map<std::string, SearchParameter>, std::less<>> by_resource_;
};

// A FHIR date, dateTime or instant as a range [low, high) that PostgreSQL reads as timestamptz
// (dates without a zone are UTC). "1979-03" → ["1979-03-01", "1979-04-01"). nullopt if invalid.
std::optional<std::pair<std::string, std::string>> dateRange(std::string_view fhir_date);

// Lower case, accents removed, punctuation as single spaces (FHIR string search folding).
std::string foldText(std::string_view text);

}  // namespace liaison::map
