#include "parse/text/html_text.hpp"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "parse/text/encoding.hpp"

namespace liaison::parse {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kNoBreakSpace = "\xC2\xA0";     // U+00A0
constexpr std::size_t kMaxHref = 2048;

// The longest prefix of `s` of at most `n` bytes that does not end inside a UTF-8 sequence
// (bytes that are not UTF-8 at all are cut anywhere).
std::size_t utf8Floor(std::string_view s, std::size_t n) {
  if (n >= s.size()) return s.size();
  for (std::size_t back = 0; back < 4 && back <= n; ++back)
    if ((static_cast<unsigned char>(s[n - back]) & 0xC0) != 0x80) return n - back;
  return n;
}

// Length of the well-formed UTF-8 sequence (RFC 3629) that starts at s[i], 0 when there is none.
std::size_t sequenceLength(std::string_view s, std::size_t i) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto in = [](unsigned char c, unsigned char lo, unsigned char hi) { return c >= lo && c <= hi; };
  const unsigned char c = at(0);
  const std::size_t left = s.size() - i;
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return left >= 2 && in(at(1), 0x80, 0xBF) ? 2 : 0;
  if (c < 0xF0) {
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return left >= 3 && in(at(1), lo, hi) && in(at(2), 0x80, 0xBF) ? 3 : 0;
  }
  if (c < 0xF5) {
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return left >= 4 && in(at(1), lo, hi) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

bool isControl(unsigned char c) {
  return c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f';
}

// What the parser is given: UTF-8 it cannot misread. An invalid byte or a NUL becomes U+FFFD,
// other C0 controls are dropped (libxml2 would report them and recover in its own way).
std::string cleanInput(std::string_view s) {
  bool clean = isValidUtf8(s);
  for (std::size_t i = 0; clean && i < s.size(); ++i)
    clean = !isControl(static_cast<unsigned char>(s[i])) && s[i] != '\0';
  if (clean) return std::string(s);
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0) {
      out += kReplacement;
      ++i;
    } else if (isControl(c)) {
      ++i;
    } else if (const std::size_t n = sequenceLength(s, i); n == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

std::string_view trimAscii(std::string_view s) {
  while (!s.empty() && isSpace(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back()))
    s.remove_suffix(1);
  return s;
}

// Line breaking and white space, as a browser lays text out.
class TextSink {
 public:
  explicit TextSink(std::size_t limit) : limit_(limit) {}

  bool full() const { return full_; }
  std::size_t size() const { return out_.size(); }
  std::string_view since(std::size_t from) const {
    return std::string_view(out_).substr(std::min(from, out_.size()));
  }

  // At least `lines` line ends before the next text (2: an empty line between).
  void breakLine(int lines) {
    if (lines > pending_break_) pending_break_ = lines;
    pending_space_ = false;
  }

  // <br>: one more line end.
  void lineBreak() {
    if (out_.empty()) return;
    flushBreak();
    append("\n");
    pending_space_ = false;
  }

  void text(std::string_view s, bool preformatted) {
    if (preformatted)
      preformattedText(s);
    else
      flowingText(s);
  }

  // A list marker: written at once, no space before it.
  void marker(std::string_view m) {
    startContent(false);
    append(m);
  }

  // Between two cells of a table row.
  void cellSeparator() {
    startContent(false);
    append(atLineStart() || out_.back() == ' ' ? "| " : " | ");
  }

  // Inline text outside the document's own (a link's target): spaced like a word.
  void word(std::string_view w) {
    pending_space_ = true;
    startContent(true);
    append(w);
  }

  int quote_depth = 0;

  // Lines without trailing blanks, at most one empty line in a row, no empty line first or last.
  std::string finish() const {
    std::string result;
    result.reserve(out_.size());
    bool any = false, blank = false;
    std::string_view rest = out_;
    for (;;) {
      const std::size_t end = rest.find('\n');
      std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      for (;;) {
        if (!line.empty() && isSpace(line.back())) {
          line.remove_suffix(1);
        } else if (line.size() >= kNoBreakSpace.size() &&
                   line.substr(line.size() - kNoBreakSpace.size()) == kNoBreakSpace) {
          line.remove_suffix(kNoBreakSpace.size());
        } else {
          break;
        }
      }
      if (line.empty()) {
        blank = any;
      } else {
        if (any) result += blank ? "\n\n" : "\n";
        result.append(line);
        any = true;
        blank = false;
      }
      if (rest.empty()) break;
    }
    return result;
  }

 private:
  void flowingText(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size() && !full_) {
      if (isSpace(s[i])) {
        pending_space_ = true;
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < s.size() && !isSpace(s[j]))
        ++j;
      startContent(true);
      append(s.substr(i, j - i));
      i = j;
    }
  }

  void preformattedText(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size() && !full_) {
      if (s[i] == '\r' || s[i] == '\n') {
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
        ++i;
        startContent(false);
        append("\n");
        continue;
      }
      std::size_t j = i;
      while (j < s.size() && s[j] != '\r' && s[j] != '\n')
        ++j;
      startContent(false);
      append(s.substr(i, j - i));
      i = j;
    }
  }

  bool atLineStart() const { return out_.empty() || out_.back() == '\n'; }

  void flushBreak() {
    if (!out_.empty())
      while (trailing_newlines_ < pending_break_ && !full_)
        append("\n");
    pending_break_ = 0;
  }

  // Before text: the pending line ends, the quote marks of a new line, the pending space.
  void startContent(bool spaced) {
    flushBreak();
    if (atLineStart()) {
      for (int q = 0; q < quote_depth; ++q)
        append("> ");
    } else if (spaced && pending_space_ && out_.back() != ' ') {
      append(" ");
    }
    pending_space_ = false;
  }

  void append(std::string_view s) {
    if (full_ || s.empty()) return;
    if (out_.size() + s.size() > limit_) {
      s = s.substr(0, utf8Floor(s, limit_ - out_.size()));
      full_ = true;
    }
    out_.append(s);
    const std::size_t last = s.find_last_not_of('\n');
    if (last == std::string_view::npos)
      trailing_newlines_ += static_cast<int>(s.size());
    else
      trailing_newlines_ = static_cast<int>(s.size() - last - 1);
  }

  std::string out_;
  std::size_t limit_;
  int pending_break_ = 0;
  int trailing_newlines_ = 0;
  bool pending_space_ = false;
  bool full_ = false;
};

enum class Kind {
  Inline,
  Hidden,     // not shown: its whole content is dropped
  Block,      // on its own lines
  Paragraph,  // on its own lines, an empty line before and after
  LineBreak,
  UnorderedList,
  OrderedList,
  ListItem,
  Table,
  Row,
  Cell,
  Preformatted,
  Quote,
  Link,
};

Kind kindOf(std::string_view name) {
  struct Group {
    Kind kind;
    std::initializer_list<std::string_view> names;
  };
  static const auto kinds = [] {
    std::unordered_map<std::string_view, Kind> map;
    for (const Group& g : {
             Group{Kind::Hidden,
                   {"head", "title", "script", "style", "template", "noscript", "xml", "iframe",
                    "object", "svg", "math", "select"}},
             Group{Kind::Block, {"html",       "body",   "div",     "center",  "article", "aside",
                                 "footer",     "header", "main",    "nav",     "section", "form",
                                 "dd",         "dt",     "caption", "details", "summary", "dialog",
                                 "figcaption", "hgroup", "legend",  "thead",   "tbody",   "tfoot"}},
             Group{Kind::Paragraph,
                   {"p", "h1", "h2", "h3", "h4", "h5", "h6", "dl", "figure", "address", "fieldset",
                    "hr"}},
             Group{Kind::LineBreak, {"br"}},
             Group{Kind::UnorderedList, {"ul", "menu", "dir"}},
             Group{Kind::OrderedList, {"ol"}},
             Group{Kind::ListItem, {"li"}},
             Group{Kind::Table, {"table"}},
             Group{Kind::Row, {"tr"}},
             Group{Kind::Cell, {"td", "th"}},
             Group{Kind::Preformatted, {"pre", "listing", "xmp", "plaintext", "textarea"}},
             Group{Kind::Quote, {"blockquote"}},
             Group{Kind::Link, {"a"}},
         })
      for (const std::string_view n : g.names)
        map.emplace(n, g.kind);
    return map;
  }();
  const auto it = kinds.find(name);
  return it == kinds.end() ? Kind::Inline : it->second;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// Whether a link's target says more than its text: an http(s) or mailto URL it does not show.
bool targetWorthShowing(std::string_view href, std::string_view text) {
  if (text.empty() || href.empty() || href.size() > kMaxHref) return false;
  for (const char c : href)
    if (isSpace(c)) return false;
  const bool mailto = startsWithNoCase(href, "mailto:");
  if (!mailto && !startsWithNoCase(href, "http://") && !startsWithNoCase(href, "https://"))
    return false;
  if (text == href) return false;
  if (mailto && text == href.substr(7)) return false;
  auto noSlash = [](std::string_view s) {
    return !s.empty() && s.back() == '/' ? s.substr(0, s.size() - 1) : s;
  };
  return noSlash(text) != noSlash(href);
}

std::string_view view(const xmlChar* s) {
  return s == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(s));
}

// The SAX side: libxml2 calls these while it parses; no tree is built.
class Converter {
 public:
  Converter(htmlParserCtxtPtr ctxt, std::size_t limit) : ctxt_(ctxt), sink_(limit) {}

