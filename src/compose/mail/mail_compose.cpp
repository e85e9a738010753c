// MDNs and notices with GMime 3.
//
// GMime builds the MIME tree, writes the boundaries, encodes and folds the header fields (RFC 2047
// in UTF-8, RFC 2231 parameters), chooses the text's transfer encoding under a 7-bit constraint
// and writes CRLF line ends. Two contents are written here rather than by GMime: the
// message/disposition-notification fields (plain header syntax, which GMime has no API for) and
// the original message, attached as a leaf so that its bytes go out unchanged (GMime would
// re-serialise a parsed message, and parsing a hostile original could cost a lot of memory).
//
// Everything that reaches a header is cleaned first: control characters (CR, LF…) become spaces,
// so a subject or display name taken from an incoming mail can never add a header field.

#include "compose/mail/mail_compose.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <array>
#include <memory>
#include <mutex>

#include "core/text/ascii.hpp"

namespace liaison::compose {

namespace {

using ascii::equalsIgnoreCase;

// --- GMime plumbing (compose depends on core only: parse/mime's helpers are not shared) ---------

// GMime counts its initialisations, so parse/mime's own g_mime_init() is harmless; but the call
// is not thread-safe: the first parse and the first composition must not run concurrently.
void ensureGMime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

struct GObjectUnref {
  void operator()(void* object) const {
    if (object != nullptr) g_object_unref(object);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(void* p) const { g_free(p); }
};
using GCharPtr = std::unique_ptr<char, GFree>;

struct FormatOptionsFree {
  void operator()(GMimeFormatOptions* options) const { g_mime_format_options_free(options); }
};
using FormatOptionsPtr = std::unique_ptr<GMimeFormatOptions, FormatOptionsFree>;

struct DateTimeUnref {
  void operator()(GDateTime* dt) const { g_date_time_unref(dt); }
};
using DateTimePtr = std::unique_ptr<GDateTime, DateTimeUnref>;

// An instance begins with its parent class's instance (avoids the GLib C-cast macros).
template <typename To>
To* as(void* instance) {
  return static_cast<To*>(instance);
}

// RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets.
constexpr std::size_t kMaxAddress = 254;
// A message id longer than this could not be folded under the 998-octet line limit.
constexpr std::size_t kMaxMessageId = 900;
constexpr std::size_t kMaxLine = 998;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool isControl(unsigned char c) {
  return c < 0x20 || c == 0x7F;
}

// A header value: control characters (CR and LF among them) become spaces.
std::string cleanText(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (isControl(static_cast<unsigned char>(c))) c = ' ';
  }
  return std::string(trim(out));
}

// An address: no control characters, no blanks, no angle brackets; "" when too long to deliver.
std::string cleanAddress(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (!isControl(u) && c != ' ' && c != '<' && c != '>') out.push_back(c);
  }
  return out.size() <= kMaxAddress ? out : std::string();
}

// A message id without angle brackets; "" when it cannot be one.
std::string cleanMessageId(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  if (s.empty() || s.size() > kMaxMessageId) return {};
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (isControl(u) || c == ' ' || c == '<' || c == '>' || u >= 0x80) return {};
  }
  return std::string(s);
}

// RFC 5322 field name: printable US-ASCII except ':'.
bool isFieldName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(),
                                      [](char c) { return c > ' ' && c < 0x7F && c != ':'; });
}

// Fields written here from MailHeader: an `extra` entry may not give them a second value.
bool isOwnField(std::string_view name) {
  for (std::string_view own : {"From", "To", "Subject", "Date", "Message-ID", "In-Reply-To",
                               "References", "MIME-Version"}) {
    if (equalsIgnoreCase(name, own)) return true;
  }
  return name.size() >= 8 && equalsIgnoreCase(name.substr(0, 8), "Content-");
}

std::string toLf(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Canonical form (RFC 2045 §2.7): every line break CRLF, bare CR and bare LF included.
std::string toCrlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 32 + 2);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' || s[i] == '\n') {
      out += "\r\n";
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// --- US-ASCII for the report fields -------------------------------------------------------------

// U+00C0–U+00FF without their diacritics.
constexpr std::array<const char*, 64> kLatin1Letters = {
    "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I",  "I",
    "D", "N", "O", "O", "O", "O", "O",  "x", "O", "U", "U", "U", "U", "Y", "TH", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "/", "o", "u", "u", "u", "u", "y", "th", "y"};

