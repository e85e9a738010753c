#pragma once
// A source of named values for mappings whose inputs are not forms: MSSanté messages and the
// CDA documents they carry. The vocabulary (FactSchema) is fixed per kind of input and listed
// in mappings/README.md; a Facts instance owns the text, codings and records its values view.

#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "map/value.hpp"

namespace liaison::pipeline {

class FactSchema final : public map::SourceSchema {
 public:
  explicit FactSchema(std::vector<std::string> names);
  FactSchema(const FactSchema&) = delete;  // index_ views names_
  FactSchema& operator=(const FactSchema&) = delete;
  std::optional<int> bind(std::string_view name) const override;
  std::size_t size() const { return names_.size(); }
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::vector<std::string> names_;
  // Facts are added by name a hundred times per document: a hash lookup, not a scan.
  std::unordered_map<std::string_view, int> index_;
};

// A record under construction: fields are added in order.
class RecordBuilder;

class Facts final : public map::Source {
 public:
  explicit Facts(const FactSchema& schema) : schema_(&schema), values_(schema.size()) {}
  std::span<const map::Value> values(int binding) const override {
    return values_[static_cast<std::size_t>(binding)];
  }

  // Each adds one value to the name (a name may hold several: a list). Empty text adds nothing.
  // Unknown names are a programming error (the vocabulary is ours): they abort in debug builds.
  Facts& text(std::string_view name, std::string value);
  Facts& coding(std::string_view name, std::string system, std::string code, std::string display);
  Facts& integer(std::string_view name, std::int64_t value);
  Facts& decimal(std::string_view name, double value);
  Facts& boolean(std::string_view name, bool value);
  Facts& record(std::string_view name,
                const std::vector<std::pair<std::string_view, map::Value>>& fields);
  void clear(std::string_view name);
  void clear(std::size_t slot) { values_[slot].clear(); }

  // Values to put in records: owned by this Facts.
  map::Value keepText(std::string value);
  map::Value keepCoding(std::string system, std::string code, std::string display);

 private:
  std::size_t slot(std::string_view name) const;
  const FactSchema* schema_;
  std::vector<std::vector<map::Value>> values_;
  std::deque<std::string> strings_;  // deques never move their elements: values view them
  std::deque<form::Coding> codings_;
  std::deque<map::Record> records_;
};

}  // namespace liaison::pipeline
