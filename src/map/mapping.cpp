#include "map/mapping.hpp"

#include "core/json/json_out.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <unordered_map>

namespace liaison::map {
namespace {

using json::JsonOut;

using JsonWriter = JsonOut;

// ---------------------------------------------------------------------------------------------
// Expressions and conditions

enum class Fn : std::uint8_t { Code, Display, System, Lookup, Bmi, Year, Text, Refs, FirstWord };

struct Expr {
  enum class Op : std::uint8_t { First, All, Ref, It, ItField, Literal, Call };
  Op op = Op::Literal;
  int binding = -1;     // First / All
  int resource = -1;    // Ref
  std::string literal;  // Literal; Refs prefix
  int table = -1;       // Lookup
  Fn fn = Fn::Code;
  std::vector<Expr> args;
};

struct Cond {
  enum class Op : std::uint8_t { Truthy, Equal, NotEqual, Not, And, Or };
  Op op = Op::Truthy;
  Expr expr;
  std::string literal;
  std::vector<Cond> children;
};

struct Table {
  std::unordered_map<std::string, std::string> rows;  // code → serialised JSON (or string)
  std::unordered_map<std::string, bool> is_string;
};

struct CompileContext {
  const SourceSchema* schema;
  const std::unordered_map<std::string, int>* resource_keys;
  const std::unordered_map<std::string, int>* tables;
  std::string where;
};

class ExprParser {
 public:
  ExprParser(std::string_view text, const CompileContext& ctx) : s_(text), ctx_(ctx) {}

  Result<Expr> parseWhole() {
    auto e = parseExpr();
    if (!e) return e;
    skipSpace();
    if (pos_ != s_.size()) return fail("unexpected '" + std::string(s_.substr(pos_)) + "'");
    return e;
  }

  Result<Cond> parseCondition() {
    auto c = parseOr();
    if (!c) return c;
    skipSpace();
    if (pos_ != s_.size()) return failC("unexpected '" + std::string(s_.substr(pos_)) + "'");
    return c;
  }

 private:
  Error error(const std::string& why) const {
    return makeError(Errc::MappingInvalid,
                     ctx_.where + ": " + why + " in \"" + std::string(s_) + "\"");
  }
  Result<Expr> fail(const std::string& why) const { return error(why); }
  Result<Cond> failC(const std::string& why) const { return error(why); }

  void skipSpace() {
    while (pos_ < s_.size() && s_[pos_] == ' ')
      ++pos_;
  }
  bool keyword(std::string_view kw) {
    skipSpace();
    if (s_.substr(pos_, kw.size()) == kw &&
        (pos_ + kw.size() == s_.size() || s_[pos_ + kw.size()] == ' ' ||
         s_[pos_ + kw.size()] == '(')) {
      pos_ += kw.size();
      return true;
    }
    return false;
  }
  static bool identChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  }

  Result<Cond> parseOr() {
    auto left = parseAnd();
    if (!left) return left;
    if (!keyword("or")) return left;
    Cond c;
    c.op = Cond::Op::Or;
    c.children.push_back(std::move(*left));
    do {
      auto right = parseAnd();
      if (!right) return right;
      c.children.push_back(std::move(*right));
    } while (keyword("or"));
    return c;
  }
  Result<Cond> parseAnd() {
    auto left = parseUnary();
    if (!left) return left;
    if (!keyword("and")) return left;
    Cond c;
    c.op = Cond::Op::And;
    c.children.push_back(std::move(*left));
    do {
      auto right = parseUnary();
      if (!right) return right;
      c.children.push_back(std::move(*right));
    } while (keyword("and"));
    return c;
  }
  Result<Cond> parseUnary() {
    if (keyword("not")) {
      auto inner = parseUnary();
      if (!inner) return inner;
      Cond c;
      c.op = Cond::Op::Not;
      c.children.push_back(std::move(*inner));
      return c;
    }
    auto e = parseExpr();
    if (!e) return e.error();
    Cond c;
    c.expr = std::move(*e);
    skipSpace();
    if (s_.substr(pos_, 2) == "==" || s_.substr(pos_, 2) == "!=") {
      c.op = s_[pos_] == '=' ? Cond::Op::Equal : Cond::Op::NotEqual;
      pos_ += 2;
      skipSpace();
      auto lit = parseLiteral();
      if (!lit) return lit.error();
      c.literal = std::move(*lit);
    }
    return c;
  }

  Result<std::string> parseLiteral() {
    if (pos_ < s_.size() && s_[pos_] == '\'') {
      std::size_t end = s_.find('\'', pos_ + 1);
      if (end == std::string_view::npos) return error("unterminated string");
      std::string lit(s_.substr(pos_ + 1, end - pos_ - 1));
      pos_ = end + 1;
      return lit;
    }
    std::size_t start = pos_;
    while (pos_ < s_.size() && identChar(s_[pos_]))
      ++pos_;
    if (start == pos_) return error("literal expected");
    return std::string(s_.substr(start, pos_ - start));
  }

