// Hostile input: every case ends in its error code, never in an exception or a crash.

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include "mime_test_util.hpp"
#include "parse/mime/mime_message.hpp"

namespace liaison::parse {
namespace {

using test::base64Encode;
using test::crlf;
using test::entity;
using test::multipartBody;

// iconv (through GMime's cache) on every thread: an ISO-8859-2 body.
std::string textMailForThreads() {
  return entity({"Content-Type: text/plain; charset=iso-8859-2", "Content-Transfer-Encoding: 8bit"},
                "Cha\xEEne \x80");  // î in ISO-8859-2; 0x80 is a C1 control there
}

Errc errorOf(std::string_view bytes, const MimeLimits& limits = {}) {
  auto r = parseMime(bytes, limits);
  EXPECT_FALSE(r.has_value()) << "parsed although hostile";
  if (r) return Errc::InputUnreadable;
  EXPECT_FALSE(r.error().detail.empty());
  return r.error().code;
}

std::string withPdf(std::string_view base64_body) {
  return entity({"From: a@b.fr", "Content-Type: multipart/mixed; boundary=b"},
                multipartBody("b", {entity({"Content-Type: text/plain"}, "texte\n"),
                                    entity({"Content-Type: application/pdf",
                                            "Content-Transfer-Encoding: base64",
                                            "Content-Disposition: attachment; filename=a.pdf"},
                                           base64_body)}));
}

TEST(MimeHostile, HeaderLineOverTheLimit) {
  std::string subject = "Subject: " + std::string(300 * 1024, 'A');
  EXPECT_EQ(errorOf(entity({"From: a@b.fr", subject}, "x\n")), Errc::MimeHeaderTooLong);
  // Folded: the unfolded field counts.
  std::string folded = "Subject: start";
  for (int i = 0; i < 400; ++i)
    folded += "\n " + std::string(60, 'f');
  EXPECT_EQ(errorOf(entity({"From: a@b.fr", folded}, "x\n")), Errc::MimeHeaderTooLong);
  // In a part header as well.
  std::string part =
      entity({"Content-Type: application/pdf; name=\"" + std::string(20000, 'n') + ".pdf\""}, "x");
  EXPECT_EQ(
      errorOf(entity({"Content-Type: multipart/mixed; boundary=b"}, multipartBody("b", {part}))),
      Errc::MimeHeaderTooLong);
  // The limit is the caller's.
  MimeLimits strict;
  strict.max_header_line = 998;
  EXPECT_EQ(errorOf(entity({"Subject: " + std::string(1000, 's')}, "x\n"), strict),
            Errc::MimeHeaderTooLong);
}

TEST(MimeHostile, HeaderBlockOverTheLimit) {
  std::string headers;
  for (int i = 0; i < 20000; ++i)
    headers += "X-Filler-" + std::to_string(i) + ": value\n";
  EXPECT_EQ(errorOf("From: a@b.fr\n" + headers + "\nbody\n"), Errc::MimeHeaderTooLong);
  // A part without the empty line that ends its headers: its whole content is a header block.
  std::string endless(300 * 1024, 'x');
  for (std::size_t i = 70; i < endless.size(); i += 71)
    endless[i] = '\n';
  EXPECT_EQ(errorOf(entity({"Content-Type: multipart/mixed; boundary=b"},
                           "--b\nContent-Type: text/plain\n" + endless + "\n--b--\n")),
            Errc::MimeHeaderTooLong);
}

TEST(MimeHostile, TooManyParts) {
  std::vector<std::string> parts(600, entity({"Content-Type: text/plain"}, "p"));
  EXPECT_EQ(
      errorOf(entity({"Content-Type: multipart/mixed; boundary=b"}, multipartBody("b", parts))),
      Errc::MimeTooManyParts);
  // A million empty parts in 6 MB: refused before GMime builds them (~1.3 GB for GMime).
  std::string bomb = "Content-Type: multipart/mixed; boundary=b\n\n";
  bomb.reserve(bomb.size() + 6 * 1000 * 1000);
  for (int i = 0; i < 1000 * 1000; ++i)
    bomb += "--b\n\n";
  bomb += "--b--\n";
  EXPECT_EQ(errorOf(bomb), Errc::MimeTooManyParts);
  // 512 parts are fine.
  std::vector<std::string> ok(512, entity({"Content-Type: application/octet-stream"}, "p"));
  auto r = parseMime(entity({"Content-Type: multipart/mixed; boundary=b"}, multipartBody("b", ok)));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->attachments.size(), 512u);
}

std::string nestedMultiparts(int depth) {
  std::string leaf = entity({"Content-Type: text/plain"}, "leaf\n");
  for (int i = depth - 1; i >= 0; --i) {
    std::string b = "b" + std::to_string(i);
    leaf = entity({"Content-Type: multipart/mixed; boundary=" + b}, multipartBody(b, {leaf}));
  }
  return "From: a@b.fr\n" + leaf;
}

TEST(MimeHostile, NestingTooDeep) {
  EXPECT_EQ(errorOf(nestedMultiparts(40)), Errc::MimeNestingTooDeep);
  EXPECT_EQ(errorOf(nestedMultiparts(5000)), Errc::MimeNestingTooDeep);
  auto ok = parseMime(nestedMultiparts(16));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->text_body, "leaf");
  EXPECT_EQ(errorOf(nestedMultiparts(17)), Errc::MimeNestingTooDeep);
  // Embedded messages nest too.
  std::string rfc822;
  for (int i = 0; i < 40; ++i)
    rfc822 += "Content-Type: message/rfc822\n\n";
  EXPECT_EQ(errorOf("From: a@b.fr\n" + rfc822 + "Subject: x\n\nbody\n"), Errc::MimeNestingTooDeep);
}

