// formLinesOfPdf: qpdf reads the structure (pdf_structure.cpp: pages, bounds, AcroForm fields),
// poppler reads the text layer; this file makes the lines. What a line looks like is in
// form_document.hpp.
//
// Positions: poppler gives text boxes in the displayed page (points, origin top left, the page's
// /Rotate applied); pdf_structure.cpp brings the widgets' /Rect into the same space, so that
// printed lines and fields can be put in one reading order.

#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>
#include <poppler-rectangle.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/text/ascii.hpp"
#include "parse/document/form_document.hpp"
#include "parse/document/form_lines.hpp"
#include "parse/document/pdf_structure.hpp"

namespace liaison::parse {
namespace {

using form_lines::LineSink;

constexpr std::string_view kWhat = "PDF";

Error pdfError(Errc code, const std::string& what) {
  return makeError(code, "PDF : " + what + ".");
}

using pdf::Box;

// Groups items into rows: sorted by vertical centre, an item joins the current row when its
// centre lies within the row's extent. Each row is then read left to right.
template <typename T, typename BoxOf>
std::vector<std::vector<const T*>> rowsOf(const std::vector<T>& items, BoxOf boxOf) {
  std::vector<const T*> order;
  order.reserve(items.size());
  for (const T& item : items)
    order.push_back(&item);
  std::stable_sort(order.begin(), order.end(),
                   [&](const T* a, const T* b) { return boxOf(*a).centre() < boxOf(*b).centre(); });
  std::vector<std::vector<const T*>> rows;
  double top = 0;
  double bottom = 0;
  for (const T* item : order) {
    const Box& b = boxOf(*item);
    if (rows.empty() || b.centre() > bottom || b.centre() < top) {
      rows.emplace_back();
      top = b.y0;
      bottom = b.y1;
    } else {
      top = std::min(top, b.y0);
      bottom = std::max(bottom, b.y1);
    }
    rows.back().push_back(item);
  }
  for (auto& row : rows) {
    std::stable_sort(row.begin(), row.end(),
                     [&](const T* a, const T* b) { return boxOf(*a).x0 < boxOf(*b).x0; });
  }
  return rows;
}

// ---- the text layer (poppler) ------------------------------------------------------------------

struct Word {
  Box box;
  std::string text;
  bool space_after = false;
};

struct TextLine {
  Box box;
  std::string text;    // raw: cleaned when kept
  std::string origin;  // "page N, ligne M"
};

std::string utf8Of(const poppler::ustring& s) {
  const poppler::byte_array bytes = s.to_utf8();
  return {bytes.begin(), bytes.end()};
}

// The printed lines of one page, top to bottom; a gap wider than the line's height is a tab.
std::vector<TextLine> textLines(poppler::page& page, std::size_t page_number) {
  std::vector<Word> words;
  for (const poppler::text_box& tb : page.text_list()) {
    const poppler::rectf r = tb.bbox();
    Word w{{r.left(), r.top(), r.right(), r.bottom()}, utf8Of(tb.text()), tb.has_space_after()};
    if (w.text.empty()) continue;
    if (!(std::isfinite(w.box.x0) && std::isfinite(w.box.y0) && std::isfinite(w.box.x1) &&
          std::isfinite(w.box.y1))) {
      continue;
    }
    words.push_back(std::move(w));
  }
  std::vector<TextLine> lines;
  for (const auto& row : rowsOf(words, [](const Word& w) -> const Box& { return w.box; })) {
    TextLine line;
    line.box = row.front()->box;
    double height = 0;
    for (const Word* w : row)
      height = std::max(height, w->box.height());
    const Word* previous = nullptr;
    for (const Word* w : row) {
      if (previous != nullptr) {
        const double gap = w->box.x0 - previous->box.x1;
        if (gap > height) {
          line.text += '\t';
        } else if (previous->space_after || gap > 0.1 * height) {
          line.text += ' ';
        }
      }
      line.text += w->text;
      line.box.x0 = std::min(line.box.x0, w->box.x0);
      line.box.y0 = std::min(line.box.y0, w->box.y0);
      line.box.x1 = std::max(line.box.x1, w->box.x1);
      line.box.y1 = std::max(line.box.y1, w->box.y1);
      previous = w;
    }
    if (form_lines::clean(line.text).empty()) continue;
    line.origin =
        "page " + std::to_string(page_number) + ", ligne " + std::to_string(lines.size() + 1);
    lines.push_back(std::move(line));
  }
  return lines;
}

void silencePoppler() {
  static std::once_flag once;
  std::call_once(once, [] {
    // poppler writes its complaints about damaged files to stderr: the errors that matter
    // come back as values here.
    poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr);
  });
}

// ---- AcroForm fields ---------------------------------------------------------------------------

struct FieldLine {
  std::string text;
  std::string origin;
  std::optional<std::size_t> page;  // where its first widget is
  Box box;
};

// Case, punctuation and spacing left out (UTF-8 bytes kept): "NIR (15 chiffres) :" and "NIR (15
// chiffres)" are the same caption.
std::string captionKey(std::string_view text) {
  std::string key;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
      key += c;
    } else if (c >= 'A' && c <= 'Z') {
      key += ascii::lowerAscii(c);
    }
  }
  return key;
}