  Result<Expr> parseExpr() {
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == '\'') {
      auto lit = parseLiteral();
      if (!lit) return lit.error();
      Expr e;
      e.op = Expr::Op::Literal;
      e.literal = std::move(*lit);
      return e;
    }
    std::size_t start = pos_;
    while (pos_ < s_.size() && identChar(s_[pos_]))
      ++pos_;
    std::string_view name = s_.substr(start, pos_ - start);
    if (name.empty()) return fail("expression expected");
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == '(') {
      ++pos_;
      std::vector<Expr> args;
      skipSpace();
      while (pos_ < s_.size() && s_[pos_] != ')') {
        auto a = parseExpr();
        if (!a) return a;
        args.push_back(std::move(*a));
        skipSpace();
        if (pos_ < s_.size() && s_[pos_] == ',') ++pos_;
        skipSpace();
      }
      if (pos_ >= s_.size()) return fail("')' expected");
      ++pos_;
      return call(name, std::move(args));
    }
    return path(name);
  }

  Result<Expr> call(std::string_view name, std::vector<Expr> args) {
    static const std::unordered_map<std::string_view, std::pair<Fn, std::size_t>> kFns = {
        {"code", {Fn::Code, 1}},
        {"display", {Fn::Display, 1}},
        {"system", {Fn::System, 1}},
        {"lookup", {Fn::Lookup, 2}},
        {"bmi", {Fn::Bmi, 2}},
        {"year", {Fn::Year, 1}},
        {"text", {Fn::Text, 1}},
        {"refs", {Fn::Refs, 1}},
        {"firstWord", {Fn::FirstWord, 1}},
    };
    auto it = kFns.find(name);
    if (it == kFns.end()) return fail("unknown function " + std::string(name));
    if (args.size() != it->second.second)
      return fail("wrong argument count for " + std::string(name));
    Expr e;
    e.op = Expr::Op::Call;
    e.fn = it->second.first;
    if (e.fn == Fn::Lookup) {
      if (args[0].op != Expr::Op::Literal) return fail("lookup() takes a table name first");
      auto t = ctx_.tables->find(args[0].literal);
      if (t == ctx_.tables->end()) return fail("unknown table " + args[0].literal);
      e.table = t->second;
    }
    if (e.fn == Fn::Refs) {
      if (args[0].op != Expr::Op::Literal) return fail("refs() takes a key prefix");
      e.literal = args[0].literal;
    }
    e.args = std::move(args);
    return e;
  }

  Result<Expr> path(std::string_view name) {
    Expr e;
    if (name == "it") {
      e.op = Expr::Op::It;
      return e;
    }
    if (name.substr(0, 3) == "it.") {  // a field of the current record (checked at run time)
      e.op = Expr::Op::ItField;
      e.literal = std::string(name.substr(3));
      return e;
    }
    if (name.substr(0, 4) == "ref.") {
      auto k = ctx_.resource_keys->find(std::string(name.substr(4)));
      if (k == ctx_.resource_keys->end())
        return fail("unknown resource key " + std::string(name.substr(4)));
      e.op = Expr::Op::Ref;
      e.resource = k->second;
      return e;
    }
    // "answers.X" is every answer of X; any other name is its first value.
    std::string bound(name);
    e.op = Expr::Op::First;
    if (name.substr(0, 8) == "answers.") {
      e.op = Expr::Op::All;
      bound = "answer." + std::string(name.substr(8));
    }
    auto b = ctx_.schema->bind(bound);
    if (!b) return fail("unknown name " + std::string(name));
    e.binding = *b;
    return e;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  const CompileContext& ctx_;
};

// ---------------------------------------------------------------------------------------------
// Templates

struct Node {
  struct Member;  // of an Object
  // Nothing: an empty object or array in the template, never written (FHIR forbids them).
  enum class Kind : std::uint8_t { Literal, Expr, Interp, Object, Array, Each, Nothing };
  Kind kind = Kind::Literal;
  bool dynamic = false;  // depends on the input (else always written as is)
  std::string literal;   // Literal: serialised JSON
  Expr expr;             // Expr; Each (the list)
  std::vector<std::pair<bool, std::string>> parts;  // Interp: (is_expr, text) — exprs below
  std::vector<Expr> part_exprs;
  std::vector<Member> members;  // Object
  std::optional<Cond> when;     // Object
  std::vector<Node> elements;   // Array; Each: [template]
};

// A struct rather than std::pair<std::string, Node>: clang with libstdc++ cannot check pair's
// constraints on a type that holds a vector of them (the fuzzers' build).
struct Node::Member {
  std::string name;  // "\"name\":"
  Node node;
};

struct Resource {
  std::string key;
  std::string resource_type;
  std::optional<Expr> each;  // one resource per value ("it"), decided at run time
  std::optional<Cond> when;
  Node resource;
  Node request;
  std::uint64_t key_hash = 0;
};

std::string serialise(const rapidjson::Value& v) {
  std::string out;
  JsonOut w(out);
  json::JsonOutSax sax{w};
  v.Accept(sax);
  return out;
}

