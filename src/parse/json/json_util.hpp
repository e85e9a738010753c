#pragma once
// Small helpers over RapidJSON shared by the parsers (private to the parse/map/validate layers).

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>

namespace liaison::json {

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
