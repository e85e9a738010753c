#include "compose/mail/mail_compose.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "parse/mime/delivery_report.hpp"
#include "parse/mime/mime_message.hpp"
#include "wire_check.hpp"

namespace liaison::compose {
namespace {

using parse::MimeAttachment;
using parse::MimeMessage;
using test::crlf;
using test::isSmtpSafe;

// 2024-01-02 09:30:05 UTC.
const auto kDate = std::chrono::system_clock::time_point(std::chrono::seconds(1704187805));

// An incoming MSSanté request as the gateway received it (CRLF, 7-bit).
const std::string kOriginal = crlf(
    "Return-Path: <dr.martin@medecin.mssante.test>\n"
    "From: \"Dr_Jean_MARTIN_Cabinet\" <dr.martin@medecin.mssante.test>\n"
    "To: secretariat@cardio-plus.mssante.test\n"
    "Subject: XDM/1.0/DDM+Demande d'avis DUPONT Jean 01/02/1960\n"
    "Date: Tue, 02 Jan 2024 10:00:00 +0100\n"
    "Message-ID: <req.2024.1@medecin.mssante.test>\n"
    "Disposition-Notification-To: <dr.martin@medecin.mssante.test>\n"
    "X-MSS-NIL: 0123456789\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"orig-b\"\n"
    "\n"
    "--orig-b\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Bonjour, merci de donner votre avis =C3=A0 ce patient.\n"
    "--orig-b\n"
    "Content-Type: application/zip; name=\"IHE_XDM.ZIP\"\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment; filename=\"IHE_XDM.ZIP\"\n"
    "\n"
    "UEsDBBQAAAAIAAAAIQAAAAAAAAAAAAAAAAAAAAAA\n"
    "--orig-b--\n");

MailHeader header(std::string subject) {
  MailHeader h;
  h.from = {"secretariat@cardio-plus.mssante.test", "Secrétariat Cardio+ – ESS"};
  h.to = {{"dr.martin@medecin.mssante.test", "Dr Jean MARTIN"}};
  h.subject = std::move(subject);
  h.message_id = "mdn.1704187805.1@cardio-plus.mssante.test";
  h.date = kDate;
  h.in_reply_to = "req.2024.1@medecin.mssante.test";
  h.references = "thread.0@medecin.mssante.test req.2024.1@medecin.mssante.test";
  h.extra = {{"X-MSS-NIL", "NIL-LIAISON-0001"}, {"Auto-Submitted", "auto-replied"}};
  return h;
}

MdnRequest mdnRequest(std::string disposition) {
  MdnRequest r;
  r.header = header("XDM/1.0/DDM+Demande d'avis DUPONT Jean 01/02/1960");
  r.human_text =
      "Bonjour,\n\nVotre message a été intégré par le secrétariat de l'ESS Cardio+.\n\n"
      "Message automatique, merci de ne pas répondre.\n";
  r.reporting_ua = "liaison; 0.5.0";
  r.original_recipient = "secretariat@cardio-plus.mssante.test";
  r.final_recipient = "secretariat@cardio-plus.mssante.test";
  r.original_message_id = "req.2024.1@medecin.mssante.test";
  r.disposition = std::move(disposition);
  r.original_message = kOriginal;
  return r;
}

MimeMessage parseOk(std::string_view bytes) {
  auto r = parse::parseMime(bytes);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().detail);
  return r ? std::move(r).value() : MimeMessage{};
}

const MimeAttachment* part(const MimeMessage& m, std::string_view path) {
  for (const MimeAttachment& a : m.attachments) {
    if (a.part_path == path) return &a;
  }
  return nullptr;
}

// The raw header block of the output (top level), unfolded lines kept as written.
std::string headerBlock(std::string_view wire) {
  return std::string(wire.substr(0, wire.find("\r\n\r\n") + 2));
}

std::vector<std::string> headerNames(const MimeMessage& m) {
  std::vector<std::string> names;
  for (const auto& [n, v] : m.headers)
    names.push_back(n);
  return names;
}

TEST(ComposeMdn, StructureAndRoundTrip) {
  MdnRequest request = mdnRequest("automatic-action/MDN-sent-automatically; processed");
  std::string wire = composeMdn(request);
  ASSERT_FALSE(wire.empty());
  EXPECT_TRUE(isSmtpSafe(wire));

  MimeMessage m = parseOk(wire);
  EXPECT_TRUE(m.issues.empty());
  EXPECT_EQ(headerNames(m),
            (std::vector<std::string>{"From", "To", "Subject", "Date", "Message-ID", "In-Reply-To",
                                      "References", "MIME-Version", "X-MSS-NIL", "Auto-Submitted",
                                      "Content-Type"}));
  EXPECT_EQ(m.from, "secretariat@cardio-plus.mssante.test");
  EXPECT_EQ(m.from_name, "Secrétariat Cardio+ – ESS");
  EXPECT_EQ(m.to, std::vector<std::string>{"dr.martin@medecin.mssante.test"});
  EXPECT_EQ(m.subject, "XDM/1.0/DDM+Demande d'avis DUPONT Jean 01/02/1960");
  EXPECT_EQ(m.date, "Tue, 02 Jan 2024 09:30:05 +0000");
  EXPECT_EQ(m.message_id, "mdn.1704187805.1@cardio-plus.mssante.test");
  EXPECT_EQ(m.in_reply_to, "req.2024.1@medecin.mssante.test");
  EXPECT_EQ(m.header("References"),
            "<thread.0@medecin.mssante.test> <req.2024.1@medecin.mssante.test>");
  EXPECT_EQ(m.header("MIME-Version"), "1.0");
  EXPECT_EQ(m.header("X-MSS-NIL"), "NIL-LIAISON-0001");
  EXPECT_EQ(m.header("Auto-Submitted"), "auto-replied");
  std::string content_type = m.header("Content-Type").value_or("");
  EXPECT_NE(content_type.find("multipart/report"), std::string::npos) << content_type;
  EXPECT_NE(content_type.find("report-type=disposition-notification"), std::string::npos)
      << content_type;

  // Three parts, in order; the text part of a report is not body text.
  ASSERT_EQ(m.attachments.size(), 3u);
  const MimeAttachment* text = part(m, "1");
  const MimeAttachment* fields = part(m, "2");
  const MimeAttachment* original = part(m, "3");
  ASSERT_TRUE(text && fields && original);
  EXPECT_EQ(text->content_type, "text/plain");
  EXPECT_EQ(text->charset, "utf-8");
  EXPECT_EQ(text->bytes, crlf(request.human_text));
  EXPECT_EQ(fields->content_type, "message/disposition-notification");
  EXPECT_EQ(fields->bytes,
            "Reporting-UA: liaison; 0.5.0\r\n"
            "Original-Recipient: rfc822; secretariat@cardio-plus.mssante.test\r\n"
            "Final-Recipient: rfc822; secretariat@cardio-plus.mssante.test\r\n"
            "Original-Message-ID: <req.2024.1@medecin.mssante.test>\r\n"
            "Disposition: automatic-action/MDN-sent-automatically; processed\r\n");
  EXPECT_EQ(original->content_type, "message/rfc822");
  EXPECT_EQ(original->bytes, kOriginal);  // byte for byte

  auto report = parse::readDeliveryReport(wire);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->kind, parse::DeliveryReport::Kind::Disposition);
  EXPECT_EQ(report->original_message_id, "req.2024.1@medecin.mssante.test");
  EXPECT_EQ(report->recipient, "secretariat@cardio-plus.mssante.test");
  EXPECT_EQ(report->disposition, "processed");
  EXPECT_EQ(report->error, "");
}