TEST(MimeHostile, UnterminatedMultipart) {
  std::string msg = withPdf(base64Encode("%PDF-1.4 ..."));
  std::string cut = msg.substr(0, msg.rfind("--b--"));
  EXPECT_EQ(errorOf(cut), Errc::MimeMalformed);
  EXPECT_EQ(errorOf(crlf(cut)), Errc::MimeMalformed);
  // Cut in the middle of a part header, and with an inner multipart open.
  EXPECT_EQ(errorOf(msg.substr(0, msg.find("Content-Transfer-Encoding: base64"))),
            Errc::MimeMalformed);
  std::string nested = nestedMultiparts(3);
  EXPECT_EQ(errorOf(nested.substr(0, nested.find("--b2--"))), Errc::MimeMalformed);
  // No delimiter at all.
  EXPECT_EQ(errorOf(entity({"Content-Type: multipart/mixed; boundary=b"}, "nothing here\n")),
            Errc::MimeMalformed);
}

TEST(MimeHostile, InvalidBase64) {
  std::string pdf = base64Encode(test::fakePdf(100));  // 136 characters, ends with "="
  std::string truncated = pdf.substr(0, 75) + "\n";
  EXPECT_EQ(errorOf(withPdf(truncated)), Errc::MimeEncodingInvalid);
  EXPECT_EQ(errorOf(withPdf("QUJDRA\n")), Errc::MimeEncodingInvalid);  // no padding, 6 chars
  EXPECT_EQ(errorOf(withPdf("QUJD*EFG\n")), Errc::MimeEncodingInvalid);
  EXPECT_EQ(errorOf(withPdf("QUJD\nRUZH\n\xC3\xA9\n")), Errc::MimeEncodingInvalid);
  EXPECT_EQ(errorOf(withPdf("QQ==QUJD\n")), Errc::MimeEncodingInvalid);  // data after padding
  EXPECT_EQ(errorOf(withPdf("Q===\n")), Errc::MimeEncodingInvalid);
  EXPECT_EQ(errorOf(withPdf("QUJD-_\n")), Errc::MimeEncodingInvalid);  // base64url
  // Valid forms: padding, whitespace anywhere, no final line break, empty.
  for (std::string_view ok : {"QQ==\n", "QUI=\n", "QU JD\tRA\r\n==\n", "QUJD", ""}) {
    auto r = parseMime(withPdf(ok));
    EXPECT_TRUE(r.has_value()) << ok;
  }
  auto r = parseMime(withPdf("QU JD\tRA\r\n==\n"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->attachments.at(0).bytes, "ABCD");
}

TEST(MimeHostile, NotAMessage) {
  EXPECT_EQ(errorOf(""), Errc::MimeMalformed);
  EXPECT_EQ(errorOf("\r\n\r\n  \n"), Errc::MimeMalformed);
  EXPECT_EQ(errorOf("\nbody without headers\n"), Errc::MimeMalformed);
  EXPECT_EQ(errorOf("hello world, this is not a mail\n\nbody\n"), Errc::MimeMalformed);
  EXPECT_EQ(errorOf(" continuation first: x\n\nbody\n"), Errc::MimeMalformed);
  EXPECT_EQ(errorOf(test::fakeZip(3000)), Errc::MimeMalformed);
  EXPECT_EQ(errorOf(test::fakePdf(3000)), Errc::MimeMalformed);
  std::mt19937 rng(42);
  for (int i = 0; i < 50; ++i) {
    std::string garbage(1 + rng() % 5000, '\0');
    for (char& c : garbage)
      c = static_cast<char>(rng() & 0xFF);
    auto r = parseMime(garbage);
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::MimeMalformed);
    }
  }
  EXPECT_EQ(errorOf("From only an mbox line\n"), Errc::MimeMalformed);
}

