#pragma once
// Small helpers over RapidJSON shared by the parsers, and the one parse of JSON from outside.

#include <rapidjson/document.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/error/error.hpp"

namespace liaison::json {

// How deep JSON from outside may nest (objects and arrays). FHIR resources seldom go past 20
// levels; the limit keeps every later recursive walk (RapidJSON's Writer and CopyFrom, our own
// readers) far from the stack's end.
inline constexpr unsigned kMaxExternalDepth = 100;

// JSON that enters from outside (REST bodies, a mail's attached Bundle or QuestionnaireResponse,
// a form): parsed without recursion (RapidJSON's iterative parser), its strings checked as UTF-8,
// its nesting bounded by a counter in the SAX stream, so that no input can exhaust the stack.
// Errors: json-invalid-utf8, json-too-deep, json-malformed (with the position). On error `doc`
// is left null; test the returned value, not doc.HasParseError().
std::optional<Error> parseExternalJson(rapidjson::Document& doc, std::string_view text,
                                       unsigned max_depth = kMaxExternalDepth);
// The same, parsed in place: strings point into `buffer` (NUL-terminated, kept alive by the
// caller and modified); `text` is its original content, for error positions.
std::optional<Error> parseExternalJsonInsitu(rapidjson::Document& doc, char* buffer,
                                             std::string_view text,
                                             unsigned max_depth = kMaxExternalDepth);

// "line L, column C" of a byte offset, for parse errors.
std::string positionOf(std::string_view text, std::size_t offset);

inline std::optional<std::string_view> getString(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return std::nullopt;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string_view(it->value.GetString(), it->value.GetStringLength());
}

inline const rapidjson::Value* getMember(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

inline const rapidjson::Value* getArray(const rapidjson::Value& obj, const char* key) {
  const rapidjson::Value* v = getMember(obj, key);
  return (v != nullptr && v->IsArray()) ? v : nullptr;
}

inline std::string_view view(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

}  // namespace liaison::json
