#include "parse/text/html_text.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "parse/text/encoding.hpp"

namespace liaison::parse {
namespace {

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i)
    out += s;
  return out;
}

// What Outlook (Word's HTML) sends: namespaces, a <meta> charset that no longer holds once the
// body is UTF-8, styles in a comment, an <xml> island in a conditional comment, <o:p>, empty
// paragraphs of &nbsp;, a list bullet between downlevel-revealed conditionals.
TEST(HtmlText, OutlookMail) {
  const std::string html =
      "<html xmlns:v=\"urn:schemas-microsoft-com:vml\" "
      "xmlns:o=\"urn:schemas-microsoft-com:office:office\" "
      "xmlns=\"http://www.w3.org/TR/REC-html40\"><head>"
      "<meta http-equiv=Content-Type content=\"text/html; charset=iso-8859-1\">"
      "<meta name=Generator content=\"Microsoft Word 15 (filtered medium)\">"
      "<style><!--\np.MsoNormal, li.MsoNormal {margin:0cm; font-size:11.0pt;}\n--></style>"
      "<!--[if gte mso 9]><xml>\n<o:shapedefaults v:ext=\"edit\" spidmax=\"1026\" />\n"
      "</xml><![endif]--></head>"
      "<body lang=FR link=\"#0563C1\" style='word-wrap:break-word'><div class=WordSection1>"
      "<p class=MsoNormal>Bonjour Docteur,<o:p></o:p></p>"
      "<p class=MsoNormal><o:p>&nbsp;</o:p></p>"
      "<p class=MsoNormal>Je vous adresse M. FICTIF pour un avis&nbsp;: dyspnée "
      "d\xE2\x80\x99"
      "effort.<o:p></o:p></p>"
      "<p class=MsoListParagraph style='text-indent:-18.0pt;mso-list:l0 level1 lfo1'>"
      "<![if !supportLists]><span style='font-family:Symbol'>\xC2\xB7<span "
      "style='font:7.0pt \"Times New Roman\"'>&nbsp;&nbsp;&nbsp; </span></span><![endif]>"
      "ECG joint<o:p></o:p></p>"
      "<p class=MsoNormal>Cordialement,<o:p></o:p></p>"
      "<p class=MsoNormal>Dr TESTEUR<o:p></o:p></p></div></body></html>";
  EXPECT_EQ(htmlToText(html),
            "Bonjour Docteur,\n\n"
            "Je vous adresse M. FICTIF pour un avis\xC2\xA0: dyspnée d\xE2\x80\x99"
            "effort.\n\n"
            "\xC2\xB7\xC2\xA0\xC2\xA0\xC2\xA0 ECG joint\n\n"
            "Cordialement,\n\nDr TESTEUR");
}

// Thunderbird: <br> inside paragraphs, the quoted message in a blockquote, the signature.
TEST(HtmlText, ThunderbirdReplyQuotesTheCitedMessage) {
  const std::string html =
      "<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=UTF-8\">"
      "</head><body><p>Bonjour,</p><p>Voir ci-dessous.<br></p>"
      "<div class=\"moz-cite-prefix\">Le 12/01/2024 à 14:05, Dr X a écrit&nbsp;:<br></div>"
      "<blockquote type=\"cite\"><p>Lettre de liaison jointe.<br>Bonne réception</p>"
      "<p>Cordialement</p></blockquote>"
      "<div class=\"moz-signature\">-- <br>Dr Y</div></body></html>";
  EXPECT_EQ(htmlToText(html),
            "Bonjour,\n\nVoir ci-dessous.\n\n"
            "Le 12/01/2024 à 14:05, Dr X a écrit\xC2\xA0:\n\n"
            "> Lettre de liaison jointe.\n> Bonne réception\n\n> Cordialement\n\n"
            "--\nDr Y");
}

