// formLinesOfDocx: the .docx is a zip (read by readXdm, with its hardened limits) whose main part,
// named by _rels/.rels (usually word/document.xml), is WordprocessingML read in one SAX pass by
// readXml. What a line looks like is in form_document.hpp; this file says how.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/text/ascii.hpp"
#include "parse/document/form_document.hpp"
#include "parse/document/form_lines.hpp"

namespace liaison::parse {
namespace {

using form_lines::LineSink;

constexpr std::string_view kWhat = "Document Word";
// Transitional and Strict WordprocessingML, Word 2010's extensions, markup compatibility.
constexpr std::string_view kWordNs = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
constexpr std::string_view kWordStrictNs = "http://purl.oclc.org/ooxml/wordprocessingml/main";
constexpr std::string_view kW14Ns = "http://schemas.microsoft.com/office/word/2010/wordml";
constexpr std::string_view kMcNs = "http://schemas.openxmlformats.org/markup-compatibility/2006";
constexpr std::string_view kRelsNs = "http://schemas.openxmlformats.org/package/2006/relationships";

Error docxError(Errc code, const std::string& what) {
  return makeError(code, std::string(kWhat) + " : " + what + ".");
}

// readXdm speaks of "IHE_XDM.ZIP": the same failure, said of this document.
Error zipError(Error e) {
  if (e.code == Errc::XdmNotZip) {
    return docxError(Errc::DocxInvalid,
                     "ce n'est pas une archive zip (ancien format .doc, ou document chiffré ?)");
  }
  constexpr std::string_view kPrefix = "IHE_XDM.ZIP : ";
  if (e.detail.starts_with(kPrefix)) e.detail.erase(0, kPrefix.size());
  e.detail = std::string(kWhat) + " (zip) : " + e.detail;
  return e;
}

// ---- the main part's name ----------------------------------------------------------------------

class RelsHandler final : public XmlHandler {
 public:
  XmlAction startElement(const XmlElement& e) override {
    if (e.depth == 2 && e.local_name == "Relationship" && e.ns == kRelsNs) {
      const std::string_view type = e.attr("Type");
      if (type.ends_with("/officeDocument") && target.empty()) target = e.attr("Target");
    }
    return XmlAction::Continue;
  }
  XmlAction endElement(const XmlElement&, std::string_view) override { return XmlAction::Continue; }
  std::string target;
};

const XdmEntry* mainPart(const XdmArchive& archive, const XmlLimits& limits) {
  if (const XdmEntry* rels = archive.find("_rels/.rels")) {
    RelsHandler handler;
    if (!readXml(rels->bytes, handler, limits) && !handler.target.empty()) {
      std::string_view target = handler.target;
      while (target.starts_with("/"))
        target.remove_prefix(1);
      if (const XdmEntry* part = archive.find(target)) return part;
    }
  }
  return archive.find("word/document.xml");
}

// ---- WordprocessingML --------------------------------------------------------------------------

bool isTrue(std::string_view v) {
  return v.empty() || v == "1" || ascii::equalsIgnoreCase(v, "true") ||
         ascii::equalsIgnoreCase(v, "on");
}

// A w:sym's character: a ballot box as a mark, a symbol font's private code point as nothing, any
// other character as itself.
std::string symbolText(std::string_view hex) {
  std::uint32_t code = 0;
  if (hex.empty() || hex.size() > 6) return {};
  for (const char c : hex) {
    const char l = ascii::lowerAscii(c);
    if (l >= '0' && l <= '9') {
      code = code * 16 + static_cast<std::uint32_t>(l - '0');
    } else if (l >= 'a' && l <= 'f') {
      code = code * 16 + static_cast<std::uint32_t>(l - 'a' + 10);
    } else {
      return {};
    }
  }
  // Symbol fonts' characters are often written without the U+F000 offset ("FD" for 0xF0FD).
  if (code < 0x100 && code >= 0x20) {
    if (auto mark = form_lines::boxMark(0xF000 + code)) return " " + std::string(*mark) + " ";
  }
  if (auto mark = form_lines::boxMark(code)) return " " + std::string(*mark) + " ";
  if (code >= 0xE000 && code <= 0xF8FF) return {};
  std::string out;
  form_lines::appendCodePoint(out, code);
  return out;
}

class DocumentHandler final : public XmlHandler {
 public:
  explicit DocumentHandler(LineSink& sink) : sink_(sink) {}

  bool notWord() const { return not_word_; }

