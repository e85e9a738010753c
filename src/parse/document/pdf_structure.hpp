#pragma once
// A PDF's structure read with qpdf (internal to liaison_parse_document): the page tree, the bound
// on decoded streams, the AcroForm's fields as facts (labels, values, states, where their widgets
// are), and a rewrite of the file for poppler. Lines are made from these facts by pdf_form.cpp.
//
// C++17 on purpose, and standard types only: qpdf 11.3's headers do not compile with clang in
// C++20 (JSON.hh destroys a std::vector of a class not yet complete, which C++20's constexpr
// destructor instantiates early), and the fuzzers are built with clang. pdf_structure.cpp is the
// only file that includes qpdf; no qpdf exception leaves it.

#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace liaison::parse::pdf {

// A rectangle in the displayed page: points, origin top left, y downwards (poppler's space).
struct Box {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  double height() const { return y1 - y0; }
  double centre() const { return (y0 + y1) / 2; }
};

enum class FieldKind { Text, Choice, Checkbox, Radio };

// One field that may hold an answer, as qpdf gives it (strings UTF-8 as qpdf decodes them, or the
// bytes of a PDF name): the caller cleans and shapes them.
struct Field {
  FieldKind kind = FieldKind::Text;
  std::string full_name;  // fully qualified (/T of the field and its ancestors, '.'-joined)
  std::string tooltip;    // /TU
  std::string partial_name;
  std::vector<std::string> values;   // text, choice: /V (several for a multiple choice)
  std::optional<std::string> state;  // checkbox, radio: the ticked state's export value; none = off
  bool several_on_states = false;    // a checkbox group whose widgets have distinct on-states
  std::optional<std::size_t> page;   // where its first widget is
  Box box;
};

struct Limits {
  std::size_t max_pages = 0;
  std::size_t max_fields = 0;
  std::size_t max_stream_bytes = 0;
};

enum class Status {
  Ok,
  NotOpened,      // qpdf could not read it, even repaired
  Encrypted,      // a password is needed
  PageTree,       // the page tree is unreadable (a loop)
  TooManyPages,   // over max_pages
  StreamBudget,   // decoded streams over max_stream_bytes
  TooManyFields,  // over max_fields
  OutOfMemory,
};

class Structure {
 public:
  Structure();
  ~Structure();
  Structure(const Structure&) = delete;
  Structure& operator=(const Structure&) = delete;

  // Reads `pdf` (which must outlive this object). Everything below is valid after Ok only.
  Status read(std::string_view pdf, const Limits& limits);

  std::size_t pages() const;
  std::size_t terminalFields() const;  // as qpdf counts them (each radio button counts)
  const std::vector<Field>& fields() const;
  // Per page: the widgets' boxes (every field, answered or not), the fields' raw labels.
  const std::vector<std::vector<Box>>& widgets() const;

  // The file as qpdf repaired it, its page tree made one flat node with a true /Count: for
  // readers that trust /Count or cannot rebuild a damaged xref. Empty when qpdf cannot write it.
  std::string rewrite();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace liaison::parse::pdf