TEST(HtmlText, EntitiesAreDecoded) {
  EXPECT_EQ(htmlToText("<p>&eacute;&Eacute;&agrave; &amp; &lt;b&gt; &quot;x&quot; "
                       "&#233;&#x2019;&euro;&oelig;&laquo;&nbsp;oui&nbsp;&raquo;</p>"),
            "éÉà & <b> \"x\" é\xE2\x80\x99€œ«\xC2\xA0oui\xC2\xA0»");
  // An unknown entity, or one without its ";", stays as written (libxml2 is stricter than a
  // browser about "&lt 6").
  EXPECT_EQ(htmlToText("<p>&inconnu; et 5 &lt 6 AT&T</p>"), "&inconnu; et 5 &lt 6 AT&T");
}

TEST(HtmlText, WhatIsNotShownIsDropped) {
  const std::string html =
      "<!DOCTYPE html><html><head><title>Titre</title><style>p{color:red}</style>"
      "<script>var a = '<p>pas ça</p>';</script></head><body>"
      "<!-- commentaire --><p>visible</p><script type=\"text/javascript\">alert(1)</script>"
      "<noscript>sans script</noscript><template><p>modèle</p></template>"
      "<style>.x{}</style><?php echo 1; ?><p>fin</p></body></html>";
  EXPECT_EQ(htmlToText(html), "visible\n\nfin");
}

TEST(HtmlText, WhiteSpaceCollapsesAsInABrowser) {
  EXPECT_EQ(htmlToText("  a \n\t b  "), "a b");
  EXPECT_EQ(htmlToText("<b>gras</b> <i>italique</i>"), "gras italique");
  EXPECT_EQ(htmlToText("<b>a</b><i>b</i>c"), "abc");
  EXPECT_EQ(htmlToText("<p>\n  Douleur   thoracique\n  d'effort\n</p>"),
            "Douleur thoracique d'effort");
  EXPECT_EQ(htmlToText("a<br>b<br><br>c<br><br><br><br>d"), "a\nb\n\nc\n\nd");
  EXPECT_EQ(htmlToText("<pre>  x   y\n    z\r\n</pre><p>après</p>"), "  x   y\n    z\n\naprès");
}

TEST(HtmlText, ListsAreMarkedAndIndented) {
  EXPECT_EQ(htmlToText("<p>Antécédents :</p><ul><li>HTA</li><li>Diabète"
                       "<ol><li>metformine</li><li>insuline</li></ol></li><li>Tabac</li></ul>"
                       "<p>Fin</p>"),
            "Antécédents :\n\n- HTA\n- Diabète\n  1. metformine\n  2. insuline\n- Tabac\n\nFin");
  EXPECT_EQ(htmlToText("<ol><li>un<li>deux</ol>"), "1. un\n2. deux");  // unclosed <li>
}

TEST(HtmlText, TableCellsAreSeparated) {
  EXPECT_EQ(htmlToText("<p>Constantes</p><table border=1><thead><tr><th>Mesure</th>"
                       "<th>Valeur</th></tr></thead><tbody><tr><td>Poids</td><td>72,5 kg</td>"
                       "</tr><tr><td></td><td>vide</td></tr></tbody></table>après"),
            "Constantes\n\nMesure | Valeur\nPoids | 72,5 kg\n| vide\n\naprès");
  EXPECT_EQ(htmlToText("<table><tr><td>a<table><tr><td>b</td><td>c</td></tr></table></td>"
                       "<td>d</td></tr></table>"),
            "a\n\nb | c\n\n| d");
}

