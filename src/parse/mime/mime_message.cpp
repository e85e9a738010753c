// RFC 5322 / MIME → MimeMessage, with GMime 3.
//
// Steps: size limit; mbox "From " line skipped; raw pre-scan of the structure (mime_scan.cpp:
// header limits, part count, nesting, unterminated multiparts), so that GMime only ever parses
// messages of bounded shape; GMime parses the skeleton (the message without its leaf contents:
// headers, delimiters) and decodes headers, addresses, parameters (RFC 2047/2231); its warnings
// become errors or issues; the walk of its tree sorts body and attachments, reading each content
// in place in the input at the pre-scan's offsets (strict base64, charsets). If GMime's tree ever
// differs from the pre-scan's, GMime parses the whole input and its own streams are used.

#include "parse/mime/mime_message.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <mutex>

#include "core/text/ascii.hpp"
#include "parse/mime/gmime_support.hpp"
#include "parse/mime/mime_scan.hpp"
#include "parse/mime/mime_text.hpp"
#include "parse/text/base64.hpp"

namespace liaison::parse {

namespace mime_detail {

void ensureGMime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

}  // namespace mime_detail

namespace {

using ascii::equalsIgnoreCase;
using ascii::lower;
using ascii::lowerAscii;

using mime_detail::as;
using mime_detail::EntityKind;
using mime_detail::GCharPtr;
using mime_detail::GPtr;
using mime_detail::isA;
using mime_detail::ParserOptionsPtr;
using mime_detail::ScanEntity;
using mime_detail::ScanResult;

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::string_view orEmpty(const char* s) {
  return s != nullptr ? std::string_view(s) : std::string_view();
}

// A name taken from the input, shown in an issue only when it is a short plain token.
std::string safeToken(std::string_view s) {
  if (s.empty() || s.size() > 40) return "?";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127) return "?";
  }
  return std::string(s);
}

// --- GMime parser warnings ----------------------------------------------------------------------

struct ParserWarnings {
  bool truncated = false;
  bool nesting_overflow = false;
  bool multipart_without_boundary = false;
  bool invalid_header = false;
  bool part_without_headers = false;
  std::string conflict_fatal;  // a structural or identity header given twice with two values
  std::string conflict_other;
};

// Top-level headers whose two different values would make the message mean two things: what
// the gateway reads to identify the sender, the patient (subject, X-MSS-*) and where receipts go.
constexpr std::string_view kIdentityHeaders[] = {
    "From",      "Sender",        "Subject",   "Message-ID",
    "X-MSS-INS", "X-MSS-CODECDA", "X-MSS-NIL", "Disposition-Notification-To"};

// GMime reports conflicts on the headers it interprets itself; the structural ones are fatal.
bool isStructuralHeader(std::string_view name) {
  for (std::string_view h : {"Content-Type", "Content-Transfer-Encoding", "Content-Disposition"}) {
    if (equalsIgnoreCase(name, h)) return true;
  }
  for (std::string_view h : kIdentityHeaders) {
    if (equalsIgnoreCase(name, h)) return true;
  }
  return false;
}

// GMime does not report every repeated header (X-MSS-*, Disposition-Notification-To): checked
// here on the top-level headers, decoded.
std::optional<std::string_view> conflictingIdentityHeader(const MimeMessage& m) {
  for (std::string_view name : kIdentityHeaders) {
    const std::string* first = nullptr;
    for (const auto& [n, v] : m.headers) {
      if (!equalsIgnoreCase(n, name)) continue;
      if (first == nullptr) {
        first = &v;
      } else if (v != *first) {
        return name;
      }
    }
  }
  return std::nullopt;
}

