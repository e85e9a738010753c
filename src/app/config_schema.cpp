#include "app/config_schema.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
// RapidJSON 1.1.0's validator, once inlined, trips GCC's flow-based -Wnull-dereference inside its
// own header (schema.h, DestroySchemaValidator): not ours to change, so off for this file.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <rapidjson/schema.h>

#include <cctype>
#include <cstdint>
#include <regex>
#include <string>

#include "core/json/json_out.hpp"

namespace liaison::app {
namespace {

using rapidjson::Value;

// A recursive schema ($ref to itself, the ESS's eligibility rules) over a deeply nested document.
constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxPatternedLength = 4096;

bool plainName(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '_' && c != '-' && c != '$' && c != '@') return false;
  }
  return true;
}

std::string quoted(std::string_view s) {
  std::string out;
  json::JsonOut w(out);
  w.String(s);
  return out;
}

std::string member(const std::string& path, std::string_view name) {
  if (!plainName(name)) return path + "[" + quoted(name) + "]";
  return path.empty() ? std::string(name) : path + "." + std::string(name);
}

std::string element(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

const Value* keyword(const Value& schema, const char* name) {
  if (!schema.IsObject()) return nullptr;
  auto m = schema.FindMember(name);
  return m == schema.MemberEnd() ? nullptr : &m->value;
}

std::string number(const Value& v) {
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  return std::to_string(v.GetDouble());
}

std::string jsonText(const Value& v) {
  if (v.IsString()) return quoted(v.GetString());
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return number(v);
  return v.IsObject() ? "an object" : "an array";
}

bool hasType(const Value& v, std::string_view type) {
  if (type == "object") return v.IsObject();
  if (type == "array") return v.IsArray();
  if (type == "string") return v.IsString();
  if (type == "boolean") return v.IsBool();
  if (type == "null") return v.IsNull();
  if (type == "number") return v.IsNumber();
  if (type == "integer") {
    return v.IsInt64() || v.IsUint64();  // as RapidJSON's validator: 8443.0 is not an integer
  }
  return false;
}

std::size_t codePoints(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    n += (c & 0xC0) != 0x80;
  return n;
}

// What a value of this schema is, in words: "integer from 1 to 64", "true or false".
std::string expected(const Value& schema) {
  if (const Value* e = keyword(schema, "enum"); e && e->IsArray()) {
    std::string s = e->Size() == 1 ? "" : "one of ";
    for (rapidjson::SizeType i = 0; i < e->Size(); ++i)
      s += (i == 0 ? "" : ", ") + jsonText((*e)[i]);
    return s;
  }
  std::string type;
  if (const Value* t = keyword(schema, "type")) {
    if (t->IsString()) type = t->GetString();
    if (t->IsArray()) {
      for (const Value& one : t->GetArray()) {
        if (one.IsString()) type += (type.empty() ? "" : " or ") + std::string(one.GetString());
      }
    }
  }
  if (type == "boolean") return "true or false";
  if (type == "integer" || type == "number") {
    const Value* lo = keyword(schema, "minimum");
    const Value* hi = keyword(schema, "maximum");
    if (lo && hi && lo->IsNumber() && hi->IsNumber())
      return type + " from " + number(*lo) + " to " + number(*hi);
    if (lo && lo->IsNumber()) return type + " of at least " + number(*lo);
    if (hi && hi->IsNumber()) return type + " of at most " + number(*hi);
    return type;
  }
  if (type == "string") {
    const Value* min = keyword(schema, "minLength");
    return min && min->IsUint() && min->GetUint() > 0 ? "non-empty string" : "string";
  }
  if (type == "object") return "object";
  if (type == "array") return "array";
  return type.empty() ? "another value" : type;
}

class Walker {
 public:
  Walker(const Value& root, std::vector<SchemaError>& errors) : root_(root), errors_(errors) {}

  void check(const Value& schema, const Value& v, const std::string& path, int depth) {
    if (depth > kMaxDepth) {
      add(path, "nested too deeply");
      return;
    }
    if (const Value* ref = keyword(schema, "$ref"); ref && ref->IsString()) {
      const std::string_view r = ref->GetString();
      const Value* target = nullptr;
      if (!r.empty() && r[0] == '#')
        target = rapidjson::Pointer(r.data() + 1, r.size() - 1).Get(root_);
      if (target != nullptr) check(*target, v, path, depth + 1);
      return;  // draft-04: the members beside a $ref are ignored
    }
    if (const Value* t = keyword(schema, "type")) {
      bool ok = false;
      if (t->IsString()) ok = hasType(v, t->GetString());
      if (t->IsArray()) {
        for (const Value& one : t->GetArray())
          ok = ok || (one.IsString() && hasType(v, one.GetString()));
      }
      if (!ok) {
        add(path, expected(schema) + " expected");
        return;
      }
    }
    if (const Value* e = keyword(schema, "enum"); e && e->IsArray()) {
      bool found = false;
      for (const Value& one : e->GetArray())
        found = found || one == v;
      if (!found) {
        add(path, expected(schema) + " expected");
        return;
      }
    }
    if (v.IsString()) checkString(schema, v, path);
    if (v.IsNumber()) checkNumber(schema, v, path);
    if (v.IsObject()) checkObject(schema, v, path, depth);
    if (v.IsArray()) checkArray(schema, v, path, depth);
    combinations(schema, v, path, depth);
  }

 private:
  void add(const std::string& path, std::string message) {
    errors_.push_back({path, std::move(message)});
  }

  bool matches(const Value& schema, const Value& v, int depth) {
    std::vector<SchemaError> none;
    Walker w(root_, none);
    w.check(schema, v, "", depth + 1);
    return none.empty();
  }

  void combinations(const Value& schema, const Value& v, const std::string& path, int depth) {
    if (const Value* all = keyword(schema, "allOf"); all && all->IsArray()) {
      for (const Value& s : all->GetArray())
        check(s, v, path, depth + 1);
    }
    for (const char* kw : {"anyOf", "oneOf"}) {
      const Value* list = keyword(schema, kw);
      if (list == nullptr || !list->IsArray()) continue;
      int matching = 0;
      for (const Value& s : list->GetArray())
        matching += matches(s, v, depth);
      if (matching == 0) add(path, "none of the allowed forms");
      if (std::string_view(kw) == "oneOf" && matching > 1)
        add(path, "more than one of the allowed forms");
    }
    if (const Value* n = keyword(schema, "not"); n && matches(*n, v, depth))
      add(path, "a form that is not allowed here");
  }

  void checkString(const Value& schema, const Value& v, const std::string& path) {
    const std::size_t n = codePoints({v.GetString(), v.GetStringLength()});
    const Value* min = keyword(schema, "minLength");
    const Value* max = keyword(schema, "maxLength");
    if (min && min->IsUint() && n < min->GetUint()) {
      add(path, min->GetUint() == 1
                    ? "non-empty string expected"
                    : "at least " + std::to_string(min->GetUint()) + " characters expected");
    }
    if (max && max->IsUint() && n > max->GetUint())
      add(path, "at most " + std::to_string(max->GetUint()) + " characters expected");
    if (const Value* p = keyword(schema, "pattern"); p && p->IsString()) {
      // libstdc++'s std::regex recurses per character: a value this long would exhaust the stack,
      // and no patterned setting (names, addresses, URLs, digests) is anywhere near it.
      if (n > kMaxPatternedLength) {
        add(path, "at most " + std::to_string(kMaxPatternedLength) + " characters expected");
        return;
      }
      try {
        if (!std::regex_search(std::string(v.GetString(), v.GetStringLength()),
                               std::regex(p->GetString(), std::regex::ECMAScript))) {
          const Value* d = keyword(schema, "patternDescription");
          add(path, (d && d->IsString() ? std::string(d->GetString())
                                        : "a string matching " + quoted(p->GetString())) +
                        " expected");
        }
      } catch (const std::regex_error&) {
        add(path,
            "the schema's pattern " + quoted(p->GetString()) + " is not a regular expression");
      }
    }
  }

  void checkNumber(const Value& schema, const Value& v, const std::string& path) {
    const double d = v.GetDouble();
    const Value* lo = keyword(schema, "minimum");
    const Value* hi = keyword(schema, "maximum");
    const bool below =
        lo && lo->IsNumber() &&
        (keyword(schema, "exclusiveMinimum") && keyword(schema, "exclusiveMinimum")->IsTrue()
             ? d <= lo->GetDouble()
             : d < lo->GetDouble());
    const bool above =
        hi && hi->IsNumber() &&
        (keyword(schema, "exclusiveMaximum") && keyword(schema, "exclusiveMaximum")->IsTrue()
             ? d >= hi->GetDouble()
             : d > hi->GetDouble());
    if (below || above) add(path, expected(schema) + " expected");
  }

  void checkObject(const Value& schema, const Value& v, const std::string& path, int depth) {
    const Value* properties = keyword(schema, "properties");
    if (const Value* required = keyword(schema, "required"); required && required->IsArray()) {
      for (const Value& name : required->GetArray()) {
        if (name.IsString() && !v.HasMember(name))
          add(member(path, name.GetString()), "required setting missing");
      }
    }
    const Value* additional = keyword(schema, "additionalProperties");
    for (const auto& m : v.GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      const std::string at = member(path, name);
      const Value* own = nullptr;
      if (properties && properties->IsObject()) {
        auto p = properties->FindMember(m.name);
        if (p != properties->MemberEnd()) own = &p->value;
      }
      if (own != nullptr) {
        check(*own, m.value, at, depth + 1);
      } else if (additional && additional->IsFalse()) {
        add(at, "unknown setting");
      } else if (additional && additional->IsObject()) {
        check(*additional, m.value, at, depth + 1);
      }
    }
    const Value* min = keyword(schema, "minProperties");
    const Value* max = keyword(schema, "maxProperties");
    if (min && min->IsUint() && v.MemberCount() < min->GetUint())
      add(path, "at least " + std::to_string(min->GetUint()) + " member(s) expected");
    if (max && max->IsUint() && v.MemberCount() > max->GetUint())
      add(path, "at most " + std::to_string(max->GetUint()) + " member(s) expected");
  }

  void checkArray(const Value& schema, const Value& v, const std::string& path, int depth) {
    if (const Value* items = keyword(schema, "items"); items && items->IsObject()) {
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
        check(*items, v[i], element(path, i), depth + 1);
    }
    const Value* min = keyword(schema, "minItems");
    const Value* max = keyword(schema, "maxItems");
    if (min && min->IsUint() && v.Size() < min->GetUint())
      add(path, "at least " + std::to_string(min->GetUint()) + " item(s) expected");
    if (max && max->IsUint() && v.Size() > max->GetUint())
      add(path, "at most " + std::to_string(max->GetUint()) + " item(s) expected");
    if (const Value* u = keyword(schema, "uniqueItems"); u && u->IsTrue()) {
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        for (rapidjson::SizeType j = 0; j < i; ++j) {
          if (v[i] == v[j]) {
            add(element(path, i), "the same value as " + element(path, j));
            break;
          }
        }
      }
    }
  }

  const Value& root_;
  std::vector<SchemaError>& errors_;
};

