#pragma once
// Configuration files checked against JSON Schemas (draft-04, schemas/*.schema.json): RapidJSON's
// schema validator decides, and every error is reported with the JSON path of the offending value
// in plain words ("tls.requireClientCerts: unknown setting"). RapidJSON 1.1.0 stops at the first
// failure; operators fix a file in one go when they see all of them, so the errors are listed by a
// walk of the same schema (the keywords schemas/ uses), RapidJSON's verdict being the backstop.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "core/error/result.hpp"

namespace liaison::app {

struct SchemaError {
  std::string path;  // "tls.cert", "mail.mailboxes[0].url"; empty for the document itself
  std::string message;
};

// "tls.cert: non-empty string expected" ("(top level): ..." for the document itself).
std::string toString(const SchemaError& e);

class ConfigSchema {
 public:
  // The schema's own text; an error when it is not JSON or not a schema RapidJSON accepts.
  static Result<ConfigSchema> parse(std::string_view schema_json);

  // Every error of `document` against the schema; empty when it is valid.
  std::vector<SchemaError> validate(const rapidjson::Value& document) const;
  // The same for a document's text: a JSON syntax error is one error with its offset.
  std::vector<SchemaError> validate(std::string_view document_json) const;

  ConfigSchema(ConfigSchema&&) noexcept;
  ConfigSchema& operator=(ConfigSchema&&) noexcept;
  ~ConfigSchema();

 private:
  struct Impl;
  explicit ConfigSchema(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Typed reads of a configuration object that its schema has checked: the readers stay simple (a
// value of another type, which the schema refused, reads as absent).
class ConfigObject {
 public:
  ConfigObject() = default;
  explicit ConfigObject(const rapidjson::Value& v) : v_(v.IsObject() ? &v : nullptr) {}

  const rapidjson::Value* member(const char* name) const;
  ConfigObject object(const char* name) const;  // empty when absent
  std::optional<std::string> string(const char* name) const;
  std::optional<std::int64_t> integer(const char* name) const;
  std::optional<bool> boolean(const char* name) const;

 private:
  const rapidjson::Value* v_ = nullptr;
};

}  // namespace liaison::app
