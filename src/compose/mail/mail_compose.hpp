#pragma once
// Mails that liaison writes: RFC 8098 MDNs (multipart/report; report-type=disposition-notification)
// and plain notices (RFC 5322, text/plain UTF-8, the original attached as message/rfc822), as
// MSSanté expects them (../shared/spec/french-e-health.md §1.4–1.5). Pure: no I/O. Implemented
// with GMime 3, which never shows through this header.
//
// The output is ready for SMTP without 8BITMIME: 7-bit clean, CRLF line ends, lines of at most
// 998 octets. Control characters in header values become spaces (no field can be injected);
// invalid or oversized addresses and message ids are left out, as are `extra` fields with an
// invalid name or one of the fields written from MailHeader. The message/disposition-notification
// fields are US-ASCII (RFC 8098): accents are dropped there, the text part keeps them. The
// original goes as message/rfc822 (its bytes, line ends made CRLF) when it is 7-bit data with a
// header block; anything else (8-bit content, lines over 998 octets, not a message) goes
// unchanged as base64 application/octet-stream with the same file name, since message/rfc822
// allows no transfer encoding (RFC 2046 §5.2.1).

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace liaison::compose {

struct MailAddress {
  std::string address;  // "secretariat@cardio-plus.mssante.fr"
  std::string name;     // display name, UTF-8 (RFC 2047-encoded on output when needed)
};

// The top-level header of an outgoing mail.
struct MailHeader {
  MailAddress from;
  std::vector<MailAddress> to;
  std::string subject;     // UTF-8
  std::string message_id;  // without angle brackets; the caller makes it unique
  std::chrono::system_clock::time_point date;
  std::string in_reply_to;  // message id without angle brackets, "" when none
  std::string references;   // message ids, space separated, without angle brackets
  // Further fields, written as given (X-MSS-NIL, Auto-Submitted, …), in order.
  std::vector<std::pair<std::string, std::string>> extra;
};

// An RFC 8098 message disposition notification.
struct MdnRequest {
  MailHeader header;
  std::string human_text;           // part 1, text/plain UTF-8 (French)
  std::string reporting_ua;         // "liaison; 0.5.0"
  std::string original_recipient;   // address, "" when unknown (written "rfc822; addr")
  std::string final_recipient;      // address (written "rfc822; addr")
  std::string original_message_id;  // without angle brackets
  // The Disposition field's value, e.g. "automatic-action/MDN-sent-automatically; processed" or
  // "automatic-action/MDN-sent-automatically; processed/Error: 903^Document sans INS".
  std::string disposition;
  std::string_view original_message;  // part 3, message/rfc822; not attached when empty
  // Part 3 as the original's header block only (text/rfc822-headers, RFC 6522), instead of the
  // whole message: the receipt names the message without carrying its documents again.
  std::string_view original_headers;
};
std::string composeMdn(const MdnRequest& request);

// A plain mail: text/plain UTF-8 body, and the original message attached as message/rfc822
// (file name `original_name`) when given.
struct NoticeRequest {
  MailHeader header;
  std::string text;
  std::string_view original_message;
  std::string original_name = "message_original.eml";
};
std::string composeNotice(const NoticeRequest& request);

}  // namespace liaison::compose
