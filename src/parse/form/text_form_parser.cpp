// The fiche de demande as plain text: "Libellé : valeur" lines, section headings, checkbox
// marks ([x], ☒, X…), free-text continuation lines.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "parse/form/form_parser.hpp"
#include "parse/form/value_parser.hpp"
#include "parse/text/encoding.hpp"

namespace liaison::parse {
namespace {

using form::AnswerValue;
using form::Item;
using form::ItemType;

// Also strips the no-break spaces (U+00A0, U+202F) that mail clients leave around values.
std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; };
  for (;;) {
    if (!s.empty() && space(s.front())) {
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
    if (!s.empty() && space(s.back())) {
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
  static constexpr std::array<std::pair<std::string_view, Mark>, 24> kMarks = {{
      {"[x]", Mark::Checked},
      {"[X]", Mark::Checked},
      {"[ x ]", Mark::Checked},
      {"[ X ]", Mark::Checked},
      {"[x ]", Mark::Checked},
      {"[ x]", Mark::Checked},
      {"[X ]", Mark::Checked},
      {"[ X]", Mark::Checked},
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
  }};
  for (const auto& [text, mark] : kMarks) {
    if (s.substr(0, text.size()) == text) {
      len = text.size();
      return mark;
    }
  }
  return Mark::None;
}

struct Segment {
  Mark mark;
  std::string_view label;
};

// Splits "[x] Oui [ ] Non" or "Oui ☒ Non ☐" into (mark, label) pairs. Empty when no marks.
// A standalone "X" counts as a checked mark at the start of the text ("X Oui").
std::vector<Segment> splitMarks(std::string_view value) {
  struct Token {
    Mark mark;
    std::string_view text;
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
    Mark m = markAt(value.substr(i), len);
    if (m == Mark::None && (value[i] == 'X' || value[i] == 'x') &&
        trim(value.substr(0, i)).empty() &&
        (i + 1 == value.size() || value[i + 1] == ' ' || value[i + 1] == '\t')) {
      m = Mark::Checked;
      len = 1;
    }
    if (m != Mark::None) {
      flush(i);
      tokens.push_back({m, {}});
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
  if (tokens.front().mark != Mark::None) {  // marks before labels
    for (std::size_t k = 0; k < tokens.size(); ++k) {
      if (tokens[k].mark == Mark::None) continue;
      std::string_view label;
      if (k + 1 < tokens.size() && tokens[k + 1].mark == Mark::None) label = tokens[k + 1].text;
      out.push_back({tokens[k].mark, label});
    }
  } else {  // labels before marks
    for (std::size_t k = 0; k < tokens.size(); ++k) {
      if (tokens[k].mark != Mark::None) continue;
      Mark m = (k + 1 < tokens.size()) ? tokens[k + 1].mark : Mark::None;
      if (m != Mark::None) out.push_back({m, tokens[k].text});
    }
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

}  // namespace

struct FormTextReader::Impl {
  const form::Questionnaire* q;
  // normalised label → items carrying it (text or alias); groups included.
  std::unordered_map<std::string, std::vector<std::size_t>> labels;
  // per item: (normalised option label, option index), built once (see optionLabels()).
  std::vector<std::vector<std::pair<std::string, std::size_t>>> option_labels;

  explicit Impl(const form::Questionnaire& questionnaire) : q(&questionnaire) {
    option_labels.resize(q->items().size());
    for (const Item& item : q->items()) {
      for (std::size_t o = 0; o < item.options.size(); ++o) {
        for (std::string& label : optionLabels(item.options[o])) {
          option_labels[item.index].emplace_back(std::move(label), o);
        }
      }
      auto add = [&](std::string_view label) {
        std::string n = normalizeLabel(label);
        if (n.empty()) return;
        auto& v = labels[n];
        if (std::find(v.begin(), v.end(), item.index) == v.end()) v.push_back(item.index);
      };
      add(item.text);
      for (const auto& a : item.aliases)
        add(a);
    }
  }

  bool within(std::size_t item, std::optional<std::size_t> group) const {
    if (!group) return false;
    for (std::optional<std::size_t> at = q->at(item).parent; at; at = q->at(*at).parent) {
      if (*at == *group) return true;
    }
    return false;
  }

  // The item a label names: inside the current section first, then unique anywhere.
  // Groups are only returned when `want_group`.
  std::optional<std::size_t> resolve(const std::string& label, std::optional<std::size_t> section,
                                     bool want_group) const {
    auto it = labels.find(label);
    if (it == labels.end()) return std::nullopt;
    std::optional<std::size_t> in_section;
    std::optional<std::size_t> anywhere;
    std::size_t count = 0;
    for (std::size_t idx : it->second) {
      bool is_group = q->at(idx).type == ItemType::Group;
      if (is_group != want_group) continue;
      if (!want_group && within(idx, section) && !in_section) in_section = idx;
      if (!anywhere) anywhere = idx;
      ++count;
    }
    if (in_section) return in_section;
    if (count == 1 || want_group) return anywhere;
    return std::nullopt;  // ambiguous outside any section: e.g. "Nom" with no heading yet
  }

  // The option a normalised text names: a label of the option, or usual shorthand.
  std::optional<form::Coding> optionNamed(const Item& item, const std::string& n) const {
    for (const auto& [label, option] : option_labels[item.index]) {
      if (label == n) return item.options[option];
    }
    if (auto code = shorthandCode(n)) {
      if (const form::Coding* opt = form::findOption(item, *code)) return *opt;
    }
    return std::nullopt;
  }

  // An option whose label starts the normalised text ("oui 20 pa" → Oui; the rest in `rest`).
  std::optional<form::Coding> matchOptionPrefix(const Item& item, const std::string& n,
                                                std::string& rest) const {
    rest.clear();
    if (auto exact = optionNamed(item, n)) return exact;
    std::optional<form::Coding> best;
    std::size_t best_len = 0;
    auto consider = [&](std::size_t option, std::string_view w) {
      if (w.empty() || w.size() <= best_len) return;
      if (n.size() > w.size() && n.compare(0, w.size(), w) == 0 && n[w.size()] == ' ') {
        best = item.options[option];
        best_len = w.size();
      }
    };
    for (const auto& [label, option] : option_labels[item.index])
      consider(option, label);
    for (std::size_t o = 0; o < item.options.size(); ++o) {
      if (item.options[o].code == "Y") consider(o, "oui");
      if (item.options[o].code == "N") consider(o, "non");
    }
    if (best) rest = n.substr(best_len + 1);
    return best;
  }

  // Typed answers from the value text of an item. Issues go to `out`.
  std::vector<AnswerValue> readValue(const Item& item, std::string_view value,
                                     const std::string& where, ParsedForm& out) const {
    std::vector<AnswerValue> values;
    auto invalid = [&](const std::string& why) {
      out.issues.add(Errc::FormAnswerInvalid,
                     "Réponse illisible pour « " + item.text + " » : " + why + ".",
                     form::itemExpression(*q, item.index), where);
    };
    std::vector<Segment> segments = splitMarks(value);
    switch (item.type) {
      case ItemType::Boolean: {
        if (!segments.empty()) {
          // "[x] Oui [ ] Non", or a lone mark meaning the statement holds.
          std::optional<bool> chosen;
          for (const Segment& s : segments) {
            if (s.mark != Mark::Checked) continue;
            auto b = s.label.empty() ? std::optional<bool>(true) : parseHumanBoolean(s.label);
            if (!b) b = true;  // "☒ J'atteste…": the checked label is the statement itself
            if (chosen && *chosen != *b) {
              out.issues.add(Errc::FormAnswerAmbiguous,
                             "Oui et Non cochés pour « " + item.text + " ».",
                             form::itemExpression(*q, item.index), where);
              return {};
            }
            chosen = b;
          }
          if (!chosen && segments.size() == 1 && segments[0].label.empty()) chosen = false;
          if (chosen) values.emplace_back(*chosen);
          return values;
        }
        if (auto b = parseHumanBoolean(value)) {
          values.emplace_back(*b);
          return values;
        }
        // "Oui, ci-jointes": the answer, then a remark kept as a warning rather than lost.
        std::string n = normalizeLabel(value);
        for (auto [word, answer] : {std::pair{std::string_view("oui"), true},
                                    std::pair{std::string_view("non"), false}}) {
          if (n.size() > word.size() && n.compare(0, word.size(), word) == 0 &&
              n[word.size()] == ' ') {
            values.emplace_back(answer);
            out.issues.add(Errc::FormLineUnrecognised,
                           "Texte non interprété après la réponse à « " + item.text + " ».",
                           form::itemExpression(*q, item.index), where);
            return values;
          }
        }
        invalid("Oui ou Non attendu");
        return values;
      }
      case ItemType::Choice:
      case ItemType::OpenChoice: {
        std::vector<std::string_view> picks;
        if (!segments.empty()) {
          for (const Segment& s : segments) {
            if (s.mark == Mark::Checked) picks.push_back(s.label.empty() ? "oui" : s.label);
          }
          if (picks.empty()) return values;  // nothing ticked: unanswered
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
          out.issues.add(
              Errc::FormAnswerAmbiguous,
              "Plusieurs cases cochées pour « " + item.text + " » : une seule réponse attendue.",
              form::itemExpression(*q, item.index), where);
          return {};
        }
        for (std::string_view p : picks) {
          std::string rest;
          if (auto c = matchOptionPrefix(item, normalizeAnswer(p), rest)) {
            values.emplace_back(*c);
            if (!rest.empty()) {
              out.issues.add(Errc::FormLineUnrecognised,
                             "Texte non interprété après la réponse à « " + item.text + " ».",
                             form::itemExpression(*q, item.index), where);
            }
          } else if (item.type == ItemType::OpenChoice) {
            values.emplace_back(std::string(trim(p)));
          } else {
            invalid("réponse hors des choix proposés");
          }
        }
        return values;
      }
      case ItemType::Decimal: {
        std::string unit;
        auto v = parseHumanDecimal(value, &unit);
        if (!v) {
          invalid("nombre attendu");
          return values;
        }
        // Heights are asked in cm but often written in metres ("1,72 m").
        // Rounded so that 1,10 m gives 110, not 110.00000000000001.
        const bool metres = unit == "m" || unit == "metre" || unit == "metres";
        if ((metres || (unit.empty() && *v < 3.0)) && item.text.find("(cm)") != std::string::npos)
          *v = std::round(*v * 1e8) / 1e6;
        values.emplace_back(form::Decimal{*v});
        return values;
      }
      case ItemType::Integer: {
        auto v = parseHumanInteger(value);
        if (!v) {
          invalid("nombre entier attendu");
        } else {
          values.emplace_back(static_cast<std::int64_t>(*v));
        }
        return values;
      }
      case ItemType::Date:
      case ItemType::DateTime: {
        auto d = parseHumanDate(value);
        if (!d) {
          invalid("date JJ/MM/AAAA attendue");
        } else {
          values.emplace_back(*d);
        }
        return values;
      }
      case ItemType::String:
      case ItemType::Text:
        values.emplace_back(std::string(value));
        return values;
      case ItemType::Group:
      case ItemType::Display:
        return values;
    }
    return values;
  }

  void store(const Item& item, std::vector<AnswerValue> values, const std::string& origin,
             ParsedForm& out) const {
    for (auto& v : values) {
      if (!item.repeats && out.response.answered(item.index)) {
        out.issues.add(Errc::FormAnswerRepeated,
                       "« " + item.text +
                           " » renseigné plusieurs fois : seule la première réponse est gardée.",
                       form::itemExpression(*q, item.index), origin);
        return;
      }
      bool duplicate = false;
      for (const auto& a : out.response.answers(item.index))
        duplicate = duplicate || form::sameAnswer(a.value, v);
      if (!duplicate) out.response.add(item.index, form::Answer{std::move(v), origin});
    }
  }

  // "☒ Douleur thoracique" on its own line: an option of the list being filled, or a boolean item.
  bool readCheckboxLine(Mark mark, std::string_view label, std::optional<std::size_t> list,
                        std::optional<std::size_t> section, const std::string& origin,
                        ParsedForm& out) const {
    std::string n = normalizeAnswer(label);
    auto try_choice = [&](std::size_t idx) -> bool {
      const Item& item = q->at(idx);
      if (item.type != ItemType::Choice && item.type != ItemType::OpenChoice) return false;
      std::string rest;
      auto c = matchOptionPrefix(item, n, rest);
      if (!c || !rest.empty()) return false;
      if (mark == Mark::Checked) store(item, {AnswerValue{*c}}, origin, out);
      return true;
    };
    if (list && try_choice(*list)) return true;
    if (auto idx = resolve(n, section, false)) {
      const Item& item = q->at(*idx);
      if (item.type == ItemType::Boolean) {
        store(item, {AnswerValue{mark == Mark::Checked}}, origin, out);
        return true;
      }
    }
    if (section) {
      for (std::size_t child : q->at(*section).children) {
        if (try_choice(child)) return true;
      }
    }
    return false;
  }
};

FormTextReader::FormTextReader(const form::Questionnaire& questionnaire)
    : impl_(std::make_shared<const Impl>(questionnaire)) {}

ParsedForm FormTextReader::read(std::string_view raw) const {
  std::vector<FormLine> lines = splitLines(toUtf8(raw));
  return readLines(lines);
}

ParsedForm FormTextReader::readLines(std::span<const FormLine> lines) const {
  const Impl& x = *impl_;
  ParsedForm out{form::FormResponse(*x.q), {}, 0};
  std::optional<std::size_t> section;    // current group (from the last heading)
  std::optional<std::size_t> list;       // a choice item whose options follow on their own lines
  std::optional<std::size_t> last_text;  // a text item that continuation lines extend
  for (const FormLine& form_line : lines) {
    std::string_view line = trim(form_line.text);
    const std::string& origin = form_line.origin;
    if (line.empty()) {
      last_text.reset();
      continue;
    }
    if (!hasLetterOrDigit(line) && splitMarks(line).empty()) continue;  // "-----", "====="
    std::size_t colon = line.find(':');
    std::string_view head = colon == std::string_view::npos ? line : line.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? std::string_view{} : trim(line.substr(colon + 1));

    // A checkbox at the start of the line: an option or a yes/no statement.
    std::size_t mark_len = 0;
    Mark lead = markAt(stripBullet(line), mark_len);
    if (lead != Mark::None) {
      std::string_view rest = trim(stripBullet(line).substr(mark_len));
      if (x.readCheckboxLine(lead, rest, list, section, origin, out)) {
        ++out.recognised;
        continue;
      }
    }
    std::string label = normalizeLabel(stripBullet(head));
    // Trailing mark after a statement: "Ordonnances en cours ☒".
    if (colon == std::string_view::npos && lead == Mark::None) {
      std::vector<Segment> segs = splitMarks(line);
      if (segs.size() == 1 &&
          x.readCheckboxLine(segs[0].mark, segs[0].label, list, section, origin, out)) {
        ++out.recognised;
        continue;
      }
    }
    std::optional<std::size_t> item = x.resolve(label, section, false);
    std::optional<std::size_t> group = x.resolve(label, section, true);
    if (group && (value.empty() || !item)) {
      section = group;
      list.reset();
      last_text.reset();
      // "Motif : ☒ Dyspnée" on the heading line: read it as the group's list.
      if (!value.empty()) {
        for (std::size_t child : x.q->at(*group).children) {
          const Item& c = x.q->at(child);
          if (c.type == ItemType::Choice && c.repeats) item = child;
        }
        if (!item) {  // "Patient : DURAND": the text after the heading is not read
          out.issues.add(Errc::FormLineUnrecognised,
                         "Texte après le titre « " + x.q->at(*group).text + " » non interprété.",
                         {}, origin);
          continue;
        }
      } else {
        ++out.recognised;
        continue;
      }
    }
    if (item && colon != std::string_view::npos) {
      const Item& it = x.q->at(*item);
      ++out.recognised;
      last_text.reset();
      list.reset();
      if (value.empty()) {
        if (it.type == ItemType::Choice || it.type == ItemType::OpenChoice) list = item;
        if (it.type == ItemType::Text) last_text = item;
        continue;
      }
      x.store(it, x.readValue(it, value, origin, out), origin, out);
      if (it.type == ItemType::Text) last_text = item;  // "string" items are one line
      if (it.repeats) list = item;
      continue;
    }
    // Not a label: more text for the free-text field being written.
    if (last_text) {
      form::Answer* previous = out.response.last(*last_text);
      if (previous == nullptr) {
        out.response.add(*last_text, form::Answer{std::string(line), origin});
      } else if (auto* s = std::get_if<std::string>(&previous->value)) {
        *s += '\n';
        *s += line;
      }
      continue;
    }
    out.issues.add(Errc::FormLineUnrecognised, "Ligne non reconnue, ignorée.", {}, origin);
  }
  return out;
}

}  // namespace liaison::parse