// Replaces ${name} with forEach variables, in place. A string that is exactly "${name}" takes
// the variable's JSON value (object, number…); inside text, its string form. Member names take
// the string form too.
void substitute(rapidjson::Value& v, const rapidjson::Value& vars,
                rapidjson::Document::AllocatorType& a, bool text_only = false) {
  if (v.IsString()) {
    std::string s(v.GetString(), v.GetStringLength());
    if (s.find("${") == std::string::npos) return;
    for (auto m = vars.MemberBegin(); m != vars.MemberEnd(); ++m) {
      std::string token = "${" + std::string(m->name.GetString()) + "}";
      if (s == token && !text_only) {
        v.CopyFrom(m->value, a);
        return;
      }
      std::string text = m->value.IsString() ? m->value.GetString() : serialise(m->value);
      for (std::size_t at = s.find(token); at != std::string::npos;
           at = s.find(token, at + text.size())) {
        s.replace(at, token.size(), text);
      }
    }
    v.SetString(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a);
  } else if (v.IsObject()) {
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      substitute(m->name, vars, a, true);
      substitute(m->value, vars, a);
    }
  } else if (v.IsArray()) {
    for (auto& e : v.GetArray())
      substitute(e, vars, a);
  }
}

std::optional<Error> compileNode(const rapidjson::Value& v, const CompileContext& ctx, Node& out);

std::optional<Error> compileString(std::string_view s, const CompileContext& ctx, Node& out) {
  if (s.find("${") != std::string_view::npos) {
    return makeError(Errc::MappingInvalid,
                     ctx.where + ": unbound variable in \"" + std::string(s) + "\"");
  }
  std::size_t open = s.find("{{");
  if (open == std::string_view::npos) {
    out.kind = Node::Kind::Literal;
    rapidjson::Value tmp(rapidjson::StringRef(s.data(), s.size()));
    out.literal = serialise(tmp);
    return std::nullopt;
  }
  out.dynamic = true;
  if (open == 0 && s.size() >= 4 && s.substr(s.size() - 2) == "}}" &&
      s.find("{{", 2) == std::string_view::npos) {
    out.kind = Node::Kind::Expr;
    auto e = ExprParser(s.substr(2, s.size() - 4), ctx).parseWhole();
    if (!e) return e.error();
    out.expr = std::move(*e);
    return std::nullopt;
  }
  out.kind = Node::Kind::Interp;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t o = s.find("{{", pos);
    if (o == std::string_view::npos) {
      out.parts.emplace_back(false, std::string(s.substr(pos)));
      break;
    }
    if (o > pos) out.parts.emplace_back(false, std::string(s.substr(pos, o - pos)));
    std::size_t c = s.find("}}", o);
    if (c == std::string_view::npos)
      return makeError(Errc::MappingInvalid, ctx.where + ": unterminated {{");
    auto e = ExprParser(s.substr(o + 2, c - o - 2), ctx).parseWhole();
    if (!e) return e.error();
    out.parts.emplace_back(true, std::string());
    out.part_exprs.push_back(std::move(*e));
    pos = c + 2;
  }
  return std::nullopt;
}

