// The fiche de demande as plain text, as people really fill it: "Libellé : valeur" fields, one
// or several per line (the paper form's two columns, its rows of yes/no questions), headings
// that open a section, checkbox marks before or after the options ([x], ☒, X, (x), ■, "Oui: X"),
// statements with their box ("☒ J'atteste…"), free text that runs over the next lines, and the
// soft line breaks of mail clients. Every word it matches is the Questionnaire's (item labels and
// aliases, group headings, option designations): none is written here.

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "parse/form/form_parser.hpp"
#include "parse/form/value_parser.hpp"
#include "parse/text/encoding.hpp"

namespace liaison::parse {
namespace {

using form::AnswerValue;
using form::Item;
using form::ItemType;

constexpr std::size_t kNoItem = static_cast<std::size_t>(-1);
// The label index's entry for the line that dates the request ("Date :").
constexpr std::size_t kAuthored = kNoItem - 1;

bool isBlank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

// Also strips the no-break spaces (U+00A0, U+202F) that mail clients leave around values.
std::string_view trim(std::string_view s) {
  for (;;) {
    if (!s.empty() && isBlank(s.front())) {
      s.remove_prefix(1);
    } else if (s.starts_with("\xC2\xA0")) {
      s.remove_prefix(2);
    } else if (s.starts_with("\xE2\x80\xAF")) {
      s.remove_prefix(3);
    } else {
      break;
    }
  }
  for (;;) {
    if (!s.empty() && isBlank(s.back())) {
      s.remove_suffix(1);
    } else if (s.ends_with("\xC2\xA0")) {
      s.remove_suffix(2);
    } else if (s.ends_with("\xE2\x80\xAF")) {
      s.remove_suffix(3);
    } else {
      break;
    }
  }
  return s;
}

enum class Mark : std::uint8_t { None, Checked, Unchecked };

// Recognises a checkbox mark at the start of `s`; sets `len` to its byte length.
Mark markAt(std::string_view s, std::size_t& len) {
  // Every mark starts with '[', '(' or a UTF-8 symbol (0xE2 …): most characters are not one.
  if (s.empty() || (s[0] != '[' && s[0] != '(' && s[0] != '\xE2')) return Mark::None;
  static constexpr std::array<std::pair<std::string_view, Mark>, 28> kMarks = {{
      {"[x]", Mark::Checked},
      {"[X]", Mark::Checked},
      {"[ x ]", Mark::Checked},
      {"[ X ]", Mark::Checked},
      {"[x ]", Mark::Checked},
      {"[ x]", Mark::Checked},
      {"[X ]", Mark::Checked},
      {"[ X]", Mark::Checked},
      {"[v]", Mark::Checked},
      {"[V]", Mark::Checked},
      {"[*]", Mark::Checked},
      {"(x)", Mark::Checked},
      {"(X)", Mark::Checked},
      {"[\xE2\x9C\x93]", Mark::Checked},  // [✓]
      {"\xE2\x98\x92", Mark::Checked},    // ☒
      {"\xE2\x98\x91", Mark::Checked},    // ☑
      {"\xE2\x9C\x93", Mark::Checked},    // ✓
      {"\xE2\x9C\x94", Mark::Checked},    // ✔
      {"\xE2\x9C\x97", Mark::Checked},    // ✗
      {"\xE2\x96\xA0", Mark::Checked},    // ■
      {"[ ]", Mark::Unchecked},
      {"[]", Mark::Unchecked},
      {"( )", Mark::Unchecked},
      {"[  ]", Mark::Unchecked},
      {"\xE2\x98\x90", Mark::Unchecked},  // ☐
      {"\xE2\x96\xA1", Mark::Unchecked},  // □
      {"()", Mark::Unchecked},
      {"\xE2\x9D\x8F", Mark::Unchecked},  // ❏
  }};
  for (const auto& [text, mark] : kMarks) {
    if (s.substr(0, text.size()) == text) {
      len = text.size();
      return mark;
    }
  }
  return Mark::None;
}

// A lone "X" between spaces is a ticked box ("X Oui", "Oui X  Non").
bool standaloneX(std::string_view s, std::size_t i) {
  if (s[i] != 'X' && s[i] != 'x') return false;
  bool before = i == 0 || isBlank(s[i - 1]) || s[i - 1] == ':';
  bool after = i + 1 == s.size() || isBlank(s[i + 1]) || s[i + 1] == ',';
  return before && after;
}

struct Segment {
  Mark mark;
  std::string_view label;
};

// Where the options of one question part: a tab, a run of spaces, a middle dot ("Dépistage IC ☐
// · Dépistage HTA ☒"). Single spaces stay inside an option ("Suivi trouble du rythme").
std::size_t groupBreak(std::string_view s, std::size_t from, std::size_t& len) {
  for (std::size_t i = from; i < s.size(); ++i) {
    if (s[i] == '\t' || (s[i] == ' ' && i + 1 < s.size() && s[i + 1] == ' ')) {
      len = 1;
      while (i + len < s.size() && isBlank(s[i + len]))
        ++len;
      return i;
    }
    if (s.substr(i, 2) == "\xC2\xB7" || s[i] == '|') {
      len = s[i] == '|' ? 1 : 2;
      return i;
    }
  }
  return std::string_view::npos;
}

std::string_view firstGroup(std::string_view s) {
  std::size_t len = 0;
  for (std::size_t from = 0;;) {
    std::size_t at = groupBreak(s, from, len);
    std::string_view g =
        trim(s.substr(from, at == std::string_view::npos ? s.size() - from : at - from));
    if (!g.empty() || at == std::string_view::npos) return g;
    from = at + len;
  }
}

std::string_view lastGroup(std::string_view s) {
  std::size_t len = 0;
  std::string_view last;
  for (std::size_t from = 0;;) {
    std::size_t at = groupBreak(s, from, len);
    std::string_view g =
        trim(s.substr(from, at == std::string_view::npos ? s.size() - from : at - from));
    if (!g.empty()) last = g;
    if (at == std::string_view::npos) return last;
    from = at + len;
  }
}

// Splits "[x] Oui [ ] Non", "Oui ☒ Non ☐", "X Oui  Non", "Oui  X Non" or "Oui: X Non:" into
// (mark, label) pairs; empty when there is no mark. A box goes with the label after it when the
// text starts with a box, else with the label before it; a lone X goes with the nearer label
// when the spacing tells. With `colon_marks`, "Oui: X" ticks Oui and a bare "Non:" leaves Non
// unticked (values only: elsewhere a colon ends a label).
std::vector<Segment> splitMarks(std::string_view value, bool colon_marks) {
  enum class Side : std::uint8_t { Layout, Before, After };
  struct Token {
    Mark mark;
    std::string_view text;
    Side side = Side::Layout;
  };
  std::vector<Token> tokens;
  std::size_t text_start = 0;
  bool any_mark = false;
  std::size_t i = 0;
  auto flush = [&](std::size_t end) {
    auto t = trim(value.substr(text_start, end - text_start));
    if (!t.empty()) tokens.push_back({Mark::None, t});
  };
  while (i < value.size()) {
    std::size_t len = 0;
    Side side = Side::Layout;
    Mark m = markAt(value.substr(i), len);
    if (m == Mark::None && standaloneX(value, i)) {
      m = Mark::Checked;
      len = 1;
      std::size_t before = 0;
      while (before < i && isBlank(value[i - 1 - before]))
        ++before;
      std::size_t after = 0;
      while (i + 1 + after < value.size() && isBlank(value[i + 1 + after]))
        ++after;
      // "X Oui": Oui; "Oui X": Oui; "Oui  X Non": the nearer one, Non; "Oui X Non": the layout's.
      if (trim(value.substr(0, i)).empty()) {
        side = Side::After;
      } else if (trim(value.substr(i + 1)).empty()) {
        side = Side::Before;
      } else if (after < before) {
        side = Side::After;
      } else if (before < after) {
        side = Side::Before;
      }
    }
    if (m == Mark::None && colon_marks && value[i] == ':') {
      std::size_t j = i + 1;
      while (j < value.size() && isBlank(value[j]))
        ++j;
      side = Side::Before;
      if (j < value.size() && standaloneX(value, j)) {
        m = Mark::Checked;
        len = j + 1 - i;
      } else {
        m = Mark::Unchecked;
        len = 1;
      }
    }
    if (m != Mark::None) {
      flush(i);
      tokens.push_back({m, {}, side});
      any_mark = true;
      i += len;
      text_start = i;
    } else {
      ++i;
    }
  }
  flush(value.size());
  std::vector<Segment> out;
  if (!any_mark) return out;
  const bool marks_first = tokens.front().mark != Mark::None;
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    if (tokens[k].mark == Mark::None) continue;
    Side side = tokens[k].side;
    if (side == Side::Layout) side = marks_first ? Side::After : Side::Before;
    std::string_view label;
    if (side == Side::After && k + 1 < tokens.size() && tokens[k + 1].mark == Mark::None) {
      label = firstGroup(tokens[k + 1].text);
    } else if (side == Side::Before && k > 0 && tokens[k - 1].mark == Mark::None) {
      label = lastGroup(tokens[k - 1].text);
    }
    if (label.empty() && !marks_first && side == Side::Before) continue;  // a stray box
    out.push_back({tokens[k].mark, label});
  }
  return out;
}

// Removes list bullets and numbering before a label: "- ", "* ", "• ", "1. ", "a) ", "## ".
std::string_view stripBullet(std::string_view s) {
  s = trim(s);
  for (;;) {
    if (!s.empty() && (s[0] == '-' || s[0] == '*' || s[0] == '#' || s[0] == '>' || s[0] == '=')) {
      s = trim(s.substr(1));
      continue;
    }
    if (s.substr(0, 3) == "\xE2\x80\xA2") {  // •
      s = trim(s.substr(3));
      continue;
    }
    std::size_t k = 0;
    while (k < s.size() && k < 3 &&
           ((s[k] >= '0' && s[k] <= '9') || (k == 0 && s[k] >= 'a' && s[k] <= 'h')))
      ++k;
    if (k > 0 && k < s.size() && (s[k] == '.' || s[k] == ')') && k + 1 < s.size() &&
        s[k + 1] == ' ') {
      s = trim(s.substr(k + 1));
      continue;
    }
    return s;
  }
}

// Decoration lines ("-----", "=====") have neither; non-ASCII counts as a letter.
bool hasLetterOrDigit(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((u >= '0' && u <= '9') || ((u | 0x20) >= 'a' && (u | 0x20) <= 'z') || u >= 0xC0)
      return true;
  }
  return false;
}

