#include "parse/mime/mime_scan.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "core/text/ascii.hpp"
#include "parse/mime/gmime_support.hpp"

namespace liaison::parse::mime_detail {
namespace {

using ascii::equalsIgnoreCase;

bool isBlank(char c) {
  return c == ' ' || c == '\t';
}

// A header field name as GMime accepts it: printable ASCII up to the colon, blanks before it.
std::optional<std::string_view> fieldName(std::string_view line) {
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view name = line.substr(0, colon);
  while (!name.empty() && isBlank(name.back()))
    name.remove_suffix(1);
  if (name.empty()) return std::nullopt;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127) return std::nullopt;
  }
  return name;
}

// The value of a (possibly folded) field without its line breaks, as GMime unfolds it: "\n" and
// "\r\n" go, a lone "\r" stays (GMime's parsers then read it as a blank).
std::string unfold(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\n' || (c == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n')) continue;
    out.push_back(c);
  }
  return out;
}

struct ContentInfo {
  bool multipart = false;
  bool digest = false;   // multipart/digest
  bool message = false;  // message/rfc822, news or global: GMime parses the embedded message
  bool has_boundary = false;
  std::string boundary;
};

// Skips blanks and (nested, escaped) comments, as GMime's decode_lwsp does.
std::size_t skipLwsp(std::string_view s, std::size_t i) {
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '(') {
      int depth = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == '\\') {
          ++i;
        } else if (s[i] == '(') {
          ++depth;
        } else if (s[i] == ')' && --depth == 0) {
          ++i;
          break;
        }
      }
    } else {
      break;
    }
  }
  return std::min(i, s.size());  // an escape at the very end steps one past it
}

// A token character as GMime reads it (is_ttoken): no control, blank or tspecial; 8-bit bytes
// are accepted.
bool isTokenChar(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u <= 32 || u == 127) return false;
  return std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
}

std::string_view token(std::string_view s, std::size_t& i) {
  std::size_t start = i;
  while (i < s.size() && isTokenChar(s[i]))
    ++i;
  return s.substr(start, i - start);
}

ContentInfo readContentType(std::string_view raw_value) {
  ContentInfo info;
  std::string value = unfold(raw_value);
  // "type/subtype" as GMime reads it; anything else is application/octet-stream.
  std::size_t i = skipLwsp(value, 0);
  std::string_view type = token(value, i);
  i = skipLwsp(value, i);
  if (type.empty() || i >= value.size() || value[i] != '/') return info;
  i = skipLwsp(value, i + 1);
  std::string_view subtype = token(value, i);
  if (subtype.empty()) return info;
  if (equalsIgnoreCase(type, "multipart")) {
    info.multipart = true;
    info.digest = equalsIgnoreCase(subtype, "digest");
    // The boundary from GMime's own parser, so that both sides agree on it (quoting, comments,
    // RFC 2231 continuations, the first of duplicated parameters).
    GPtr<GMimeContentType> ct(g_mime_content_type_parse(nullptr, value.c_str()));
    const char* b = ct ? g_mime_content_type_get_parameter(ct.get(), "boundary") : nullptr;
    if (b != nullptr) {
      info.has_boundary = true;
      info.boundary = b;
    }
  } else if (equalsIgnoreCase(type, "message")) {
    info.message = equalsIgnoreCase(subtype, "rfc822") || equalsIgnoreCase(subtype, "news") ||
                   equalsIgnoreCase(subtype, "global");
  }
  return info;
}

// GMime parses an embedded message only when its transfer encoding is not an encoding proper.
bool isEncodedTransfer(std::string_view raw_value) {
  std::string value = unfold(raw_value);
  GMimeContentEncoding e = g_mime_content_encoding_from_string(value.c_str());
  return e == GMIME_CONTENT_ENCODING_BASE64 || e == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
         e == GMIME_CONTENT_ENCODING_UUENCODE;
}

struct Line {
  std::string_view text;  // without the line break
  std::size_t next;       // start of the following line
};

Line lineAt(std::string_view msg, std::size_t pos) {
  const void* nl = std::memchr(msg.data() + pos, '\n', msg.size() - pos);
  std::size_t end = nl != nullptr
                        ? static_cast<std::size_t>(static_cast<const char*>(nl) - msg.data())
                        : msg.size();
  std::string_view text = msg.substr(pos, end - pos);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return Line{text, nl != nullptr ? end + 1 : end};
}

struct Frame {
  std::string boundary;
  int child_depth;
  bool digest;
};

