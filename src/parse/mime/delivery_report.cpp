// MDNs (RFC 8098) and DSNs (RFC 3464) → DeliveryReport.
//
// The mail goes through parseMime first, with its limits: whatever reaches the report reading is
// of bounded shape and already transfer-decoded. A report is a top-level multipart/report whose
// machine-readable part (message/disposition-notification or message/delivery-status) is one of
// its direct children; parseMime lists it as an attachment whether GMime saw a leaf or a message.
// That part is header syntax in blocks separated by empty lines (DSN: one per-message block, then
// one block per recipient) and is read here, not by GMime, which would only see the first block.

#include "parse/mime/delivery_report.hpp"

#include <algorithm>
#include <iterator>
#include <vector>

#include "core/text/ascii.hpp"
#include "parse/mime/gmime_support.hpp"
#include "parse/text/encoding.hpp"

namespace liaison::parse {

namespace {

using ascii::equalsIgnoreCase;
using ascii::lower;
using ascii::lowerAscii;

using mime_detail::GPtr;

// Limits of the report part on top of MimeLimits: a DSN for a few hundred recipients stays far
// below; anything larger is not a report liaison asked for.
constexpr std::size_t kMaxReportFields = 4096;

bool isBlank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isBlank(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back()))
    s.remove_suffix(1);
  return s;
}

// Unfolded value: runs of blanks (folding included) become one space; other control characters
// are dropped.
std::string cleanValue(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool blank = false;
  for (char c : trim(s)) {
    auto u = static_cast<unsigned char>(c);
    if (isBlank(c)) {
      blank = true;
      continue;
    }
    if (u < 0x20 || u == 0x7F) continue;
    if (blank && !out.empty()) out.push_back(' ');
    blank = false;
    out.push_back(c);
  }
  return out;
}

using Field = std::pair<std::string, std::string>;  // name as written, value unfolded
using Block = std::vector<Field>;

const std::string* find(const Block& block, std::string_view name) {
  for (const auto& [n, v] : block) {
    if (equalsIgnoreCase(n, name)) return &v;
  }
  return nullptr;
}

struct FieldLimits {
  std::size_t max_field;  // one unfolded field
  bool first_block_only;  // a message's header block: stop at the first empty line
};

// Header-syntax blocks (RFC 5322 §2.2 fields, folding, RFC 3464 §2.1 empty lines between
// blocks). Lines that are not fields are skipped. nullopt over the limits.
std::optional<std::vector<Block>> readBlocks(std::string_view text, const FieldLimits& limits) {
  std::vector<Block> blocks(1);
  std::size_t fields = 0;
  std::size_t pos = 0;
  bool continuable = false;  // the previous line was a field (or its continuation)
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) {
      if (limits.first_block_only && !(blocks.size() == 1 && blocks.back().empty())) break;
      if (!blocks.back().empty()) blocks.emplace_back();
      continuable = false;
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (!continuable) continue;
      std::string& value = blocks.back().back().second;
      if (value.size() + line.size() > limits.max_field) return std::nullopt;
      value += ' ';
      value += line;
      continue;
    }
    std::size_t colon = line.find(':');
    std::string_view name =
        colon == std::string_view::npos ? std::string_view() : trim(line.substr(0, colon));
    bool is_name = !name.empty() && std::all_of(name.begin(), name.end(),
                                                [](char c) { return c > ' ' && c < 0x7F; });
    if (!is_name) {
      continuable = false;
      continue;
    }
    if (line.size() > limits.max_field || ++fields > kMaxReportFields) return std::nullopt;
    blocks.back().emplace_back(std::string(name), std::string(line.substr(colon + 1)));
    continuable = true;
  }
  if (blocks.back().empty()) blocks.pop_back();
  for (Block& b : blocks) {
    for (auto& [n, v] : b)
      v = cleanValue(v);
  }
  return blocks;
}

// "<id@host>" (comments and blanks around) → "id@host".
std::string messageIdOf(std::string_view value) {
  std::size_t open = value.find('<');
  std::size_t close = open == std::string_view::npos ? open : value.find('>', open + 1);
  if (close != std::string_view::npos)
    return std::string(trim(value.substr(open + 1, close - open - 1)));
  value = trim(value);
  return std::string(value.substr(0, value.find(' ')));
}