bool isAsciiAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

// Whether a label may start at byte `at` of `line`: at its start, or after a blank, a
// separator or a box — not inside a word ("d'HTA", "thrombo-embolique").
bool labelMayStartAt(std::string_view line, std::size_t at) {
  auto c = static_cast<unsigned char>(line[at]);
  if ((c & 0xC0) == 0x80 || isBlank(line[at])) return false;  // inside a character, or a blank
  if (at == 0) return true;
  std::size_t p = at - 1;
  while (p > 0 && (static_cast<unsigned char>(line[p]) & 0xC0) == 0x80)
    --p;
  auto prev = static_cast<unsigned char>(line[p]);
  if (prev < 0x80) return !isAsciiAlnum(prev) && prev != '\'' && prev != '-' && prev != '.';
  // A Latin letter (U+00C0..U+024F: 0xC3..0xC9 lead bytes) or ’ continues a word.
  if (prev >= 0xC3 && prev <= 0xC9) return false;
  return line.substr(p, 3) != "\xE2\x80\x99";
}

// Whether a line ends with words that wait for their box (the paper form puts it after them).
bool awaitsBox(std::string_view text) {
  std::size_t tail = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::size_t len = 0;
    if (markAt(text.substr(i), len) != Mark::None) tail = i + len;
  }
  return hasLetterOrDigit(text.substr(tail));
}

// "lignes 12-13" for a line joined from "ligne 12" and "ligne 13"; other origins side by side.
std::string joinOrigins(const std::string& first, const std::string& last) {
  auto number = [](const std::string& o) -> std::string {
    if (o.rfind("ligne ", 0) == 0) return o.substr(6);
    if (o.rfind("lignes ", 0) == 0) return o.substr(7, o.find('-') - 7);
    return {};
  };
  std::string a = number(first);
  std::string b = number(last);
  if (!a.empty() && !b.empty()) {
    if (last.rfind("lignes ", 0) == 0) b = last.substr(last.find('-') + 1);
    return "lignes " + a + "-" + b;
  }
  return first + " + " + last;
}