struct DelimiterMatch {
  std::size_t frame;
  bool is_end;
};

// Whether a line is a delimiter of an open multipart, as GMime decides: "--b" or "--b--" then
// only blanks (space, tab, CR); the innermost multipart first, its closing delimiter first.
std::optional<DelimiterMatch> matchDelimiter(std::string_view text,
                                             const std::vector<Frame>& frames) {
  if (frames.empty() || text.size() < 2 || text[0] != '-' || text[1] != '-') return std::nullopt;
  while (!text.empty() && (isBlank(text.back()) || text.back() == '\r'))
    text.remove_suffix(1);
  text.remove_prefix(2);
  for (std::size_t k = frames.size(); k-- > 0;) {
    const std::string& b = frames[k].boundary;
    if (text.size() == b.size() + 2 && text.substr(0, b.size()) == b &&
        text.substr(b.size()) == "--")
      return DelimiterMatch{k, true};
    if (text == b) return DelimiterMatch{k, false};
  }
  return std::nullopt;
}

struct HeaderBlock {
  std::size_t body_begin = 0;
  ContentInfo content;
  bool encoded_transfer = false;
  bool ended_by_delimiter = false;  // GMime: the part has no content (or is dropped, see below)
  int fields = 0;                   // lines with a valid field name
};

// `in_digest`: children of a multipart/digest are message/rfc822 unless they say otherwise.
Result<HeaderBlock> scanHeaders(std::string_view msg, std::size_t pos, const MimeLimits& limits,
                                bool top_level, bool in_digest, const std::vector<Frame>& frames) {
  HeaderBlock block;
  std::size_t block_bytes = 0;
  std::size_t field_len = 0;
  std::size_t field_begin = std::string_view::npos;  // value start of the field being read
  enum class Field { Other, ContentType, Transfer } field = Field::Other;
  std::string_view content_type;  // raw values, folding included; the last one wins, as in GMime
  std::string_view transfer;
  bool first = true;
  auto finishField = [&](std::size_t end) {
    if (field_begin == std::string_view::npos) return;
    std::string_view value = msg.substr(field_begin, end - field_begin);
    if (field == Field::ContentType) content_type = value;
    if (field == Field::Transfer) transfer = value;
    field_begin = std::string_view::npos;
  };
  while (pos < msg.size()) {
    Line line = lineAt(msg, pos);
    if (line.text.empty()) {  // end of the header block
      finishField(pos);
      pos = line.next;
      break;
    }
    if (matchDelimiter(line.text, frames)) {  // so does a delimiter: the body is empty
      finishField(pos);
      block.ended_by_delimiter = true;
      break;
    }
    if (isBlank(line.text.front())) {
      if (top_level && first) return makeError(Errc::MimeMalformed, "message has no header");
      field_len += line.text.size();
    } else {
      finishField(pos);
      field_len = line.text.size();
      field = Field::Other;
      auto name = fieldName(line.text);
      if (!name) {
        // GMime skips such a line (CRIT_INVALID_HEADER_NAME); a message must begin with a field.
        if (top_level && first) return makeError(Errc::MimeMalformed, "not a MIME message");
      } else {
        ++block.fields;
        if (equalsIgnoreCase(*name, "Content-Type")) field = Field::ContentType;
        if (equalsIgnoreCase(*name, "Content-Transfer-Encoding")) field = Field::Transfer;
        field_begin = pos + line.text.find(':') + 1;
      }
    }
    if (field_len > limits.max_header_line)
      return makeError(Errc::MimeHeaderTooLong, "header field over the length limit");
    block_bytes += line.next - pos;
    if (block_bytes > limits.max_header_bytes)
      return makeError(Errc::MimeHeaderTooLong, "header block over the size limit");
    first = false;
    pos = line.next;
  }
  if (top_level && first) return makeError(Errc::MimeMalformed, "message has no header");
  finishField(pos);  // header block ended with the input
  block.body_begin = std::min(pos, msg.size());
  if (!content_type.empty()) {
    block.content = readContentType(content_type);
  } else if (in_digest) {
    block.content.message = true;
  }
  if (!transfer.empty()) block.encoded_transfer = isEncodedTransfer(transfer);
  return block;
}

struct Delimiter {
  std::size_t line_begin;
  std::size_t next;
  DelimiterMatch match;
};

