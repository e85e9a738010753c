#include "pipeline/facts.hpp"

#include <cstdio>
#include <cstdlib>

namespace liaison::pipeline {

FactSchema::FactSchema(std::vector<std::string> names) : names_(std::move(names)) {
  for (std::size_t i = 0; i < names_.size(); ++i)
    index_.emplace(names_[i], static_cast<int>(i));
}

std::optional<int> FactSchema::bind(std::string_view name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

std::size_t Facts::slot(std::string_view name) const {
  auto b = schema_->bind(name);
  // The vocabulary is ours: a name outside it is a bug, in release builds too (a value silently
  // written under another name would be worse than stopping).
  if (!b) {
    std::fprintf(stderr, "liaison: fact %.*s is not in the vocabulary\n",
                 static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return static_cast<std::size_t>(*b);
}

Facts& Facts::text(std::string_view name, std::string value) {
  if (!value.empty()) values_[slot(name)].push_back(keepText(std::move(value)));
  return *this;
}

Facts& Facts::coding(std::string_view name, std::string system, std::string code,
                     std::string display) {
  if (!code.empty())
    values_[slot(name)].push_back(
        keepCoding(std::move(system), std::move(code), std::move(display)));
  return *this;
}

Facts& Facts::integer(std::string_view name, std::int64_t value) {
  values_[slot(name)].push_back(map::Value::ofInteger(value));
  return *this;
}

Facts& Facts::decimal(std::string_view name, double value) {
  values_[slot(name)].push_back(map::Value::ofDecimal(value));
  return *this;
}

Facts& Facts::boolean(std::string_view name, bool value) {
  values_[slot(name)].push_back(map::Value::ofBool(value));
  return *this;
}

Facts& Facts::record(std::string_view name,
                     const std::vector<std::pair<std::string_view, map::Value>>& fields) {
  map::Record r;
  r.fields.reserve(fields.size());  // an entry's record has some forty fields: one allocation
  for (const auto& [field, value] : fields) {
    if (value.present()) r.set(field, value);
  }
  records_.push_back(std::move(r));
  values_[slot(name)].push_back(map::Value::ofRecord(records_.back()));
  return *this;
}

void Facts::clear(std::string_view name) {
  values_[slot(name)].clear();
}

map::Value Facts::keepText(std::string value) {
  if (value.empty()) return {};
  strings_.push_back(std::move(value));
  return map::Value::ofString(strings_.back());
}

map::Value Facts::keepCoding(std::string system, std::string code, std::string display) {
  if (code.empty()) return {};
  codings_.push_back(form::Coding{std::move(system), std::move(code), std::move(display)});
  return map::Value::ofCoding(codings_.back());
}

}  // namespace liaison::pipeline