// Splits decoded text into lines ("\r\n", "\n" or "\r" alone), origin "ligne N" from 1.
std::vector<FormLine> splitLines(std::string_view text) {
  std::vector<FormLine> lines;
  std::size_t pos = 0;
  std::size_t n = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back({std::string(text.substr(pos, end - pos)), "ligne " + std::to_string(++n)});
    if (end + 1 < text.size() && text[end] == '\r' && text[end + 1] == '\n') ++end;
    pos = end + 1;
  }
  return lines;
}

// "FICTIF, 12 rue des Alpes, 38500 Voiron" → street, postal code and commune: the last
// five-digit number followed by words only (the commune, maybe "Cedex 9").
struct AddressParts {
  std::string street;
  std::string postal_code;
  std::string city;
};
std::optional<AddressParts> splitAddress(std::string_view address) {
  for (std::size_t at = address.size(); at-- > 0;) {
    if (at + 5 > address.size()) continue;
    bool five = true;
    for (std::size_t k = 0; k < 5; ++k)
      five = five && address[at + k] >= '0' && address[at + k] <= '9';
    if (!five) continue;
    if ((at > 0 && address[at - 1] >= '0' && address[at - 1] <= '9') ||
        (at + 5 < address.size() && address[at + 5] >= '0' && address[at + 5] <= '9'))
      continue;
    std::string_view city = trim(address.substr(at + 5));
    while (!city.empty() && (city.front() == ',' || city.front() == '-'))
      city = trim(city.substr(1));
    // The commune has letters; digits after the code are only a Cedex's number.
    std::string n = normalizeLabel(city);
    bool ok = true;
    for (std::size_t k = 0; k < n.size(); ++k) {
      if (n[k] >= '0' && n[k] <= '9' && n.find("cedex") == std::string::npos) ok = false;
    }
    if (!ok) return std::nullopt;
    std::string_view street = trim(address.substr(0, at));
    while (!street.empty() && (street.back() == ',' || street.back() == '-'))
      street = trim(street.substr(0, street.size() - 1));
    return AddressParts{std::string(street), std::string(address.substr(at, 5)), std::string(city)};
  }
  return std::nullopt;
}

struct OptionLabel {
  std::string norm;  // normalised, with spaces (prefix matching goes word by word)
  std::string key;   // compact
  std::size_t option;
};

// Where the reader is: the section the last heading opened, the section the last label only one
// section has put it in, the choice item whose options follow on their own lines, the free-text
// item that the next lines continue.
struct Context {
  std::size_t heading = kNoItem;
  std::size_t current = kNoItem;
  std::size_t list = kNoItem;
  std::size_t text = kNoItem;
  // A one-line item whose label ended the previous line with no value: a PDF's text, a form
  // typed in a table, put the value on the next line ("NIR (15 chiffres) :" / "2 55 06 …").
  std::size_t pending = kNoItem;
};

// A "Libellé :" found in a line: the label's first byte, the colon, what the label names.
struct Field {
  std::size_t begin;
  std::size_t colon;
  std::vector<std::size_t> candidates;
};

// The reader's tables, built once per Questionnaire.
struct Tables {
  const form::Questionnaire* q;
  // Compact key (labelKey) of every label, alias and heading → items and groups carrying it.
  std::unordered_map<std::string, std::vector<std::size_t>> labels;
  std::size_t max_label_bytes = 0;  // longest label as written, to bound the search before ':'
  std::size_t max_key = 0;          // longest key
  std::size_t max_suffix_key = 0;   // longest suffix word's key
  static constexpr std::size_t kTail = 3;
  std::unordered_set<std::string> tails;  // the last kTail characters of every key
  struct Suffix {
    std::string norm;  // normalised word ("fourni")
    std::string key;
    std::size_t group;
  };
  std::vector<Suffix> suffixes;
  std::vector<std::vector<OptionLabel>> option_labels;  // per item
  std::vector<std::size_t> section_of;                  // per item: its top-level group
  // Yes/no items whose label is a statement ("J'atteste avoir recueilli…"): normalised labels.
  std::vector<std::pair<std::string, std::size_t>> statements;
  std::unordered_set<std::string> titles;  // labelKey of the form's title and its aliases

  explicit Tables(const form::Questionnaire& questionnaire) : q(&questionnaire) {
    const auto& items = q->items();
    option_labels.resize(items.size());
    section_of.assign(items.size(), kNoItem);
    for (const Item& item : items) {
      std::size_t top = item.index;
      while (q->at(top).parent)
        top = *q->at(top).parent;
      section_of[item.index] = q->at(top).type == ItemType::Group ? top : kNoItem;
      for (std::size_t o = 0; o < item.options.size(); ++o) {
        for (std::string& label : optionLabels(item, o)) {
          std::string key = compactKey(label);
          option_labels[item.index].push_back({std::move(label), std::move(key), o});
        }
      }
      add(item.text, item.index);
      for (const auto& a : item.aliases)
        add(a, item.index);
      for (const auto& s : item.label_suffixes) {
        std::string n = normalizeLabel(s);
        if (n.empty()) continue;
        std::string key = compactKey(n);
        max_suffix_key = std::max(max_suffix_key, key.size());
        tails.insert(key.substr(key.size() > kTail ? key.size() - kTail : 0));
        suffixes.push_back({std::move(n), std::move(key), item.index});
      }
    }
    for (const std::string& label : q->authored_labels)
      add(label, kAuthored);
    for (const std::string* title : {&q->title})
      if (std::string key = labelKey(*title); !key.empty()) titles.insert(std::move(key));
    for (const std::string& title : q->title_aliases)
      if (std::string key = labelKey(title); !key.empty()) titles.insert(std::move(key));
  }