  bool stopped() const { return stopped_; }
  const TextSink& sink() const { return sink_; }

  void start(std::string_view name, const xmlChar** atts) {
    if (++depth_ > kHtmlMaxDepth) return stop();
    tagSeen();
    const Kind kind = kindOf(name);
    if (hidden_ > 0) {
      if (kind == Kind::Hidden) ++hidden_;
      return;
    }
    switch (kind) {
      case Kind::Inline:
        break;
      case Kind::Hidden:
        ++hidden_;
        break;
      case Kind::Block:
        sink_.breakLine(1);
        break;
      case Kind::Paragraph:
        sink_.breakLine(2);
        break;
      case Kind::LineBreak:
        sink_.lineBreak();
        break;
      case Kind::UnorderedList:
      case Kind::OrderedList:
        sink_.breakLine(lists_.empty() ? 2 : 1);
        lists_.push_back(List{kind == Kind::OrderedList, 0});
        break;
      case Kind::ListItem: {
        sink_.breakLine(1);
        std::string marker(lists_.empty() ? 0 : 2 * (lists_.size() - 1), ' ');
        if (!lists_.empty() && lists_.back().ordered)
          marker += std::to_string(++lists_.back().items) + ". ";
        else
          marker += "- ";
        sink_.marker(marker);
        break;
      }
      case Kind::Table:
        sink_.breakLine(2);
        cells_.push_back(0);
        break;
      case Kind::Row:
        sink_.breakLine(1);
        if (!cells_.empty()) cells_.back() = 0;
        break;
      case Kind::Cell:
        if (!cells_.empty() && cells_.back()++ > 0) sink_.cellSeparator();
        break;
      case Kind::Preformatted:
        sink_.breakLine(2);
        ++preformatted_;
        break;
      case Kind::Quote:
        sink_.breakLine(2);
        ++sink_.quote_depth;
        break;
      case Kind::Link:
        if (link_open_) break;  // a link inside a link: the outer one keeps the target
        link_open_ = true;
        link_depth_ = depth_;
        link_start_ = sink_.size();
        link_href_.clear();
        for (const xmlChar** a = atts; a != nullptr && a[0] != nullptr; a += 2)
          if (view(a[0]) == "href") link_href_ = std::string(trimAscii(view(a[1])));
        break;
    }
    if (sink_.full()) stop();
  }