// With original_headers, part 3 is the original's header block only (text/rfc822-headers): the
// receipt names the message, its documents do not travel again.
TEST(ComposeMdn, OriginalHeadersOnlyCarryNoDocument) {
  MdnRequest request = mdnRequest("automatic-action/MDN-sent-automatically; processed");
  request.original_message = {};
  const std::string headers = kOriginal.substr(0, kOriginal.find("\r\n\r\n") + 4);
  request.original_headers = headers;
  std::string wire = composeMdn(request);
  EXPECT_TRUE(isSmtpSafe(wire));
  MimeMessage m = parseOk(wire);
  ASSERT_EQ(m.attachments.size(), 3u);
  const MimeAttachment* original = part(m, "3");
  ASSERT_TRUE(original);
  EXPECT_EQ(original->content_type, "text/rfc822-headers");
  EXPECT_EQ(original->bytes, headers);
  EXPECT_EQ(wire.find("UEsDBBQAAAAIAAAAIQ"), std::string::npos);  // the zip is not in it
  EXPECT_EQ(wire.find("IHE_XDM.ZIP"), std::string::npos);
  auto report = parse::readDeliveryReport(wire);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->original_message_id, "req.2024.1@medecin.mssante.test");
  EXPECT_EQ(report->disposition, "processed");
}