// The next delimiter line from `pos` (a line start).
std::optional<Delimiter> findDelimiter(std::string_view msg, std::size_t pos,
                                       const std::vector<Frame>& frames) {
  if (frames.empty()) return std::nullopt;
  const char* data = msg.data();
  std::size_t p = pos;
  while (p + 1 < msg.size()) {
    const void* dash = std::memchr(data + p, '-', msg.size() - p);
    if (dash == nullptr) return std::nullopt;
    std::size_t q = static_cast<std::size_t>(static_cast<const char*>(dash) - data);
    if ((q != pos && data[q - 1] != '\n') || q + 1 >= msg.size() || data[q + 1] != '-') {
      p = q + 1;
      continue;
    }
    Line line = lineAt(msg, q);
    if (auto m = matchDelimiter(line.text, frames)) return Delimiter{q, line.next, *m};
    p = line.next;
  }
  return std::nullopt;
}

}  // namespace

Result<ScanResult> scanStructure(std::string_view msg, const MimeLimits& limits) {
  ensureGMime();
  ScanResult result;
  std::vector<Frame> frames;
  std::vector<std::size_t> open;  // entities whose end is not known yet
  std::size_t pos = 0;
  int depth = 0;
  int parent_frame = -1;
  bool top_level = true;
  bool multipart_child = false;  // the entity follows a delimiter (not an embedded message)
  bool in_digest = false;
  for (;;) {
    // An entity starts at `pos` with its header block.
    std::size_t index = result.entities.size();
    result.entities.push_back(ScanEntity{pos, pos, msg.size(), depth, parent_frame});
    open.push_back(index);
    auto headers = scanHeaders(msg, pos, limits, top_level, in_digest, frames);
    if (!headers) return headers.error();
    pos = headers->body_begin;
    result.entities[index].body_begin = pos;
    const ContentInfo& content = headers->content;
    if (multipart_child && headers->ended_by_delimiter && headers->fields == 0) {
      // GMime drops a part with neither headers nor content (CRIT_PART_WITHOUT_HEADERS_OR_CONTENT).
      result.entities.pop_back();
      open.pop_back();
    } else if (content.multipart) {
      if (!content.has_boundary || content.boundary.empty())
        return makeError(Errc::MimeMalformed, "multipart without boundary");
      result.entities[index].kind = EntityKind::Multipart;
      frames.push_back(Frame{content.boundary, depth + 1, content.digest});
    } else if (content.message && !headers->encoded_transfer) {
      result.entities[index].kind = EntityKind::Message;
      // The embedded message starts right away, one level deeper, in the same multipart child;
      // GMime has none when the body is empty or starts with a delimiter.
      if (pos < msg.size() && !matchDelimiter(lineAt(msg, pos).text, frames)) {
        if (++result.parts > limits.max_parts)
          return makeError(Errc::MimeTooManyParts, "too many MIME parts");
        if (++depth > limits.max_depth)
          return makeError(Errc::MimeNestingTooDeep, "MIME nesting too deep");
        top_level = false;
        multipart_child = false;
        in_digest = false;
        continue;
      }
    }
    // Body, preamble or epilogue: up to the next delimiter of an open multipart.
    for (;;) {
      auto delim = findDelimiter(msg, pos, frames);
      if (!delim) {
        if (!frames.empty())
          return makeError(Errc::MimeMalformed, "multipart not terminated: message truncated");
        return result;  // entities still open end with the input
      }
      // The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
      std::size_t content_end = delim->line_begin;
      if (content_end > 0 && msg[content_end - 1] == '\n') --content_end;
      if (content_end > 0 && msg[content_end - 1] == '\r') --content_end;
      const std::size_t k = delim->match.frame;
      while (!open.empty() && result.entities[open.back()].parent_frame >= static_cast<int>(k)) {
        ScanEntity& done = result.entities[open.back()];
        done.end = std::max(content_end, done.body_begin);
        open.pop_back();
      }
      if (k + 1 < frames.size()) {
        result.inner_unterminated = true;  // GMime: GMIME_WARN_MALFORMED_MULTIPART
        frames.resize(k + 1);
      }
      pos = delim->next;
      if (delim->match.is_end) {
        frames.pop_back();
        continue;  // epilogue of that multipart
      }
      if (++result.parts > limits.max_parts)
        return makeError(Errc::MimeTooManyParts, "too many MIME parts");
      depth = frames[k].child_depth;
      if (depth > limits.max_depth)
        return makeError(Errc::MimeNestingTooDeep, "MIME nesting too deep");
      parent_frame = static_cast<int>(k);
      top_level = false;
      multipart_child = true;
      in_digest = frames[k].digest;
      break;  // next entity: a child of frame k
    }
  }
}

}  // namespace liaison::parse::mime_detail