// The tooltip, else the partial name, else the full name; no trailing ':'.
std::string labelOf(const pdf::Field& field) {
  std::string label = form_lines::clean(field.tooltip);
  if (label.empty()) label = form_lines::clean(field.partial_name);
  if (label.empty()) label = form_lines::clean(field.full_name);
  while (!label.empty() && (label.back() == ':' || label.back() == ' ' || label.back() == '\t')) {
    label.pop_back();
  }
  return label;
}

// Export values that only say "ticked".
bool saysOnlyTicked(std::string_view value) {
  for (std::string_view generic : {"yes", "on", "1", "true", "x", "checked", "ok"}) {
    if (ascii::equalsIgnoreCase(value, generic)) return true;
  }
  return false;
}

// The line of one field, or nullopt when it holds no answer.
std::optional<std::string> fieldText(const pdf::Field& field, const std::string& label) {
  if (field.kind == pdf::FieldKind::Text || field.kind == pdf::FieldKind::Choice) {
    std::string value;
    for (const std::string& v : field.values) {
      const std::string part = form_lines::clean(v);
      if (part.empty()) continue;
      if (!value.empty()) value += ", ";
      value += part;
    }
    if (value.empty()) return std::nullopt;
    return label + " : " + value;
  }
  if (!field.state) return std::nullopt;  // not ticked
  const std::string exported = form_lines::clean(*field.state);
  // A lone checkbox whose export value says nothing: its label is the statement ("Dyspnée").
  const bool names_answer =
      field.kind == pdf::FieldKind::Radio || field.several_on_states || !saysOnlyTicked(exported);
  if (!names_answer || exported.empty()) return label + " [X]";
  return label + " : " + exported + " [X]";
}

// A printed line that is a field's caption: on a row with a widget, or its very label.
bool isCaption(const TextLine& line, const std::vector<Box>& widgets,
               const std::set<std::string>& captions) {
  for (const Box& w : widgets) {
    const double overlap = std::min(line.box.y1, w.y1) - std::max(line.box.y0, w.y0);
    if (overlap > 0 && overlap >= 0.5 * std::min(line.box.height(), w.height())) return true;
  }
  return captions.count(captionKey(form_lines::clean(line.text))) != 0;
}

// Fields and the pages' own headings in one reading order.
void emitFields(const pdf::Structure& structure, const std::vector<std::vector<TextLine>>& text,
                LineSink& sink) {
  const std::size_t pages = structure.widgets().size();
  std::vector<FieldLine> lines;
  std::vector<std::set<std::string>> captions(pages);
  for (const pdf::Field& field : structure.fields()) {
    const std::string label = labelOf(field);
    if (field.page && *field.page < pages) captions[*field.page].insert(captionKey(label));
    std::optional<std::string> line = fieldText(field, label);
    if (!line) continue;
    lines.push_back({std::move(*line), "champ PDF " + form_lines::clean(field.full_name),
                     field.page, field.box});
  }
  struct Item {
    Box box;
    const std::string* text;
    const std::string* origin;
  };
  for (std::size_t p = 0; p < pages; ++p) {
    std::vector<Item> items;
    for (const FieldLine& f : lines) {
      if (f.page == p) items.push_back({f.box, &f.text, &f.origin});
    }
    if (p < text.size()) {
      for (const TextLine& line : text[p]) {
        if (!isCaption(line, structure.widgets()[p], captions[p])) {
          items.push_back({line.box, &line.text, &line.origin});
        }
      }
    }
    for (const auto& row : rowsOf(items, [](const Item& i) -> const Box& { return i.box; })) {
      for (const Item* item : row) {
        if (!sink.add(*item->text, *item->origin)) return;
      }
    }
  }
  for (const FieldLine& f : lines) {
    if ((!f.page || *f.page >= pages) && !sink.add(f.text, f.origin)) return;
  }
}

bool anyAnswer(const pdf::Structure& structure) {
  for (const pdf::Field& field : structure.fields()) {
    if (fieldText(field, "x")) return true;
  }
  return false;
}

poppler::document* load(std::string_view bytes) {
  return poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size()));
}