std::string_view asciiFor(char32_t cp) {
  if (cp >= 0xC0 && cp <= 0xFF) return kLatin1Letters[cp - 0xC0];
  switch (cp) {
    case 0xA0:
    case 0x2009:
    case 0x202F:
      return " ";
    case 0x152:
      return "OE";
    case 0x153:
      return "oe";
    case 0x178:
      return "Y";
    case 0x2018:
    case 0x2019:
      return "'";
    case 0x201C:
    case 0x201D:
    case 0xAB:
    case 0xBB:
      return "\"";
    case 0x2013:
    case 0x2014:
      return "-";
    case 0x2026:
      return "...";
    case 0x20AC:
      return "EUR";
    default:
      return "?";
  }
}

// RFC 8098 §3.1: the message/disposition-notification fields are US-ASCII (7bit). French labels
// ("Identité incomplète") lose their accents here; part 1 keeps the full text.
std::string toAscii(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  std::size_t i = 0;
  while (i < utf8.size()) {
    auto b = static_cast<unsigned char>(utf8[i]);
    if (b < 0x80) {
      out.push_back(isControl(b) ? ' ' : static_cast<char>(b));
      ++i;
      continue;
    }
    std::size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    char32_t cp = len == 4 ? (b & 0x07) : len == 3 ? (b & 0x0F) : (b & 0x1F);
    bool ok = len > 1 && i + len <= utf8.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      auto c = static_cast<unsigned char>(utf8[i + k]);
      if ((c & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (!ok) {
      out.push_back('?');
      ++i;
      continue;
    }
    out += asciiFor(cp);
    i += len;
  }
  return out;
}

// "Name: value" on one line: receivers of ANS MDNs often read these fields line by line, so
// they are folded (at a blank) only past SMTP's 998-octet limit; a run without blanks is cut there
// (no legal fold exists inside it). Line ends "\n": GMime writes CRLF.
std::string reportField(std::string_view name, std::string_view value) {
  std::string line = std::string(name) + ":";
  for (std::string_view rest = trim(value); !rest.empty();) {  // one blank between words
    std::size_t end = rest.find(' ');
    line += ' ';
    line += rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : trim(rest.substr(end));
  }
  std::string out;
  std::string_view rest = line;
  std::size_t min_cut = name.size() + 2;  // never before the value
  while (rest.size() > kMaxLine) {
    std::size_t cut = rest.rfind(' ', kMaxLine);
    bool hard = cut == std::string_view::npos || cut < min_cut;
    if (hard) cut = kMaxLine - 1;
    out.append(rest.substr(0, cut));
    out += hard ? "\n " : "\n";  // a continuation line starts with a blank
    rest.remove_prefix(cut);
    min_cut = 1;
  }
  out.append(rest);
  out += '\n';
  return out;
}

// --- MIME parts ---------------------------------------------------------------------------------

void setContent(GMimePart* part, std::string_view bytes) {
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
  GPtr<GMimeDataWrapper> wrapper(
      g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(part, wrapper.get());
}

// text/plain; charset=utf-8, quoted-printable or base64 as GMime finds best for 7-bit transport.
GPtr<GMimePart> textPart(std::string_view text, const char* subtype = "plain") {
  GPtr<GMimePart> part(g_mime_part_new_with_type("text", subtype));
  g_mime_object_set_content_type_parameter(as<GMimeObject>(part.get()), "charset", "utf-8");
  // Line ends "\n" here: GMime's quoted-printable then writes real line breaks, which the CRLF
  // output filter completes. Base64 encodes line ends as data, so it gets the canonical CRLF.
  setContent(part.get(), toLf(text));
  GMimeContentEncoding encoding =
      g_mime_part_get_best_content_encoding(part.get(), GMIME_ENCODING_CONSTRAINT_7BIT);
  if (encoding == GMIME_CONTENT_ENCODING_BASE64) setContent(part.get(), toCrlf(text));
  if (encoding == GMIME_CONTENT_ENCODING_DEFAULT) encoding = GMIME_CONTENT_ENCODING_7BIT;
  g_mime_part_set_content_encoding(part.get(), encoding);
  return part;
}

// Whether the bytes start with an RFC 5322 header block: fields and continuation lines up to an
// empty line (or the end).
bool hasHeaderBlock(std::string_view crlf_bytes) {
  std::size_t pos = 0;
  bool first = true;
  while (pos < crlf_bytes.size()) {
    std::size_t eol = crlf_bytes.find("\r\n", pos);
    std::string_view line = crlf_bytes.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    if (line.empty()) return !first;
    if (line.front() == ' ' || line.front() == '\t') {
      if (first) return false;
    } else {
      std::size_t colon = line.find(':');
      if (colon == std::string_view::npos || !isFieldName(trim(line.substr(0, colon))))
        return false;
    }
    first = false;
    if (eol == std::string_view::npos) break;
    pos = eol + 2;
  }
  return !first;
}

// 7bit data (RFC 2045 §2.7): no octet above 127, no NUL, lines of at most 998 octets.
bool isSevenBit(std::string_view crlf_bytes) {
  std::size_t line = 0;
  for (char c : crlf_bytes) {
    auto u = static_cast<unsigned char>(c);
    if (u == 0 || u >= 0x80) return false;
    if (c == '\r' || c == '\n') {
      line = 0;
    } else if (++line > kMaxLine) {
      return false;
    }
  }
  return true;
}

// The original message. message/rfc822 only allows 7bit, 8bit or binary (RFC 2046 §5.2.1) and
// the output must be 7-bit clean, so an original that is not a message, or not 7-bit data, goes
// as application/octet-stream in base64 (`name`, .eml): its bytes still arrive unchanged.
// A message/rfc822 original is the exact bytes in canonical form (CRLF line ends).
GPtr<GMimePart> originalPart(std::string_view original, std::string_view name,
                             bool with_disposition) {
  std::string canonical = toCrlf(original);
  std::string filename = cleanText(name);
  if (filename.empty()) filename = "message_original.eml";
  GPtr<GMimePart> part;
  if (hasHeaderBlock(canonical) && isSevenBit(canonical)) {
    part.reset(g_mime_part_new_with_type("message", "rfc822"));
    setContent(part.get(), canonical);
    g_mime_part_set_content_encoding(part.get(), GMIME_CONTENT_ENCODING_7BIT);
    if (with_disposition) g_mime_part_set_filename(part.get(), filename.c_str());
  } else {
    part.reset(g_mime_part_new_with_type("application", "octet-stream"));
    setContent(part.get(), original);
    g_mime_part_set_content_encoding(part.get(), GMIME_CONTENT_ENCODING_BASE64);
    g_mime_part_set_filename(part.get(), filename.c_str());
  }
  return part;
}

// --- the top-level header -----------------------------------------------------------------------

std::string addressList(const std::vector<MailAddress>& addresses) {
  GPtr<InternetAddressList> list(internet_address_list_new());
  for (const MailAddress& a : addresses) {
    std::string addr = cleanAddress(a.address);
    if (addr.empty()) continue;
    std::string name = cleanText(a.name);
    GPtr<InternetAddress> mailbox(internet_address_mailbox_new(name.c_str(), addr.c_str()));
    internet_address_set_charset(mailbox.get(), "utf-8");
    internet_address_list_add(list.get(), mailbox.get());
  }
  if (internet_address_list_length(list.get()) == 0) return {};
  GCharPtr s(internet_address_list_to_string(list.get(), nullptr, TRUE));
  return s ? std::string(s.get()) : std::string();
}

std::string formatDate(std::chrono::system_clock::time_point date) {
  auto seconds = std::chrono::floor<std::chrono::seconds>(date).time_since_epoch().count();
  DateTimePtr dt(g_date_time_new_from_unix_utc(static_cast<gint64>(seconds)));
  if (!dt) return {};  // outside years 1–9999
  GCharPtr s(g_mime_utils_header_format_date(dt.get()));
  return s ? std::string(s.get()) : std::string();
}

void appendHeader(GMimeObject* object, const char* name, const std::string& value,
                  const char* charset = nullptr) {
  if (!value.empty()) g_mime_object_append_header(object, name, value.c_str(), charset);
}

// From, To, Subject, Date, Message-ID, In-Reply-To, References, MIME-Version, then `extra`.
GPtr<GMimeMessage> newMessage(const MailHeader& header) {
  GPtr<GMimeMessage> message(g_mime_message_new(FALSE));
  auto* object = as<GMimeObject>(message.get());
  appendHeader(object, "From", addressList({header.from}));
  appendHeader(object, "To", addressList(header.to));
  appendHeader(object, "Subject", cleanText(header.subject), "utf-8");
  appendHeader(object, "Date", formatDate(header.date));
  if (std::string id = cleanMessageId(header.message_id); !id.empty())
    appendHeader(object, "Message-ID", "<" + id + ">");
  if (std::string id = cleanMessageId(header.in_reply_to); !id.empty())
    appendHeader(object, "In-Reply-To", "<" + id + ">");
  std::string references;
  std::string_view rest = header.references;
  while (!rest.empty()) {
    std::size_t start = rest.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) break;
    std::size_t end = rest.find_first_of(" \t\r\n", start);
    std::string id = cleanMessageId(rest.substr(start, end - start));
    if (!id.empty()) references += (references.empty() ? "<" : " <") + id + ">";
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  appendHeader(object, "References", references);
  appendHeader(object, "MIME-Version", "1.0");
  for (const auto& [name, value] : header.extra) {
    if (!isFieldName(name) || name.size() > 76 || isOwnField(name)) continue;
    std::string v = cleanText(value);
    if (!v.empty()) g_mime_object_append_header(object, name.c_str(), v.c_str(), "utf-8");
  }
  return message;
}

std::string serialize(GMimeMessage* message) {
  FormatOptionsPtr options(g_mime_format_options_new());
  g_mime_format_options_set_newline_format(options.get(), GMIME_NEWLINE_FORMAT_DOS);
  GPtr<GMimeStream> stream(g_mime_stream_mem_new());
  if (g_mime_object_write_to_stream(as<GMimeObject>(message), options.get(), stream.get()) < 0)
    return {};
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(as<GMimeStreamMem>(stream.get()));
  if (bytes == nullptr || bytes->len == 0) return {};
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

std::string mdnFields(const MdnRequest& r) {
  std::string out;
  if (std::string ua = toAscii(cleanText(r.reporting_ua)); !ua.empty())
    out += reportField("Reporting-UA", ua);
  if (std::string a = toAscii(cleanAddress(r.original_recipient)); !a.empty())
    out += reportField("Original-Recipient", "rfc822; " + a);
  out += reportField("Final-Recipient", "rfc822; " + toAscii(cleanAddress(r.final_recipient)));
  if (std::string id = cleanMessageId(r.original_message_id); !id.empty())
    out += reportField("Original-Message-ID", "<" + id + ">");
  out += reportField("Disposition", toAscii(cleanText(r.disposition)));
  return out;
}

}  // namespace

std::string composeMdn(const MdnRequest& request) {
  ensureGMime();
  GPtr<GMimeMessage> message = newMessage(request.header);
  GPtr<GMimeMultipart> report(g_mime_multipart_new_with_subtype("report"));
  g_mime_object_set_content_type_parameter(as<GMimeObject>(report.get()), "report-type",
                                           "disposition-notification");

  GPtr<GMimePart> text = textPart(request.human_text);
  g_mime_multipart_add(report.get(), as<GMimeObject>(text.get()));

  GPtr<GMimePart> fields(g_mime_part_new_with_type("message", "disposition-notification"));
  setContent(fields.get(), mdnFields(request));
  g_mime_part_set_content_encoding(fields.get(), GMIME_CONTENT_ENCODING_7BIT);
  g_mime_multipart_add(report.get(), as<GMimeObject>(fields.get()));

  if (!request.original_headers.empty()) {
    GPtr<GMimePart> headers = textPart(request.original_headers, "rfc822-headers");
    g_mime_multipart_add(report.get(), as<GMimeObject>(headers.get()));
  } else if (!request.original_message.empty()) {
    GPtr<GMimePart> original =
        originalPart(request.original_message, "message_original.eml", false);
    g_mime_multipart_add(report.get(), as<GMimeObject>(original.get()));
  }
  g_mime_message_set_mime_part(message.get(), as<GMimeObject>(report.get()));
  return serialize(message.get());
}

std::string composeNotice(const NoticeRequest& request) {
  ensureGMime();
  GPtr<GMimeMessage> message = newMessage(request.header);
  GPtr<GMimePart> text = textPart(request.text);
  if (request.original_message.empty()) {
    g_mime_message_set_mime_part(message.get(), as<GMimeObject>(text.get()));
    return serialize(message.get());
  }
  GPtr<GMimeMultipart> mixed(g_mime_multipart_new_with_subtype("mixed"));
  g_mime_multipart_add(mixed.get(), as<GMimeObject>(text.get()));
  GPtr<GMimePart> original = originalPart(request.original_message, request.original_name, true);
  g_mime_multipart_add(mixed.get(), as<GMimeObject>(original.get()));
  g_mime_message_set_mime_part(message.get(), as<GMimeObject>(mixed.get()));
  return serialize(message.get());
}

}  // namespace liaison::compose