// A JSON Pointer of RapidJSON's ("/mail/mailboxes/0/url") as our path ("mail.mailboxes[0].url").
std::string pathOf(const rapidjson::Pointer& pointer) {
  std::string path;
  for (std::size_t i = 0; i < pointer.GetTokenCount(); ++i) {
    const auto& t = pointer.GetTokens()[i];
    if (t.index != rapidjson::kPointerInvalidIndex)
      path = element(path, t.index);
    else
      path = member(path, std::string_view(t.name, t.length));
  }
  return path;
}

}  // namespace

const rapidjson::Value* ConfigObject::member(const char* name) const {
  if (v_ == nullptr) return nullptr;
  auto m = v_->FindMember(name);
  return m == v_->MemberEnd() ? nullptr : &m->value;
}

ConfigObject ConfigObject::object(const char* name) const {
  const Value* m = member(name);
  return m ? ConfigObject(*m) : ConfigObject();
}

std::optional<std::string> ConfigObject::string(const char* name) const {
  const Value* m = member(name);
  if (m == nullptr || !m->IsString()) return std::nullopt;
  return std::string(m->GetString(), m->GetStringLength());
}

std::optional<std::int64_t> ConfigObject::integer(const char* name) const {
  const Value* m = member(name);
  if (m == nullptr || !m->IsInt64()) return std::nullopt;
  return m->GetInt64();
}

