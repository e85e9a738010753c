#include "pipeline/acknowledgement.hpp"

#include <algorithm>
#include <cctype>

#include "core/text/ascii.hpp"
#include "parse/mime/mime_message.hpp"

namespace liaison::pipeline {
namespace {

using ascii::lower;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

// "<a@b>" or "Name <a@b>" → "a@b".
std::string bareAddress(std::string_view v) {
  v = trim(v);
  if (auto open = v.rfind('<'); open != std::string_view::npos) {
    auto close = v.find('>', open);
    v = v.substr(open + 1,
                 close == std::string_view::npos ? std::string_view::npos : close - open - 1);
  }
  return lower(trim(v));
}

// Only the header block is parsed: the body was already read by the intake, and an answer needs
// nothing from it. Its Content-* fields are left out (a multipart type without its body would not
// parse); whether it was a report is noted on the way.
struct Headers {
  std::string block;
  std::string_view raw;  // the header block as received, every field (for an MDN's part 3)
  bool report = false;
};
Headers headersOf(std::string_view bytes) {
  std::string_view head = bytes;
  for (std::string_view end : {std::string_view("\r\n\r\n"), std::string_view("\n\n")}) {
    if (auto at = bytes.find(end); at != std::string_view::npos && at < head.size())
      head = bytes.substr(0, at + end.size() / 2);
  }
  Headers out;
  out.raw = head;
  bool skipping = false;
  while (!head.empty()) {
    const std::size_t nl = head.find('\n');
    const std::string_view line =
        head.substr(0, nl == std::string_view::npos ? head.size() : nl + 1);
    head.remove_prefix(line.size());
    const bool continuation = line[0] == ' ' || line[0] == '\t';
    if (!continuation) skipping = lower(line.substr(0, 8)) == "content-";
    if (skipping) {
      if (lower(line).find("multipart/report") != std::string::npos) out.report = true;
      continue;
    }
    out.block.append(line);
  }
  out.block += "\r\n";
  return out;
}

// The address of the sender the transport vouches for (see vouchedSender in the header).
std::string vouchedOf(std::string_view source, const parse::MimeMessage& m,
                      const AcknowledgementPolicy& policy) {
  std::string address;
  if (source.rfind("imap:", 0) == 0) {
    auto return_path = m.header("Return-Path");
    address = bareAddress(return_path ? *return_path : m.from);
  } else if (source.rfind("api:", 0) == 0 && policy.client_address) {
    address = bareAddress(policy.client_address(source.substr(4)));
  }
  // Something that is not an address (a damaged Return-Path) is nobody's.
  const std::size_t at = address.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == address.size() ||
      address.find_first_of(" \t,;:<>\"") != std::string::npos)
    return {};
  return address;
}

// An automatic message (a report, an auto-reply, a bounce) is never answered: no mail loops.
bool isAutomatic(const parse::MimeMessage& m) {
  if (auto a = m.header("Auto-Submitted"); a && lower(trim(*a)) != "no") return true;
  const std::string from = lower(m.from);
  return from.empty() || from.rfind("mailer-daemon@", 0) == 0 || from.rfind("postmaster@", 0) == 0;
}

int codeOf(Errc code) {
  switch (code) {
    case Errc::InsMissing:
    case Errc::CdaPatientIdMissing:
    case Errc::CdaRecordTargetMissing:
      return 903;
    case Errc::InsMismatch:
    case Errc::InsTraitsMismatch:
    case Errc::InsSystemUnknown:
      return 904;
    case Errc::InsTraitsIncomplete:
      return 905;
    default:
      break;
  }
  const std::string_view c = info(code).code;
  if (c.rfind("nir-", 0) == 0) return 904;  // an INS whose matricule or traits are wrong
  return 0;
}

std::string labelOf(int code) {
  switch (code) {
    case 903:
      return "Document sans INS : pas d'intégration automatique";
    case 904:
      return "INS ou traits d'identité discordants : pas d'intégration automatique";
    case 905:
      return "Traits d'identité INS incomplets : pas d'intégration automatique";
    default:
      return "Erreur d'intégration";
  }
}

int codeOf(Errc code);

// What the requester can complete: the form's mandatory fields, and the patient's INS.
bool isMissingInformation(Errc code) {
  return code == Errc::FormRequiredMissing || code == Errc::FormConsentNotAttested ||
         code == Errc::FormDocumentNotProvided || codeOf(code) != 0;
}

std::string domainOf(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? "liaison.invalid" : std::string(address.substr(at + 1));
}

std::string issuesText(const IngestResult& result, bool missing_only) {
  std::string text;
  for (const Issue& issue : result.issues.items()) {
    if (issue.severity != Severity::Error && issue.severity != Severity::Fatal) continue;
    if (missing_only && !isMissingInformation(issue.code)) continue;
    text += "  - " + issue.message;
    if (!issue.location.empty()) text += " (" + issue.location + ")";
    text += " [" + std::string(info(issue.code).code) + "]\n";
  }
  // The reason is one of the issues when the result was made by quarantined().
  if (!missing_only && result.quarantine && !result.issues.contains(result.quarantine->code))
    text += "  - [" + std::string(info(result.quarantine->code).code) + "] " +
            result.quarantine->detail + "\n";
  return text;
}

}  // namespace