  void add(std::string_view label, std::size_t index) {
    for (const std::string& variant : {std::string(label), withoutParentheses(label)}) {
      std::string key = labelKey(variant);
      if (key.empty()) continue;
      max_key = std::max(max_key, key.size());
      tails.insert(key.substr(key.size() > kTail ? key.size() - kTail : 0));
      auto& v = labels[key];
      if (std::find(v.begin(), v.end(), index) == v.end()) v.push_back(index);
    }
    max_label_bytes = std::max(max_label_bytes, label.size());
    if (index != kAuthored && q->at(index).type == ItemType::Boolean) {
      std::string n = normalizeLabel(label);
      if (std::count(n.begin(), n.end(), ' ') >= 3) statements.emplace_back(std::move(n), index);
    }
  }

  bool within(std::size_t item, std::size_t group) const {
    for (std::optional<std::size_t> at = q->at(item).parent; at; at = q->at(*at).parent) {
      if (*at == group) return true;
    }
    return false;
  }

  // Items and groups a label names: as written, without its parenthesised parts, or followed by
  // one of its group's suffix words ("Ordonnances en cours Fourni").
  std::vector<std::size_t> lookup(std::string_view label) const {
    std::string n = normalizeLabel(label);
    if (n.empty()) return {};
    if (auto it = labels.find(compactKey(n)); it != labels.end()) return it->second;
    if (label.find('(') != std::string_view::npos) {
      if (auto it = labels.find(labelKey(withoutParentheses(label))); it != labels.end())
        return it->second;
    }
    for (const Suffix& suffix : suffixes) {
      const std::string& word = suffix.norm;
      if (n.size() <= word.size() + 1 || !n.ends_with(word) || n[n.size() - word.size() - 1] != ' ')
        continue;
      auto it = labels.find(compactKey(std::string_view(n).substr(0, n.size() - word.size())));
      if (it == labels.end()) continue;
      std::vector<std::size_t> out;
      for (std::size_t i : it->second) {
        if (i != kAuthored && within(i, suffix.group)) out.push_back(i);
      }
      if (!out.empty()) return out;
    }
    return {};
  }

  // The "Libellé :" of a line, left to right: before each colon, the longest text that is a
  // label and starts where a label may start. Colons inside values ("10:30", "Oui: X") name no
  // label and stay in the value. The text before a colon is folded once; each place a label may
  // start is then a tail of that key, looked up without folding again.
  std::vector<Field> fields(std::string_view line) const {
    std::vector<Field> out;
    std::size_t floor = 0;
    std::vector<std::uint32_t> offsets;
    std::string tail_key;
    for (std::size_t colon = line.find(':'); colon != std::string_view::npos;
         colon = line.find(':', colon + 1)) {
      const std::size_t limit = max_label_bytes + 32;
      const std::size_t from = colon > floor + limit ? colon - limit : floor;
      const std::string_view window = line.substr(from, colon - from);
      const std::string key = compactKeyWithOffsets(window, offsets);
      if (key.empty()) continue;
      // Most colons end no label: their key's last letters end none ("10:30").
      std::string_view last = trim(window);
      const bool parenthesis = !last.empty() && last.back() == ')';
      bool known_tail = false;
      for (std::size_t n = 1; n <= kTail && n <= key.size() && !known_tail; ++n)
        known_tail = tails.contains(key.substr(key.size() - n));
      if (!parenthesis && !known_tail) continue;
      bool suffixed = false;
      for (const Suffix& suffix : suffixes)
        suffixed = suffixed || key.ends_with(suffix.key);
      for (std::size_t start = from; start < colon; ++start) {
        if (!labelMayStartAt(line, start)) continue;
        const std::size_t k = offsets[start - from];
        if (k >= key.size() || key.size() - k > max_key + max_suffix_key) continue;
        tail_key.assign(key, k, std::string::npos);
        std::vector<std::size_t> found;
        if (auto it = labels.find(tail_key); it != labels.end()) {
          found = it->second;
        } else if (parenthesis || suffixed) {
          found = lookup(line.substr(start, colon - start));
        }
        if (found.empty()) continue;
        out.push_back({start, colon, std::move(found)});
        floor = colon + 1;
        break;
      }
    }
    return out;
  }

  // The section (top-level group) of a heading line, if the text names a group.
  std::optional<std::size_t> heading(std::string_view text) const {
    std::string_view t = stripBullet(text);
    while (!t.empty() && (t.back() == ':' || t.back() == '*' || t.back() == '=' ||
                          t.back() == '#' || isBlank(t.back())))
      t.remove_suffix(1);
    while (!t.empty() && (t.front() == '*' || t.front() == '#'))
      t.remove_prefix(1);
    for (std::size_t i : lookup(t)) {
      if (i != kAuthored && q->at(i).type == ItemType::Group) return i;
    }
    return std::nullopt;
  }

  // The one item among `candidates` that the context means; `clash` gets them all when the
  // label names several items of the context (or, outside it, of several sections).
  std::size_t resolve(const std::vector<std::size_t>& candidates, Context& ctx,
                      std::vector<std::size_t>& clash) const {
    clash.clear();
    std::vector<std::size_t> items;
    for (std::size_t c : candidates) {
      if (c != kAuthored && q->at(c).type != ItemType::Group) items.push_back(c);
    }
    for (std::size_t section : {ctx.current, ctx.heading}) {
      if (section == kNoItem) continue;
      std::vector<std::size_t> here;
      for (std::size_t i : items) {
        if (section_of[i] == section) here.push_back(i);
      }
      if (here.size() == 1) return here.front();
      if (here.size() > 1) {
        clash = std::move(here);
        return kNoItem;
      }
    }
    if (items.size() == 1) {
      ctx.current = section_of[items.front()];
      return items.front();
    }
    if (items.size() > 1) clash = std::move(items);
    return kNoItem;
  }

  std::string describe(std::size_t item) const {
    const Item& it = q->at(item);
    std::string s = "« ";
    if (it.parent) s += q->at(*it.parent).text + " › ";
    return s + it.text + " » (" + it.link_id + ")";
  }

  // --- options ---------------------------------------------------------------------------

  std::optional<form::Coding> optionNamed(const Item& item, std::string_view key) const {
    for (const OptionLabel& l : option_labels[item.index]) {
      if (l.key == key) return item.options[l.option];
    }
    return std::nullopt;
  }

