#pragma once
// RFC 5322 / MIME messages as received over MSSanté: bytes in, a MimeMessage out.
// Pure: no I/O. Implemented with GMime 3, which never shows through this header.
//
// Hostile input never throws and never crashes: it ends in an Error (Result) with one of
//   mime-too-large        message over max_message_bytes, or decoded contents over
//   max_decoded_bytes mime-header-too-long  one header field over max_header_line, or a header
//   block over max_header_bytes mime-too-many-parts   more than max_parts body parts
//   mime-nesting-too-deep nesting (multipart or message/rfc822) deeper than max_depth
//   mime-encoding-invalid a base64 part that is truncated or holds characters outside the alphabet
//   mime-malformed        not a message at all (empty, binary, no header), a multipart without a
//                         boundary or whose closing boundary never comes, conflicting structural
//                         headers (Content-Type, Content-Transfer-Encoding, From, Subject…)
// Error details are short English sentences without any patient data.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error/result.hpp"

namespace liaison::parse {

struct MimeLimits {
  std::size_t max_message_bytes = 64 * 1024 * 1024;
  std::size_t max_header_line = 16 * 1024;    // one (unfolded) header field; RFC 5322 says 998
  std::size_t max_header_bytes = 256 * 1024;  // the whole header block of one entity
  std::size_t max_parts = 512;  // body parts below the top level (embedded messages count too)
  int max_depth = 16;           // nesting: multipart children and embedded messages
  std::size_t max_decoded_bytes = 128 * 1024 * 1024;  // all decoded part contents together
};

struct MimeAttachment {
  std::string filename;      // decoded (RFC 2047/2231), as sent; may be empty
  std::string content_type;  // lower-case "type/subtype"
  std::string charset;       // lower-case, when given
  std::string disposition;   // "attachment" / "inline" / ""
  std::string content_id;    // without angle brackets
  std::string bytes;  // transfer-decoded content (base64 / quoted-printable / 7bit / 8bit / binary)
  std::string part_path;  // "1.2" style position in the MIME tree (IMAP numbering)
};

struct MimeMessage {
  // Top-level, in order; values unfolded and RFC 2047-decoded to UTF-8.
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> header(std::string_view name) const;  // case-insensitive, first one
  std::string message_id;                                          // without angle brackets
  std::string subject;                                             // decoded UTF-8
  std::string from;       // address only (domain lower-cased), e.g. "dr.martin@medecin.mssante.fr"
  std::string from_name;  // display name, decoded
  std::vector<std::string> to;  // addresses
  std::vector<std::string> cc;
  std::string date;                         // as written
  std::string in_reply_to;                  // first message id, without angle brackets
  std::string disposition_notification_to;  // address, when an MDN is requested
  std::string text_body;  // text/plain body parts (not attachments), UTF-8, line ends "\n"
  // text/html body when there is no text/plain one: UTF-8, line ends "\n", markup verbatim.
  std::string html_body;
  std::vector<MimeAttachment> attachments;  // every other leaf part, in tree order
  bool was_signed = false;  // a multipart/signed was unwrapped (signature part dropped)
  // Warnings that did not stop parsing (e.g. unknown charset read as windows-1252).
  IssueList issues;
};

// Body vs attachment: a text/plain part without filename and not "attachment", at the top level
// or directly in a multipart/alternative, mixed or related (multipart/signed is transparent), is
// body text; several are joined by a blank line. text/html in the same place is the html_body
// candidate and never an attachment. message/rfc822 parts are attachments holding the raw
// embedded message; multipart/encrypted is one attachment holding the raw entity (headers and
// body); nothing is decrypted.
Result<MimeMessage> parseMime(std::string_view bytes, const MimeLimits& limits = {});

}  // namespace liaison::parse