int integrationErrorCode(const IngestResult& result) {
  if (result.status == IngestStatus::Accepted) return 0;
  int worst = 0;
  auto consider = [&worst](Errc code) {
    const int c = codeOf(code);
    // 904 (contradiction) before 905 (incomplete) before 903 (absent).
    auto rank = [](int v) { return v == 904 ? 3 : v == 905 ? 2 : v == 903 ? 1 : 0; };
    if (rank(c) > rank(worst)) worst = c;
  };
  if (result.quarantine) consider(result.quarantine->code);
  for (const Issue& issue : result.issues.items()) {
    if (issue.severity == Severity::Error || issue.severity == Severity::Fatal)
      consider(issue.code);
  }
  if (worst != 0) return worst;
  return result.status == IngestStatus::Quarantined ? 906 : 0;
}

Acknowledgements::Acknowledgements(AcknowledgementPolicy policy, const Clock& clock)
    : policy_(std::move(policy)), clock_(&clock) {
  // GMime's first initialisation is not thread-safe, and parse/mime and compose each do their
  // own: both happen here, at start-up, before threads parse and compose at once.
  (void)parse::parseMime("From: a@b.test\r\n\r\n");
  (void)compose::composeNotice(compose::NoticeRequest{});
}

std::string vouchedSender(std::string_view source, std::string_view header_block,
                          const AcknowledgementPolicy& policy) {
  auto parsed = parse::parseMime(headersOf(header_block).block);
  return parsed ? vouchedOf(source, *parsed, policy) : std::string();
}