  void end(std::string_view name) {
    if (depth_ > 0) --depth_;
    tagSeen();
    const Kind kind = kindOf(name);
    if (hidden_ > 0) {
      if (kind == Kind::Hidden) --hidden_;
      return;
    }
    switch (kind) {
      case Kind::Inline:
      case Kind::Hidden:
      case Kind::LineBreak:
      case Kind::Cell:
        break;
      case Kind::Block:
      case Kind::ListItem:
      case Kind::Row:
        sink_.breakLine(1);
        break;
      case Kind::Paragraph:
        sink_.breakLine(2);
        break;
      case Kind::UnorderedList:
      case Kind::OrderedList:
        if (!lists_.empty()) lists_.pop_back();
        sink_.breakLine(lists_.empty() ? 2 : 1);
        break;
      case Kind::Table:
        if (!cells_.empty()) cells_.pop_back();
        sink_.breakLine(2);
        break;
      case Kind::Preformatted:
        if (preformatted_ > 0) --preformatted_;
        sink_.breakLine(2);
        break;
      case Kind::Quote:
        if (sink_.quote_depth > 0) --sink_.quote_depth;
        sink_.breakLine(2);
        break;
      case Kind::Link:
        if (!link_open_ || depth_ + 1 != link_depth_) break;
        link_open_ = false;
        if (targetWorthShowing(link_href_, trimAscii(sink_.since(link_start_))))
          sink_.word("<" + link_href_ + ">");
        break;
    }
    if (sink_.full()) stop();
  }

  // Text, minus what HTML5 calls bogus comments ("<!" up to ">"), which libxml2's HTML 4 parser
  // passes on as text: Outlook's downlevel-revealed conditionals <![if !supportLists]> and
  // <![endif]> around list bullets. libxml2 hands a "<" that starts no tag over on its own.
  void characters(std::string_view s) {
    if (hidden_ > 0) return;
    std::size_t i = 0;
    while (i < s.size() && !sink_.full()) {
      if (in_bogus_comment_) {
        const std::size_t gt = s.find('>', i);
        if (gt == std::string_view::npos) return;
        in_bogus_comment_ = false;
        i = gt + 1;
        continue;
      }
      if (pending_lt_) {
        pending_lt_ = false;
        if (s[i] == '!') {
          in_bogus_comment_ = true;
          ++i;
          continue;
        }
        emit("<");
      }
      const std::size_t lt = s.find('<', i);
      emit(s.substr(i, lt == std::string_view::npos ? std::string_view::npos : lt - i));
      if (lt == std::string_view::npos) break;
      if (lt + 1 == s.size()) {
        pending_lt_ = true;
        break;
      }
      if (s[lt + 1] == '!') {
        in_bogus_comment_ = true;
        i = lt + 2;
      } else {
        emit("<");
        i = lt + 1;
      }
    }
    if (sink_.full()) stop();
  }