std::optional<Error> compileNode(const rapidjson::Value& v, const CompileContext& ctx, Node& out) {
  if (v.IsString()) return compileString({v.GetString(), v.GetStringLength()}, ctx, out);
  if (v.IsObject()) {
    if (v.HasMember("$each")) {
      const auto& each = v["$each"];
      if (!each.IsString() || !v.HasMember("$value")) {
        return makeError(Errc::MappingInvalid,
                         ctx.where + ": $each needs an expression and a $value");
      }
      out.kind = Node::Kind::Each;
      out.dynamic = true;
      auto e = ExprParser({each.GetString(), each.GetStringLength()}, ctx).parseWhole();
      if (!e) return e.error();
      out.expr = std::move(*e);
      out.elements.emplace_back();
      return compileNode(v["$value"], ctx, out.elements.back());
    }
    out.kind = Node::Kind::Object;
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      std::string name(m->name.GetString(), m->name.GetStringLength());
      if (name == "$when") {
        if (!m->value.IsString())
          return makeError(Errc::MappingInvalid, ctx.where + ": $when must be a string");
        auto c =
            ExprParser({m->value.GetString(), m->value.GetStringLength()}, ctx).parseCondition();
        if (!c) return c.error();
        out.when = std::move(*c);
        out.dynamic = true;
        continue;
      }
      if (name.find("${") != std::string::npos) {
        return makeError(Errc::MappingInvalid,
                         ctx.where + ": unbound variable in key \"" + name + "\"");
      }
      CompileContext inner = ctx;
      inner.where += "." + name;
      Node child;
      if (auto err = compileNode(m->value, inner, child)) return err;
      if (child.kind == Node::Kind::Each) {
        return makeError(Errc::MappingInvalid,
                         inner.where + ": $each must be an element of an array");
      }
      if (child.kind == Node::Kind::Nothing) continue;  // [] and {} are never written
      out.dynamic = out.dynamic || child.dynamic;
      // Kept as its JSON text with the colon: written as is for every resource.
      out.members.push_back(Node::Member{JsonOut::quoted(name) + ':', std::move(child)});
    }
    if (out.members.empty() && !out.when) {
      out.kind = Node::Kind::Nothing;
      out.dynamic = true;
    } else if (!out.dynamic) {
      // Every member is a literal: written as one (without the empty members left out above).
      out.kind = Node::Kind::Literal;
      out.literal = "{";
      for (const auto& [name, child] : out.members) {
        if (out.literal.size() > 1) out.literal += ',';
        out.literal += name;  // already "\"name\":"
        out.literal += child.literal;
      }
      out.literal += '}';
      out.members.clear();
    }
    return std::nullopt;
  }
  if (v.IsArray()) {
    out.kind = Node::Kind::Array;
    std::size_t i = 0;
    for (const auto& e : v.GetArray()) {
      CompileContext inner = ctx;
      inner.where += "[" + std::to_string(i++) + "]";
      Node child;
      if (auto err = compileNode(e, inner, child)) return err;
      if (child.kind == Node::Kind::Nothing) continue;  // [] and {} are never written
      out.dynamic = out.dynamic || child.dynamic;
      out.elements.push_back(std::move(child));
    }
    if (out.elements.empty()) {
      out.kind = Node::Kind::Nothing;
      out.dynamic = true;
    } else if (!out.dynamic) {
      out.kind = Node::Kind::Literal;
      out.literal = "[";
      for (const Node& child : out.elements) {
        if (out.literal.size() > 1) out.literal += ',';
        out.literal += child.literal;
      }
      out.literal += ']';
      out.elements.clear();
    }
    return std::nullopt;
  }
  out.kind = Node::Kind::Literal;
  out.literal = serialise(v);
  return std::nullopt;
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

