#pragma once
// HTML mail bodies → the plain text a reader sees, with libxml2's HTML parser (a real parser,
// never regular expressions on markup). Pure: no network, no files, no global state but
// libxml2's one-time initialisation.

#include <cstddef>
#include <string>
#include <string_view>

namespace liaison::parse {

inline constexpr std::size_t kHtmlTextMaxBytes = std::size_t{1} << 20;
// Input beyond this is not read (cut on a UTF-8 boundary): an HTML mail body is far smaller,
// and the parser's time grows with it (about 0.2 s per MiB of hostile markup).
inline constexpr std::size_t kHtmlInputMaxBytes = std::size_t{8} << 20;
// Parsing stops at an element nested deeper than this: the parser's work per closing tag grows
// with the depth (quadratic on hostile input), and mail HTML stays far shallower.
inline constexpr std::size_t kHtmlMaxDepth = 256;

struct HtmlText {
  std::string text;
  // Something was left out: the input, the output or the nesting depth reached its bound.
  bool truncated = false;
};

// The text of an HTML document or fragment (UTF-8 in, UTF-8 out):
// - what a reader does not see is dropped: head, title, script, style, template, noscript
//   (and iframe, object, svg, math, select, Outlook's <xml> islands), comments (Outlook's
//   conditional comments too), processing instructions, the doctype;
// - entities and character references are decoded (&eacute; → é, &nbsp; → U+00A0);
// - white space collapses as in a browser, except inside pre, textarea, listing and xmp;
// - block elements (p, div, h1–h6, li, tr, table, blockquote, pre, …) start and end a line;
//   paragraphs, headings, lists, tables, block quotes and pre are set off by an empty line;
//   <br> is a line break;
// - list items start with "- " (ordered lists: "1. ", "2. " …), indented by two spaces per
//   nesting level; the cells of a table row are separated by " | "; block quotes prefix their
//   lines with "> ";
// - a link keeps its text, followed by its target in angle brackets when the target is an
//   http, https or mailto URL that differs from the text;
// - lines lose their trailing blanks (U+00A0 included), at most one empty line follows another
//   line, and the result is trimmed.
// Bytes that are not UTF-8 become U+FFFD, as do NULs; a <meta charset> is ignored (the body is
// UTF-8 by the time it gets here). The text is at most `max_bytes` long, cut on a UTF-8
// boundary; parsing stops once that much text is out. Never throws; "" when there is no
// visible text.
HtmlText htmlText(std::string_view html, std::size_t max_bytes = kHtmlTextMaxBytes);

// htmlText(html, max_bytes).text
std::string htmlToText(std::string_view html, std::size_t max_bytes = kHtmlTextMaxBytes);

}  // namespace liaison::parse
