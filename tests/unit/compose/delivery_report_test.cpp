#include "parse/mime/delivery_report.hpp"

#include <gtest/gtest.h>

#include <string>

#include "wire_check.hpp"

namespace liaison::parse {
namespace {

using compose::test::crlf;
using Kind = DeliveryReport::Kind;

// A bounce as Postfix writes it for an unknown local user (bounce(8) templates, Postfix 3.7).
const std::string kPostfixBounce = crlf(R"(Return-Path: <>
Delivered-To: secretariat@cardio-plus.test
Received: by mx.example.test (Postfix)
	id 4T3kQx0Z1Lz9sWd; Tue,  2 Jan 2024 10:00:05 +0100 (CET)
Date: Tue,  2 Jan 2024 10:00:05 +0100 (CET)
From: MAILER-DAEMON@mx.example.test (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: secretariat@cardio-plus.test
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4T3kQx0Z1Lz9sWd.1704186005/mx.example.test"
Content-Transfer-Encoding: 8bit
Message-Id: <4T3kQx1B2Cz9sWf@mx.example.test>

This is a MIME-encapsulated message.

--4T3kQx0Z1Lz9sWd.1704186005/mx.example.test
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mx.example.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<nobody@cardio-plus.test>: unknown user: "nobody"

--4T3kQx0Z1Lz9sWd.1704186005/mx.example.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.test
X-Postfix-Queue-ID: 4T3kQx0Z1Lz9sWd
X-Postfix-Sender: rfc822; secretariat@cardio-plus.test
Arrival-Date: Tue,  2 Jan 2024 10:00:04 +0100 (CET)

Final-Recipient: rfc822; nobody@cardio-plus.test
Original-Recipient: rfc822;nobody@cardio-plus.test
Action: failed
Status: 5.1.1
Diagnostic-Code: X-Postfix; unknown user: "nobody"

--4T3kQx0Z1Lz9sWd.1704186005/mx.example.test
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

Return-Path: <secretariat@cardio-plus.test>
Received: from liaison.cardio-plus.test (localhost [127.0.0.1])
	by mx.example.test (Postfix) with ESMTP id 4T3kQx0Z1Lz9sWd
	for <nobody@cardio-plus.test>; Tue,  2 Jan 2024 10:00:04 +0100 (CET)
From: =?UTF-8?Q?Secr=C3=A9tariat_Cardio+?= <secretariat@cardio-plus.test>
To: nobody@cardio-plus.test
Subject: =?UTF-8?Q?Accus=C3=A9_de_r=C3=A9ception?=
Date: Tue, 02 Jan 2024 09:00:00 +0000
Message-ID: <mdn.42@cardio-plus.test>
MIME-Version: 1.0

--4T3kQx0Z1Lz9sWd.1704186005/mx.example.test--
)");

// A Postfix "delayed mail" warning (delay_warning_time): two recipients, the remote one still
// queued with a folded Diagnostic-Code, the returned part a whole message/rfc822.
const std::string kPostfixDelayed = crlf(R"(Date: Tue,  2 Jan 2024 14:00:05 +0100 (CET)
From: MAILER-DAEMON@mx.example.test (Mail Delivery System)
Subject: Delayed Mail (still being retried)
To: secretariat@cardio-plus.test
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="5B2CD3E4F5.1704200405/mx.example.test"
Message-Id: <20240102130005.AAA11@mx.example.test>

This is a MIME-encapsulated message.

--5B2CD3E4F5.1704200405/mx.example.test
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.test.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

--5B2CD3E4F5.1704200405/mx.example.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.test
X-Postfix-Queue-ID: 5B2CD3E4F5
Arrival-Date: Tue,  2 Jan 2024 10:00:04 +0100 (CET)

Final-Recipient: rfc822; archive@cardio-plus.test
Action: delivered
Status: 2.0.0

Final-Recipient: rfc822; Dr.Martin@Medecin.MSSante.TEST
Original-Recipient: rfc822;Dr.Martin@medecin.mssante.test
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.medecin.mssante.test[192.0.2.7]:25:
    Connection timed out
Will-Retry-Until: Tue,  9 Jan 2024 10:00:04 +0100 (CET)

--5B2CD3E4F5.1704200405/mx.example.test
Content-Description: Undelivered Message
Content-Type: message/rfc822

From: secretariat@cardio-plus.test
To: Dr.Martin@Medecin.MSSante.TEST, archive@cardio-plus.test
Subject: Avis
Message-ID: <notice.7@cardio-plus.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Avis joint.

--5B2CD3E4F5.1704200405/mx.example.test--
)");

// A read receipt as Thunderbird sends it (format=flowed UTF-8 text, the original's headers).
const std::string kThunderbirdMdn = crlf(R"(Message-ID: <3c1f9a2e-0d1b@medecin.mssante.test>
Date: Tue, 2 Jan 2024 11:15:00 +0100
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
From: Dr Jean MARTIN <dr.martin@medecin.mssante.test>
To: secretariat@cardio-plus.test
Subject: =?UTF-8?Q?Accus=C3=A9_de_r=C3=A9ception_=28affich=C3=A9=29_-_Avis?=
Content-Type: multipart/report; report-type=disposition-notification;
 boundary="------------WEZ0pyYLz3vTcV2xkz0H5jRu"

This is a multi-part message in MIME format.
--------------WEZ0pyYLz3vTcV2xkz0H5jRu
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

Ceci est un accusé de réception pour le courrier que vous avez envoyé à
<dr.martin@medecin.mssante.test> le 02/01/2024 10:00.

--------------WEZ0pyYLz3vTcV2xkz0H5jRu
Content-Type: message/disposition-notification; name="MDNPart2.txt"
Content-Disposition: inline
Content-Transfer-Encoding: 7bit

Reporting-UA: medecin.mssante.test; Mozilla Thunderbird
Final-Recipient: rfc822;dr.martin@medecin.mssante.test
Original-Message-ID: <notice.7@cardio-plus.test>
Disposition: manual-action/MDN-sent-manually; displayed

--------------WEZ0pyYLz3vTcV2xkz0H5jRu
Content-Type: text/rfc822-headers; name="MDNPart3.txt"
Content-Transfer-Encoding: 7bit
Content-Disposition: inline

From: secretariat@cardio-plus.test
To: dr.martin@medecin.mssante.test
Subject: Avis
Message-ID: <notice.7@cardio-plus.test>

--------------WEZ0pyYLz3vTcV2xkz0H5jRu--
)");

std::string replace(std::string s, std::string_view from, std::string_view to) {
  std::size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(DeliveryReport, PostfixBounceUnknownUser) {
  auto r = readDeliveryReport(kPostfixBounce);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, Kind::DeliveryStatus);
  EXPECT_EQ(r->action, "failed");
  EXPECT_EQ(r->status, "5.1.1");
  EXPECT_EQ(r->diagnostic, "X-Postfix; unknown user: \"nobody\"");
  EXPECT_EQ(r->recipient, "nobody@cardio-plus.test");
  // The returned headers' Message-ID, not the bounce's own.
  EXPECT_EQ(r->original_message_id, "mdn.42@cardio-plus.test");
  EXPECT_TRUE(r->disposition.empty());
  EXPECT_TRUE(r->error.empty());
}

TEST(DeliveryReport, PostfixBounceWithLfLineEnds) {
  std::string lf = kPostfixBounce;
  std::erase(lf, '\r');
  auto r = readDeliveryReport(lf);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, "5.1.1");
  EXPECT_EQ(r->original_message_id, "mdn.42@cardio-plus.test");
}

TEST(DeliveryReport, PostfixDelayedWarning) {
  auto r = readDeliveryReport(kPostfixDelayed);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, Kind::DeliveryStatus);
  // No recipient failed: the first recipient block… is "delivered"; the delayed one is second.
  EXPECT_EQ(r->action, "delivered");
  EXPECT_EQ(r->recipient, "archive@cardio-plus.test");
  EXPECT_EQ(r->original_message_id, "notice.7@cardio-plus.test");