std::uint64_t splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string uuidFromHash(std::uint64_t seed, std::uint64_t key_hash) {
  std::uint64_t state = seed ^ key_hash;
  std::uint64_t hi = splitmix(state);
  std::uint64_t lo = splitmix(state);
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  // 8-4-4-4-12 hex digits; written by hand because snprintf showed up in intake profiles.
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  std::size_t pos = 0;
  auto put = [&](std::uint64_t v, int digits) {
    for (int d = digits - 1; d >= 0; --d)
      out[pos++] = kHex[(v >> (4 * d)) & 0xF];
  };
  put(hi >> 32, 8);
  ++pos;
  put(hi >> 16, 4);
  ++pos;
  put(hi, 4);
  ++pos;
  put(lo >> 48, 4);
  ++pos;
  put(lo, 12);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct Mapping::Compiled {
  std::string name;
  std::string source;
  std::map<std::string, std::vector<std::string>> applies_to;
  std::string bundle_type = "transaction";
  std::vector<Table> tables;
  std::vector<Resource> resources;
};

namespace {

// Evaluation of one run.
struct Run {
  const std::vector<Resource>* resources;
  const Source* source;
  const std::vector<Table>* tables;
  // Per resource, its instances: one unless "each" (then one per value, "when" held).
  struct Instance {
    std::string full_url;
    Value it;  // Absent unless the resource has "each"
  };
  std::vector<std::vector<Instance>> instances;
  std::vector<const Value*> it_stack;  // current $each value
  std::string scratch;                 // text built by functions (bmi, year…)
  std::deque<std::string> owned;       // text made by functions; a deque never moves it

  Value evalScalar(const Expr& e) {
    switch (e.op) {
      case Expr::Op::First:
      case Expr::Op::All: {
        for (const Value& v : source->values(e.binding)) {
          if (v.present()) return v;
        }
        return {};
      }
      case Expr::Op::Ref: {
        const auto& list = instances[static_cast<std::size_t>(e.resource)];
        return list.empty() ? Value{} : Value::ofString(list.front().full_url);
      }
      case Expr::Op::It:
        return it_stack.empty() ? Value{} : *it_stack.back();
      case Expr::Op::ItField: {
        if (it_stack.empty() || it_stack.back()->kind != Value::Kind::Record) return {};
        return it_stack.back()->record->field(e.literal);
      }
      case Expr::Op::Literal:
        return Value::ofString(e.literal);
      case Expr::Op::Call:
        return call(e);
    }
    return {};
  }

  template <typename F>
  void forEachValue(const Expr& e, F&& f, bool every_value = false) {
    // "answers.X" is every value of X; so is any name where a list is wanted (each, $each).
    if (e.op == Expr::Op::All || (e.op == Expr::Op::First && every_value)) {
      for (const Value& v : source->values(e.binding)) {
        if (v.present()) f(v);
      }
      return;
    }
    if (e.op == Expr::Op::Call && e.fn == Fn::Refs) {
      for (std::size_t i = 0; i < resources->size(); ++i) {
        if ((*resources)[i].key.compare(0, e.literal.size(), e.literal) != 0) continue;
        for (const Instance& instance : instances[i]) {
          Value v = Value::ofString(instance.full_url);
          f(v);
        }
      }
      return;
    }
    Value v = evalScalar(e);
    if (v.present()) f(v);
  }

  std::string_view keep(std::string s) {
    owned.push_back(std::move(s));
    return owned.back();
  }

  static void appendText(const Value& v, std::string& out) {
    char buf[32];
    switch (v.kind) {
      case Value::Kind::Bool:
        out += v.boolean ? "true" : "false";
        break;
      case Value::Kind::Integer: {
        auto r = std::to_chars(buf, buf + sizeof buf, v.integer);
        out.append(buf, r.ptr);
        break;
      }
      case Value::Kind::Decimal: {
        auto r = std::to_chars(buf, buf + sizeof buf, v.decimal);
        out.append(buf, r.ptr);
        break;
      }
      case Value::Kind::String:
        out += v.string;
        break;
      case Value::Kind::Coding:
        out += v.coding->code;
        break;
      case Value::Kind::Absent:
      case Value::Kind::RawJson:
      case Value::Kind::Record:
        break;
    }
  }

  Value call(const Expr& e) {
    switch (e.fn) {
      case Fn::Code: {
        Value v = evalScalar(e.args[0]);
        if (v.kind == Value::Kind::Coding) return Value::ofString(v.coding->code);
        return v.kind == Value::Kind::String ? v : Value{};
      }
      case Fn::Display: {
        Value v = evalScalar(e.args[0]);
        return v.kind == Value::Kind::Coding ? Value::ofString(v.coding->display) : Value{};
      }
      case Fn::System: {
        Value v = evalScalar(e.args[0]);
        return v.kind == Value::Kind::Coding ? Value::ofString(v.coding->system) : Value{};
      }
      case Fn::Lookup: {
        Value v = evalScalar(e.args[1]);
        std::string k;
        appendText(v, k);
        const Table& t = (*tables)[static_cast<std::size_t>(e.table)];
        auto row = t.rows.find(k);
        if (row == t.rows.end()) return {};
        if (t.is_string.at(k)) return Value::ofString(row->second);
        return Value::ofRawJson(row->second);
      }
      case Fn::Bmi: {
        Value w = evalScalar(e.args[0]);
        Value h = evalScalar(e.args[1]);
        auto num = [](const Value& v) -> std::optional<double> {
          if (v.kind == Value::Kind::Decimal) return v.decimal;
          if (v.kind == Value::Kind::Integer) return static_cast<double>(v.integer);
          return std::nullopt;
        };
        auto kg = num(w);
        auto cm = num(h);
        if (!kg || !cm || *cm <= 0 || *kg <= 0) return {};
        double m = *cm / 100.0;
        return Value::ofDecimal(std::round(*kg / (m * m) * 10.0) / 10.0);
      }
      case Fn::Year: {
        Value v = evalScalar(e.args[0]);
        if (v.kind == Value::Kind::String && v.string.size() >= 4) {
          std::int64_t y = 0;
          auto r = std::from_chars(v.string.data(), v.string.data() + 4, y);
          if (r.ec == std::errc()) return Value::ofInteger(y);
        }
        return {};
      }
      case Fn::Text: {
        Value v = evalScalar(e.args[0]);
        if (v.kind == Value::Kind::Coding) return Value::ofString(v.coding->display);
        std::string s;
        appendText(v, s);
        return Value::ofString(keep(std::move(s)));
      }
      case Fn::FirstWord: {
        // "Marie Louise" → "Marie": the first given name is an INS trait of its own.
        Value v = evalScalar(e.args[0]);
        if (v.kind != Value::Kind::String) return {};
        std::string_view s = v.string;
        while (!s.empty() && (s.front() == ' ' || s.front() == ','))
          s.remove_prefix(1);
        return Value::ofString(s.substr(0, s.find_first_of(" ,")));
      }
      case Fn::Refs: {
        Value first;
        forEachValue(e, [&](const Value& v) {
          if (!first.present()) first = v;
        });
        return first;
      }
    }
    return {};
  }

  bool truthy(const Value& v) {
    return v.present() && !(v.kind == Value::Kind::Bool && !v.boolean);
  }

  bool test(const Cond& cond) {
    switch (cond.op) {
      case Cond::Op::Truthy: {
        bool any = false;
        forEachValue(cond.expr, [&](const Value& v) { any = any || truthy(v); });
        return any;
      }
      case Cond::Op::Equal:
      case Cond::Op::NotEqual: {
        bool equal = false;
        forEachValue(cond.expr, [&](const Value& v) {
          std::string s;
          appendText(v, s);
          equal = equal || s == cond.literal;
        });
        return cond.op == Cond::Op::Equal ? equal : !equal;
      }
      case Cond::Op::Not:
        return !test(cond.children[0]);
      case Cond::Op::And:
        for (const Cond& ch : cond.children) {
          if (!test(ch)) return false;
        }
        return true;
      case Cond::Op::Or:
        for (const Cond& ch : cond.children) {
          if (test(ch)) return true;
        }
        return false;
    }
    return false;
  }

  void writeValue(const Value& v, JsonWriter& w) {
    switch (v.kind) {
      case Value::Kind::Bool:
        w.Bool(v.boolean);
        break;
      case Value::Kind::Integer:
        w.Int64(v.integer);
        break;
      case Value::Kind::Decimal:
        w.Double(v.decimal);
        break;
      case Value::Kind::String:
        w.String(v.string.data(), static_cast<rapidjson::SizeType>(v.string.size()));
        break;
      case Value::Kind::Coding: {
        w.StartObject();
        const form::Coding& coding = *v.coding;
        if (!coding.system.empty()) {
          w.Key("system");
          w.String(coding.system.data(), static_cast<rapidjson::SizeType>(coding.system.size()));
        }
        w.Key("code");
        w.String(coding.code.data(), static_cast<rapidjson::SizeType>(coding.code.size()));
        if (!coding.display.empty()) {
          w.Key("display");
          w.String(coding.display.data(), static_cast<rapidjson::SizeType>(coding.display.size()));
        }
        w.EndObject();
        break;
      }
      case Value::Kind::RawJson:
        w.RawValue(v.string.data(), v.string.size());
        break;
      case Value::Kind::Absent:
      case Value::Kind::Record:  // emit() never writes a record as a whole
        w.Null();
        break;
    }
  }

  // Writes the node when it is present and says whether it did. Each expression is evaluated
  // once: containers are written optimistically and taken back when nothing dynamic in them was
  // present (an object with only absent dynamic members, an array with no element left).
  // `required` keeps a container even then (a resource, a request).
  bool emit(const Node& n, JsonWriter& w, bool required = false) {
    switch (n.kind) {
      case Node::Kind::Literal:
        w.RawValue(n.literal.data(), n.literal.size());
        return true;
      case Node::Kind::Nothing:
        return false;
      case Node::Kind::Expr: {
        Value v = evalScalar(n.expr);
        if (!v.present() || v.kind == Value::Kind::Record) return false;  // records: it.<field>
        writeValue(v, w);
        return true;
      }
      case Node::Kind::Interp: {
        scratch.clear();
        std::size_t k = 0;
        for (const auto& [is_expr, text] : n.parts) {
          if (!is_expr) {
            scratch += text;
            continue;
          }
          Value v = evalScalar(n.part_exprs[k++]);
          if (!v.present()) return false;
          appendText(v, scratch);
        }
        w.String(scratch.data(), scratch.size());
        return true;
      }
      case Node::Kind::Object: {
        if (n.when && !test(*n.when) && !required) return false;
        const JsonOut::Checkpoint start = w.checkpoint();
        w.StartObject();
        bool has_dynamic = false;
        bool wrote_dynamic = false;
        for (const auto& [name, child] : n.members) {
          if (!child.dynamic) {
            w.KeyRaw(name);
            w.RawValue(child.literal.data(), child.literal.size());
            continue;
          }
          has_dynamic = true;
          const JsonOut::Checkpoint member = w.checkpoint();
          w.KeyRaw(name);
          if (emit(child, w)) {
            wrote_dynamic = true;
          } else {
            w.rollback(member);
          }
        }
        w.EndObject();
        // Only literal members (dynamic through its $when alone): kept when the $when holds.
        bool kept = has_dynamic ? wrote_dynamic : !n.members.empty();
        if (!kept && !required) {
          w.rollback(start);
          return false;
        }
        return true;
      }
      case Node::Kind::Array: {
        const JsonOut::Checkpoint start = w.checkpoint();
        w.StartArray();
        bool any = false;
        for (const Node& e : n.elements) {
          if (e.kind == Node::Kind::Each) {
            any = emitEach(e, w) || any;
          } else if (!e.dynamic) {
            w.RawValue(e.literal.data(), e.literal.size());
            any = true;
          } else {
            const JsonOut::Checkpoint element = w.checkpoint();
            if (emit(e, w)) {
              any = true;
            } else {
              w.rollback(element);
            }
          }
        }
        w.EndArray();
        if (!any && !required) {
          w.rollback(start);
          return false;
        }
        return true;
      }
      case Node::Kind::Each:
        return emitEach(n, w);  // compile() only puts $each in arrays
    }
    return false;
  }

  bool emitEach(const Node& n, JsonWriter& w) {
    bool any = false;
    forEachValue(
        n.expr,
        [&](const Value& v) {
          it_stack.push_back(&v);
          const JsonOut::Checkpoint element = w.checkpoint();
          if (emit(n.elements[0], w)) {
            any = true;
          } else {
            w.rollback(element);
          }
          it_stack.pop_back();
        },
        true);
    return any;
  }
};

}  // namespace

Mapping::Mapping(std::unique_ptr<Compiled> c) : c_(std::move(c)) {}
Mapping::Mapping(Mapping&&) noexcept = default;
Mapping& Mapping::operator=(Mapping&&) noexcept = default;
Mapping::~Mapping() = default;

const std::string& Mapping::name() const {
  return c_->name;
}
const std::string& Mapping::sourceName() const {
  return c_->source;
}

Result<Mapping> Mapping::compile(std::string_view text, const SourceSchema& schema,
                                 const Variables& globals) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) {
    return makeError(Errc::MappingInvalid, std::string("mapping JSON: ") +
                                               rapidjson::GetParseError_En(doc.GetParseError()) +
                                               " at offset " +
                                               std::to_string(doc.GetErrorOffset()));
  }
  if (!globals.empty()) {
    // Deployment-wide variables (${canonical}…) first, everywhere; forEach ones come later.
    rapidjson::Document vars(rapidjson::kObjectType);
    for (const auto& [name, value] : globals) {
      vars.AddMember(rapidjson::Value(name.c_str(), vars.GetAllocator()),
                     rapidjson::Value(value.c_str(), vars.GetAllocator()), vars.GetAllocator());
    }
    substitute(doc, vars, doc.GetAllocator());
  }
  if (!doc.IsObject() || !doc.HasMember("resources") || !doc["resources"].IsArray()) {
    return makeError(Errc::MappingInvalid,
                     "mapping: an object with a \"resources\" array is expected");
  }
  auto c = std::make_unique<Compiled>();
  if (doc.HasMember("name") && doc["name"].IsString()) c->name = doc["name"].GetString();
  if (doc.HasMember("source") && doc["source"].IsString()) c->source = doc["source"].GetString();
  if (doc.HasMember("appliesTo")) {
    const auto& a = doc["appliesTo"];
    if (!a.IsObject())
      return makeError(Errc::MappingInvalid,
                       "mapping: appliesTo must be an object of string arrays");
    for (auto m = a.MemberBegin(); m != a.MemberEnd(); ++m) {
      if (!m->value.IsArray())
        return makeError(Errc::MappingInvalid, "mapping: appliesTo values are arrays");
      auto& list = c->applies_to[m->name.GetString()];
      for (const auto& v : m->value.GetArray()) {
        if (!v.IsString())
          return makeError(Errc::MappingInvalid, "mapping: appliesTo values are strings");
        list.emplace_back(v.GetString());
      }
    }
  }
  if (doc.HasMember("bundleType") && doc["bundleType"].IsString())
    c->bundle_type = doc["bundleType"].GetString();

  std::unordered_map<std::string, int> table_index;
  if (doc.HasMember("tables") && doc["tables"].IsObject()) {
    for (auto t = doc["tables"].MemberBegin(); t != doc["tables"].MemberEnd(); ++t) {
      if (!t->value.IsObject())
        return makeError(Errc::MappingInvalid, "mapping: table must be an object");
      Table table;
      for (auto r = t->value.MemberBegin(); r != t->value.MemberEnd(); ++r) {
        std::string k = r->name.GetString();
        table.is_string[k] = r->value.IsString();
        table.rows[k] =
            r->value.IsString() ? std::string(r->value.GetString()) : serialise(r->value);
      }
      table_index[t->name.GetString()] = static_cast<int>(c->tables.size());
      c->tables.push_back(std::move(table));
    }
  }

  // Expand forEach (compile-time variables) into plain resources, keeping file order.
  rapidjson::Document expanded(rapidjson::kArrayType);
  auto& alloc = expanded.GetAllocator();
  std::size_t index = 0;
  for (const auto& r : doc["resources"].GetArray()) {
    std::string where = "resources[" + std::to_string(index++) + "]";
    if (!r.IsObject() || !r.HasMember("key") || !r.HasMember("resource")) {
      return makeError(Errc::MappingInvalid, where + ": \"key\" and \"resource\" are required");
    }
    if (r.HasMember("forEach")) {
      if (!r["forEach"].IsArray())
        return makeError(Errc::MappingInvalid, where + ": forEach must be an array");
      for (const auto& vars : r["forEach"].GetArray()) {
        if (!vars.IsObject())
          return makeError(Errc::MappingInvalid, where + ": forEach entries are objects");
        rapidjson::Value copy(r, alloc);
        copy.RemoveMember("forEach");
        substitute(copy, vars, alloc);
        expanded.PushBack(copy, alloc);
      }
    } else {
      expanded.PushBack(rapidjson::Value(r, alloc), alloc);
    }
  }

  if (expanded.Empty()) return makeError(Errc::MappingInvalid, "mapping: no resources");
  std::unordered_map<std::string, int> keys;
  for (const auto& r : expanded.GetArray()) {
    if (!r["key"].IsString())
      return makeError(Errc::MappingInvalid, "resource key must be a string");
    std::string key = r["key"].GetString();
    if (!keys.emplace(key, static_cast<int>(keys.size())).second) {
      return makeError(Errc::MappingInvalid, "duplicate resource key " + key);
    }
  }
  for (const auto& r : expanded.GetArray()) {
    Resource res;
    res.key = r["key"].GetString();
    res.key_hash = fnv1a(res.key);
    CompileContext ctx{&schema, &keys, &table_index, res.key};
    const auto& body = r["resource"];
    if (!body.IsObject() || !body.HasMember("resourceType") || !body["resourceType"].IsString()) {
      return makeError(Errc::MappingInvalid, res.key + ": resource.resourceType is required");
    }
    res.resource_type = body["resourceType"].GetString();
    if (r.HasMember("each")) {
      if (!r["each"].IsString())
        return makeError(Errc::MappingInvalid, res.key + ": each must be a string");
      auto each = ExprParser(r["each"].GetString(), ctx).parseWhole();
      if (!each) return each.error();
      res.each = std::move(*each);
    }
    if (r.HasMember("when")) {
      if (!r["when"].IsString())
        return makeError(Errc::MappingInvalid, res.key + ": when must be a string");
      auto cond = ExprParser(r["when"].GetString(), ctx).parseCondition();
      if (!cond) return cond.error();
      res.when = std::move(*cond);
    }
    if (auto err = compileNode(body, ctx, res.resource)) return *err;
    if (r.HasMember("request")) {
      CompileContext rctx = ctx;
      rctx.where += ".request";
      // A transaction entry without method or url is not FHIR: refuse it here, not at run time.
      const auto& req = r["request"];
      if (!req.IsObject() || !req.HasMember("method") || !req["method"].IsString() ||
          !req.HasMember("url") || !req["url"].IsString()) {
        return makeError(Errc::MappingInvalid,
                         rctx.where + ": an object with \"method\" and \"url\" strings");
      }
      if (auto err = compileNode(r["request"], rctx, res.request)) return *err;
    } else {
      rapidjson::Value req(rapidjson::kObjectType);
      req.AddMember("method", "POST", alloc);
      req.AddMember("url", rapidjson::Value(res.resource_type.c_str(), alloc), alloc);
      if (auto err = compileNode(req, ctx, res.request)) return *err;
    }
    c->resources.push_back(std::move(res));
  }
  return Mapping(std::move(c));
}