TEST(ComposeMdn, AnsErrorWithFrenchSubject) {
  MdnRequest request =
      mdnRequest("automatic-action/MDN-sent-automatically; processed/Error: 903^Document sans INS");
  request.header.subject =
      "[KO Intégration système !][903] XDM/1.0/DDM+Demande d'avis DUPONT Jean 01/02/1960";
  request.human_text =
      "Votre message n'a pas pu être intégré automatiquement.\n"
      "Erreur 903 : document sans INS qualifiée.\n";
  std::string wire = composeMdn(request);
  EXPECT_TRUE(isSmtpSafe(wire));
  // Non-ASCII header text goes as RFC 2047 encoded words.
  std::string headers = headerBlock(wire);
  EXPECT_NE(headers.find("=?UTF-8?"), std::string::npos) << headers;
  EXPECT_EQ(headers.find("Intégration"), std::string::npos);
  // Receivers often read the field line by line: it is not folded.
  EXPECT_NE(wire.find("\r\nDisposition: automatic-action/MDN-sent-automatically; "
                      "processed/Error: 903^Document sans INS\r\n"),
            std::string::npos);

  MimeMessage m = parseOk(wire);
  EXPECT_EQ(m.subject, request.header.subject);
  EXPECT_EQ(m.from_name, "Secrétariat Cardio+ – ESS");
  ASSERT_NE(part(m, "1"), nullptr);
  EXPECT_EQ(part(m, "1")->bytes, crlf(request.human_text));

  auto report = parse::readDeliveryReport(wire);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->disposition, "processed/error");
  EXPECT_EQ(report->error, "903^Document sans INS");
  EXPECT_EQ(report->original_message_id, "req.2024.1@medecin.mssante.test");
}

TEST(ComposeMdn, ReportFieldsStayAscii) {
  // RFC 8098: the notification fields are US-ASCII; the French label loses its accents there
  // (part 1 keeps them).
  MdnRequest request = mdnRequest(
      "automatic-action/MDN-sent-automatically; processed/Error: 904^Identité différente – "
      "traits « incohérents »");
  std::string wire = composeMdn(request);
  EXPECT_TRUE(isSmtpSafe(wire));
  auto report = parse::readDeliveryReport(wire);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->error, "904^Identite differente - traits \" incoherents \"");
}

TEST(ComposeMdn, LongDispositionIsFolded) {
  std::string label(300, 'x');
  for (std::size_t i = 7; i < label.size(); i += 8)
    label[i] = ' ';
  std::string unbreakable(1500, 'y');
  MdnRequest request = mdnRequest("automatic-action/MDN-sent-automatically; processed/Error: 906^" +
                                  label + " " + unbreakable);
  std::string wire = composeMdn(request);
  EXPECT_TRUE(isSmtpSafe(wire));
  auto report = parse::readDeliveryReport(wire);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->disposition, "processed/error");
  EXPECT_EQ(report->error.substr(0, 4 + label.size()), "906^" + label);
}

TEST(ComposeMdn, WithoutOriginalHasTwoParts) {
  MdnRequest request = mdnRequest("manual-action/MDN-sent-manually; displayed");
  request.original_message = {};
  request.original_recipient.clear();
  std::string wire = composeMdn(request);
  EXPECT_TRUE(isSmtpSafe(wire));
  MimeMessage m = parseOk(wire);
  ASSERT_EQ(m.attachments.size(), 2u);
  EXPECT_EQ(m.attachments[1].bytes.find("Original-Recipient"), std::string::npos);
  auto report = parse::readDeliveryReport(wire);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->disposition, "displayed");
}