  // With the delivered recipient gone, the delayed one, folded diagnostic unfolded.
  std::string only_delayed = replace(kPostfixDelayed,
                                     "Final-Recipient: rfc822; archive@cardio-plus.test\r\n"
                                     "Action: delivered\r\nStatus: 2.0.0\r\n\r\n",
                                     "");
  r = readDeliveryReport(only_delayed);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->action, "delayed");
  EXPECT_EQ(r->status, "4.4.1");
  EXPECT_EQ(r->recipient, "Dr.Martin@medecin.mssante.test");  // domain lower-cased only
  EXPECT_EQ(r->diagnostic,
            "X-Postfix; connect to mx.medecin.mssante.test[192.0.2.7]:25: Connection timed out");
}

TEST(DeliveryReport, FailedRecipientWinsOverEarlierOnes) {
  std::string mixed = replace(kPostfixDelayed, "Action: delayed\r\nStatus: 4.4.1",
                              "Action: failed\r\nStatus: 5.4.7 (delivery time expired)");
  auto r = readDeliveryReport(mixed);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->action, "failed");
  EXPECT_EQ(r->status, "5.4.7");
  EXPECT_EQ(r->recipient, "Dr.Martin@medecin.mssante.test");
}

TEST(DeliveryReport, EnvelopeIdWhenNothingIsReturned) {
  std::string dsn = kPostfixBounce.substr(
      0, kPostfixBounce.find("--4T3kQx0Z1Lz9sWd.1704186005/mx.example.test\r\n"
                             "Content-Description: Undelivered"));
  dsn += "--4T3kQx0Z1Lz9sWd.1704186005/mx.example.test--\r\n";
  dsn = replace(dsn, "X-Postfix-Queue-ID: 4T3kQx0Z1Lz9sWd\r\n",
                "X-Postfix-Queue-ID: 4T3kQx0Z1Lz9sWd\r\nOriginal-Envelope-Id: env-0042\r\n");
  auto r = readDeliveryReport(dsn);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->action, "failed");
  EXPECT_EQ(r->original_message_id, "env-0042");
}