void onParserWarning(gint64 /*offset*/, GMimeParserWarning code, const gchar* item,
                     gpointer user_data) {
  auto* w = static_cast<ParserWarnings*>(user_data);
  std::string_view name = orEmpty(item);
  switch (code) {
    case GMIME_WARN_TRUNCATED_MESSAGE:
      w->truncated = true;
      break;
    case GMIME_CRIT_NESTING_OVERFLOW:
      w->nesting_overflow = true;
      break;
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY:
      w->multipart_without_boundary = true;
      break;
    case GMIME_CRIT_INVALID_HEADER_NAME:
      w->invalid_header = true;
      break;
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT:
      w->part_without_headers = true;
      break;
    case GMIME_CRIT_CONFLICTING_HEADER:
      if (isStructuralHeader(name)) {
        if (w->conflict_fatal.empty()) w->conflict_fatal = safeToken(name);
      } else if (w->conflict_other.empty()) {
        w->conflict_other = safeToken(name);
      }
      break;
    case GMIME_CRIT_CONFLICTING_PARAMETER:
      if (equalsIgnoreCase(name, "boundary") || equalsIgnoreCase(name, "charset")) {
        if (w->conflict_fatal.empty()) w->conflict_fatal = safeToken(name) + " parameter";
      } else if (w->conflict_other.empty()) {
        w->conflict_other = safeToken(name) + " parameter";
      }
      break;
    default:
      break;
  }
}

// --- GMime values -----------------------------------------------------------------------------

GMimeObject* rootPart(GMimeMessage* message) {
  return g_mime_message_get_mime_part(message);
}

std::string mimeType(GMimeObject* object) {
  GMimeContentType* ct = g_mime_object_get_content_type(object);
  if (ct == nullptr) return "application/octet-stream";
  std::string out = lower(orEmpty(g_mime_content_type_get_media_type(ct)));
  out += '/';
  out += lower(orEmpty(g_mime_content_type_get_media_subtype(ct)));
  return out;
}

std::string subtypeOf(GMimeObject* object) {
  GMimeContentType* ct = g_mime_object_get_content_type(object);
  return ct != nullptr ? lower(orEmpty(g_mime_content_type_get_media_subtype(ct))) : std::string();
}

// Lower-cases the domain only: the local part is the owner's business (RFC 5321 §2.4).
std::string normaliseAddress(std::string_view addr) {
  std::string out(trim(addr));
  std::size_t at = out.rfind('@');
  if (at != std::string::npos) {
    for (std::size_t i = at + 1; i < out.size(); ++i)
      out[i] = lowerAscii(out[i]);
  }
  return out;
}

void collectMailboxes(InternetAddressList* list, std::vector<InternetAddress*>& out, int depth) {
  if (list == nullptr || depth > 2) return;
  int n = internet_address_list_length(list);
  for (int i = 0; i < n; ++i) {
    InternetAddress* ia = internet_address_list_get_address(list, i);
    if (isA(ia, internet_address_mailbox_get_type())) {
      out.push_back(ia);
    } else if (isA(ia, internet_address_group_get_type())) {
      collectMailboxes(internet_address_group_get_members(as<InternetAddressGroup>(ia)), out,
                       depth + 1);
    }
  }
}

std::vector<std::string> addresses(InternetAddressList* list) {
  std::vector<InternetAddress*> boxes;
  collectMailboxes(list, boxes, 0);
  std::vector<std::string> out;
  out.reserve(boxes.size());
  for (InternetAddress* ia : boxes) {
    std::string_view addr =
        orEmpty(internet_address_mailbox_get_addr(as<InternetAddressMailbox>(ia)));
    if (!addr.empty()) out.push_back(normaliseAddress(addr));
  }
  return out;
}