std::vector<OutboundMail> Acknowledgements::answer(std::string_view inbound,
                                                   const IngestResult& result,
                                                   std::int64_t journal_id,
                                                   std::string_view source) const {
  std::vector<OutboundMail> out;
  const Headers headers = headersOf(inbound);
  auto parsed = parse::parseMime(headers.block);
  if (!parsed || headers.report || isAutomatic(*parsed)) return out;
  const parse::MimeMessage& m = *parsed;
  // The one address every answer goes to; nobody vouched for the sender: nothing is sent.
  const std::string sender = vouchedOf(source, m, policy_);
  if (sender.empty()) return out;

  const int code = integrationErrorCode(result);
  const std::string domain = domainOf(policy_.gateway.address);
  const std::string id_base = std::to_string(journal_id) + "@" + domain;
  const std::string subject = m.subject.empty() ? "(sans objet)" : m.subject;
  const std::string errored_subject =
      "[KO Intégration système !][" + std::to_string(code) + "] " + subject;
  auto header = [&](std::string kind, std::string to, std::string subj) {
    compose::MailHeader h;
    h.from = policy_.gateway;
    h.to = {compose::MailAddress{std::move(to), {}}};
    h.subject = std::move(subj);
    h.message_id = "liaison." + kind + "." + id_base;
    h.date = clock_->now();
    h.in_reply_to = m.message_id;
    h.references = m.message_id;
    h.extra.emplace_back("Auto-Submitted", "auto-replied");
    if (!policy_.nil.empty()) h.extra.emplace_back("X-MSS-NIL", policy_.nil);
    return h;
  };
  auto queue = [&](std::string kind, const compose::MailHeader& h, std::string bytes) {
    OutboundMail mail;
    mail.kind = std::move(kind);
    mail.message_id = h.message_id;
    mail.mail_from = policy_.gateway.address;
    for (const auto& to : h.to)
      mail.recipients.push_back(to.address);
    mail.bytes = std::move(bytes);
    mail.journal_id = journal_id;
    out.push_back(std::move(mail));
  };
  const std::string received =
      m.message_id.empty() ? "Votre message" : "Votre message <" + m.message_id + ">";

  // An MDN only when asked, and only when asked for the vouched sender itself: RFC 8098 §2.1 and
  // the ANS guide send no automatic MDN when Disposition-Notification-To differs from the
  // envelope sender. Asked for another address, the message is answered as if no MDN was asked
  // (a notice to the sender when it failed), and that address gets nothing.
  const std::string dnt = bareAddress(m.disposition_notification_to);
  bool mdn_sent = false;
  if (policy_.mdn && !dnt.empty()) {
    if (dnt == sender) {
      compose::MdnRequest mdn;
      mdn.header = header("mdn", sender, code == 0 ? subject : errored_subject);
      mdn.reporting_ua = policy_.reporting_ua;
      if (auto orig = m.header("Original-Recipient")) mdn.original_recipient = bareAddress(*orig);
      mdn.final_recipient = policy_.gateway.address;
      mdn.original_message_id = m.message_id;
      mdn.disposition = "automatic-action/MDN-sent-automatically; processed";
      if (code != 0) {
        mdn.disposition += "/Error: " + std::to_string(code) + "^" + labelOf(code);
        mdn.human_text = received + " a été reçu par " + policy_.gateway.name +
                         " mais n'a pas pu être intégré.\nCode d'erreur : " + std::to_string(code) +
                         " – " + labelOf(code) + "\nDétail :\n" + issuesText(result, false);
      } else {
        mdn.human_text = received + " a été reçu et intégré par " + policy_.gateway.name + ".\n";
      }
      mdn.original_headers = headers.raw;  // the original's header block, not its documents
      queue("mdn", mdn.header, compose::composeMdn(mdn));
      mdn_sent = true;
    }
  }

  // The requester is the vouched sender, whatever Reply-To names.
  const std::string& requester = sender;
  bool missing_sent = false;
  if (result.status == IngestStatus::Incomplete && policy_.missing_information) {
    // Only for a request form with gaps; a document without INS has its MDN (903–905).
    const bool form_gaps =
        std::any_of(result.issues.items().begin(), result.issues.items().end(), [](const Issue& i) {
          return i.code == Errc::FormRequiredMissing || i.code == Errc::FormConsentNotAttested ||
                 i.code == Errc::FormDocumentNotProvided;
        });
    const std::string missing = form_gaps ? issuesText(result, true) : "";
    if (!missing.empty()) {
      compose::NoticeRequest notice;
      notice.header = header("missing-information", requester,
                             "Demande incomplète – informations manquantes : " + subject);
      notice.text = "Bonjour,\n\n" + received + " a bien été reçu par " + policy_.gateway.name +
                    ".\nPour que la demande soit traitée, merci de compléter les informations "
                    "obligatoires suivantes :\n\n" +
                    missing +
                    "\nVous pouvez répondre à ce message en joignant la fiche de demande "
                    "complétée.\n\nCordialement,\n" +
                    policy_.gateway.name + "\n";
      queue("missing-information", notice.header, compose::composeNotice(notice));
      missing_sent = true;
    }
  }
  if (code != 0 && !mdn_sent && !missing_sent && policy_.notices) {
    compose::NoticeRequest notice;
    notice.header = header("notice", requester, errored_subject);
    notice.text =
        "Bonjour,\n\n" + received + " a été reçu par " + policy_.gateway.name +
        " mais n'a pas pu être intégré automatiquement.\nCode d'erreur : " + std::to_string(code) +
        " – " + labelOf(code) + "\nDétail :\n" + issuesText(result, false) +
        "\nLe message d'origine est joint. Merci de le corriger et de le renvoyer.\n";
    notice.original_message = inbound;
    queue("notice", notice.header, compose::composeNotice(notice));
  }

  return out;
}

}  // namespace liaison::pipeline