TEST(DeliveryReport, Base64EncodedStatusPart) {
  // The status part of a DSN that went through a converting relay.
  std::string dsn =
      replace(kPostfixBounce,
              "Content-Type: message/delivery-status\r\n\r\n"
              "Reporting-MTA: dns; mx.example.test\r\n"
              "X-Postfix-Queue-ID: 4T3kQx0Z1Lz9sWd\r\n"
              "X-Postfix-Sender: rfc822; secretariat@cardio-plus.test\r\n"
              "Arrival-Date: Tue,  2 Jan 2024 10:00:04 +0100 (CET)\r\n\r\n"
              "Final-Recipient: rfc822; nobody@cardio-plus.test\r\n"
              "Original-Recipient: rfc822;nobody@cardio-plus.test\r\n"
              "Action: failed\r\n"
              "Status: 5.1.1\r\n"
              "Diagnostic-Code: X-Postfix; unknown user: \"nobody\"\r\n",
              // base64 of "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; a@b.test\nAction:
              // failed\n Status: 5.2.2\n"
              "Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n"
              "UmVwb3J0aW5nLU1UQTogZG5zOyBteAoKRmluYWwtUmVjaXBpZW50OiByZmM4MjI7IGFAYi50ZXN0\r\n"
              "CkFjdGlvbjogZmFpbGVkClN0YXR1czogNS4yLjIK\r\n");
  auto r = readDeliveryReport(dsn);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->recipient, "a@b.test");
  EXPECT_EQ(r->status, "5.2.2");
}

TEST(DeliveryReport, ThunderbirdReadReceipt) {
  auto r = readDeliveryReport(kThunderbirdMdn);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->kind, Kind::Disposition);
  EXPECT_EQ(r->disposition, "displayed");
  EXPECT_EQ(r->error, "");
  EXPECT_EQ(r->recipient, "dr.martin@medecin.mssante.test");
  EXPECT_EQ(r->original_message_id, "notice.7@cardio-plus.test");
  EXPECT_TRUE(r->action.empty());
}

TEST(DeliveryReport, MdnWithoutOriginalMessageIdUsesReturnedHeaders) {
  std::string mdn =
      replace(kThunderbirdMdn, "Original-Message-ID: <notice.7@cardio-plus.test>\r\n", "");
  mdn = replace(mdn, "Subject: Avis\r\nMessage-ID: <notice.7@cardio-plus.test>",
                "Subject: Avis\r\nMessage-ID:\r\n <notice.8@cardio-plus.test>");
  auto r = readDeliveryReport(mdn);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->original_message_id, "notice.8@cardio-plus.test");
}

TEST(DeliveryReport, Rfc8098ErrorModifierWithErrorField) {
  std::string mdn =
      replace(kThunderbirdMdn, "Disposition: manual-action/MDN-sent-manually; displayed",
              "Disposition: Automatic-Action/MDN-Sent-Automatically;\r\n Processed/Error\r\n"
              "Error: 906^Autre erreur");
  auto r = readDeliveryReport(mdn);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->disposition, "processed/error");
  EXPECT_EQ(r->error, "906^Autre erreur");
}

TEST(DeliveryReport, AnsErrorInDisposition) {
  std::string mdn =
      replace(kThunderbirdMdn, "Disposition: manual-action/MDN-sent-manually; displayed",
              "Disposition: automatic-action/MDN-sent-automatically; "
              "processed/Error: 904^INS et traits\r\n  divergents");
  auto r = readDeliveryReport(mdn);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->disposition, "processed/error");
  EXPECT_EQ(r->error, "904^INS et traits divergents");

  mdn = replace(kThunderbirdMdn, "Disposition: manual-action/MDN-sent-manually; displayed",
                "Disposition: manual-action/MDN-sent-manually; deleted/warning");
  r = readDeliveryReport(mdn);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->disposition, "deleted/warning");
}