 private:
  struct List {
    bool ordered;
    int items;
  };

  void stop() {
    stopped_ = true;
    xmlStopParser(ctxt_);
  }

  void emit(std::string_view s) { sink_.text(s, preformatted_ > 0); }

  // A tag ends a bogus comment (HTML5 ends it at the tag's ">"), and shows a held "<".
  void tagSeen() {
    in_bogus_comment_ = false;
    if (pending_lt_ && hidden_ == 0) emit("<");
    pending_lt_ = false;
  }

  htmlParserCtxtPtr ctxt_;
  TextSink sink_;
  std::size_t depth_ = 0;
  int hidden_ = 0;
  int preformatted_ = 0;
  std::vector<List> lists_;
  std::vector<int> cells_;  // per open table: the cells seen in its current row
  bool link_open_ = false;
  std::size_t link_depth_ = 0;
  std::size_t link_start_ = 0;
  std::string link_href_;
  bool pending_lt_ = false;        // a "<" whose next character decides what it is
  bool in_bogus_comment_ = false;  // inside "<!…>" that is neither a comment nor a doctype
  bool stopped_ = false;
};

Converter& converterOf(void* ctx) {
  return *static_cast<Converter*>(ctx);
}

void onStart(void* ctx, const xmlChar* name, const xmlChar** atts) {
  converterOf(ctx).start(view(name), atts);
}
void onEnd(void* ctx, const xmlChar* name) {
  converterOf(ctx).end(view(name));
}
void onText(void* ctx, const xmlChar* text, int length) {
  if (length > 0)
    converterOf(ctx).characters(
        std::string_view(reinterpret_cast<const char*>(text), static_cast<std::size_t>(length)));
}

void initLibxml2() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

}  // namespace

HtmlText htmlText(std::string_view html, std::size_t max_bytes) {
  HtmlText result;
  if (html.size() > kHtmlInputMaxBytes) {
    html = html.substr(0, utf8Floor(html, kHtmlInputMaxBytes));
    // Not inside a tag: a tag cut in two would show as text.
    if (const std::size_t lt = html.rfind('<');
        lt != std::string_view::npos && html.find('>', lt) == std::string_view::npos)
      html = html.substr(0, lt);
    result.truncated = true;
  }
  if (trimAscii(html).empty() || max_bytes == 0) return result;
  const std::string input = cleanInput(html);
  initLibxml2();

  htmlParserCtxtPtr ctxt = htmlCreateMemoryParserCtxt(input.data(), static_cast<int>(input.size()));
  if (ctxt == nullptr || ctxt->sax == nullptr) {
    if (ctxt != nullptr) htmlFreeParserCtxt(ctxt);
    result.truncated = true;
    return result;
  }
  // Only what the text needs: no tree, no DTD, no entity resolution, no error reports.
  std::memset(ctxt->sax, 0, sizeof(*ctxt->sax));
  ctxt->sax->initialized = 1;
  ctxt->sax->startElement = onStart;
  ctxt->sax->endElement = onEnd;
  ctxt->sax->characters = onText;
  ctxt->sax->cdataBlock = onText;
  ctxt->sax->ignorableWhitespace = onText;
  // Room for the final clean-up (trailing blanks, empty lines) to shorten the text.
  Converter converter(ctxt, max_bytes + max_bytes / 8 + 64);
  ctxt->userData = &converter;
  htmlCtxtUseOptions(ctxt, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                               HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC);
  xmlSwitchEncoding(ctxt, XML_CHAR_ENCODING_UTF8);
  htmlParseDocument(ctxt);
  if (ctxt->myDoc != nullptr) xmlFreeDoc(ctxt->myDoc);  // none without a tree builder; defensive
  ctxt->myDoc = nullptr;
  htmlFreeParserCtxt(ctxt);

  result.text = converter.sink().finish();
  if (converter.stopped()) result.truncated = true;
  if (result.text.size() > max_bytes) {
    result.text.resize(utf8Floor(result.text, max_bytes));
    while (!result.text.empty() && isSpace(result.text.back()))  // the cut may end on a line end
      result.text.pop_back();
    result.truncated = true;
  }
  return result;
}

std::string htmlToText(std::string_view html, std::size_t max_bytes) {
  return htmlText(html, max_bytes).text;
}

}  // namespace liaison::parse
