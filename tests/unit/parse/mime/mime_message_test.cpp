#include "parse/mime/mime_message.hpp"

#include <gtest/gtest.h>

#include "mime_test_util.hpp"

namespace liaison::parse {
namespace {

using test::base64Encode;
using test::crlf;
using test::entity;
using test::multipartBody;

MimeMessage parseOk(std::string_view bytes, const MimeLimits& limits = {}) {
  auto r = parseMime(bytes, limits);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().detail);
  return r ? std::move(r).value() : MimeMessage{};
}

TEST(MimeMessage, SimpleTextMail) {
  std::string msg =
      crlf(entity({"Return-Path: <a@b.fr>", "From: Alice Test <alice@Example.ORG>",
                   "To: bob@example.org, \"Carol\" <carol@example.org>", "Cc: dave@example.org",
                   "Subject: Hello there", "Date: Mon, 1 Jan 2024 10:00:00 +0100",
                   "Message-ID: <abc.123@example.org>", "In-Reply-To: <prev.1@example.org>",
                   "X-Custom: one", "x-custom: two"},
                  "Line one\nLine two\n"));
  MimeMessage m = parseOk(msg);
  EXPECT_EQ(m.subject, "Hello there");
  EXPECT_EQ(m.from, "alice@example.org");
  EXPECT_EQ(m.from_name, "Alice Test");
  EXPECT_EQ(m.to, (std::vector<std::string>{"bob@example.org", "carol@example.org"}));
  EXPECT_EQ(m.cc, (std::vector<std::string>{"dave@example.org"}));
  EXPECT_EQ(m.date, "Mon, 1 Jan 2024 10:00:00 +0100");
  EXPECT_EQ(m.message_id, "abc.123@example.org");
  EXPECT_EQ(m.in_reply_to, "prev.1@example.org");
  EXPECT_EQ(m.text_body, "Line one\nLine two\n");
  EXPECT_TRUE(m.html_body.empty());
  EXPECT_TRUE(m.attachments.empty());
  EXPECT_FALSE(m.was_signed);
  EXPECT_TRUE(m.issues.empty());
  EXPECT_TRUE(m.disposition_notification_to.empty());
  ASSERT_EQ(m.headers.size(), 10u);
  EXPECT_EQ(m.headers[0].first, "Return-Path");
  EXPECT_EQ(m.headers[4].first, "Subject");
  EXPECT_EQ(m.header("X-CUSTOM"), "one");  // case-insensitive, first one
  EXPECT_EQ(m.header("x-custom"), "one");
  EXPECT_FALSE(m.header("X-Missing").has_value());
}

TEST(MimeMessage, MssMessageWithXdmZipAndPdf) {
  std::string zip = test::fakeZip(4000);
  std::string pdf = test::fakePdf(3001);
  MimeMessage m = parseOk(crlf(test::mssMessage(zip, pdf)));
  EXPECT_EQ(m.subject, "XDM/1.0/DDM+Compte rendu TEST Patient");
  EXPECT_EQ(m.from, "dr.martin@medecin.mssante.fr");
  EXPECT_EQ(m.from_name, "Dr_Jean_MARTIN_Cardio");
  EXPECT_EQ(m.cc.size(), 2u);
  EXPECT_EQ(m.message_id, "20240105101112.42@medecin.mssante.fr");
  EXPECT_EQ(m.disposition_notification_to, "dr.martin@medecin.mssante.fr");
  EXPECT_EQ(m.header("x-mss-codecda"), "11490-0");
  EXPECT_EQ(m.header("X-MSS-INS"), "O");
  EXPECT_EQ(m.header("X-MSS-NIL"), "0123456789");
  EXPECT_EQ(m.header("Content-Type"), "multipart/mixed; boundary=\"=_mss_b1\"");
  ASSERT_EQ(m.headers.size(), 12u);  // each once, in the order written
  EXPECT_EQ(m.headers[10].first, "MIME-Version");
  EXPECT_EQ(m.headers[11].first, "Content-Type");
  // The line break before a delimiter belongs to the delimiter (RFC 2046).
  EXPECT_EQ(m.text_body, "Bonjour,\nVeuillez trouver ci-joint le compte rendu.\nCordialement");
  ASSERT_EQ(m.attachments.size(), 2u);
  const MimeAttachment& z = m.attachments[0];
  EXPECT_EQ(z.filename, "IHE_XDM.ZIP");
  EXPECT_EQ(z.content_type, "application/zip");
  EXPECT_EQ(z.disposition, "attachment");
  EXPECT_EQ(z.part_path, "2");
  EXPECT_EQ(z.bytes, zip);
  const MimeAttachment& p = m.attachments[1];
  EXPECT_EQ(p.filename, "20240105_CR_TEST_Patient.pdf");
  EXPECT_EQ(p.content_type, "application/pdf");
  EXPECT_EQ(p.part_path, "3");
  EXPECT_EQ(p.bytes, pdf);
  EXPECT_TRUE(m.issues.empty());
}

TEST(MimeMessage, NestedMixedAlternativeRelated) {
  std::string png = test::fakeFile("\x89PNG\r\n", 300, 3);
  std::string related = entity(
      {"Content-Type: multipart/related; boundary=rel; type=\"text/html\""},
      multipartBody("rel", {entity({"Content-Type: text/html; charset=utf-8"},
                                   "<p>Compte rendu <img src=\"cid:logo@x\"></p>\n"),
                            entity({"Content-Type: image/png", "Content-Transfer-Encoding: base64",
                                    "Content-ID: <logo@x>", "Content-Disposition: inline"},
                                   base64Encode(png))}));
  std::string alternative = entity(
      {"Content-Type: multipart/alternative; boundary=\"alt\""},
      multipartBody(
          "alt", {entity({"Content-Type: text/plain; charset=utf-8"}, "Compte rendu\n"), related}));
  std::string pdf = test::fakePdf(1000);
  std::string msg = entity(
      {"From: a@b.fr", "Subject: nested", "Content-Type: multipart/mixed; boundary=mix"},
      multipartBody("mix",
                    {alternative,
                     entity({"Content-Type: application/pdf", "Content-Transfer-Encoding: base64",
                             "Content-Disposition: attachment; filename=cr.pdf"},
                            base64Encode(pdf))}));
  MimeMessage m = parseOk(msg);
  EXPECT_EQ(m.text_body, "Compte rendu");
  EXPECT_TRUE(m.html_body.empty());  // there is a text/plain body
  ASSERT_EQ(m.attachments.size(), 2u);
  EXPECT_EQ(m.attachments[0].content_type, "image/png");
  EXPECT_EQ(m.attachments[0].content_id, "logo@x");
  EXPECT_EQ(m.attachments[0].disposition, "inline");
  EXPECT_EQ(m.attachments[0].part_path, "1.2.2");
  EXPECT_EQ(m.attachments[0].bytes, png);
  EXPECT_EQ(m.attachments[1].filename, "cr.pdf");
  EXPECT_EQ(m.attachments[1].part_path, "2");
  EXPECT_EQ(m.attachments[1].bytes, pdf);
}

TEST(MimeMessage, HtmlBodyWhenNoTextPlain) {
  std::string msg =
      entity({"From: a@b.fr", "Content-Type: multipart/alternative; boundary=alt"},
             multipartBody("alt", {entity({"Content-Type: text/html; charset=iso-8859-1"},
                                          "<p>R\xE9sultat</p>\r\n")}));
  MimeMessage m = parseOk(msg);
  EXPECT_TRUE(m.text_body.empty());
  EXPECT_EQ(m.html_body, "<p>Résultat</p>");
  EXPECT_TRUE(m.attachments.empty());
}

TEST(MimeMessage, SeveralTextPartsAreJoinedByABlankLine) {
  std::string msg = entity(
      {"Content-Type: multipart/mixed; boundary=b"},
      multipartBody(
          "b", {entity({"Content-Type: text/plain"}, "first\n"),
                entity({"Content-Type: application/octet-stream"}, "xx"), entity({}, "second"),
                entity({"Content-Type: text/plain; charset=iso-8859-1",
                        "Content-Disposition: attachment; filename=notes.txt"},
                       "attached text\r\nstays raw: \xE9\n"),
                entity({"Content-Type: text/plain", "Content-Disposition: inline"}, "third\n")}));
  MimeMessage m = parseOk(msg);
  EXPECT_EQ(m.text_body, "first\n\nsecond\n\nthird");
  ASSERT_EQ(m.attachments.size(), 2u);
  EXPECT_EQ(m.attachments[0].content_type, "application/octet-stream");
  EXPECT_EQ(m.attachments[0].part_path, "2");
  EXPECT_EQ(m.attachments[1].filename, "notes.txt");
  EXPECT_EQ(m.attachments[1].bytes, "attached text\r\nstays raw: \xE9");  // no conversion
  EXPECT_EQ(m.attachments[1].charset, "iso-8859-1");
}

TEST(MimeMessage, TextOutsideBodyContainersIsAnAttachment) {
  // A multipart/report (an MDN): its parts are not the message text.
  std::string msg =
      entity({"Content-Type: multipart/report; report-type=disposition-notification; boundary=r"},
             multipartBody("r", {entity({"Content-Type: text/plain"}, "Votre message a ete lu.\n"),
                                 entity({"Content-Type: message/disposition-notification"},
                                        "Final-Recipient: rfc822;a@b.fr\nDisposition: "
                                        "automatic-action/MDN-sent-automatically; processed\n")}));
  MimeMessage m = parseOk(msg);
  EXPECT_TRUE(m.text_body.empty());
  ASSERT_EQ(m.attachments.size(), 2u);
  EXPECT_EQ(m.attachments[0].content_type, "text/plain");
  EXPECT_EQ(m.attachments[1].content_type, "message/disposition-notification");
}

TEST(MimeMessage, Rfc2047Subjects) {
  struct Case {
    const char* header;
    const char* expected;
  };
  for (const Case& c : {
           Case{"Subject: =?UTF-8?B?UsOpc3VsdGF0cyBkJ2FuYWx5c2Ug4oCTIMOpdMOp?=",
                "Résultats d'analyse – été"},
           Case{"Subject: =?UTF-8?Q?Compte_rendu_=C3=A9chographie?=", "Compte rendu échographie"},
           Case{"Subject: =?ISO-8859-1?Q?Lettre_de_liaison_=E0_la_sortie?=",
                "Lettre de liaison à la sortie"},
           Case{"Subject: =?iso-8859-1?B?Q29tcHRlIHJlbmR1IOk=?=", "Compte rendu é"},
           Case{"Subject: Avant =?UTF-8?Q?=C3=A9t=C3=A9?=\n =?UTF-8?Q?_apr=C3=A8s?= fin",
                "Avant été après fin"},
           Case{"Subject: brut 8 bits \xC3\xA9t\xC3\xA9", "brut 8 bits été"},
           Case{"Subject: brut latin-1 d\xE9j\xE0 \x80", "brut latin-1 déjà €"},
       }) {
    MimeMessage m = parseOk(entity({"From: a@b.fr", c.header}, "x\n"));
    EXPECT_EQ(m.subject, c.expected) << c.header;
    EXPECT_EQ(m.header("subject"), c.expected);
  }
  MimeMessage m = parseOk(
      entity({"From: =?UTF-8?Q?Dr_J=C3=A9r=C3=B4me_L=C3=89GER?= <jerome.leger@medecin.mssante.fr>"},
             "x\n"));
  EXPECT_EQ(m.from_name, "Dr Jérôme LÉGER");
  EXPECT_EQ(m.from, "jerome.leger@medecin.mssante.fr");
}

TEST(MimeMessage, Rfc2231AndRfc2047Filenames) {
  std::string msg = entity(
      {"Content-Type: multipart/mixed; boundary=b"},
      multipartBody(
          "b",
          {entity({"Content-Type: application/pdf",
                   "Content-Disposition: attachment; "
                   "filename*=UTF-8''compte%20rendu%20%C3%A9t%C3%A9.pdf"},
                  "a"),
           entity({"Content-Type: application/pdf",
                   "Content-Disposition: attachment;\n filename*0*=ISO-8859-1''r%E9sum%E9;\n "
                   "filename*1=\"_long.pdf\""},
                  "b"),
           entity({"Content-Type: application/pdf; name=\"=?UTF-8?Q?d=C3=A9j=C3=A0.pdf?=\""}, "c"),
           entity({"Content-Type: application/pdf",
                   "Content-Disposition: attachment; filename=\"20220531_CR d'imagerie "
                   "médicale_TEST_PATIENT.pdf\""},
                  "d")}));
  MimeMessage m = parseOk(msg);
  ASSERT_EQ(m.attachments.size(), 4u);
  EXPECT_EQ(m.attachments[0].filename, "compte rendu été.pdf");
  EXPECT_EQ(m.attachments[1].filename, "résumé_long.pdf");
  EXPECT_EQ(m.attachments[2].filename, "déjà.pdf");
  EXPECT_EQ(m.attachments[3].filename, "20220531_CR d'imagerie médicale_TEST_PATIENT.pdf");
}

std::string textMail(std::string_view content_type, std::string_view cte, std::string_view body) {
  std::string ct = "Content-Type: " + std::string(content_type);
  std::string te = "Content-Transfer-Encoding: " + std::string(cte);
  return entity({"From: a@b.fr", "MIME-Version: 1.0", ct, te}, body);
}

TEST(MimeMessage, TextBodyCharsets) {
  struct Case {
    const char* content_type;
    const char* cte;
    std::string body;
    const char* expected;
  };
  for (const Case& c : {
           Case{"text/plain; charset=utf-8", "8bit", "Hérédité €\n", "Hérédité €\n"},
           Case{"text/plain; charset=\"UTF-8\"", "8bit", "\xEF\xBB\xBFwith BOM\n", "with BOM\n"},
           Case{"text/plain; charset=ISO-8859-1", "8bit",
                "H\xE9r\xE9"
                "dit\xE9\n",
                "Hérédité\n"},
           Case{"text/plain; charset=iso-8859-15", "8bit",
                "Prix : 12 \xA4, \xBD"
                "uvre\n",
                "Prix : 12 €, œuvre\n"},
           Case{"text/plain; charset=windows-1252", "8bit",
                "L\x92\x9Cil du m\xE9"
                "decin\n",
                "L’œil du médecin\n"},
           Case{"text/plain; charset=cp1252", "8bit", "\x80 \x85\n", "€ …\n"},
           Case{"text/plain; charset=iso-8859-2", "8bit",
                "\xB3\xF3"
                "d\xBC\n",
                "łódź\n"},
           Case{"text/plain; charset=utf-8", "quoted-printable",
                "Compte rendu d'=C3=A9chographie, ligne tr=\n=C3=A8s longue\n",
                "Compte rendu d'échographie, ligne très longue\n"},
           Case{"text/plain; charset=iso-8859-1", "quoted-printable", "Ent=E9te=\r\n suite=3D1\r\n",
                "Entéte suite=1\n"},
           Case{"text/plain; charset=utf-8", "base64", base64Encode("Prélèvement à jeun\r\n"),
                "Prélèvement à jeun\n"},
           Case{"text/plain", "7bit", "no charset\n", "no charset\n"},
           Case{"text/plain", "8bit",
                "sans charset d\xE9"
                "clar\xE9\n",
                "sans charset déclaré\n"},
       }) {
    MimeMessage m = parseOk(textMail(c.content_type, c.cte, c.body));
    EXPECT_EQ(m.text_body, c.expected) << c.content_type << " " << c.cte;
    EXPECT_TRUE(m.issues.empty()) << c.content_type;
  }
}

// Found by fuzz/mime_fuzz.cpp: CR CR LF (a text converted to CRLF twice) left a CRLF in the body.
TEST(MimeMessage, CrCrLfIsOneLineEndAndLoneCrIsData) {
  for (const char* charset : {"utf-8", "windows-1252", "iso-8859-2"}) {
    const std::string content_type = std::string("text/plain; charset=") + charset;
    MimeMessage m = parseOk(textMail(content_type, "8bit", "a\r\r\nb\rc\r\nd\r\r\r\ne\n"));
    EXPECT_EQ(m.text_body, "a\nb\rc\nd\ne\n") << charset;
    EXPECT_EQ(m.text_body.find("\r\n"), std::string::npos) << charset;
  }
}

// Found by fuzz/mime_fuzz.cpp: a text part ending with a lone CR, joined to the next with a blank
// line, made a CRLF in the body.
TEST(MimeMessage, TextPartsJoinWithoutMakingACrLf) {
  const std::string mail =
      "From: a@b.test\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfirst\r\r\n"
      "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsecond\r\n--b--\r\n";
  MimeMessage m = parseOk(mail);
  EXPECT_EQ(m.text_body.find("\r\n"), std::string::npos);
  EXPECT_EQ(m.text_body.rfind("first", 0), 0u) << m.text_body;
  EXPECT_NE(m.text_body.find("\n\nsecond"), std::string::npos) << m.text_body;
}

TEST(MimeMessage, UnknownCharsetIsReadAsWindows1252WithAWarning) {
  MimeMessage m =
      parseOk(textMail("text/plain; charset=x-unheard-of", "8bit", "R\xE9sultat \x80\n"));
  EXPECT_EQ(m.text_body, "Résultat €\n");
  ASSERT_EQ(m.issues.size(), 1u);
  EXPECT_EQ(m.issues.items()[0].code, Errc::MimeCharsetUnknown);
  EXPECT_EQ(m.issues.items()[0].severity, Severity::Warning);
  EXPECT_EQ(m.issues.items()[0].location, "1");
  EXPECT_FALSE(m.issues.hasErrors());
}

TEST(MimeMessage, InvalidUtf8IsReadAsWindows1252WithAWarning) {
  MimeMessage m = parseOk(textMail("text/plain; charset=utf-8", "8bit", "R\xE9sultat\n"));
  EXPECT_EQ(m.text_body, "Résultat\n");
  EXPECT_TRUE(m.issues.contains(Errc::MimeCharsetUnknown));
}

TEST(MimeMessage, MultipartSignedIsUnwrapped) {
  std::string content = entity(
      {"Content-Type: multipart/mixed; boundary=inner"},
      multipartBody("inner",
                    {entity({"Content-Type: text/plain; charset=utf-8"}, "signé\n"),
                     entity({"Content-Type: application/zip", "Content-Transfer-Encoding: base64",
                             "Content-Disposition: attachment; filename=IHE_XDM.ZIP"},
                            base64Encode("PK zip"))}));
  for (const char* protocol : {"application/pkcs7-signature", "application/pgp-signature"}) {
    std::string msg = crlf(entity(
        {"From: a@b.fr", "Subject: signed",
         std::string("Content-Type: multipart/signed; protocol=\"") + protocol +
             "\"; micalg=sha-256; boundary=\"sig\""},
        multipartBody(
            "sig", {content, entity({std::string("Content-Type: ") + protocol + "; name=smime.p7s",
                                     "Content-Transfer-Encoding: base64",
                                     "Content-Disposition: attachment; filename=smime.p7s"},
                                    base64Encode("signature bytes"))})));
    MimeMessage m = parseOk(msg);
    EXPECT_TRUE(m.was_signed);
    EXPECT_EQ(m.text_body, "signé");
    ASSERT_EQ(m.attachments.size(), 1u) << protocol;
    EXPECT_EQ(m.attachments[0].filename, "IHE_XDM.ZIP");
    EXPECT_EQ(m.attachments[0].bytes, "PK zip");
    EXPECT_EQ(m.attachments[0].part_path, "1.2");
  }
}

TEST(MimeMessage, EncryptedContentIsKeptAsAnAttachment) {
  std::string pgp = entity(
      {"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=enc"},
      multipartBody("enc",
                    {entity({"Content-Type: application/pgp-encrypted"}, "Version: 1\n"),
                     entity({"Content-Type: application/octet-stream"},
                            "-----BEGIN PGP MESSAGE-----\nxyz\n-----END PGP MESSAGE-----\n")}));
  std::string smime = entity(
      {"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; "
       "name=smime.p7m",
       "Content-Transfer-Encoding: base64", "Content-Disposition: attachment; filename=smime.p7m"},
      base64Encode("CMS enveloped bytes"));
  std::string msg = entity({"From: a@b.fr", "Content-Type: multipart/mixed; boundary=top"},
                           multipartBody("top", {entity({}, "see attachments\n"), pgp, smime}));
  MimeMessage m = parseOk(crlf(msg));
  EXPECT_EQ(m.text_body, "see attachments");
  ASSERT_EQ(m.attachments.size(), 2u);
  EXPECT_EQ(m.attachments[0].content_type, "multipart/encrypted");
  EXPECT_EQ(m.attachments[0].part_path, "2");
  std::string pgp_crlf = crlf(pgp);
  pgp_crlf.resize(pgp_crlf.size() - 2);  // the last line break belongs to the next delimiter
  EXPECT_EQ(m.attachments[0].bytes, pgp_crlf);
  EXPECT_EQ(m.attachments[1].content_type, "application/pkcs7-mime");
  EXPECT_EQ(m.attachments[1].filename, "smime.p7m");
  EXPECT_EQ(m.attachments[1].bytes, "CMS enveloped bytes");
  EXPECT_FALSE(m.was_signed);
}

TEST(MimeMessage, MessageRfc822IsKeptRaw) {
  std::string inner = crlf(entity(
      {"From: x@y.fr",
       "Subject: =?UTF-8?Q?message_d'origine?=", "Content-Type: multipart/mixed; boundary=in"},
      multipartBody("in",
                    {entity({}, "original text\n"),
                     entity({"Content-Type: application/zip", "Content-Transfer-Encoding: base64"},
                            base64Encode("zip"))})));
  std::string msg = crlf(
      entity({"From: a@b.fr", "Subject: [KO]", "Content-Type: multipart/mixed; boundary=top"},
             multipartBody(
                 "top", {entity({}, "Rejected, original attached.\n"),
                         entity({"Content-Type: message/rfc822",
                                 "Content-Disposition: attachment; filename=message_original.eml"},
                                "")})));
  // The embedded message goes in the (empty) second part body, followed by the line break that
  // belongs to the closing delimiter.
  std::string marker = "filename=message_original.eml\r\n\r\n";
  msg.insert(msg.find(marker) + marker.size(), inner + "\r\n");
  MimeMessage m = parseOk(msg);
  EXPECT_EQ(m.text_body, "Rejected, original attached.");
  ASSERT_EQ(m.attachments.size(), 1u);
  const MimeAttachment& a = m.attachments[0];
  EXPECT_EQ(a.content_type, "message/rfc822");
  EXPECT_EQ(a.filename, "message_original.eml");
  EXPECT_EQ(a.part_path, "2");
  EXPECT_EQ(a.bytes, inner);  // byte for byte, CRLF kept
  EXPECT_TRUE(m.issues.empty());

  // Some mailers base64-encode message/rfc822: it is then a plain leaf, decoded.
  std::string encoded = entity(
      {"Content-Type: multipart/mixed; boundary=top"},
      multipartBody("top",
                    {entity({"Content-Type: message/rfc822", "Content-Transfer-Encoding: base64"},
                            base64Encode(inner))}));
  MimeMessage e = parseOk(encoded);
  ASSERT_EQ(e.attachments.size(), 1u);
  EXPECT_EQ(e.attachments[0].content_type, "message/rfc822");
  EXPECT_EQ(e.attachments[0].bytes, inner);
}

TEST(MimeMessage, CrlfAndLfGiveTheSameResult) {
  std::string zip = test::fakeZip(700);
  std::string pdf = test::fakePdf(500);
  std::string lf = test::mssMessage(zip, pdf);
  MimeMessage a = parseOk(lf);
  MimeMessage b = parseOk(crlf(lf));
  EXPECT_EQ(a.headers, b.headers);
  EXPECT_EQ(a.subject, b.subject);
  EXPECT_EQ(a.text_body, b.text_body);
  ASSERT_EQ(a.attachments.size(), 2u);
  ASSERT_EQ(b.attachments.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(a.attachments[i].bytes, b.attachments[i].bytes);
    EXPECT_EQ(a.attachments[i].filename, b.attachments[i].filename);
  }
  EXPECT_EQ(a.attachments[0].bytes, zip);
}

TEST(MimeMessage, MboxFromLineIsSkipped) {
  MimeMessage m = parseOk("From dr.martin@medecin.mssante.fr Fri Jan  5 10:11:12 2024\n" +
                          entity({"From: dr.martin@medecin.mssante.fr", "Subject: mbox"}, "x\n"));
  EXPECT_EQ(m.subject, "mbox");
  EXPECT_EQ(m.headers.front().first, "From");
  EXPECT_EQ(m.from, "dr.martin@medecin.mssante.fr");
  // Not an mbox line: a header field with a blank before its colon.
  MimeMessage h = parseOk(entity({"From : dr.martin@medecin.mssante.fr", "Subject: s"}, "x\n"));
  EXPECT_EQ(h.from, "dr.martin@medecin.mssante.fr");
}

TEST(MimeMessage, TopLevelAttachmentAndHeadersOnly) {
  MimeMessage pdf =
      parseOk(entity({"Content-Type: application/pdf", "Content-Transfer-Encoding: base64",
                      "Content-Disposition: attachment; filename=a.pdf"},
                     base64Encode("%PDF-1.4")));
  ASSERT_EQ(pdf.attachments.size(), 1u);
  EXPECT_EQ(pdf.attachments[0].part_path, "1");
  EXPECT_EQ(pdf.attachments[0].bytes, "%PDF-1.4");
  EXPECT_EQ(pdf.header("Content-Disposition"), "attachment; filename=a.pdf");

  MimeMessage bare = parseOk("Subject: headers only\nX-MSS-INS: N\n");
  EXPECT_EQ(bare.subject, "headers only");
  EXPECT_EQ(bare.header("X-MSS-INS"), "N");
  EXPECT_TRUE(bare.text_body.empty());
}

TEST(MimeMessage, GroupsAndDispositionNotification) {
  MimeMessage m =
      parseOk(entity({"From: \"Hopital A – Service Cardiologie\" <cardio@HOPITAL-A.mssante.fr>",
                      "To: Equipe: a@x.fr, \"B\" <b@x.fr>;, c@y.fr",
                      "Disposition-Notification-To: \"Secr\" <Secretariat@Hopital-A.mssante.fr>"},
                     "x\n"));
  EXPECT_EQ(m.from, "cardio@hopital-a.mssante.fr");
  EXPECT_EQ(m.to, (std::vector<std::string>{"a@x.fr", "b@x.fr", "c@y.fr"}));
  EXPECT_EQ(m.disposition_notification_to, "Secretariat@hopital-a.mssante.fr");
}

TEST(MimeMessage, InnerMultipartClosedByOuterBoundaryIsAWarning) {
  std::string msg =
      entity({"Content-Type: multipart/mixed; boundary=out"},
             multipartBody("out", {entity({"Content-Type: multipart/alternative; boundary=in"},
                                          "--in\nContent-Type: text/plain\n\nhello\n"),
                                   entity({"Content-Type: application/pdf"}, "pdf")}));
  MimeMessage m = parseOk(msg);
  EXPECT_EQ(m.text_body, "hello");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_TRUE(m.issues.contains(Errc::MimeMalformed));
  EXPECT_FALSE(m.issues.hasErrors());
}

TEST(MimeMessage, UuencodedAttachment) {
  std::string uu =
      "begin 644 hello.txt\n"
      "M2&5L;&\\@=75E;F-O9&5D('=O<FQD(2!(96QL;R!U=65N8V]D960@=V]R;&0A\n"
      "M($AE;&QO('5U96YC;V1E9\"!W;W)L9\"$@2&5L;&\\@=75E;F-O9&5D('=O<FQD\n"
      "9(2!(96QL;R!U=65N8V]D960@=V]R;&0A(   \n"
      "`\n"
      "end\n";
  MimeMessage m = parseOk(entity({"Content-Type: application/octet-stream; name=hello.txt",
                                  "Content-Transfer-Encoding: x-uuencode"},
                                 uu));
  ASSERT_EQ(m.attachments.size(), 1u);
  std::string expected;
  for (int i = 0; i < 5; ++i)
    expected += "Hello uuencoded world! ";
  EXPECT_EQ(m.attachments[0].bytes, expected);
}

TEST(MimeMessage, MultipartDigestChildrenAreMessages) {
  std::string msg = entity({"Content-Type: multipart/digest; boundary=d"},
                           multipartBody("d", {entity({}, entity({"Subject: one"}, "first\n")),
                                               entity({}, entity({"Subject: two"}, "second\n"))}));
  MimeMessage m = parseOk(msg);
  ASSERT_EQ(m.attachments.size(), 2u);
  EXPECT_EQ(m.attachments[0].content_type, "message/rfc822");
  EXPECT_EQ(m.attachments[0].bytes, "Subject: one\n\nfirst");
}

}  // namespace
}  // namespace liaison::parse
