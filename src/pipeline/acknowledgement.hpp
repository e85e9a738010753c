#pragma once
// What liaison answers to a message it ingested, as MSSanté expects
// (../shared/spec/french-e-health.md §1.5): an RFC 8098 MDN when the sender asked for one
// (Disposition-Notification-To), "processed" or "processed/Error: 90x^…" with the integration
// error code that fits (903 no INS, 904 INS or traits that differ, 905 traits incomplete, 906
// anything else), carrying the original's header block (text/rfc822-headers), not its
// attachments; a plain notice with the original attached (its documents go back to their sender)
// when integration failed and no MDN was asked; and, to the requester of an incomplete request, a
// French mail listing the missing mandatory fields. Never an answer to an automatic message (no
// mail loops). Pure: the mails are returned, the caller queues them in the outbox with the
// ingest's outcome.
//
// Every answer goes to one address: the sender the transport vouches for (vouchedSender), never
// to an address the message only names (Disposition-Notification-To, Reply-To, From of a posted
// mail): otherwise anyone who can hand the gateway a message could make it mail a patient's
// documents anywhere.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "compose/mail/mail_compose.hpp"
#include "core/ports/clock.hpp"
#include "core/ports/store.hpp"
#include "pipeline/form_intake.hpp"

namespace liaison::pipeline {

struct AcknowledgementPolicy {
  compose::MailAddress gateway;  // From: and envelope sender (the ESS's applicative mailbox)
  std::string nil;               // X-MSS-NIL: the product's reference number ("" = not sent)
  std::string reporting_ua = "liaison";
  bool mdn = true;                  // answer Disposition-Notification-To
  bool notices = true;              // a notice when integration failed and no MDN was asked
  bool missing_information = true;  // the French mail to the requester of an incomplete request
  // The address configured for an API intake client (a message posted to `POST /`, journal source
  // "api:<client>"), "" when it has none. The hook for the named clients of the serve
  // configuration's `access` object: until it is set, a posted message has no vouched sender and
  // its only answer is the HTTP response.
  std::function<std::string(std::string_view client)> client_address = {};
};

// The address the transport vouches sent a message, lower-cased ("" = nobody: no mail is sent).
//  - "imap:<mailbox>/…", a mailbox of the MSSanté space: the envelope sender, as the receiving
//    server wrote it at delivery (the first Return-Path: MTAs drop a sender's own and put theirs
//    on top; "<>" is a bounce, answered by nobody); without one, the From, which the sender's
//    operator binds to the mailbox it authenticated.
//  - "api:<client>" (`POST /`): `policy.client_address(client)`.
//  - anything else (a file given to `liaison ingest`): nobody.
// `header_block` is the message's header block (an answer needs nothing from its body).
std::string vouchedSender(std::string_view source, std::string_view header_block,
                          const AcknowledgementPolicy& policy);

// The integration error code of an ingest (900–906), 0 when it integrated.
int integrationErrorCode(const IngestResult& result);

class Acknowledgements {
 public:
  Acknowledgements(AcknowledgementPolicy policy, const Clock& clock);

  // The mails that answer `inbound` (the exact bytes of a mail), given what its ingest gave; all
  // to vouchedSender(source, …), none when it is "".
  std::vector<OutboundMail> answer(std::string_view inbound, const IngestResult& result,
                                   std::int64_t journal_id, std::string_view source) const;

  const AcknowledgementPolicy& policy() const { return policy_; }

 private:
  AcknowledgementPolicy policy_;
  const Clock* clock_;
};

}  // namespace liaison::pipeline