TEST(MimeHostile, TooLarge) {
  std::string msg = withPdf(base64Encode(test::fakePdf(20000)));
  MimeLimits small;
  small.max_message_bytes = 10000;
  EXPECT_EQ(errorOf(msg, small), Errc::MimeTooLarge);
  MimeLimits decoded;
  decoded.max_decoded_bytes = 15000;
  EXPECT_EQ(errorOf(msg, decoded), Errc::MimeTooLarge);
  MimeLimits enough;
  enough.max_message_bytes = msg.size();
  EXPECT_TRUE(parseMime(msg, enough).has_value());
}

TEST(MimeHostile, AmbiguousStructure) {
  EXPECT_EQ(errorOf(entity({"Content-Type: multipart/mixed"}, "--b\n\nx\n--b--\n")),
            Errc::MimeMalformed);
  EXPECT_EQ(errorOf(entity({"Content-Type: multipart/mixed; boundary=\"\""}, "--\n\nx\n----\n")),
            Errc::MimeMalformed);
  EXPECT_EQ(errorOf(entity({"Content-Type: multipart/mixed; boundary=b1",
                            "Content-Type: multipart/mixed; boundary=b2"},
                           "--b1\n\none\n--b2\n\ntwo\n--b2--\n--b1--\n")),
            Errc::MimeMalformed);
  EXPECT_EQ(errorOf(entity({"Content-Type: multipart/mixed; boundary=b"},
                           multipartBody("b", {entity({"Content-Type: application/pdf",
                                                       "Content-Transfer-Encoding: 7bit",
                                                       "Content-Transfer-Encoding: base64"},
                                                      "QUJD")}))),
            Errc::MimeMalformed);
  EXPECT_EQ(
      errorOf(entity({"From: a@b.fr", "Subject: XDM/1.0/DDM+A", "Subject: XDM/1.0/DDM+B"}, "x\n")),
      Errc::MimeMalformed);
  EXPECT_EQ(errorOf(entity({"From: a@b.fr", "X-MSS-INS: O", "x-mss-ins: N"}, "x\n")),
            Errc::MimeMalformed);
  EXPECT_EQ(errorOf(entity({"From: a@b.fr", "Disposition-Notification-To: a@b.fr",
                            "Disposition-Notification-To: other@x.fr"},
                           "x\n")),
            Errc::MimeMalformed);
  // The same header twice with the same value is only repeated, not conflicting.
  auto repeated =
      parseMime(entity({"MIME-Version: 1.0", "MIME-Version: 1.0", "To: a@b.fr", "To: c@d.fr",
                        "X-MSS-INS: O", "X-MSS-INS: O", "In-Reply-To: <a@b>", "In-Reply-To: <c@d>"},
                       "x\n"));
  ASSERT_TRUE(repeated.has_value());
  EXPECT_EQ(repeated->to, (std::vector<std::string>{"a@b.fr", "c@d.fr"}));
  EXPECT_EQ(repeated->in_reply_to, "a@b");
  EXPECT_TRUE(repeated->issues.contains(Errc::MimeMalformed));  // In-Reply-To: a warning
  EXPECT_FALSE(repeated->issues.hasErrors());
}