TEST(HtmlText, LinksKeepTheirTextAndShowADifferentTarget) {
  EXPECT_EQ(htmlToText("Voir <a href=\"https://www.ameli.fr/page?a=1&amp;b=2\">le site</a>."),
            "Voir le site <https://www.ameli.fr/page?a=1&b=2>.");
  EXPECT_EQ(htmlToText("<a href=\"mailto:dr.x@medecin.mssante.fr\">dr.x@medecin.mssante.fr</a>"),
            "dr.x@medecin.mssante.fr");
  EXPECT_EQ(htmlToText("<a href=\"MAILTO:secretariat@ess.fr\">le secrétariat</a>"),
            "le secrétariat <MAILTO:secretariat@ess.fr>");
  EXPECT_EQ(htmlToText("<a href=\"https://x.example/\">https://x.example</a>"),
            "https://x.example");
  EXPECT_EQ(htmlToText("<a href=\"javascript:alert(1)\">cliquer</a> ici"), "cliquer ici");
  EXPECT_EQ(htmlToText("<a href=\"cid:logo\"><img src=\"cid:logo\" alt=\"Logo\"></a>Dr X"), "Dr X");
  EXPECT_EQ(htmlToText("<a href=\"http://a.example\">a <b>b</b></a>"), "a b <http://a.example>");
}

TEST(HtmlText, NestedBlocksMakeOneBreakEach) {
  EXPECT_EQ(htmlToText("<div><div>a</div><div><p>b</p>c</div></div><div><div><div>d</div>"
                       "</div></div><h2>Titre</h2><div>e</div><hr><div>f</div>"),
            "a\n\nb\n\nc\nd\n\nTitre\n\ne\n\nf");
}

TEST(HtmlText, MalformedMarkupIsRecovered) {
  EXPECT_EQ(htmlToText("<p>a<p>b<div>c<b>d"), "a\n\nb\n\ncd");
  EXPECT_EQ(htmlToText("<html><body><p>un</i></b></p>deux</span></body></html>"), "un\n\ndeux");
  // An attribute that never ends takes the rest of the document, as in a browser.
  EXPECT_EQ(htmlToText("<p>avant</p><p class=\"x>cassé</p><p>ok</p>"), "avant");
  EXPECT_EQ(htmlToText("texte < 3 et > 1 <!pas un commentaire> fin"), "texte < 3 et > 1 fin");
  EXPECT_EQ(htmlToText("<table><td>sans ligne</td></table>"), "sans ligne");
}

TEST(HtmlText, EmptyInputs) {
  EXPECT_EQ(htmlToText(""), "");
  EXPECT_EQ(htmlToText(" \r\n\t"), "");
  EXPECT_EQ(htmlToText("<html></html>"), "");
  EXPECT_EQ(htmlToText("<html><head><title>t</title></head><body><p>&nbsp;</p></body></html>"), "");
  EXPECT_EQ(htmlToText("<script>seul</script>"), "");
  EXPECT_EQ(htmlToText("<p>a</p>", 0), "");
}

TEST(HtmlText, PlainTextIsTakenAsFlowingText) {
  EXPECT_EQ(htmlToText("Bonjour,\nCeci n'est pas du HTML."), "Bonjour, Ceci n'est pas du HTML.");
}

// The body is UTF-8 once MIME is decoded: a <meta charset> or a BOM changes nothing.
TEST(HtmlText, MetaCharsetIsIgnoredAndBomSkipped) {
  EXPECT_EQ(htmlToText("<meta charset=\"iso-8859-1\"><p>Hélène</p>"), "Hélène");
  EXPECT_EQ(htmlToText("<head><meta http-equiv=\"Content-Type\" content=\"text/html; "
                       "charset=windows-1252\"></head><p>œuvre</p>"),
            "œuvre");
  EXPECT_EQ(htmlToText("\xEF\xBB\xBF<p>a</p>"), "a");
}

TEST(HtmlText, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  const std::string html = std::string("<p>caf\xE9 <b>cr\xE8me</b> ") + '\0' + "x\x01y\xFF</p>";
  const std::string text = htmlToText(html);
  EXPECT_EQ(text, "caf\xEF\xBF\xBD cr\xEF\xBF\xBDme \xEF\xBF\xBDxy\xEF\xBF\xBD");
  EXPECT_TRUE(isValidUtf8(text));
  for (std::string_view bad : {"\xC0\xAF<p>\xED\xA0\x80</p>", "<p>\xF4\x90\x80\x80</p>",
                               "<p>\xE2\x98</p>", "\xFE\xFF<\xFF>"}) {
    const std::string t = htmlToText(bad);
    EXPECT_TRUE(isValidUtf8(t)) << t;
  }
}