TEST(DeliveryReport, MdnFieldsSplitByAStrayEmptyLine) {
  std::string mdn = replace(kThunderbirdMdn, "Original-Message-ID: <notice.7@cardio-plus.test>\r\n",
                            "Original-Message-ID: <notice.7@cardio-plus.test>\r\n\r\n");
  auto r = readDeliveryReport(mdn);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->disposition, "displayed");
  EXPECT_EQ(r->original_message_id, "notice.7@cardio-plus.test");
}

// --- not reports ---------------------------------------------------------------------------------

TEST(DeliveryReport, PlainMailIsNotAReport) {
  std::string plain = crlf(
      "From: a@x.test\nTo: b@y.test\nSubject: Re: Avis\nMessage-ID: <p.1@x.test>\n\n"
      "Action: failed\nStatus: 5.1.1\nDisposition: automatic-action/MDN-sent-automatically; "
      "processed\n");
  EXPECT_FALSE(readDeliveryReport(plain).has_value());
}

TEST(DeliveryReport, OtherReportTypesAreNotReports) {
  // An abuse feedback report (RFC 5965) is a multipart/report too.
  std::string arf =
      replace(kPostfixBounce, "report-type=delivery-status", "report-type=feedback-report");
  arf = replace(arf, "Content-Type: message/delivery-status",
                "Content-Type: message/feedback-report");
  EXPECT_FALSE(readDeliveryReport(arf).has_value());
  // The declared type and the part must agree.
  std::string mismatch = replace(kPostfixBounce, "report-type=delivery-status",
                                 "report-type=disposition-notification");
  EXPECT_FALSE(readDeliveryReport(mismatch).has_value());
  // multipart/mixed holding a status part.
  std::string mixed =
      replace(kPostfixBounce, "multipart/report; report-type=delivery-status", "multipart/mixed");
  EXPECT_FALSE(readDeliveryReport(mixed).has_value());
}

TEST(DeliveryReport, ReportsWithoutTheirFieldsAreNotReports) {
  std::string no_disposition =
      replace(kThunderbirdMdn, "Disposition: manual-action/MDN-sent-manually; displayed\r\n", "");
  EXPECT_FALSE(readDeliveryReport(no_disposition).has_value());
  std::string no_action = replace(kPostfixBounce, "Action: failed\r\n", "");
  EXPECT_FALSE(readDeliveryReport(no_action).has_value());
  std::string no_status_part =
      replace(kPostfixBounce, "Content-Type: message/delivery-status", "Content-Type: text/plain");
  EXPECT_FALSE(readDeliveryReport(no_status_part).has_value());
}

TEST(DeliveryReport, GarbageAndTruncationAreNotReports) {
  EXPECT_FALSE(readDeliveryReport("").has_value());
  constexpr char kBinary[] = "\x00\x01\x02\xff\xfe garbage";
  EXPECT_FALSE(readDeliveryReport(std::string_view(kBinary, sizeof kBinary - 1)).has_value());
  EXPECT_FALSE(readDeliveryReport("\r\n\r\n\r\n").has_value());
  // Cut inside the status part: the report's closing boundary never comes.
  std::string truncated = kPostfixBounce.substr(0, kPostfixBounce.find("Action: failed"));
  EXPECT_FALSE(readDeliveryReport(truncated).has_value());
  // Every prefix and a few corruptions: never a crash, never an exception.
  for (std::size_t n = 0; n < kPostfixBounce.size(); n += 7) {
    std::string cut = kPostfixBounce.substr(0, n);
    EXPECT_NO_THROW((void)readDeliveryReport(cut));
    std::string flipped = kThunderbirdMdn;
    flipped[n % flipped.size()] = static_cast<char>(flipped[n % flipped.size()] ^ 0x5A);
    EXPECT_NO_THROW((void)readDeliveryReport(flipped));
  }
}

TEST(DeliveryReport, LimitsApply) {
  std::string huge_header = replace(kPostfixBounce, "Subject: Undelivered Mail Returned to Sender",
                                    "Subject: " + std::string(100000, 'x'));
  EXPECT_FALSE(readDeliveryReport(huge_header).has_value());

  std::string huge_field = replace(kPostfixBounce, "Diagnostic-Code: X-Postfix; unknown user",
                                   "Diagnostic-Code: X-Postfix; " + std::string(40000, 'u'));
  EXPECT_FALSE(readDeliveryReport(huge_field).has_value());

  MimeLimits small;
  small.max_header_bytes = 200;  // the status part is larger than this
  EXPECT_FALSE(readDeliveryReport(kPostfixBounce, small).has_value());

  std::string many_fields;
  for (int i = 0; i < 5000; ++i)
    many_fields += "X-F" + std::to_string(i) + ": v\r\n";
  std::string flooded =
      replace(kPostfixBounce, "Action: failed\r\n", many_fields + "Action: failed\r\n");
  EXPECT_FALSE(readDeliveryReport(flooded).has_value());
}

}  // namespace
}  // namespace liaison::parse