void Mapping::writeEntries(const Source& source, std::uint64_t seed, json::JsonOut& w,
                           bool with_request, std::vector<EmittedResource>& emitted) const {
  Run run{&c_->resources, &source, &c_->tables, {}, {}, {}, {}};
  // Pass 1: which resources exist (and how many of each "each"), so that references may
  // point forwards.
  run.instances.resize(c_->resources.size());
  for (std::size_t i = 0; i < c_->resources.size(); ++i) {
    const Resource& r = c_->resources[i];
    auto& list = run.instances[i];
    if (!r.each) {
      if (!r.when || run.test(*r.when))
        list.push_back({"urn:uuid:" + uuidFromHash(seed, r.key_hash), Value{}});
      continue;
    }
    std::size_t n = 0;
    run.forEachValue(
        *r.each,
        [&](const Value& v) {
          run.it_stack.push_back(&v);
          if (!r.when || run.test(*r.when)) {
            list.push_back(
                {"urn:uuid:" + uuidFromHash(seed, fnv1a(r.key + "#" + std::to_string(n))), v});
          }
          run.it_stack.pop_back();
          ++n;
        },
        /*every_value=*/true);
  }
  // Pass 2: write.
  for (std::size_t i = 0; i < c_->resources.size(); ++i) {
    const Resource& r = c_->resources[i];
    std::size_t n = 0;
    for (const Run::Instance& instance : run.instances[i]) {
      if (r.each) run.it_stack.push_back(&instance.it);
      w.StartObject();
      w.Key("fullUrl");
      w.String(instance.full_url);
      w.Key("resource");
      run.emit(r.resource, w, true);
      if (with_request) {
        w.Key("request");
        run.emit(r.request, w, true);
      }
      w.EndObject();
      if (r.each) run.it_stack.pop_back();
      emitted.push_back(
          {r.each ? r.key + "#" + std::to_string(n++) : r.key, r.resource_type, instance.full_url});
    }
  }
}

BundleOutput Mapping::run(const Source& source, std::uint64_t seed) const {
  BundleOutput out;
  out.json.reserve(48 * 1024);
  JsonWriter w(out.json);
  w.StartObject();
  w.Key("resourceType");
  w.String("Bundle");
  w.Key("type");
  w.String(c_->bundle_type);
  // FHIR has no empty arrays: "entry" is taken back when no resource was written.
  const JsonOut::Checkpoint before_entry = w.checkpoint();
  w.Key("entry");
  w.StartArray();
  writeEntries(source, seed, w, c_->bundle_type == "transaction" || c_->bundle_type == "batch",
               out.resources);
  w.EndArray();
  if (out.resources.empty()) w.rollback(before_entry);
  w.EndObject();
  return out;
}

const std::map<std::string, std::vector<std::string>>& Mapping::appliesTo() const {
  return c_->applies_to;
}

std::string deriveUuid(std::uint64_t seed, std::string_view key) {
  return uuidFromHash(seed, fnv1a(key));
}

}  // namespace liaison::map