  XmlAction startElement(const XmlElement& e) override {
    if (e.depth == 1) {
      if (e.local_name != "document" || !isWord(e.ns)) {
        not_word_ = true;
        return XmlAction::Stop;
      }
      return XmlAction::Continue;
    }
    if (skip_depth_ != 0) {
      ++skip_depth_;
      return XmlAction::Continue;
    }
    if (e.ns == kMcNs && e.local_name == "Fallback") {
      skip_depth_ = 1;  // the same content as mc:Choice, for older readers
      return XmlAction::Continue;
    }
    if (e.ns == kW14Ns) {
      if (e.local_name == "checkbox" && !sdts_.empty()) sdts_.back().checkbox = true;
      if (e.local_name == "checked" && !sdts_.empty()) {
        const XmlAttribute* val = e.find("val", kW14Ns);
        sdts_.back().checked = val != nullptr && isTrue(val->value);
      }
      return XmlAction::Continue;
    }
    if (!isWord(e.ns)) return XmlAction::Continue;
    const std::string_view name = e.local_name;
    if (name == "p") {
      startParagraph();
    } else if (name == "tbl") {
      ++table_depth_;
      if (table_depth_ == 1 && paragraph_depth_ == 0) {
        ++tables_;
        rows_ = 0;
      }
    } else if (name == "tr") {
      if (topTable()) {
        ++rows_;
        cells_.clear();
      }
    } else if (name == "tc") {
      if (topTable()) {
        cells_.emplace_back();
      } else if (table_depth_ > 1) {
        gap(' ');
      }
    } else if (name == "r") {
      run_hidden_ = false;
    } else if (name == "vanish" && e.ancestor(1) == "rPr" && e.ancestor(2) == "r") {
      run_hidden_ = isTrue(attr(e, "val"));
    } else if (name == "t" && e.ancestor(1) == "r") {
      return run_hidden_ ? XmlAction::Continue : XmlAction::CaptureText;
    } else if (name == "tab" && e.ancestor(1) == "r") {
      append("\t");
    } else if ((name == "br" || name == "cr") && e.ancestor(1) == "r") {
      lineBreak();
    } else if (name == "noBreakHyphen" && e.ancestor(1) == "r") {
      append("-");
    } else if (name == "sym" && e.ancestor(1) == "r") {
      append(symbolText(attr(e, "char")));
    } else if (name == "sdt") {
      sdts_.push_back({});
    } else if (name == "showingPlcHdr" && e.ancestor(1) == "sdtPr" && !sdts_.empty()) {
      sdts_.back().placeholder = true;  // "Cliquez ici pour entrer du texte." is no answer
    } else if (name == "sdtContent" && !sdts_.empty() && sdts_.back().checkbox) {
      // A checkbox content control: its state is w14:checked, its content only a glyph.
      append(sdts_.back().checked ? " [X] " : " [ ] ");
      skip_depth_ = 1;
    } else if (name == "sdtContent" && !sdts_.empty() && sdts_.back().placeholder) {
      skip_depth_ = 1;
    } else if (name == "checkBox" && e.ancestor(1) == "ffData") {
      legacy_ = LegacyBox{};
    } else if (legacy_ && e.ancestor(1) == "checkBox" && (name == "default" || name == "checked")) {
      const bool value = isTrue(attr(e, "val"));
      if (name == "default") legacy_->default_value = value;
      if (name == "checked") legacy_->checked = value;
    } else if (name == "del" || name == "moveFrom" || name == "instrText" || name == "delText" ||
               name == "pPr") {
      // Tracked deletions and moves, field instructions, paragraph properties (tab stops, the
      // paragraph mark's run): not text a reader sees.
      skip_depth_ = 1;
    }
    return XmlAction::Continue;
  }

  XmlAction endElement(const XmlElement& e, std::string_view text) override {
    if (e.depth == 1) return XmlAction::Continue;
    if (skip_depth_ != 0) {
      --skip_depth_;
      return XmlAction::Continue;
    }
    if (!isWord(e.ns)) return XmlAction::Continue;
    const std::string_view name = e.local_name;
    if (name == "t") {
      if (!text.empty()) append(text);
    } else if (name == "p") {
      endParagraph();
    } else if (name == "tbl") {
      --table_depth_;
    } else if (name == "tr") {
      if (topTable()) endRow();
    } else if (name == "sdt") {
      if (!sdts_.empty()) sdts_.pop_back();
    } else if (name == "fldChar" && legacy_) {
      append(legacy_->checked.value_or(legacy_->default_value) ? " [X] " : " [ ] ");
      legacy_.reset();
    }
    return sink_.failed() ? XmlAction::Stop : XmlAction::Continue;
  }

 private:
  struct Sdt {
    bool checkbox = false;
    bool checked = false;
    bool placeholder = false;
  };
  struct LegacyBox {
    bool default_value = false;
    std::optional<bool> checked;
  };