TEST(ComposeMdn, OriginalWithLfLineEndsIsCanonicalised) {
  std::string lf = "From: a@x.test\nTo: b@y.test\nMessage-ID: <lf.1@x.test>\nSubject: hi\n\nbody\n";
  MdnRequest request = mdnRequest("automatic-action/MDN-sent-automatically; processed");
  request.original_message = lf;
  std::string wire = composeMdn(request);
  EXPECT_TRUE(isSmtpSafe(wire));
  MimeMessage m = parseOk(wire);
  ASSERT_NE(part(m, "3"), nullptr);
  EXPECT_EQ(part(m, "3")->content_type, "message/rfc822");
  EXPECT_EQ(part(m, "3")->bytes, crlf(lf));
}

// message/rfc822 only allows 7bit/8bit/binary: an 8-bit original, or bytes that are no message,
// travel base64-encoded as application/octet-stream, unchanged.
TEST(ComposeMdn, EightBitOrUnparseableOriginalIsAttachedAsOctetStream) {
  std::string eight_bit =
      "From: a@x.test\nSubject: accusé\nContent-Transfer-Encoding: 8bit\n\n"
      "Données médicales\n";
  constexpr char kBinary[] = "\x00\x01garbage\xff\xfe no header here\r\n";
  std::string binary(kBinary, sizeof kBinary - 1);
  std::string long_line = "From: a@x.test\r\n\r\n" + std::string(1200, 'z') + "\r\n";
  for (const std::string& original : {eight_bit, binary, long_line}) {
    MdnRequest request = mdnRequest("automatic-action/MDN-sent-automatically; processed");
    request.original_message = original;
    std::string wire = composeMdn(request);
    EXPECT_TRUE(isSmtpSafe(wire));
    MimeMessage m = parseOk(wire);
    const MimeAttachment* p = part(m, "3");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->content_type, "application/octet-stream");
    EXPECT_EQ(p->filename, "message_original.eml");
    EXPECT_EQ(p->bytes, original);
    EXPECT_TRUE(parse::readDeliveryReport(wire).has_value());
  }
}

TEST(ComposeMdn, HeaderInjectionIsNeutralised) {
  MdnRequest request = mdnRequest("automatic-action/MDN-sent-automatically; processed");
  request.header.subject = "Avis\r\nBcc: evil@attacker.test";
  request.header.from.name = "Secrétariat\r\nX-Evil: 1";
  request.header.extra.push_back({"X-Note", "a\nb\rc"});
  request.header.extra.push_back({"Bad Name", "x"});
  request.header.extra.push_back({"Subject", "second subject"});
  request.disposition = "automatic-action/MDN-sent-automatically; processed\r\nX-Evil: 1";
  std::string wire = composeMdn(request);
  EXPECT_TRUE(isSmtpSafe(wire));
  MimeMessage m = parseOk(wire);
  EXPECT_FALSE(m.header("Bcc").has_value());
  EXPECT_FALSE(m.header("X-Evil").has_value());
  EXPECT_FALSE(m.header("Bad Name").has_value());
  EXPECT_EQ(m.subject, "Avis  Bcc: evil@attacker.test");
  EXPECT_EQ(m.header("X-Note"), "a b c");
  int subjects = 0;
  for (const auto& [n, v] : m.headers)
    subjects += n == "Subject" ? 1 : 0;
  EXPECT_EQ(subjects, 1);
  ASSERT_NE(part(m, "2"), nullptr);
  EXPECT_EQ(part(m, "2")->bytes.find("\r\nX-Evil"), std::string::npos);
}

TEST(ComposeMdn, InvalidUtf8AndOddAddressesStaySevenBit) {
  MdnRequest request =
      mdnRequest("automatic-action/MDN-sent-automatically; processed/Error: 906^caf\xe9 \xff");
  request.header.subject = "Demande caf\xe9 \xc3";
  request.header.from.name = "\xff\xfe";
  request.header.to.push_back({"second@cardio-plus.mssante.test", ""});
  request.header.to.push_back({std::string(300, 'a') + "@x.test", "Too long"});
  request.header.to.push_back({"", "No address"});
  request.human_text = "texte en windows-1252 : caf\xe9\n";
  request.final_recipient = "d\xe9partement@x.test";
  std::string wire = composeMdn(request);
  EXPECT_TRUE(isSmtpSafe(wire));
  MimeMessage m = parseOk(wire);
  EXPECT_EQ(m.to, (std::vector<std::string>{"dr.martin@medecin.mssante.test",
                                            "second@cardio-plus.mssante.test"}));
  auto report = parse::readDeliveryReport(wire);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->error, "906^caf? ?");
  EXPECT_EQ(report->recipient, "d?partement@x.test");
}