TEST(HtmlText, OutputIsBoundedOnACharacterBoundary) {
  EXPECT_EQ(htmlToText("<p>ééééé</p>", 5), "éé");
  EXPECT_EQ(htmlToText("<p>é</p>", 1), "");  // not half a character
  EXPECT_EQ(htmlToText("<p>\xE2\x82\xAC</p>", 2), "");
  const HtmlText r = htmlText("<p>" + repeat("référence ", 300000) + "</p>", 100000);
  EXPECT_TRUE(r.truncated);
  EXPECT_LE(r.text.size(), 100000u);
  EXPECT_GT(r.text.size(), 99000u);
  EXPECT_TRUE(isValidUtf8(r.text));
  EXPECT_EQ(r.text.substr(0, 23), "référence référence");
  EXPECT_FALSE(htmlText("<p>court</p>").truncated);
}

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The parser's work per closing tag grows with the open elements: depth is bounded, so is the
// input; each case ends in well under a second on a developer machine.
TEST(HtmlText, HostileInputIsBoundedInTimeAndSize) {
  struct Case {
    const char* what;
    std::string html;
  };
  std::vector<Case> cases;
  cases.push_back({"100k nested divs", repeat("<div>", 100000) + "profond"});
  cases.push_back({"100k nested divs closed by 100k unknown tags",
                   repeat("<div>", 100000) + repeat("</span>", 100000)});
  cases.push_back({"10 MB of tags", repeat("<span></span>", 10 * 1024 * 1024 / 13)});
  cases.push_back({"10 MB of short elements", repeat("<b>x</b><i>y</i> ", 10 * 1024 * 1024 / 17)});
  cases.push_back({"unclosed inline elements", repeat("<b>mot ", 400000)});
  cases.push_back({"one 3 MB text node", repeat("a", 3 * 1024 * 1024)});
  cases.push_back({"a 2 MB attribute", "<p title=\"" + repeat("x", 2 * 1024 * 1024) + "\">t</p>"});
  cases.push_back({"200k list items", "<ul>" + repeat("<li>", 200000) + "</ul>"});
  for (const Case& c : cases) {
    const auto t0 = Clock::now();
    const HtmlText r = htmlText(c.html);
    EXPECT_LT(secondsSince(t0), 10.0) << c.what;
    EXPECT_LE(r.text.size(), kHtmlTextMaxBytes) << c.what;
    EXPECT_TRUE(isValidUtf8(r.text)) << c.what;
  }
  // Too deep: the text read before the bound is kept, and the cut is reported.
  const HtmlText deep = htmlText("<p>début</p>" + repeat("<div>", 100000) + "profond");
  EXPECT_TRUE(deep.truncated);
  EXPECT_EQ(deep.text, "début");
  const HtmlText shallow = htmlText(repeat("<div>", 100) + "profond");
  EXPECT_FALSE(shallow.truncated);
  EXPECT_EQ(shallow.text, "profond");
  // Beyond kHtmlInputMaxBytes the input is not read.
  const HtmlText huge = htmlText(repeat("<i></i>", kHtmlInputMaxBytes / 7 + 10) + "<p>caché</p>");
  EXPECT_TRUE(huge.truncated);
  EXPECT_EQ(huge.text, "");
}

// libxml2 is initialised once, whichever thread comes first; conversions share nothing.
TEST(HtmlText, ConcurrentConversionsAgree) {
  const std::string html = "<ul><li>un</li><li><a href=\"https://a.example\">deux</a></li></ul>";
  const std::string expected = "- un\n- deux <https://a.example>";
  std::vector<std::string> results(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 200; ++k)
        results[i] = htmlToText(html);
    });
  for (auto& t : threads)
    t.join();
  for (const auto& r : results)
    EXPECT_EQ(r, expected);
}

}  // namespace
}  // namespace liaison::parse
