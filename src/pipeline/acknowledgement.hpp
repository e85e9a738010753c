#pragma once
// What liaison answers to a message it ingested, as MSSanté expects
// (../shared/spec/french-e-health.md §1.5): an RFC 8098 MDN when the sender asked for one
// (Disposition-Notification-To), "processed" or "processed/Error: 90x^…" with the integration
// error code that fits (903 no INS, 904 INS or traits that differ, 905 traits incomplete, 906
// anything else); a plain notice with the original attached when integration failed and no MDN
// was asked; and, to the requester of an incomplete request, a French mail listing the missing
// mandatory fields. Never an answer to an automatic message (no mail loops). Pure: the mails are
// returned, the caller queues them in the outbox with the ingest's outcome.

#include <cstdint>
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
};

// The integration error code of an ingest (900–906), 0 when it integrated.
int integrationErrorCode(const IngestResult& result);

class Acknowledgements {
 public:
  Acknowledgements(AcknowledgementPolicy policy, const Clock& clock);

  // The mails that answer `inbound` (the exact bytes of a mail), given what its ingest gave.
  std::vector<OutboundMail> answer(std::string_view inbound, const IngestResult& result,
                                   std::int64_t journal_id) const;

  const AcknowledgementPolicy& policy() const { return policy_; }

 private:
  AcknowledgementPolicy policy_;
  const Clock* clock_;
};

}  // namespace liaison::pipeline