  // An option whose label starts the normalised text ("oui 20 pa" → Oui; the rest in `rest`).
  std::optional<form::Coding> matchOptionPrefix(const Item& item, const std::string& n,
                                                std::string& rest) const {
    rest.clear();
    if (auto exact = optionNamed(item, compactKey(n))) return exact;
    std::optional<form::Coding> best;
    std::size_t best_len = 0;
    for (const OptionLabel& l : option_labels[item.index]) {
      const std::string& w = l.norm;
      if (w.empty() || w.size() <= best_len) continue;
      if (n.size() > w.size() && n.compare(0, w.size(), w) == 0 && n[w.size()] == ' ') {
        best = item.options[l.option];
        best_len = w.size();
      }
    }
    if (best) rest = n.substr(best_len + 1);
    return best;
  }
};

// One reading of a form: the reader's tables, the answers so far and where the reader is.
class Reading {
 public:
  Reading(const Tables& x, ParsedForm& out) : x_(x), q_(*x.q), out_(out) {}

  void line(std::string_view text, const std::string& origin);
  void finish();

  // Whether a line starts with something the reader knows (a label, a box, a heading): then a
  // soft line break before it ended a row rather than cut one.
  bool startsKnown(std::string_view text) const;
  bool standsAlone(std::string_view text) const;

  // Whether a line ending with a space (RFC 3676's soft break) continues on the next one: when
  // the next line cannot start a row, when this one cannot end one, or when this one's last
  // options wait for their boxes, which the next line starts with.
  bool continues(std::string_view text, std::string_view next) const {
    if (text.empty() || text.back() != ' ' || trim(next).empty() || !hasLetterOrDigit(text))
      return false;
    if (!startsKnown(next) || !standsAlone(text)) return true;
    std::size_t len = 0;
    return markAt(trim(next), len) != Mark::None && awaitsBox(text);
  }

 private:
  const Tables& x_;
  const form::Questionnaire& q_;
  ParsedForm& out_;
  Context ctx_;

  void unrecognised(const std::string& origin, std::string_view text, std::string message,
                    std::string expression = {}) {
    out_.issues.add(Errc::FormLineUnrecognised, std::move(message), std::move(expression), origin);
    out_.unrecognised.push_back({std::string(text), origin});
  }

  void invalid(const Item& item, const std::string& origin, const std::string& why) {
    out_.issues.add(Errc::FormAnswerInvalid,
                    "Réponse illisible pour « " + item.text + " » : " + why + ".",
                    form::itemExpression(q_, item.index), origin);
    out_.response.markUnreadable(item.index);
  }

  void derived(std::size_t item, const std::string& origin, std::string message) {
    out_.issues.add(Errc::FormValueDerived, std::move(message), form::itemExpression(q_, item),
                    origin);
  }

  void store(const Item& item, std::vector<AnswerValue> values, const std::string& origin) {
    for (auto& v : values) {
      if (!item.repeats && out_.response.answered(item.index)) {
        out_.issues.add(Errc::FormAnswerRepeated,
                        "« " + item.text +
                            " » renseigné plusieurs fois : seule la première réponse est gardée.",
                        form::itemExpression(q_, item.index), origin);
        return;
      }
      bool duplicate = false;
      for (const auto& a : out_.response.answers(item.index))
        duplicate = duplicate || form::sameAnswer(a.value, v);
      if (!duplicate) out_.response.add(item.index, form::Answer{std::move(v), origin});
    }
  }

  // Whether normalised text is only options of the item, one after the other.
  bool onlyOptions(const Item& item, std::string rest) const {
    while (!rest.empty()) {
      std::string next;
      if (!x_.matchOptionPrefix(item, rest, next)) return false;
      rest = std::move(next);
    }
    return true;
  }

  void openSection(std::size_t group, std::string_view label) {
    ctx_.heading = x_.section_of[group];
    ctx_.current = ctx_.heading;
    ctx_.list = kNoItem;
    ctx_.text = kNoItem;
    // A heading that is also the label of one of its items ("Antécédents non cardio-vasculaires
    // :", "Motif de consultation…") introduces that item: free text or options follow.
    for (std::size_t i : x_.lookup(label)) {
      if (i == kAuthored || !x_.within(i, group)) continue;
      const Item& it = q_.at(i);
      if (it.type == ItemType::Text) ctx_.text = i;
      if (it.type == ItemType::Choice || it.type == ItemType::OpenChoice) ctx_.list = i;
    }
  }

  bool readStatement(Mark mark, std::string_view text, const std::string& origin);
  bool readLead(std::string_view lead, const std::string& origin);
  void readField(std::string_view label, const std::vector<std::size_t>& candidates,
                 std::string_view value, bool last, const std::string& origin);
  void readValue(const Item& item, std::string_view value, const std::string& origin,
                 std::vector<AnswerValue>& values);
  void readAuthored(std::string_view value, const std::string& origin);
  void deriveAddress(const Item& item);
};

// Whether a line means something without the next one: a field, a heading, boxes.
bool Reading::standsAlone(std::string_view text) const {
  std::string_view t = stripBullet(text);
  std::size_t len = 0;
  if (markAt(t, len) != Mark::None || x_.heading(t)) return true;
  std::vector<Field> f = x_.fields(t);
  if (!f.empty() && trim(t.substr(0, f.front().begin)).empty()) return true;
  return !splitMarks(t, false).empty();
}

bool Reading::startsKnown(std::string_view text) const {
  std::string_view t = stripBullet(text);
  if (t.empty()) return true;
  std::size_t len = 0;
  if (markAt(t, len) != Mark::None) return true;
  if (x_.heading(t)) return true;
  std::vector<Field> f = x_.fields(t);
  return !f.empty() && trim(t.substr(0, f.front().begin)).empty();
}

