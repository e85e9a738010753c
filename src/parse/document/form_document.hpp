#pragma once
// The ESS request form ("fiche de demande") as GPs attach it to a mail — a filled PDF form, a PDF
// of a typed form, a Word document — turned into lines of text in the form's own "Libellé :
// valeur" shape, each with where it came from, for the text form reader to match
// (FormTextReader::readLines). Pure: bytes in, values out; errors are values, and neither qpdf's
// nor poppler's exceptions escape.
//
// formLinesOfPdf, with qpdf (structure, AcroForm) and poppler (text layer):
//   - a PDF form with at least one filled field (AcroForm): one line per filled field, in reading
//     order (page, then top to bottom, left to right), origin "champ PDF <fully qualified name>":
//       text, choice       "<label> : <value>"         (a multi-line value on one line)
//       radio, checkbox    "<label> : <export value> [X]", or "<label> [X]" when the export value
//                          says nothing ("Yes", "On", "1"…); unticked boxes give no line
//     <label> is the field's tooltip (/TU), else its partial name (/T), else its full name,
//     without a trailing ':'. Between them, the form's printed lines that stand on a row of their
//     own (headings such as "Information patient", so that the reader knows the section), origin
//     "page N, ligne M"; printed text on a row with a field, or equal to a field's label, is that
//     field's caption and is left out.
//   - otherwise the text layer: one line per printed line, words of a row joined by a space, or
//     by a tab across a gap wider than the line's height (the form's columns), origin
//     "page N, ligne M" (both from 1).
//   - neither (a scan): no line, source Nothing, and a document-no-text issue saying why.
// formLinesOfDocx, with libzip (through readXdm's hardened reading) and Xerces (readXml):
//   each body paragraph is a line, origin "paragraphe N" (every paragraph of the body counts,
//   empty ones too; a w:br starts another line with the same origin); each row of a table is a
//   line, its cells joined by a tab (by a space after a cell ending in ':', a label whose value is
//   in the next cell), origin "tableau N, ligne M"; tabs are tabs; text boxes are read once
//   (mc:Fallback skipped); field instructions, deleted and hidden text are not text.
// Marks, in every format: a ticked box is "[X]", an empty one "[ ]" — ☒ ☑ ☐, Wingdings boxes,
// checkbox content controls (w14:checked) and legacy form checkboxes (w:checked, w:default).
// Lines are UTF-8, hold no line break and no control character but tabs, are trimmed, never
// empty; no-break spaces are spaces.
//
// Refused, with the code in brackets: over max_input_bytes, more than max_pages pages, more than
// max_fields fields, decoded PDF streams (content, forms, fonts) over max_stream_bytes, more than
// max_lines lines or max_text_bytes of text [pdf-too-complex, docx-too-complex]; not a PDF,
// damaged beyond repair, a page tree with a loop [pdf-unreadable]; a PDF that needs a password to
// open [pdf-encrypted] (one with an owner password only is read); not a zip, no word/document.xml,
// not a WordprocessingML document [docx-invalid]; the zip's own hazards, bombs, unsafe paths,
// encrypted entries [xdm-*, see xdm_archive.hpp]; DOCTYPE (XXE, entity bombs), depth, malformed
// XML [xml-*, see parse/cda/xml.hpp].
//
// Known limit: qpdf 11.3 inflates object and xref streams without a bound of its own; those are
// bounded by max_input_bytes and zlib's ratio only.
//
// Thread-safe (each call owns its qpdf and poppler documents).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error/result.hpp"
#include "parse/cda/xml.hpp"
#include "parse/form/form_parser.hpp"
#include "parse/xdm/xdm_archive.hpp"

namespace liaison::parse {

struct FormDocumentLimits {
  std::size_t max_input_bytes = 32 * 1024 * 1024;
  std::size_t max_pages = 64;     // a fiche is two to four pages
  std::size_t max_fields = 1000;  // the Cardio+ form has about 110
  std::size_t max_lines = 5000;
  std::size_t max_text_bytes = 512 * 1024;          // all lines together
  std::size_t max_stream_bytes = 64 * 1024 * 1024;  // PDF: decoded streams other than images
  ZipLimits zip{.max_entries = 1000,
                .max_entry_bytes = 32 * 1024 * 1024,
                .max_total_bytes = 96 * 1024 * 1024,
                .max_ratio = 100,
                .ratio_floor_bytes = 1024 * 1024,
                .max_name_bytes = 512};
  XmlLimits xml{.max_text_chars = 1 << 20};
};

enum class FormSource : std::uint8_t {
  PdfFields,  // a PDF form's filled fields (and its headings)
  PdfText,    // a PDF's text layer
  Word,       // a .docx
  Nothing,    // no text at all (a scanned PDF): see the issues
};

struct FormDocument {
  std::vector<FormLine> lines;  // for FormTextReader::readLines
  FormSource source = FormSource::Nothing;
  std::size_t pages = 0;  // PDF pages (0 for Word)
  IssueList issues;       // why nothing was read (document-no-text); never errors
};

Result<FormDocument> formLinesOfPdf(std::string_view pdf, const FormDocumentLimits& limits = {});
Result<FormDocument> formLinesOfDocx(std::string_view docx, const FormDocumentLimits& limits = {});

// "%PDF-" in the first 1024 bytes, as readers accept it.
bool looksLikePdf(std::string_view bytes);

}  // namespace liaison::parse
