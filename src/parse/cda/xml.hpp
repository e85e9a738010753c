#pragma once
// Hardened XML reading for untrusted input (METADATA.XML, CDA R2), over Xerces-C++ 3.2 SAX2.
//
// One pass, events out, no tree. What the reader refuses, always:
//   - any DOCTYPE (CDA and ebRIM never carry one)           → Errc::XmlDoctypeForbidden
//     which also rules out entity expansion (billion laughs), external entities (XXE) and
//     external parameter entities; an entity resolver that refuses everything, no DTD loading,
//     no default entity resolution and a SecurityManager entity-expansion limit stay behind it
//   - depth, element count, attribute or text sizes over XmlLimits → Errc::XmlTooComplex
//   - anything not well-formed (or namespace-invalid)       → Errc::XmlMalformed, with
//     "line L, column C" in the detail
// Validation, XML Schema, XInclude and grammar caching are off: xsi:schemaLocation is ignored.
// Xerces exceptions never escape: every failure comes back as an Error value.
// Strings are handed out as UTF-8, whatever the document's encoding.
//
// Thread-safe: Xerces is initialised once per process (and never terminated); each thread keeps
// its own reader (a handler that calls readXml again gets a separate one).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/error/error.hpp"

namespace liaison::parse {

struct XmlLimits {
  std::size_t max_depth = 256;
  std::size_t max_elements = 1'000'000;
  std::size_t max_attributes = 256;            // on one element
  std::size_t max_attribute_chars = 1 << 20;   // one attribute value (UTF-16 code units)
  std::size_t max_text_chars = 16u << 20;      // one run of character data, or one captured text
  std::size_t max_entity_expansions = 10'000;  // SecurityManager limit (second line of defence)
  // Testing seam only: lets the DTD-level defences behind the DOCTYPE ban be exercised.
  bool allow_doctype = false;
};

// An attribute of the element being started (namespace URI empty for unprefixed attributes).
struct XmlAttribute {
  std::string_view ns;
  std::string_view local_name;
  std::string_view value;
};

// The attributes of the element being started, converted to UTF-8 only when asked for.
class XmlAttributeList {
 public:
  virtual ~XmlAttributeList() = default;
  virtual std::size_t size() const = 0;
  virtual const XmlAttribute& at(std::size_t index) const = 0;  // index < size()
  // The attribute {ns_uri}name, or nullptr.
  virtual const XmlAttribute* find(std::string_view name, std::string_view ns_uri) const = 0;
};

// The element being started or ended. Every view is valid during the callback only.
struct XmlElement {
  std::string_view ns;
  std::string_view local_name;
  std::size_t depth = 0;                         // 1 for the root element
  std::uint64_t line = 0;                        // line of the end of the tag
  std::span<const std::string> path;             // local names from the root down to this element
  const XmlAttributeList* attributes = nullptr;  // never null; empty in endElement

  // Value of the unqualified attribute `name`, or "" when absent.
  std::string_view attr(std::string_view name) const;
  // The attribute {ns_uri}name, or nullptr.
  const XmlAttribute* find(std::string_view name, std::string_view ns_uri = {}) const;
  // Local name of the ancestor `up` levels above (1 = parent), or "" above the root.
  std::string_view ancestor(std::size_t up) const;
};

enum class XmlAction : std::uint8_t {
  Continue,
  CaptureText,  // collect this element's text (its own and its descendants') for endElement
  StreamText,   // send the text of this element and its descendants to characters()
  Stop,         // end the parse now; readXml returns no error (the handler keeps its own)
};

class XmlHandler {
 public:
  virtual ~XmlHandler() = default;
  virtual XmlAction startElement(const XmlElement& element) = 0;
  // `text` is the captured text when startElement asked for it, "" otherwise.
  virtual XmlAction endElement(const XmlElement& element, std::string_view text) = 0;
  // Character data inside an element that asked for StreamText, in document order, possibly in
  // pieces (text elsewhere is only counted against the limits, never converted).
  virtual XmlAction characters(std::string_view text) {
    (void)text;
    return XmlAction::Continue;
  }
};

// Reads `xml` (any encoding Xerces recognises; UTF-8 without declaration by default) and sends
// its events to `handler`. Returns the error that ended the parse, or nullopt.
std::optional<Error> readXml(std::string_view xml, XmlHandler& handler,
                             const XmlLimits& limits = {});

}  // namespace liaison::parse