TEST(ComposeMdn, LongSubjectAndNamesStayWithinLineLimits) {
  MdnRequest request = mdnRequest("automatic-action/MDN-sent-automatically; processed");
  request.header.subject = "[KO Intégration système !][905] " + std::string(2000, 'a') +
                           " DUPONT Jean-Édouard 01/02/1960";
  request.header.from.name = std::string(300, 'N') + " é";
  request.header.references.clear();
  for (int i = 0; i < 60; ++i)
    request.header.references += "ref." + std::to_string(i) + "@medecin.mssante.test ";
  std::string wire = composeMdn(request);
  EXPECT_TRUE(isSmtpSafe(wire));
  MimeMessage m = parseOk(wire);
  EXPECT_EQ(m.subject, request.header.subject);
  EXPECT_EQ(m.from_name, request.header.from.name);
}

TEST(ComposeNotice, TextOnly) {
  NoticeRequest request;
  request.header = header("[KO Intégration système !][902] XDM/1.0/DDM+Demande d'avis");
  request.text = "Bonjour,\n\nLe patient n'a pas été identifié (erreur 902).\n";
  std::string wire = composeNotice(request);
  EXPECT_TRUE(isSmtpSafe(wire));
  MimeMessage m = parseOk(wire);
  EXPECT_EQ(m.subject, request.header.subject);
  EXPECT_EQ(m.text_body, request.text);
  EXPECT_TRUE(m.attachments.empty());
  std::string content_type = m.header("Content-Type").value_or("");
  EXPECT_NE(content_type.find("text/plain"), std::string::npos);
  EXPECT_NE(content_type.find("charset=utf-8"), std::string::npos);
  std::string encoding = m.header("Content-Transfer-Encoding").value_or("");
  EXPECT_TRUE(encoding == "quoted-printable" || encoding == "base64") << encoding;
  EXPECT_FALSE(parse::readDeliveryReport(wire).has_value());  // not machine-structured
}

TEST(ComposeNotice, MostlyNonAsciiTextRoundTrips) {
  NoticeRequest request;
  request.header = header("Ελληνικά – 日本語");
  request.text = "Ελληνικά κείμενο\nκαι 日本語のテキスト\n";
  std::string wire = composeNotice(request);
  EXPECT_TRUE(isSmtpSafe(wire));
  MimeMessage m = parseOk(wire);
  EXPECT_EQ(m.subject, request.header.subject);
  EXPECT_EQ(m.text_body, request.text);
}

TEST(ComposeNotice, WithOriginalAttached) {
  NoticeRequest request;
  request.header = header("[KO Intégration système !][906] XDM/1.0/DDM+Demande d'avis");
  request.text = "Votre message est joint.\n";
  request.original_message = kOriginal;
  std::string wire = composeNotice(request);
  EXPECT_TRUE(isSmtpSafe(wire));
  MimeMessage m = parseOk(wire);
  EXPECT_NE(m.header("Content-Type").value_or("").find("multipart/mixed"), std::string::npos);
  EXPECT_EQ(m.text_body, request.text);
  ASSERT_EQ(m.attachments.size(), 1u);
  const MimeAttachment& a = m.attachments[0];
  EXPECT_EQ(a.content_type, "message/rfc822");
  EXPECT_EQ(a.disposition, "attachment");
  EXPECT_EQ(a.filename, "message_original.eml");
  EXPECT_EQ(a.part_path, "2");
  EXPECT_EQ(a.bytes, kOriginal);
  EXPECT_FALSE(parse::readDeliveryReport(wire).has_value());

  request.original_name = "demande d'avis – DUPONT.eml";
  m = parseOk(composeNotice(request));
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].filename, "demande d'avis – DUPONT.eml");
}

TEST(ComposeNotice, EmptyFieldsStillGiveAMail) {
  NoticeRequest request;  // nothing set: no From, no To, epoch date
  std::string wire = composeNotice(request);
  EXPECT_TRUE(isSmtpSafe(wire));
  MimeMessage m = parseOk(wire);
  EXPECT_EQ(m.date, "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_FALSE(m.header("Message-ID").has_value());
  EXPECT_FALSE(m.header("From").has_value());
}

}  // namespace
}  // namespace liaison::compose