// GMime 3.2.13 misses a delimiter that ends a header block when the line sits at a 4 KB buffer
// boundary (here at offset 4092): its tree then differs from the pre-scan's, and the parser falls
// back to GMime's own reading of the whole input (which here sees conflicting Content-Types).
TEST(MimeHostile, DelimiterAtGMimeBufferBoundary) {
  std::string msg = "Subject: x\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n" +
                    std::string(3861, 'p') +
                    "\r\n--m\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\r\n"
                    "Content-Type: multipart/mixed; boundary=i\r\r\n\r\r\nPreamble.\r\r\n--i\r\r\n"
                    "\r\r\nin\r\r\n--i--\r\r\n";
  std::string padding(4092 - msg.size(), 'q');
  msg.insert(msg.find("Preamble."), padding);
  ASSERT_EQ(msg.size(), 4092u);
  msg +=
      "--m\r\nContent-Type: multipart/signed; boundary=s; protocol=x\r\n\r\n--s\r\n\r\n\r\n"
      "--s\r\n\r\n\r\n--s--\r\n--m--\r\n";
  auto r = parseMime(msg);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::MimeMalformed);
  // Shifted by one byte, both readings agree.
  auto shifted = parseMime(msg.insert(100, "p"));
  ASSERT_TRUE(shifted.has_value()) << shifted.error().detail;
  EXPECT_EQ(shifted->attachments.size(), 1u);  // the message/rfc822 part
}

// Random damage to a valid message: errors are fine, crashes and exceptions are not.
TEST(MimeHostile, RandomMutationsNeverCrash) {
  std::string pdf = base64Encode(test::fakePdf(600));
  std::string inner = crlf(entity({"Subject: inner", "Content-Type: multipart/mixed; boundary=i"},
                                  multipartBody("i", {entity({}, "in\n")})));
  std::string base = crlf(entity(
      {"From: \"=?UTF-8?Q?Dr_J=C3=A9r=C3=B4me?=\" <a@b.fr>", "To: c@d.fr",
       "Subject: =?ISO-8859-1?Q?R=E9sultat?=", "Content-Type: multipart/mixed; boundary=\"m\""},
      multipartBody(
          "m", {entity({"Content-Type: multipart/alternative; boundary=a"},
                       multipartBody("a", {entity({"Content-Type: text/plain; charset=utf-8",
                                                   "Content-Transfer-Encoding: quoted-printable"},
                                                  "caf=C3=A9 =\n suite\n"),
                                           entity({"Content-Type: text/html"}, "<p>x</p>\n")})),
                entity({"Content-Type: application/pdf", "Content-Transfer-Encoding: base64",
                        "Content-Disposition: attachment; filename*=UTF-8''a%C3%A9.pdf"},
                       pdf),
                entity({"Content-Type: message/rfc822"}, inner),
                entity({"Content-Type: multipart/signed; boundary=s; protocol=x"},
                       multipartBody("s", {entity({}, "signed\n"), entity({}, "sig\n")}))})));
  ASSERT_TRUE(parseMime(base).has_value());
  const std::vector<std::string> tokens = {"--m",   "--a--", "\r\n\r\n", "=?",        "?=",
                                           "\r\n ", "--i",   "==",       "boundary=", ";",
                                           ":",     "\"",    "=\r\n",    "%",         "\0"};
  std::mt19937 rng(20240105);
  int parsed = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string m = base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !m.empty(); ++e) {
      std::size_t at = rng() % m.size();
      switch (rng() % 7) {
        case 0:
          m[at] = static_cast<char>(rng() & 0xFF);
          break;
        case 1:
          m.erase(at, 1 + rng() % 40);
          break;
        case 2:
          m.insert(at, std::string(tokens[rng() % tokens.size()]));
          break;
        case 3:
          m.resize(at);
          break;
        case 4: {
          std::size_t from = rng() % m.size();
          std::size_t len = std::min<std::size_t>(1 + rng() % 200, m.size() - from);
          m.insert(at, m.substr(from, len));
          break;
        }
        case 5:
          m[at] = "\r\n-= \t:;\"\\<>"[rng() % 13];
          break;
        default:
          m.insert(at, std::string(1 + rng() % 3000, "-=AQ\n"[rng() % 5]));
          break;
      }
    }
    auto r = parseMime(m);
    if (r) ++parsed;
  }
  EXPECT_GT(parsed, 0);
}

// The gateway parses mails on several threads at once.
TEST(MimeHostile, ConcurrentParsing) {
  std::string msg = crlf(test::mssMessage(test::fakeZip(3000), test::fakePdf(2000)));
  std::string latin = textMailForThreads();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto a = parseMime(msg);
        auto b = parseMime(latin);
        if (!a || a->attachments.size() != 2 || !b || b->text_body != "Cha\xC3\xAEne \xC2\x80")
          ++failures;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace liaison::parse
