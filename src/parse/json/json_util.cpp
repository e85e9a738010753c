#include "parse/json/json_util.hpp"

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cstdint>

#include "core/error/result.hpp"

namespace liaison::json {

std::string positionOf(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

namespace {

using rapidjson::SizeType;

// Forwards the SAX events to the document being built, refusing an object or array that would
// open past the limit. The iterative parser keeps its own stack on the heap: with this counter,
// nothing in the parse recurses and nothing grows without bound.
class DepthLimited {
 public:
  using Ch = char;
  DepthLimited(rapidjson::Document& doc, unsigned max_depth) : doc_(doc), max_(max_depth) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(std::int64_t i) { return doc_.Int64(i); }
  bool Uint64(std::uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const Ch* s, SizeType n, bool copy) { return doc_.RawNumber(s, n, copy); }
  bool String(const Ch* s, SizeType n, bool copy) { return doc_.String(s, n, copy); }
  bool Key(const Ch* s, SizeType n, bool copy) { return doc_.Key(s, n, copy); }
  bool StartObject() { return open() && doc_.StartObject(); }
  bool EndObject(SizeType n) {
    --depth_;
    return doc_.EndObject(n);
  }
  bool StartArray() { return open() && doc_.StartArray(); }
  bool EndArray(SizeType n) {
    --depth_;
    return doc_.EndArray(n);
  }

  bool tooDeep() const { return too_deep_; }

 private:
  bool open() {
    if (++depth_ > max_) {
      too_deep_ = true;
      return false;
    }
    return true;
  }

  rapidjson::Document& doc_;
  unsigned max_;
  unsigned depth_ = 0;
  bool too_deep_ = false;
};

template <unsigned kFlags, class Stream>
std::optional<Error> parseBounded(rapidjson::Document& doc, Stream& stream, std::string_view text,
                                  unsigned max_depth) {
  // A raw NUL is never valid JSON, and RapidJSON's streams take it for the end of the text.
  if (text.find('\0') != std::string_view::npos)
    return makeError(Errc::JsonMalformed, "JSON invalide : caractère nul.");
  constexpr unsigned kParse =
      kFlags | rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  rapidjson::Reader reader;
  bool too_deep = false;
  auto generate = [&](rapidjson::Document& target) {
    DepthLimited limited(target, max_depth);
    const bool ok = !reader.Parse<kParse>(stream, limited).IsError();
    too_deep = limited.tooDeep();
    return ok;
  };
  doc.Populate(generate);
  if (!reader.HasParseError()) return std::nullopt;
  doc.SetNull();
  if (too_deep) {
    return makeError(Errc::JsonTooDeep, "JSON invalide : plus de " + std::to_string(max_depth) +
                                            " niveaux d'imbrication (" +
                                            positionOf(text, reader.GetErrorOffset()) + ").");
  }
  if (reader.GetParseErrorCode() == rapidjson::kParseErrorStringInvalidEncoding) {
    return makeError(Errc::JsonInvalidUtf8, "JSON invalide : texte qui n'est pas de l'UTF-8 (" +
                                                positionOf(text, reader.GetErrorOffset()) + ").");
  }
  return makeError(Errc::JsonMalformed,
                   std::string("JSON invalide : ") +
                       rapidjson::GetParseError_En(reader.GetParseErrorCode()) + " (" +
                       positionOf(text, reader.GetErrorOffset()) + ")");
}

}  // namespace

std::optional<Error> parseExternalJson(rapidjson::Document& doc, std::string_view text,
                                       unsigned max_depth) {
  rapidjson::MemoryStream bytes(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(bytes);
  return parseBounded<rapidjson::kParseNoFlags>(doc, stream, text, max_depth);
}

std::optional<Error> parseExternalJsonInsitu(rapidjson::Document& doc, char* buffer,
                                             std::string_view text, unsigned max_depth) {
  rapidjson::InsituStringStream stream(buffer);
  return parseBounded<rapidjson::kParseInsituFlag>(doc, stream, text, max_depth);
}

}  // namespace liaison::json