// "☒ Dyspnée", "Oui ☒", "☐ Pas de médecin traitant", "☒ J'atteste avoir recueilli…": an option
// of the list being filled or of the section's choices, or a yes/no item named by its label.
bool Reading::readStatement(Mark mark, std::string_view text, const std::string& origin) {
  std::string n = normalizeAnswer(text);
  if (n.empty()) return false;
  const std::string key = compactKey(n);
  auto tick = [&](std::size_t idx) -> bool {
    const Item& item = q_.at(idx);
    if (item.type != ItemType::Choice && item.type != ItemType::OpenChoice) return false;
    auto c = x_.optionNamed(item, key);
    if (!c) return false;
    if (mark == Mark::Checked) store(item, {AnswerValue{*c}}, origin);
    return true;
  };
  if (ctx_.list != kNoItem && tick(ctx_.list)) return true;
  // A yes/no item: by its label, or a statement that starts like its label (or the reverse:
  // "J'atteste avoir recueilli le consentement…" cut short).
  std::vector<std::size_t> clash;
  std::size_t item = x_.resolve(x_.lookup(text), ctx_, clash);
  if (item == kNoItem) {
    const std::size_t words = static_cast<std::size_t>(std::count(n.begin(), n.end(), ' '));
    for (const auto& [label, idx] : x_.statements) {
      const std::string& shorter = n.size() < label.size() ? n : label;
      const std::string& longer = n.size() < label.size() ? label : n;
      if (words >= 3 && longer.compare(0, shorter.size(), shorter) == 0 &&
          (longer.size() == shorter.size() || longer[shorter.size()] == ' ')) {
        item = idx;
        break;
      }
    }
  }
  if (item != kNoItem && q_.at(item).type == ItemType::Boolean) {
    if (mark == Mark::Checked || q_.at(item).required_true) {
      store(q_.at(item), {AnswerValue{mark == Mark::Checked}}, origin);
    }
    return true;
  }
  // A list of the section ("Dyspnée ☒" under the motifs' heading); not a yes/no question, whose
  // "Inconnu ☒" alone would say nothing of which question it answers.
  for (std::size_t section : {ctx_.current, ctx_.heading}) {
    if (section == kNoItem) continue;
    for (std::size_t child : q_.at(section).children) {
      if (q_.at(child).repeats && tick(child)) return true;
    }
  }
  // No heading yet: the one choice item that has this option ("Dyspnée ☒" at the top).
  if (ctx_.heading != kNoItem) return false;
  std::size_t only = kNoItem;
  for (const Item& it : q_.items()) {
    if ((it.type == ItemType::Choice || it.type == ItemType::OpenChoice) && it.repeats &&
        x_.optionNamed(it, key)) {
      if (only != kNoItem) return false;
      only = it.index;
    }
  }
  return only != kNoItem && tick(only);
}

// What a line holds before its first "Libellé :" (or the whole line when it has none).
bool Reading::readLead(std::string_view raw, const std::string& origin) {
  std::string_view lead = stripBullet(raw);
  if (lead.empty()) return true;
  std::size_t len = 0;
  Mark mark = markAt(lead, len);
  if (mark != Mark::None && readStatement(mark, trim(lead.substr(len)), origin)) {
    ctx_.text = kNoItem;
    return true;
  }
  if (auto group = x_.heading(lead)) {
    openSection(*group, lead);
    return true;
  }
  if (x_.titles.contains(labelKey(lead))) return true;  // the form's title
  // "Dépistage IC ☐ · Dépistage HTA ☒ · …", "ECG ☒", "[x] Dyspnée [ ] Syncope".
  std::vector<Segment> segments = splitMarks(lead, false);
  if (segments.empty()) return false;
  std::vector<std::string_view> unknown;
  bool any = false;
  for (const Segment& s : segments) {
    if (!s.label.empty() && readStatement(s.mark, s.label, origin)) {
      any = true;
    } else {
      unknown.push_back(s.label);
    }
  }
  if (!any) return false;
  ctx_.text = kNoItem;
  for (std::string_view u : unknown) {
    if (!u.empty())
      unrecognised(origin, u, "Case cochée ou non, libellé non reconnu : gardé dans la note.");
  }
  return true;
}

void Reading::readAuthored(std::string_view value, const std::string& origin) {
  auto d = parseHumanDate(value);
  if (!d) {
    std::size_t space = value.find(' ');
    if (space != std::string_view::npos) d = parseHumanDate(value.substr(0, space));
  }
  if (!d) {
    Issue issue =
        makeIssue(Errc::FormAnswerInvalid,
                  "Date de la demande illisible (JJ/MM/AAAA attendue) : ignorée.", {}, origin);
    issue.severity = Severity::Warning;
    out_.issues.add(std::move(issue));
    out_.unrecognised.push_back({std::string(value), origin});
    return;
  }
  if (!out_.response.authored) out_.response.authored = form::toString(*d);
}

void Reading::readField(std::string_view label, const std::vector<std::size_t>& candidates,
                        std::string_view value, bool last, const std::string& origin) {
  std::vector<std::size_t> clash;
  std::size_t item = x_.resolve(candidates, ctx_, clash);
  std::optional<std::size_t> group;
  for (std::size_t c : candidates) {
    if (c != kAuthored && q_.at(c).type == ItemType::Group) group = c;
  }
  if (group && (value.empty() || item == kNoItem)) {
    openSection(*group, label);
    if (value.empty()) return;
    // "Motif : ☒ Dyspnée" on the heading line: its list; "Patient : DURAND": not read.
    item = ctx_.list != kNoItem ? ctx_.list : ctx_.text;
    if (item == kNoItem) {
      for (std::size_t child : q_.at(*group).children) {
        const Item& c = q_.at(child);
        if ((c.type == ItemType::Choice || c.type == ItemType::OpenChoice) && c.repeats)
          item = child;
      }
    }
    if (item == kNoItem) {
      unrecognised(origin, value,
                   "Texte après le titre « " + q_.at(*group).text +
                       " » non interprété : gardé dans la note.");
      return;
    }
    clash.clear();
  }
  if (item == kNoItem && !clash.empty()) {
    std::string names;
    for (std::size_t i = 0; i < clash.size(); ++i)
      names += (i == 0 ? "" : i + 1 == clash.size() ? " et " : ", ") + x_.describe(clash[i]);
    out_.issues.add(Errc::FormLabelAmbiguous,
                    "Libellé ambigu : il désigne " + names +
                        " ; réponse non lue (préciser la partie de la fiche par son titre).",
                    {}, origin);
    for (std::size_t i : clash)
      out_.response.markUnreadable(i);
    out_.unrecognised.push_back({std::string(label) + " : " + std::string(value), origin});
    return;
  }
  if (item == kNoItem) {
    if (std::find(candidates.begin(), candidates.end(), kAuthored) != candidates.end()) {
      if (!value.empty()) readAuthored(value, origin);
      return;
    }
    unrecognised(origin, value, "Libellé hors de cette fiche : gardé dans la note.");
    return;
  }
  const Item& it = q_.at(item);
  ctx_.list = kNoItem;
  ctx_.text = kNoItem;
  if (value.empty()) {
    if (it.type == ItemType::Choice || it.type == ItemType::OpenChoice) {
      ctx_.list = item;
    } else if (it.type == ItemType::Text) {
      if (last) ctx_.text = item;
    } else if (it.type != ItemType::Boolean && last) {
      ctx_.pending = item;
    }
    return;
  }
  std::vector<AnswerValue> values;
  readValue(it, value, origin, values);
  store(it, std::move(values), origin);
  if (it.type == ItemType::Text && last) ctx_.text = item;  // "string" items are one line
  if (it.repeats && last) ctx_.list = item;
}