std::optional<bool> ConfigObject::boolean(const char* name) const {
  const Value* m = member(name);
  if (m == nullptr || !m->IsBool()) return std::nullopt;
  return m->GetBool();
}

std::string toString(const SchemaError& e) {
  return (e.path.empty() ? "(top level)" : e.path) + ": " + e.message;
}

struct ConfigSchema::Impl {
  rapidjson::Document schema;
  std::unique_ptr<rapidjson::SchemaDocument> compiled;
};

ConfigSchema::ConfigSchema(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConfigSchema::ConfigSchema(ConfigSchema&&) noexcept = default;
ConfigSchema& ConfigSchema::operator=(ConfigSchema&&) noexcept = default;
ConfigSchema::~ConfigSchema() = default;

Result<ConfigSchema> ConfigSchema::parse(std::string_view schema_json) {
  auto impl = std::make_unique<Impl>();
  impl->schema.Parse(schema_json.data(), schema_json.size());
  if (impl->schema.HasParseError() || !impl->schema.IsObject()) {
    return makeError(Errc::ConfigInvalid, "the schema is not a JSON object");
  }
  impl->compiled = std::make_unique<rapidjson::SchemaDocument>(impl->schema);
  return ConfigSchema(std::move(impl));
}

std::vector<SchemaError> ConfigSchema::validate(const rapidjson::Value& document) const {
  // Value::Accept recurses: a document nested deeper than any configuration is refused first.
  std::vector<std::pair<const Value*, int>> stack{{&document, 0}};
  while (!stack.empty()) {
    auto [v, depth] = stack.back();
    stack.pop_back();
    if (depth > kMaxDepth) return {{"", "nested too deeply"}};
    if (v->IsObject()) {
      for (const auto& m : v->GetObject())
        stack.emplace_back(&m.value, depth + 1);
    } else if (v->IsArray()) {
      for (const Value& e : v->GetArray())
        stack.emplace_back(&e, depth + 1);
    }
  }
  std::vector<SchemaError> errors;
  Walker(impl_->schema, errors).check(impl_->schema, document, "", 0);
  rapidjson::SchemaValidator validator(*impl_->compiled);
  if (!document.Accept(validator) && errors.empty()) {
    // A keyword the walk does not read: RapidJSON's own words, still with the path.
    errors.push_back(
        {pathOf(validator.GetInvalidDocumentPointer()),
         std::string("fails the schema's \"") + validator.GetInvalidSchemaKeyword() + "\" rule"});
  }
  return errors;
}

std::vector<SchemaError> ConfigSchema::validate(std::string_view document_json) const {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(document_json.data(), document_json.size());
  if (d.HasParseError()) {
    return {{"", std::string("not JSON: ") + rapidjson::GetParseError_En(d.GetParseError()) +
                     " (at byte " + std::to_string(d.GetErrorOffset()) + ")"}};
  }
  return validate(d);
}

}  // namespace liaison::app