// "rfc822; Nobody@Cardio-Plus.TEST" → "Nobody@cardio-plus.test": the local part is the owner's
// business (RFC 5321 §2.4), the domain is not case-sensitive.
std::string addressOf(std::string_view value) {
  std::size_t semi = value.find(';');
  std::string_view addr = trim(semi == std::string_view::npos ? value : value.substr(semi + 1));
  if (addr.size() >= 2 && addr.front() == '<' && addr.back() == '>')
    addr = trim(addr.substr(1, addr.size() - 2));
  std::string out(addr);
  std::size_t at = out.rfind('@');
  if (at != std::string::npos) {
    for (std::size_t i = at + 1; i < out.size(); ++i)
      out[i] = lowerAscii(out[i]);
  }
  return out;
}

std::string firstToken(std::string_view value) {
  value = trim(value);
  return lower(value.substr(0, std::min(value.find(' '), value.find(';'))));
}

// RFC 8098 §3.2.6: "action-mode/sending-mode; type[/modifier,…]". The ANS IG puts the error in
// the modifier: "processed/Error: 903^Document sans INS"; RFC 8098 writes "processed/error" and
// leaves the text to an Error field (RFC 3798 §3.2.7).
void readDisposition(std::string_view value, const Block& block, DeliveryReport& out) {
  std::size_t semi = value.find(';');
  std::string_view rest = trim(semi == std::string_view::npos ? value : value.substr(semi + 1));
  std::size_t end = 0;
  auto is_token = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  };
  while (end < rest.size() && is_token(rest[end]))
    ++end;
  out.disposition = lower(rest.substr(0, end));
  rest = trim(rest.substr(end));
  if (rest.empty() || rest.front() != '/') return;
  rest = trim(rest.substr(1));
  if (rest.size() >= 5 && equalsIgnoreCase(rest.substr(0, 5), "error")) {
    out.disposition += "/error";
    std::string_view after = trim(rest.substr(5));
    if (!after.empty() && after.front() == ':') out.error = std::string(trim(after.substr(1)));
  } else {
    std::string modifiers;
    for (char c : rest) {
      if (c == '(' || c == ';') break;
      if (!isBlank(c)) modifiers.push_back(lowerAscii(c));
    }
    if (!modifiers.empty()) out.disposition += "/" + modifiers;
  }
  if (out.error.empty()) {
    if (const std::string* error = find(block, "Error")) out.error = *error;
  }
}

struct ReportParts {
  const MimeAttachment* status = nullptr;    // the machine-readable part
  const MimeAttachment* returned = nullptr;  // the original message or its headers
};

bool isDirectChild(const MimeAttachment& a) {
  return !a.part_path.empty() && a.part_path.find('.') == std::string::npos;
}

// The Message-ID of a returned message or header block.
std::string returnedMessageId(const MimeAttachment* returned, const MimeLimits& limits) {
  if (returned == nullptr) return {};
  std::string_view bytes = returned->bytes;
  if (bytes.size() > limits.max_header_bytes) bytes = bytes.substr(0, limits.max_header_bytes);
  auto blocks = readBlocks(bytes, {limits.max_header_line, true});
  if (!blocks || blocks->empty()) return {};
  const std::string* id = find(blocks->front(), "Message-ID");
  return id != nullptr ? messageIdOf(*id) : std::string();
}

}  // namespace

namespace {

// Whether the top-level Content-Type is multipart/report, read by GMime from the header block
// alone (an empty body): most mails are not reports, and the intake parses their bodies anyway.
bool headedAsReport(std::string_view bytes, const MimeLimits& limits) {
  std::size_t end = bytes.size();
  for (std::string_view blank : {std::string_view("\r\n\r\n"), std::string_view("\n\n")}) {
    if (auto at = bytes.find(blank); at != std::string_view::npos && at < end) end = at;
  }
  if (end > limits.max_header_bytes) return false;  // parseMime refuses it too
  const std::string head = std::string(bytes.substr(0, end)) + "\r\n\r\n";
  mime_detail::ensureGMime();
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(head.data(), head.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), nullptr));
  if (!message) return false;
  // GMime keeps the Content-* fields on the message's top-level part.
  GMimeObject* part = g_mime_message_get_mime_part(message.get());
  GMimeContentType* type = part != nullptr ? g_mime_object_get_content_type(part) : nullptr;
  return type != nullptr && g_mime_content_type_is_type(type, "multipart", "report");
}

}  // namespace