// Typed answers from the value text of an item, added to `values`. Issues go to the result.
// Not inlined: into a caller's fresh vector, GCC 12 sees a null pointer in emplace_back that is
// not there (-Wnull-dereference).
[[gnu::noinline]] void Reading::readValue(const Item& item, std::string_view value,
                                          const std::string& where,
                                          std::vector<AnswerValue>& values) {
  auto leftover = [&](std::string_view rest) {
    unrecognised(
        where, rest,
        "Texte non interprété après la réponse à « " + item.text + " » : gardé dans la note.",
        form::itemExpression(q_, item.index));
  };
  switch (item.type) {
    case ItemType::Boolean: {
      std::vector<Segment> segments = splitMarks(value, true);
      if (!segments.empty()) {
        // "[x] Oui [ ] Non", "Oui ☒ Non ☐", or a lone mark meaning the statement holds.
        std::optional<bool> chosen;
        for (const Segment& s : segments) {
          if (s.mark != Mark::Checked) continue;
          auto b = s.label.empty() ? std::optional<bool>(true) : parseHumanBoolean(s.label);
          if (!b) b = true;  // "☒ J'atteste…": the checked label is the statement itself
          if (chosen && *chosen != *b) {
            out_.issues.add(Errc::FormAnswerAmbiguous,
                            "Oui et Non cochés pour « " + item.text + " ».",
                            form::itemExpression(q_, item.index), where);
            out_.response.markUnreadable(item.index);
            values.clear();
            return;
          }
          chosen = b;
        }
        // A lone empty box: "not attested" where the form wants the box ticked (consent, the
        // documents to join); elsewhere ("☐ Pas de médecin traitant" printed on every form) it
        // states nothing.
        if (!chosen && segments.size() == 1 && segments[0].label.empty() && item.required_true)
          chosen = false;
        if (chosen) values.emplace_back(*chosen);
        return;
      }
      if (auto b = parseHumanBoolean(value)) {
        values.emplace_back(*b);
        return;
      }
      // "Oui, ci-jointes": the answer, then a remark kept rather than lost.
      std::string n = normalizeLabel(value);
      for (auto [word, answer] :
           {std::pair{std::string_view("oui"), true}, std::pair{std::string_view("non"), false}}) {
        if (n.size() > word.size() && n.compare(0, word.size(), word) == 0 &&
            n[word.size()] == ' ') {
          values.emplace_back(answer);
          leftover(trim(value.substr(std::min(value.size(), word.size()))));
          return;
        }
      }
      invalid(item, where, "Oui ou Non attendu");
      return;
    }
    case ItemType::Choice:
    case ItemType::OpenChoice: {
      std::vector<std::string_view> picks;
      std::vector<Segment> segments = splitMarks(value, true);
      if (!segments.empty()) {
        for (const Segment& s : segments) {
          if (s.mark == Mark::Checked) picks.push_back(s.label.empty() ? "X" : s.label);
        }
        if (picks.empty()) return;  // nothing ticked: unanswered
      } else if (item.repeats) {
        std::size_t start = 0;
        for (std::size_t i = 0; i <= value.size(); ++i) {
          if (i == value.size() || value[i] == ',' || value[i] == ';' || value[i] == '+') {
            auto p = trim(value.substr(start, i - start));
            if (!p.empty()) picks.push_back(p);
            start = i + 1;
          }
        }
      } else {
        picks.push_back(value);
      }
      if (!item.repeats && picks.size() > 1) {
        out_.issues.add(
            Errc::FormAnswerAmbiguous,
            "Plusieurs cases cochées pour « " + item.text + " » : une seule réponse attendue.",
            form::itemExpression(q_, item.index), where);
        out_.response.markUnreadable(item.index);
        values.clear();
        return;
      }
      for (std::string_view p : picks) {
        std::string rest;
        if (auto c = x_.matchOptionPrefix(item, normalizeAnswer(p), rest)) {
          values.emplace_back(*c);
          // "X Oui Non Inconnu": the other options, unticked, are not a remark.
          if (!rest.empty() && !(segments.empty() ? false : onlyOptions(item, rest))) leftover(p);
        } else if (item.type == ItemType::OpenChoice) {
          values.emplace_back(std::string(trim(p)));
        } else {
          invalid(item, where, "réponse hors des choix proposés");
        }
      }
      return;
    }
    case ItemType::Decimal:
    case ItemType::Integer: {
      if (isNoneWord(value)) return;
      auto m = parseMeasure(value, item.unit);
      if (!m) {
        invalid(item, where,
                item.unit.empty() ? "nombre attendu" : "nombre en " + item.unit + " attendu");
        return;
      }
      if (item.type == ItemType::Integer) {
        auto whole = static_cast<std::int64_t>(m->value);
        if (static_cast<double>(whole) != m->value || m->value > 1e12) {
          invalid(item, where, "nombre entier attendu");
          return;
        }
        values.emplace_back(whole);
      } else {
        values.emplace_back(form::Decimal{m->value});
      }
      if (m->converted) {
        derived(item.index, where,
                "« " + item.text + " » donné" +
                    (m->unit_written.empty() ? " sans unité" : " en " + m->unit_written) +
                    " : converti en " + item.unit + ".");
      }
      if (!m->rest.empty()) leftover(m->rest);
      return;
    }
    case ItemType::Date:
    case ItemType::DateTime: {
      if (isNoneWord(value)) return;
      auto d = parseHumanDate(value);
      if (!d) {
        invalid(item, where, "date JJ/MM/AAAA attendue");
      } else {
        values.emplace_back(*d);
      }
      return;
    }
    case ItemType::String:
    case ItemType::Text:
      if (!isNoneWord(value)) values.emplace_back(std::string(value));
      return;
    case ItemType::Group:
    case ItemType::Display:
      return;
  }
  return;
}