Result<FormDocument> readPdf(std::string_view pdf, const FormDocumentLimits& limits) {
  pdf::Structure structure;
  switch (structure.read(pdf, {limits.max_pages, limits.max_fields, limits.max_stream_bytes})) {
    case pdf::Status::Ok:
      break;
    case pdf::Status::NotOpened:
      return pdfError(Errc::PdfUnreadable, "structure illisible, même réparée");
    case pdf::Status::Encrypted:
      return pdfError(Errc::PdfEncrypted, "un mot de passe est nécessaire pour l'ouvrir");
    case pdf::Status::PageTree:
      return pdfError(Errc::PdfUnreadable, "arbre des pages illisible (boucle ou objet invalide)");
    case pdf::Status::TooManyPages:
      return pdfError(Errc::PdfTooComplex,
                      std::to_string(structure.pages()) + " pages, plus que les " +
                          std::to_string(limits.max_pages) + " d'une fiche de demande");
    case pdf::Status::StreamBudget:
      return pdfError(Errc::PdfTooComplex, "contenu décompressé au-delà de " +
                                               std::to_string(limits.max_stream_bytes >> 20) +
                                               " Mio");
    case pdf::Status::TooManyFields:
      return pdfError(Errc::PdfTooComplex, std::to_string(structure.terminalFields()) +
                                               " champs de formulaire, plus que les " +
                                               std::to_string(limits.max_fields) + " admis");
    case pdf::Status::OutOfMemory:
      return pdfError(Errc::PdfTooComplex, "trop de mémoire nécessaire");
  }
  const std::size_t pages = structure.pages();

  // The text layer.
  silencePoppler();
  std::unique_ptr<poppler::document> doc(load(pdf));
  if (doc && doc->is_locked()) {
    return pdfError(Errc::PdfEncrypted, "un mot de passe est nécessaire pour l'ouvrir");
  }
  // What qpdf repaired and poppler cannot read (a page count that lies, a damaged xref poppler
  // does not rebuild): poppler reads qpdf's rewrite instead. It lives as long as `doc`.
  std::string rewritten;
  if (!doc || doc->pages() < 0 || static_cast<std::size_t>(doc->pages()) != pages) {
    rewritten = structure.rewrite();
    if (!rewritten.empty() && rewritten.size() <= static_cast<std::size_t>(INT_MAX)) {
      doc.reset(load(rewritten));
    }
  }
  const bool fields = anyAnswer(structure);
  if (!doc && !fields) return pdfError(Errc::PdfUnreadable, "texte illisible");
  std::vector<std::vector<TextLine>> text;
  if (doc) {
    const std::size_t n = std::min(pages, static_cast<std::size_t>(std::max(doc->pages(), 0)));
    text.resize(n);
    for (std::size_t p = 0; p < n; ++p) {
      std::unique_ptr<poppler::page> page(doc->create_page(static_cast<int>(p)));
      if (page) text[p] = textLines(*page, p + 1);
    }
  }

  FormDocument out;
  out.pages = pages;
  LineSink sink(limits, Errc::PdfTooComplex, kWhat);
  if (fields) {
    out.source = FormSource::PdfFields;
    emitFields(structure, text, sink);
  } else {
    out.source = FormSource::PdfText;
    for (const auto& page : text) {
      for (const TextLine& line : page) {
        if (!sink.add(line.text, line.origin)) break;
      }
    }
  }
  if (sink.failed()) return sink.error();
  out.lines = sink.take();
  if (out.lines.empty()) {
    out.source = FormSource::Nothing;
    out.issues.add(Errc::DocumentNoText,
                   "Le PDF ne contient ni champ de formulaire rempli ni texte (document numérisé "
                   "?) : la demande est à qualifier à partir du PDF.");
  }
  return out;
}

}  // namespace

bool looksLikePdf(std::string_view bytes) {
  return bytes.substr(0, 1024).find("%PDF-") != std::string_view::npos;
}

Result<FormDocument> formLinesOfPdf(std::string_view pdf, const FormDocumentLimits& limits) {
  if (pdf.size() > limits.max_input_bytes || pdf.size() > static_cast<std::size_t>(INT_MAX)) {
    return pdfError(Errc::PdfTooComplex, std::to_string(pdf.size()) + " octets, plus que les " +
                                             std::to_string(limits.max_input_bytes) + " admis");
  }
  if (!looksLikePdf(pdf)) return pdfError(Errc::PdfUnreadable, "ce n'est pas un PDF");
  // poppler may throw (std::bad_alloc at least): nothing crosses this function.
  try {
    return readPdf(pdf, limits);
  } catch (const std::bad_alloc&) {
    return pdfError(Errc::PdfTooComplex, "trop de mémoire nécessaire");
  } catch (const std::exception&) {
    return pdfError(Errc::PdfUnreadable, "structure illisible");
  } catch (...) {
    return pdfError(Errc::PdfUnreadable, "structure illisible");
  }
}

}  // namespace liaison::parse
