#pragma once
// What a mapping reads: named, typed values offered by a source (a form, later a CDA document).

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "core/form/answer.hpp"

namespace liaison::map {

struct Record;

struct Value {
  // Record: a group of named values (a vital sign: code, value, unit, time), read as it.<name>.
  enum class Kind : std::uint8_t {
    Absent,
    Bool,
    Integer,
    Decimal,
    String,
    Coding,
    RawJson,
    Record
  };
  Kind kind = Kind::Absent;
  bool boolean = false;
  std::int64_t integer = 0;
  double decimal = 0;
  std::string_view string;               // String; RawJson (serialised JSON value)
  const form::Coding* coding = nullptr;  // Coding
  const Record* record = nullptr;        // Record

  static Value ofBool(bool b) {
    Value v;
    v.kind = Kind::Bool;
    v.boolean = b;
    return v;
  }
  static Value ofInteger(std::int64_t i) {
    Value v;
    v.kind = Kind::Integer;
    v.integer = i;
    return v;
  }
  static Value ofDecimal(double d) {
    Value v;
    v.kind = Kind::Decimal;
    v.decimal = d;
    return v;
  }
  static Value ofString(std::string_view s) {
    Value v;
    if (!s.empty()) {
      v.kind = Kind::String;
      v.string = s;
    }  // FHIR has no empty strings
    return v;
  }
  static Value ofCoding(const form::Coding& c) {
    Value v;
    v.kind = Kind::Coding;
    v.coding = &c;
    return v;
  }
  static Value ofRawJson(std::string_view json) {
    Value v;
    if (!json.empty()) {  // an empty text is no JSON value at all
      v.kind = Kind::RawJson;
      v.string = json;
    }
    return v;
  }
  static Value ofRecord(const Record& r) {
    Value v;
    v.kind = Kind::Record;
    v.record = &r;
    return v;
  }
  bool present() const { return kind != Kind::Absent; }
};

struct Record {
  std::vector<std::pair<std::string_view, Value>> fields;
  Value field(std::string_view name) const {
    for (const auto& [n, v] : fields) {
      if (n == name) return v;
    }
    return {};
  }
  void set(std::string_view name, Value v) { fields.emplace_back(name, v); }
};

// Resolves the names a mapping file uses ("answer.patient-nom", "ins.value"…) once, when the
// mapping is compiled, to dense binding numbers.
class SourceSchema {
 public:
  virtual ~SourceSchema() = default;
  virtual std::optional<int> bind(std::string_view name) const = 0;
};

// The values of one input, by binding number. Views stay valid while the source lives.
class Source {
 public:
  virtual ~Source() = default;
  virtual std::span<const Value> values(int binding) const = 0;
};

}  // namespace liaison::map
