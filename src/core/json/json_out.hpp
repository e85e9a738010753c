#pragma once
// liaison's JSON text writer (RapidJSON parses; this writes). It has the shape of RapidJSON's
// Writer plus what compiled templates exploit: member names escaped once (KeyRaw), and string
// escaping that copies runs of plain bytes eight at a time. Why not RapidJSON's Writer: it
// escapes byte by byte (a fifth of the form-intake profile), and with RAPIDJSON_SSE2 its 1.1.0
// release leaves 0x1A-0x1E unescaped. Output is RFC 8259 JSON; non-ASCII passes through.

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace liaison::json {

class JsonOut {
 public:
  explicit JsonOut(std::string& out) : out_(out) { first_.reserve(32); }

  void StartObject() { open('{'); }
  // An object whose first members are already JSON text ("\"a\":1,\"b\":2"), more may follow.
  void StartObjectWith(std::string_view encoded_members) {
    open('{');
    if (!encoded_members.empty()) {
      out_ += encoded_members;
      first_.back() = 0;
    }
  }
  void EndObject() { close('}'); }
  void StartArray() { open('['); }
  void EndArray() { close(']'); }

  // A member name as plain text.
  void Key(std::string_view name) {
    separate();
    appendEscaped(name);
    out_ += ':';
    after_key_ = true;
  }
  void Key(const char* name, std::size_t n) { Key(std::string_view(name, n)); }
  void Key(const char* name) { Key(std::string_view(name)); }
  // A member name already written as JSON with its colon: "\"name\":".
  void KeyRaw(std::string_view encoded) {
    separate();
    out_ += encoded;
    after_key_ = true;
  }

  void String(std::string_view s) {
    separate();
    appendEscaped(s);
  }
  void String(const char* s, std::size_t n) { String(std::string_view(s, n)); }
  void String(const char* s) { String(std::string_view(s)); }
  void RawValue(const char* json, std::size_t n) {
    separate();
    out_.append(json, n);
  }
  void Bool(bool b) {
    separate();
    out_ += b ? "true" : "false";
  }
  void Null() {
    separate();
    out_ += "null";
  }
  void Int64(std::int64_t v) {
    separate();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  // Shortest text that reads back as the same double, with ".0" on whole numbers as RapidJSON
  // writes them ("72.5", "162.0": a FHIR decimal keeps its precision). Non-finite values are no
  // JSON; the parsers never produce them, and null keeps the output parseable if one slips in.
  void Double(double v) {
    separate();
    if (!(v == v) || v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
      out_ += "null";
      return;
    }
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
    if (std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)).find_first_of(".e") ==
        std::string_view::npos) {
      out_ += ".0";
    }
  }

  // A point to come back to: what was written after it is taken back by rollback().
  struct Checkpoint {
    std::size_t size = 0;
    std::size_t depth = 0;
    std::uint8_t first = 0;
    bool after_key = false;
  };
  Checkpoint checkpoint() const {
    return {out_.size(), first_.size(), first_.empty() ? std::uint8_t{0} : first_.back(),
            after_key_};
  }
  void rollback(const Checkpoint& c) {
    out_.resize(c.size);
    first_.resize(c.depth);
    if (!first_.empty()) first_.back() = c.first;
    after_key_ = c.after_key;
  }

  // "\"text\"" with JSON escapes, for precomputing keys and literals.
  static std::string quoted(std::string_view s) {
    std::string out;
    JsonOut w(out);
    w.appendEscaped(s);
    return out;
  }

 private:
  void open(char c) {
    separate();
    out_ += c;
    first_.push_back(1);
  }
  void close(char c) {
    out_ += c;
    first_.pop_back();
  }
  // A comma before every value or key but the first of its container; none after a key.
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (first_.back() != 0) {
      first_.back() = 0;
    } else {
      out_ += ',';
    }
  }
  // Bytes of a word that need escaping: control characters, '"' and '\\'. Eight bytes at a
  // time: text is mostly plain, and a byte loop was a quarter of the mapping's time.
  static std::uint64_t escapeMask(std::uint64_t w) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    auto zero_byte = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    std::uint64_t control = (w - kOnes * 0x20) & ~w & kHigh;  // bytes < 0x20 (ASCII only)
    return control | zero_byte(w ^ (kOnes * '"')) | zero_byte(w ^ (kOnes * '\\'));
  }

  void appendEscaped(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out_ += '"';
    const char* p = s.data();
    const char* end = p + s.size();
    const char* run = p;
    while (p < end) {
      if (end - p >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        if (escapeMask(w) == 0) {
          p += 8;
          continue;
        }
      }
      auto c = static_cast<unsigned char>(*p);
      if (c >= 0x20 && c != '"' && c != '\\') {
        ++p;
        continue;
      }
      out_.append(run, static_cast<std::size_t>(p - run));
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        case '\b':
          out_ += "\\b";
          break;
        case '\f':
          out_ += "\\f";
          break;
        default:
          out_ += "\\u00";
          out_ += kHex[c >> 4];
          out_ += kHex[c & 0xF];
      }
      run = ++p;
    }
    out_.append(run, static_cast<std::size_t>(end - run));
    out_ += '"';
  }

  std::string& out_;
  std::vector<std::uint8_t> first_;  // per open container: 1 until its first member is written
  bool after_key_ = false;
};

// Lets RapidJSON write a parsed value through JsonOut: JsonOutSax sax{out}; value.Accept(sax).
struct JsonOutSax {
  JsonOut& w;
  bool Null() { return w.Null(), true; }
  bool Bool(bool b) { return w.Bool(b), true; }
  bool Int(int i) { return w.Int64(i), true; }
  bool Uint(unsigned u) { return w.Int64(u), true; }
  bool Int64(std::int64_t i) { return w.Int64(i), true; }
  bool Uint64(std::uint64_t u) {
    if (u > static_cast<std::uint64_t>(INT64_MAX))
      return w.RawValue(std::to_string(u).data(), std::to_string(u).size()), true;
    return w.Int64(static_cast<std::int64_t>(u)), true;
  }
  bool Double(double d) { return w.Double(d), true; }
  bool RawNumber(const char* s, unsigned n, bool) { return w.RawValue(s, n), true; }
  bool String(const char* s, unsigned n, bool) { return w.String(s, n), true; }
  bool StartObject() { return w.StartObject(), true; }
  bool Key(const char* s, unsigned n, bool) { return w.Key(s, n), true; }
  bool EndObject(unsigned) { return w.EndObject(), true; }
  bool StartArray() { return w.StartArray(), true; }
  bool EndArray(unsigned) { return w.EndArray(), true; }
};

}  // namespace liaison::json