std::string messageIdOf(std::string_view value) {
  std::string v(trim(value));
  GCharPtr id(g_mime_utils_decode_message_id(v.c_str()));
  if (id) return std::string(trim(id.get()));
  std::string_view s = trim(v);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

struct HeaderRow {
  gint64 offset;
  std::string name;
  std::string value;
};

void appendHeaders(GMimeObject* object, std::vector<HeaderRow>& rows) {
  if (object == nullptr) return;
  GMimeHeaderList* list = g_mime_object_get_header_list(object);
  if (list == nullptr) return;
  int n = g_mime_header_list_get_count(list);
  for (int i = 0; i < n; ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
    rows.push_back(HeaderRow{g_mime_header_get_offset(h),
                             std::string(orEmpty(g_mime_header_get_name(h))),
                             std::string(trim(orEmpty(g_mime_header_get_value(h))))});
  }
}

// Whole content of a stream that is not a window onto the input (not expected; kept as a
// fallback so that an unexpected GMime stream type never loses data).
std::string readAll(GMimeStream* stream) {
  std::string out;
  if (g_mime_stream_reset(stream) != 0) return out;
  char buf[8192];
  for (;;) {
    ssize_t n = g_mime_stream_read(stream, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::string decodeQuotedPrintable(std::string_view in) {
  GMimeEncoding state;
  g_mime_encoding_init_decode(&state, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  std::size_t room = std::max(g_mime_encoding_outlen(&state, in.size()), in.size() + 16);
  std::string out(room, '\0');
  std::size_t n = g_mime_encoding_flush(&state, in.data(), in.size(), out.data());
  out.resize(std::min(n, room));
  return out;
}

// uuencode: the data lines between "begin <mode> <name>" and "end" (GMime's decoder expects to be
// past the begin line, as its stream filter arranges).
std::string decodeUuencode(std::string_view in) {
  std::size_t begin = 0;
  while (in.substr(begin, 6) != "begin ") {
    begin = in.find('\n', begin);
    if (begin == std::string_view::npos) return {};
    ++begin;
  }
  std::size_t data = in.find('\n', begin);
  if (data == std::string_view::npos) return {};
  in.remove_prefix(data + 1);
  std::string out(in.size() + 16, '\0');
  int state = GMIME_UUDECODE_STATE_BEGIN;
  guint32 save = 0;
  std::size_t n =
      g_mime_encoding_uudecode_step(reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                                    reinterpret_cast<unsigned char*>(out.data()), &state, &save);
  out.resize(std::min(n, out.size()));
  return out;
}

// --- GMime run ----------------------------------------------------------------------------------

// Lends bytes to a GMime memory stream without copying them: the GByteArray neither owns nor
// frees them (the stream is told it is not the owner, and the array is released without its data).
class BorrowedBytes {
 public:
  explicit BorrowedBytes(std::string_view bytes)
      : array_(g_byte_array_new_take(
            const_cast<guint8*>(reinterpret_cast<const guint8*>(bytes.data())), bytes.size())) {}
  ~BorrowedBytes() { g_byte_array_free(array_, FALSE); }
  BorrowedBytes(const BorrowedBytes&) = delete;
  BorrowedBytes& operator=(const BorrowedBytes&) = delete;
  GByteArray* get() const { return array_; }

 private:
  GByteArray* array_;
};

// One GMime parse. Member order matters: GMime headers keep a pointer to the options and content
// streams point into the borrowed bytes, so the message is released first, then the parser, the
// stream, the bytes and the options.
class GMimeRun {
 public:
  explicit GMimeRun(std::string_view input) : options_(g_mime_parser_options_new()), bytes_(input) {
    g_mime_parser_options_set_warning_callback(options_.get(), onParserWarning, &warnings_);
    const char* fallback[] = {"utf-8", "windows-1252", nullptr};
    g_mime_parser_options_set_fallback_charsets(options_.get(), fallback);
    stream_.reset(g_mime_stream_mem_new_with_byte_array(bytes_.get()));
    g_mime_stream_mem_set_owner(as<GMimeStreamMem>(stream_.get()), FALSE);
    parser_.reset(g_mime_parser_new_with_stream(stream_.get()));
    g_mime_parser_set_format(parser_.get(), GMIME_FORMAT_MESSAGE);
    message_.reset(g_mime_parser_construct_message(parser_.get(), options_.get()));
  }
  GMimeRun(const GMimeRun&) = delete;
  GMimeRun& operator=(const GMimeRun&) = delete;

  GMimeMessage* message() const { return message_.get(); }
  GMimeStream* stream() const { return stream_.get(); }
  GMimeParserOptions* options() const { return options_.get(); }
  const ParserWarnings& warnings() const { return warnings_; }

 private:
  ParserWarnings warnings_;
  ParserOptionsPtr options_;
  BorrowedBytes bytes_;
  GPtr<GMimeStream> stream_;
  GPtr<GMimeParser> parser_;
  GPtr<GMimeMessage> message_;
};

// The message without the contents of its leaf parts: headers, delimiters, preambles and
// epilogues only. GMime then builds the same tree from a few kilobytes instead of scanning every
// base64 line for boundaries (most of its time on a 100 KB message); contents are read from the
// input at the offsets the pre-scan found.
std::string skeletonOf(std::string_view raw, const ScanResult& scan) {
  std::string out;
  std::size_t pos = 0;
  std::size_t cut = 0;
  for (const ScanEntity& e : scan.entities) {
    if (e.kind == EntityKind::Leaf) cut += e.end - e.body_begin;
  }
  out.reserve(raw.size() - cut);
  for (const ScanEntity& e : scan.entities) {
    if (e.kind != EntityKind::Leaf || e.end <= e.body_begin || e.body_begin < pos) continue;
    out.append(raw.substr(pos, e.body_begin - pos));
    pos = e.end;
  }
  out.append(raw.substr(pos));
  return out;
}

EntityKind kindOf(GMimeObject* object) {
  if (isA(object, g_mime_multipart_get_type())) return EntityKind::Multipart;
  if (isA(object, g_mime_message_part_get_type())) return EntityKind::Message;
  return EntityKind::Leaf;
}

// Whether GMime's tree has the pre-scan's shape: same kinds at the same depths, in pre-order.
bool sameShape(GMimeObject* object, int depth, const ScanResult& scan, std::size_t& next) {
  if (object == nullptr) return true;
  if (next >= scan.entities.size()) return false;
  const ScanEntity& e = scan.entities[next++];
  EntityKind kind = kindOf(object);
  if (e.kind != kind || e.depth != depth) return false;
  if (kind == EntityKind::Multipart) {
    auto* multipart = as<GMimeMultipart>(object);
    int n = g_mime_multipart_get_count(multipart);
    for (int i = 0; i < n; ++i) {
      if (!sameShape(g_mime_multipart_get_part(multipart, i), depth + 1, scan, next)) return false;
    }
  } else if (kind == EntityKind::Message) {
    GMimeMessage* embedded = g_mime_message_part_get_message(as<GMimeMessagePart>(object));
    GMimeObject* root = embedded != nullptr ? rootPart(embedded) : nullptr;
    return root == nullptr || sameShape(root, depth + 1, scan, next);
  }
  return true;
}

bool sameShape(GMimeMessage* message, const ScanResult& scan) {
  std::size_t next = 0;
  GMimeObject* root = rootPart(message);
  return root != nullptr && sameShape(root, 0, scan, next) && next == scan.entities.size();
}

// --- the tree walk ----------------------------------------------------------------------------

enum class Place : std::uint8_t { BodyAllowed, Other };

std::string childPath(const std::string& parent, int index) {
  std::string n = std::to_string(index + 1);
  return parent.empty() ? n : parent + "." + n;
}

class TreeWalker {
 public:
  // `aligned`: GMime's tree has the pre-scan's shape (sameShape), so entity i of the walk is
  // scan.entities[i] and contents are read at the pre-scan's offsets in `raw`. Otherwise GMime
  // parsed `raw` itself and contents come from its streams, which are windows onto `raw`.
  TreeWalker(std::string_view raw, const GMimeRun& run, const ScanResult& scan,
             const MimeLimits& limits, bool aligned, MimeMessage& out)
      : raw_(raw), run_(run), scan_(scan), limits_(limits), aligned_(aligned), out_(out) {}

  // `base`: section number of the entity whose body this is ("" for the message itself).
  std::optional<Error> walkRoot(GMimeObject* root, const std::string& base, int depth,
                                bool extract) {
    if (isA(root, g_mime_multipart_get_type()))
      return walk(root, base, depth, Place::BodyAllowed, extract);
    return walk(root, childPath(base, 0), depth, Place::BodyAllowed, extract);
  }

  void finish() {
    for (std::string& t : texts_) {
      if (t.empty()) continue;
      std::string& body = out_.text_body;
      if (!body.empty()) {
        // A part's trailing CRs go too: a lone CR is data, but one before the joining "\n"
        // would make a CRLF (found by fuzz/mime_fuzz.cpp).
        while (!body.empty() && (body.back() == '\n' || body.back() == '\r'))
          body.pop_back();
        body += "\n\n";
      }
      body += t;
    }
    if (out_.text_body.empty() && html_) out_.html_body = std::move(*html_);
  }

 private:
  const ScanEntity* entity(std::size_t index) const {
    return aligned_ && index < scan_.entities.size() ? &scan_.entities[index] : nullptr;
  }

  std::optional<Error> countPart() {
    if (++parts_ > limits_.max_parts)
      return makeError(Errc::MimeTooManyParts, "too many MIME parts");
    return std::nullopt;
  }

  std::optional<Error> account(std::size_t bytes) {
    decoded_ += bytes;
    if (decoded_ > limits_.max_decoded_bytes)
      return makeError(Errc::MimeTooLarge, "decoded contents over the size limit");
    return std::nullopt;
  }

  std::optional<Error> walk(GMimeObject* object, const std::string& path, int depth, Place place,
                            bool extract) {
    if (depth > limits_.max_depth)
      return makeError(Errc::MimeNestingTooDeep, "MIME nesting too deep");
    const ScanEntity* e = entity(next_entity_++);
    switch (kindOf(object)) {
      case EntityKind::Multipart:
        return walkMultipart(as<GMimeMultipart>(object), e, path, depth, place, extract);
      case EntityKind::Message:
        return walkMessagePart(as<GMimeMessagePart>(object), e, path, depth, extract);
      case EntityKind::Leaf:
        break;
    }
    if (!isA(object, g_mime_part_get_type())) return std::nullopt;  // no other kind is parsed
    return walkLeaf(as<GMimePart>(object), e, path, place, extract);
  }

  std::optional<Error> walkMultipart(GMimeMultipart* multipart, const ScanEntity* e,
                                     const std::string& path, int depth, Place place,
                                     bool extract) {
    auto* object = as<GMimeObject>(multipart);
    std::string subtype = subtypeOf(object);
    int n = g_mime_multipart_get_count(multipart);
    bool is_signed = subtype == "signed" || isA(object, g_mime_multipart_signed_get_type());
    bool is_encrypted =
        subtype == "encrypted" || isA(object, g_mime_multipart_encrypted_get_type());
    if (is_encrypted && extract) {
      // Kept whole, headers included: whoever decrypts it needs the protocol and the boundary.
      std::string bytes;
      if (e != nullptr) {
        bytes = std::string(raw_.substr(e->header_begin, e->end - e->header_begin));
      } else {
        GCharPtr s(g_mime_object_to_string(object, nullptr));
        bytes = s ? std::string(s.get()) : std::string();
      }
      if (auto err = account(bytes.size())) return err;
      MimeAttachment a;
      a.content_type = mimeType(object);
      a.part_path = path.empty() ? "1" : path;
      a.bytes = std::move(bytes);
      out_.attachments.push_back(std::move(a));
    }
    Place inner = Place::Other;
    if (place == Place::BodyAllowed &&
        (subtype == "alternative" || subtype == "mixed" || subtype == "related"))
      inner = Place::BodyAllowed;
    for (int i = 0; i < n; ++i) {
      if (auto err = countPart()) return err;
      GMimeObject* child = g_mime_multipart_get_part(multipart, i);
      bool child_extract = extract && !is_encrypted;
      Place child_place = inner;
      if (is_signed) {
        // RFC 1847: the signed content, then the signature, which is dropped.
        if (i == 0) {
          if (extract) out_.was_signed = true;
          child_place = place;
        } else {
          child_extract = false;
        }
      }
      if (auto err = walk(child, childPath(path, i), depth + 1, child_place, child_extract))
        return err;
    }
    return std::nullopt;
  }

  std::optional<Error> walkMessagePart(GMimeMessagePart* part, const ScanEntity* e,
                                       const std::string& path, int depth, bool extract) {
    auto* object = as<GMimeObject>(part);
    GMimeMessage* embedded = g_mime_message_part_get_message(part);
    if (extract) {
      std::string bytes;
      if (e != nullptr) {
        bytes = std::string(raw_.substr(e->body_begin, e->end - e->body_begin));
      } else if (embedded != nullptr) {
        GCharPtr s(g_mime_object_to_string(as<GMimeObject>(embedded), nullptr));
        bytes = s ? std::string(s.get()) : std::string();
      }
      if (auto err = account(bytes.size())) return err;
      MimeAttachment a;
      a.content_type = mimeType(object);
      a.disposition = lower(orEmpty(g_mime_object_get_disposition(object)));
      a.filename =
          std::string(orEmpty(g_mime_object_get_content_disposition_parameter(object, "filename")));
      if (a.filename.empty())
        a.filename = std::string(orEmpty(g_mime_object_get_content_type_parameter(object, "name")));
      a.content_id = std::string(orEmpty(g_mime_object_get_content_id(object)));
      a.part_path = path;
      a.bytes = std::move(bytes);
      out_.attachments.push_back(std::move(a));
    }
    // The embedded message is not read, but its parts count towards the limits.
    GMimeObject* root = embedded != nullptr ? rootPart(embedded) : nullptr;
    if (root == nullptr) return std::nullopt;
    if (auto err = countPart()) return err;
    return walkRoot(root, path, depth + 1, false);
  }

  // The encoded content of a leaf, in place in the input.
  std::string_view encodedContent(const ScanEntity* e, GMimePart* part,
                                  std::string& storage) const {
    if (e != nullptr) return raw_.substr(e->body_begin, e->end - e->body_begin);
    GMimeDataWrapper* wrapper = g_mime_part_get_content(part);
    GMimeStream* stream = wrapper != nullptr ? g_mime_data_wrapper_get_stream(wrapper) : nullptr;
    if (stream == nullptr) return {};
    if (stream->super_stream == run_.stream() && stream->bound_start >= 0 &&
        static_cast<std::size_t>(stream->bound_start) <= raw_.size()) {
      auto begin = static_cast<std::size_t>(stream->bound_start);
      std::size_t end = stream->bound_end < 0
                            ? raw_.size()
                            : std::min(static_cast<std::size_t>(stream->bound_end), raw_.size());
      if (begin <= end) return raw_.substr(begin, end - begin);
    }
    storage = readAll(stream);
    return storage;
  }

  std::optional<Error> walkLeaf(GMimePart* part, const ScanEntity* e, const std::string& path,
                                Place place, bool extract) {
    if (!extract) return std::nullopt;
    auto* object = as<GMimeObject>(part);
    std::string storage;
    std::string_view encoded = encodedContent(e, part, storage);
    std::string bytes;
    switch (g_mime_part_get_content_encoding(part)) {
      case GMIME_CONTENT_ENCODING_BASE64: {
        auto decoded = parse::decodeBase64(encoded);
        if (!decoded)
          return makeError(Errc::MimeEncodingInvalid, "invalid base64 content in part " + path);
        bytes = std::move(*decoded);
        break;
      }
      case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
        bytes = decodeQuotedPrintable(encoded);
        break;
      case GMIME_CONTENT_ENCODING_UUENCODE:
        bytes = decodeUuencode(encoded);
        break;
      default:
        bytes = std::string(encoded);
        break;
    }
    if (auto err = account(bytes.size())) return err;

    std::string type = mimeType(object);
    std::string disposition = lower(orEmpty(g_mime_object_get_disposition(object)));
    std::string filename(orEmpty(g_mime_part_get_filename(part)));
    std::string charset =
        lower(trim(orEmpty(g_mime_object_get_content_type_parameter(object, "charset"))));
    bool body_like = place == Place::BodyAllowed && filename.empty() && disposition != "attachment";
    if (body_like && (type == "text/plain" || type == "text/html")) {
      mime_detail::TextResult text = mime_detail::textToUtf8(bytes, charset);
      if (text.charset_unknown)
        out_.issues.add(Errc::MimeCharsetUnknown,
                        "unknown charset " + safeToken(charset) + ": text read as windows-1252", {},
                        path);
      if (text.invalid_utf8)
        out_.issues.add(Errc::MimeCharsetUnknown,
                        "text declared UTF-8 is not valid UTF-8: read as windows-1252", {}, path);
      if (type == "text/plain") {
        texts_.push_back(std::move(text.text));
      } else if (!html_) {
        html_ = std::move(text.text);
      }
      return std::nullopt;
    }
    MimeAttachment a;
    a.filename = std::move(filename);
    a.content_type = std::move(type);
    a.charset = std::move(charset);
    a.disposition = std::move(disposition);
    a.content_id = std::string(orEmpty(g_mime_object_get_content_id(object)));
    a.bytes = std::move(bytes);
    a.part_path = path;
    out_.attachments.push_back(std::move(a));
    return std::nullopt;
  }

  std::string_view raw_;
  const GMimeRun& run_;
  const ScanResult& scan_;
  const MimeLimits& limits_;
  bool aligned_;
  MimeMessage& out_;
  std::size_t next_entity_ = 0;
  std::size_t parts_ = 0;
  std::size_t decoded_ = 0;
  std::vector<std::string> texts_;
  std::optional<std::string> html_;
};

void fillEnvelope(GMimeMessage* message, GMimeParserOptions* options, MimeMessage& out) {
  std::vector<HeaderRow> rows;
  appendHeaders(as<GMimeObject>(message), rows);
  std::size_t message_rows = rows.size();
  appendHeaders(rootPart(message), rows);  // GMime files Content-* headers under the root part
  std::inplace_merge(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(message_rows),
                     rows.end(),
                     [](const HeaderRow& a, const HeaderRow& b) { return a.offset < b.offset; });
  out.headers.reserve(rows.size());
  for (HeaderRow& r : rows)
    out.headers.emplace_back(std::move(r.name), std::move(r.value));

  if (auto v = out.header("Subject")) out.subject = std::move(*v);
  if (auto v = out.header("Message-ID")) out.message_id = messageIdOf(*v);
  if (auto v = out.header("In-Reply-To")) out.in_reply_to = messageIdOf(*v);
  if (auto v = out.header("Date")) out.date = std::move(*v);

  std::vector<InternetAddress*> from;
  collectMailboxes(g_mime_message_get_from(message), from, 0);
  if (!from.empty()) {
    out.from = normaliseAddress(
        orEmpty(internet_address_mailbox_get_addr(as<InternetAddressMailbox>(from.front()))));
    out.from_name = std::string(trim(orEmpty(internet_address_get_name(from.front()))));
  }
  out.to = addresses(g_mime_message_get_to(message));
  out.cc = addresses(g_mime_message_get_cc(message));
  if (auto v = out.header("Disposition-Notification-To")) {
    GPtr<InternetAddressList> list(internet_address_list_parse(options, v->c_str()));
    std::vector<std::string> dnt = addresses(list.get());
    if (!dnt.empty()) out.disposition_notification_to = std::move(dnt.front());
  }
}

Result<MimeMessage> buildMessage(std::string_view raw, const GMimeRun& run, const ScanResult& scan,
                                 const MimeLimits& limits, bool aligned) {
  const ParserWarnings& warnings = run.warnings();
  if (warnings.nesting_overflow)
    return makeError(Errc::MimeNestingTooDeep, "MIME nesting too deep");
  if (warnings.multipart_without_boundary)
    return makeError(Errc::MimeMalformed, "multipart without boundary");
  if (!warnings.conflict_fatal.empty())
    return makeError(Errc::MimeMalformed, "conflicting " + warnings.conflict_fatal + " values");
  bool has_multipart =
      std::any_of(scan.entities.begin(), scan.entities.end(),
                  [](const ScanEntity& e) { return e.kind == EntityKind::Multipart; });
  if (warnings.truncated && has_multipart)
    return makeError(Errc::MimeMalformed, "multipart not terminated: message truncated");

  MimeMessage out;
  fillEnvelope(run.message(), run.options(), out);
  if (auto name = conflictingIdentityHeader(out))
    return makeError(Errc::MimeMalformed, "conflicting " + std::string(*name) + " values");
  TreeWalker walker(raw, run, scan, limits, aligned, out);
  if (GMimeObject* root = rootPart(run.message())) {
    if (auto err = walker.walkRoot(root, "", 0, true)) return *err;
  }
  walker.finish();

  auto warn = [&out](std::string text) {
    out.issues.add(Issue{Errc::MimeMalformed, Severity::Warning, std::move(text), {}, {}});
  };
  if (scan.inner_unterminated) warn("a multipart was closed by an outer boundary only");
  if (warnings.invalid_header) warn("invalid header line ignored");
  if (warnings.part_without_headers) warn("MIME part without headers or content ignored");
  if (!warnings.conflict_other.empty())
    warn("conflicting " + warnings.conflict_other + " values: the first one is used");
  return out;
}

// An mbox "From " separator line is not part of the message (but "From : x" is a header field).
std::string_view skipMboxLine(std::string_view bytes) {
  if (bytes.substr(0, 5) != "From ") return bytes;
  std::size_t next = bytes.find_first_not_of(" \t", 5);
  if (next != std::string_view::npos && bytes[next] == ':') return bytes;
  std::size_t nl = bytes.find('\n');
  return nl == std::string_view::npos ? std::string_view() : bytes.substr(nl + 1);
}

}  // namespace

std::optional<std::string> MimeMessage::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (equalsIgnoreCase(n, name)) return v;
  }
  return std::nullopt;
}

Result<MimeMessage> parseMime(std::string_view bytes, const MimeLimits& limits) {
  if (bytes.size() > limits.max_message_bytes || bytes.size() > UINT_MAX)
    return makeError(Errc::MimeTooLarge, "message over the size limit");
  std::string_view raw = skipMboxLine(bytes);
  if (raw.size() + limits.max_header_line < bytes.size())
    return makeError(Errc::MimeHeaderTooLong, "mbox From line over the length limit");
  if (trim(raw).empty()) return makeError(Errc::MimeMalformed, "empty message");

  auto scan = mime_detail::scanStructure(raw, limits);
  if (!scan) return scan.error();

  mime_detail::ensureGMime();
  {
    std::string skeleton = skeletonOf(raw, *scan);
    GMimeRun run(skeleton);
    if (run.message() == nullptr) return makeError(Errc::MimeMalformed, "not a MIME message");
    if (sameShape(run.message(), *scan)) return buildMessage(raw, run, *scan, limits, true);
  }
  // GMime read the skeleton's structure differently from the pre-scan. Only seen on broken input,
  // e.g. a header block cut short by a delimiter line that straddles GMime's 4 KB read buffer,
  // which GMime then misses. Let GMime parse the whole input and take contents from its streams.
  GMimeRun run(raw);
  if (run.message() == nullptr) return makeError(Errc::MimeMalformed, "not a MIME message");
  return buildMessage(raw, run, *scan, limits, false);
}

}  // namespace liaison::parse