std::optional<DeliveryReport> readDeliveryReport(std::string_view bytes, const MimeLimits& limits) {
  if (!headedAsReport(bytes, limits)) return std::nullopt;
  auto message = parseMime(bytes, limits);
  if (!message) return std::nullopt;
  std::optional<std::string> content_type = message->header("Content-Type");
  if (!content_type) return std::nullopt;

  mime_detail::ensureGMime();
  GPtr<GMimeContentType> ct(g_mime_content_type_parse(nullptr, content_type->c_str()));
  if (!ct || !g_mime_content_type_is_type(ct.get(), "multipart", "report")) return std::nullopt;
  const char* report_type_param = g_mime_content_type_get_parameter(ct.get(), "report-type");
  std::string report_type = lower(report_type_param != nullptr ? report_type_param : "");

  // RFC 6533 names the UTF-8 variants "global-…".
  DeliveryReport out;
  ReportParts parts;
  for (const MimeAttachment& a : message->attachments) {
    if (!isDirectChild(a)) continue;
    const std::string& t = a.content_type;
    if (parts.status == nullptr) {
      if (t == "message/disposition-notification" ||
          t == "message/global-disposition-notification") {
        parts.status = &a;
        out.kind = DeliveryReport::Kind::Disposition;
        continue;
      }
      if (t == "message/delivery-status" || t == "message/global-delivery-status") {
        parts.status = &a;
        out.kind = DeliveryReport::Kind::DeliveryStatus;
        continue;
      }
    }
    if (parts.returned == nullptr && (t == "message/rfc822" || t == "text/rfc822-headers" ||
                                      t == "message/global" || t == "message/global-headers"))
      parts.returned = &a;
  }
  if (parts.status == nullptr) return std::nullopt;
  // A missing report-type is tolerated; another one is another kind of report.
  bool is_mdn = out.kind == DeliveryReport::Kind::Disposition;
  std::string_view declared = report_type;
  if (declared.starts_with("global-")) declared.remove_prefix(7);
  if (!declared.empty() && declared != (is_mdn ? "disposition-notification" : "delivery-status"))
    return std::nullopt;
  if (parts.status->bytes.size() > limits.max_header_bytes) return std::nullopt;

  // The fields are US-ASCII by the RFCs; UTF-8 (RFC 6533) is kept, anything else read as
  // windows-1252, so that the values are always UTF-8.
  std::string text = toUtf8(parts.status->bytes);
  auto blocks = readBlocks(text, {limits.max_header_line, false});
  if (!blocks || blocks->empty()) return std::nullopt;

  if (is_mdn) {
    // One block by RFC 8098; a stray empty line inside it is forgiven.
    Block fields;
    for (Block& b : *blocks)
      std::move(b.begin(), b.end(), std::back_inserter(fields));
    const std::string* disposition = find(fields, "Disposition");
    if (disposition == nullptr) return std::nullopt;
    readDisposition(*disposition, fields, out);
    if (out.disposition.empty()) return std::nullopt;
    if (const std::string* r = find(fields, "Final-Recipient")) out.recipient = addressOf(*r);
    if (const std::string* id = find(fields, "Original-Message-ID"))
      out.original_message_id = messageIdOf(*id);
    if (out.original_message_id.empty())
      out.original_message_id = returnedMessageId(parts.returned, limits);
    return out;
  }

  // DSN: the per-recipient blocks are those with an Action (RFC 3464 §2.3: mandatory there).
  const Block* chosen = nullptr;
  for (const Block& b : *blocks) {
    const std::string* action = find(b, "Action");
    if (action == nullptr) continue;
    if (chosen == nullptr) chosen = &b;
    if (firstToken(*action) == "failed") {
      chosen = &b;
      break;
    }
  }
  if (chosen == nullptr) return std::nullopt;
  out.action = firstToken(*find(*chosen, "Action"));
  if (const std::string* s = find(*chosen, "Status")) out.status = firstToken(*s);
  if (const std::string* d = find(*chosen, "Diagnostic-Code")) out.diagnostic = *d;
  const std::string* r = find(*chosen, "Final-Recipient");
  if (r == nullptr) r = find(*chosen, "Original-Recipient");
  if (r != nullptr) out.recipient = addressOf(*r);
  out.original_message_id = returnedMessageId(parts.returned, limits);
  if (out.original_message_id.empty()) {
    for (const Block& b : *blocks) {
      if (const std::string* envid = find(b, "Original-Envelope-Id")) {
        out.original_message_id = messageIdOf(*envid);
        break;
      }
    }
  }
  return out;
}

}  // namespace liaison::parse