  static bool isWord(std::string_view ns) { return ns == kWordNs || ns == kWordStrictNs; }

  static std::string_view attr(const XmlElement& e, std::string_view local) {
    if (const XmlAttribute* a = e.find(local, kWordNs)) return a->value;
    if (const XmlAttribute* a = e.find(local, kWordStrictNs)) return a->value;
    return {};
  }

  // A row or cell of a table of the body (not one inside a text box or a cell).
  bool topTable() const { return table_depth_ == 1 && paragraph_depth_ == 0; }

  // Where text goes: the open cell of a table of the body, or the paragraph's line.
  std::string& target() { return table_depth_ >= 1 && !cells_.empty() ? cells_.back() : line_; }

  void append(std::string_view text) {
    if (text.empty()) return;
    target() += text;
  }

  // A separator between two pieces of the same line, unless one is already there.
  void gap(char c) {
    std::string& t = target();
    if (!t.empty() && t.back() != ' ' && t.back() != '\t') t += c;
  }

  void startParagraph() {
    ++paragraph_depth_;
    if (table_depth_ == 0 && paragraph_depth_ == 1) {
      ++paragraphs_;
      line_.clear();
    } else {
      // A paragraph in a cell, a nested table or a text box continues the same line.
      gap(paragraph_depth_ > 1 ? '\t' : ' ');
    }
  }

  void endParagraph() {
    if (paragraph_depth_ > 0) --paragraph_depth_;
    if (table_depth_ == 0 && paragraph_depth_ == 0) {
      sink_.add(line_, "paragraphe " + std::to_string(paragraphs_));
      line_.clear();
    } else {
      gap(' ');
    }
  }

  // A break: a new line in a paragraph, a space in a table's row.
  void lineBreak() {
    if (table_depth_ == 0 && paragraph_depth_ == 1) {
      sink_.add(line_, "paragraphe " + std::to_string(paragraphs_));
      line_.clear();
    } else {
      gap(' ');
    }
  }

  // One line per row: non-empty cells joined by a tab, or by a space after a label cell ("Nom :"
  // then "FICTIF-DURAND").
  void endRow() {
    std::string row;
    bool after_label = false;
    for (const std::string& raw : cells_) {
      const std::string cell = form_lines::clean(raw);
      if (cell.empty()) continue;
      if (!row.empty()) row += after_label ? ' ' : '\t';
      row += cell;
      after_label = cell.back() == ':';
    }
    sink_.add(row, "tableau " + std::to_string(tables_) + ", ligne " + std::to_string(rows_));
    cells_.clear();
  }

  LineSink& sink_;
  bool not_word_ = false;
  std::size_t skip_depth_ = 0;
  std::size_t paragraph_depth_ = 0;
  std::size_t table_depth_ = 0;
  std::size_t paragraphs_ = 0;
  std::size_t tables_ = 0;
  std::size_t rows_ = 0;
  std::string line_;
  std::vector<std::string> cells_;
  std::vector<Sdt> sdts_;
  std::optional<LegacyBox> legacy_;
  bool run_hidden_ = false;
};

}  // namespace

Result<FormDocument> formLinesOfDocx(std::string_view docx, const FormDocumentLimits& limits) {
  if (docx.size() > limits.max_input_bytes) {
    return docxError(Errc::DocxTooComplex, std::to_string(docx.size()) + " octets, plus que les " +
                                               std::to_string(limits.max_input_bytes) + " admis");
  }
  Result<XdmArchive> archive = readXdm(docx, limits.zip);
  if (!archive) return zipError(archive.error());
  const XdmEntry* part = mainPart(*archive, limits.xml);
  if (part == nullptr) {
    return docxError(Errc::DocxInvalid, "pas de document principal (word/document.xml)");
  }
  LineSink sink(limits, Errc::DocxTooComplex, kWhat);
  DocumentHandler handler(sink);
  if (std::optional<Error> error = readXml(part->bytes, handler, limits.xml)) {
    error->detail = std::string(kWhat) + " (" + part->path + ") : " + error->detail;
    return std::move(*error);
  }
  if (handler.notWord()) {
    return docxError(Errc::DocxInvalid,
                     "la partie principale n'est pas un document Word (w:document)");
  }
  if (sink.failed()) return sink.error();
  FormDocument out;
  out.source = FormSource::Word;
  out.lines = sink.take();
  if (out.lines.empty()) {
    out.source = FormSource::Nothing;
    out.issues.add(Errc::DocumentNoText, "Le document Word ne contient aucun texte.");
  }
  return out;
}

}  // namespace liaison::parse
