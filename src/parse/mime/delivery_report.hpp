#pragma once
// Reports about mails liaison sent: RFC 8098 MDNs (multipart/report;
// report-type=disposition-notification) and RFC 3464 DSNs (report-type=delivery-status).
// Pure: no I/O. Implemented with GMime 3.

#include <optional>
#include <string>
#include <string_view>

#include "parse/mime/mime_message.hpp"

namespace liaison::parse {

struct DeliveryReport {
  enum class Kind { Disposition, DeliveryStatus };
  Kind kind = Kind::Disposition;
  // The Message-ID of the mail the report is about, without angle brackets: MDN
  // Original-Message-ID; DSN: the Message-ID of the returned message or headers part
  // (message/rfc822 or text/rfc822-headers), else Original-Envelope-Id.
  std::string original_message_id;
  std::string recipient;  // Final-Recipient address (without "rfc822;"), lower-cased domain
  // MDN: the disposition type and modifier, lower case: "processed", "displayed",
  // "processed/error", "deleted"… and the text after "Error:" when given ("903^…").
  std::string disposition;
  std::string error;
  // DSN: the action of the (first failed, else first) recipient: "failed", "delayed",
  // "delivered", "relayed", "expanded"; its Status ("5.1.1") and Diagnostic-Code.
  std::string action;
  std::string status;
  std::string diagnostic;
};

// nullopt when the bytes are not a report of either kind (or not a readable mail at all).
std::optional<DeliveryReport> readDeliveryReport(std::string_view bytes,
                                                 const MimeLimits& limits = {});

}  // namespace liaison::parse