void Reading::line(std::string_view raw, const std::string& origin) {
  std::string_view line = trim(raw);
  const std::size_t pending = ctx_.pending;
  ctx_.pending = kNoItem;
  if (line.empty()) {
    ctx_.text = kNoItem;
    return;
  }
  if (!hasLetterOrDigit(line) && splitMarks(line, false).empty()) return;  // "-----", "====="

  // Labels are looked for after a bullet or a number ("- Tabac :", "3. Angor :"); a line with
  // none is kept whole (a free text's "- arthrose").
  const std::string_view body = stripBullet(line);
  std::vector<Field> found = x_.fields(body);
  std::string_view lead = found.empty() ? line : trim(body.substr(0, found.front().begin));
  bool recognised = false;
  if (!lead.empty()) {
    const std::size_t text_item = ctx_.text;
    if (readLead(lead, origin)) {
      recognised = true;
    } else if (found.empty() && pending != kNoItem) {
      // The value of the label that ended the previous line.
      const Item& it = q_.at(pending);
      std::vector<AnswerValue> values;
      readValue(it, line, origin, values);
      store(it, std::move(values), origin);
      ++out_.recognised;
      return;
    } else if (text_item != kNoItem) {
      // Not a label: more text for the free-text field being written (and, when a soft break
      // joined the next row to it, that row's fields after it).
      std::string_view more = found.empty() ? line : lead;
      form::Answer* previous = out_.response.last(text_item);
      if (previous == nullptr) {
        out_.response.add(text_item, form::Answer{std::string(more), origin});
      } else if (auto* s = std::get_if<std::string>(&previous->value)) {
        *s += '\n';
        *s += more;
      }
      if (found.empty()) return;
    } else {
      unrecognised(origin, lead,
                   found.empty() ? "Ligne non reconnue : gardée dans la note de la demande."
                                 : "Texte avant le premier libellé non reconnu : gardé dans la "
                                   "note de la demande.");
    }
  }
  for (std::size_t f = 0; f < found.size(); ++f) {
    const Field& field = found[f];
    std::size_t end = f + 1 < found.size() ? found[f + 1].begin : body.size();
    std::string_view label = body.substr(field.begin, field.colon - field.begin);
    std::string_view value = trim(body.substr(field.colon + 1, end - field.colon - 1));
    readField(stripBullet(label), field.candidates, value, f + 1 == found.size(), origin);
    recognised = true;
  }
  if (recognised) ++out_.recognised;
}

// Postal code and commune written in the address ("3 place Victor Hugo 38000 Grenoble"): read
// into their own items when those are not answered, the address keeping its street.
void Reading::deriveAddress(const Item& item) {
  const form::Item* postal = q_.find(item.address_postal_code);
  const form::Item* city = q_.find(item.address_city);
  form::Answer* address = out_.response.last(item.index);
  if (address == nullptr || (postal == nullptr && city == nullptr)) return;
  const auto* text = std::get_if<std::string>(&address->value);
  if (text == nullptr) return;
  auto parts = splitAddress(*text);
  if (!parts) return;
  if (postal != nullptr && out_.response.answered(postal->index)) {
    const auto* given = std::get_if<std::string>(&out_.response.answers(postal->index)[0].value);
    // Another code than the one given: both stay as written, for people to see.
    if (given == nullptr || labelKey(*given) != parts->postal_code) return;
  }
  const std::string origin = address->location;
  if (postal != nullptr && !out_.response.answered(postal->index)) {
    out_.response.add(postal->index, form::Answer{parts->postal_code, origin});
    derived(postal->index, origin, "« " + postal->text + " » lu dans « " + item.text + " ».");
  }
  if (city != nullptr && !parts->city.empty() && !out_.response.answered(city->index)) {
    out_.response.add(city->index, form::Answer{parts->city, origin});
    derived(city->index, origin, "« " + city->text + " » lu dans « " + item.text + " ».");
  }
  if (!parts->street.empty()) address->value = parts->street;
}

void Reading::finish() {
  for (const Item& item : q_.items()) {
    if (!item.address_postal_code.empty() || !item.address_city.empty()) deriveAddress(item);
  }
}

}  // namespace

struct FormTextReader::Impl : Tables {
  using Tables::Tables;
};

FormTextReader::FormTextReader(const form::Questionnaire& questionnaire)
    : impl_(std::make_shared<const Impl>(questionnaire)) {}

ParsedForm FormTextReader::read(std::string_view raw) const {
  std::vector<FormLine> lines = splitLines(toUtf8(raw));
  return readLines(lines);
}

ParsedForm FormTextReader::readLines(std::span<const FormLine> lines) const {
  ParsedForm out{form::FormResponse(*impl_->q), {}, 0};
  Reading reading(*impl_, out);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    // A soft line break (RFC 3676 format=flowed: the line ends with a space) that cut a row or a
    // label in two: the row is read whole, from the origins of both lines.
    std::string_view text = lines[i].text;
    if (i + 1 < lines.size() && reading.continues(text, lines[i + 1].text)) {
      std::string joined(text);
      std::string origin = lines[i].origin;
      do {
        joined += lines[i + 1].text;
        origin = joinOrigins(origin, lines[i + 1].origin);
        ++i;
      } while (i + 1 < lines.size() && reading.continues(joined, lines[i + 1].text));
      reading.line(joined, origin);
      continue;
    }
    reading.line(text, lines[i].origin);
  }
  reading.finish();
  return out;
}

}  // namespace liaison::parse
