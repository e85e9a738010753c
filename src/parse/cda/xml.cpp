// Hardened SAX2 reading with Xerces-C++ 3.2 (see xml.hpp for what is refused and why).

#include "parse/cda/xml.hpp"

#include <xercesc/framework/MemBufInputSource.hpp>
#include <xercesc/sax/Locator.hpp>
#include <xercesc/sax/SAXParseException.hpp>
#include <xercesc/sax2/Attributes.hpp>
#include <xercesc/sax2/DefaultHandler.hpp>
#include <xercesc/sax2/SAX2XMLReader.hpp>
#include <xercesc/sax2/XMLReaderFactory.hpp>
#include <xercesc/util/OutOfMemoryException.hpp>
#include <xercesc/util/PlatformUtils.hpp>
#include <xercesc/util/SecurityManager.hpp>
#include <xercesc/util/TransService.hpp>
#include <xercesc/util/XMLException.hpp>
#include <xercesc/util/XMLString.hpp>
#include <xercesc/util/XMLUni.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace liaison::parse {

namespace xc = xercesc;

std::string_view XmlElement::attr(std::string_view name) const {
  const XmlAttribute* a = attributes != nullptr ? attributes->find(name, {}) : nullptr;
  return a != nullptr ? a->value : std::string_view{};
}

const XmlAttribute* XmlElement::find(std::string_view name, std::string_view ns_uri) const {
  return attributes != nullptr ? attributes->find(name, ns_uri) : nullptr;
}

std::string_view XmlElement::ancestor(std::size_t up) const {
  if (up >= path.size()) return {};
  return path[path.size() - 1 - up];
}

namespace {

// Thrown from inside the Xerces callbacks to end a parse; caught in readXml. Xerces lets
// exceptions other than its own propagate and unwinds its state with janitors.
struct Abort {
  Errc code;
  std::string detail;
};
struct StopParse {};

constexpr std::size_t kMaxDetail = 300;

bool initialiseXerces() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    try {
      xc::XMLPlatformUtils::Initialize();  // never Terminate: other threads may still parse
      ok = true;
    } catch (...) {
      ok = false;
    }
  });
  return ok;
}

// Error paths only: Xerces' own UTF-8 transcoder through TranscodeToStr (locale-independent).
std::string messageUtf8(const XMLCh* text) {
  if (text == nullptr) return {};
  try {
    xc::TranscodeToStr utf8(text, "UTF-8");
    std::string out(reinterpret_cast<const char*>(utf8.str()), utf8.length());
    if (out.size() > kMaxDetail) out.resize(kMaxDetail);
    return out;
  } catch (...) {
    return {};
  }
}

std::string position(XMLFileLoc line, XMLFileLoc column) {
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// A DOCTYPE in the prolog of an ASCII-compatible document (after a BOM, comments, PIs and
// white space). UTF-16 documents are left to the lexical handler (startDTD).
bool prologHasDoctype(std::string_view xml) {
  std::size_t i = 0;
  if (xml.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
  for (;;) {
    while (i < xml.size() &&
           (xml[i] == ' ' || xml[i] == '\t' || xml[i] == '\r' || xml[i] == '\n')) {
      ++i;
    }
    std::string_view rest = xml.substr(i);
    if (rest.starts_with("<?")) {
      std::size_t end = xml.find("?>", i + 2);
      if (end == std::string_view::npos) return false;
      i = end + 2;
    } else if (rest.starts_with("<!--")) {
      std::size_t end = xml.find("-->", i + 4);
      if (end == std::string_view::npos) return false;
      i = end + 3;
    } else {
      return rest.starts_with("<!DOCTYPE");
    }
  }
}

// True when Xerces will read `xml` as UTF-8 from its first byte to its last, so that the
// byte-level prologHasDoctype is exact: an optional UTF-8 BOM, then '<' or XML white space (no
// NUL among the first bytes: not UTF-16 or UCS-4 without a BOM, not EBCDIC), and an XML
// declaration, when there is one, that names no encoding or UTF-8.
bool readAsUtf8(std::string_view xml) {
  if (xml.substr(0, 3) == "\xEF\xBB\xBF") xml.remove_prefix(3);
  if (xml.empty()) return false;
  const char first = xml.front();
  if (first != '<' && first != ' ' && first != '\t' && first != '\r' && first != '\n') return false;
  if (xml.substr(0, 4).find('\0') != std::string_view::npos) return false;
  if (!xml.starts_with("<?xml")) return true;
  const std::size_t end = xml.find("?>");
  if (end == std::string_view::npos) return false;
  const std::string_view decl = xml.substr(0, end);
  const std::size_t at = decl.find("encoding");
  if (at == std::string_view::npos) return true;
  const std::size_t quote = decl.find_first_of("\"'", at);
  if (quote == std::string_view::npos) return false;
  const std::size_t close = decl.find(decl[quote], quote + 1);
  if (close == std::string_view::npos) return false;
  const std::string_view name = decl.substr(quote + 1, close - quote - 1);
  if (name.size() != 5) return false;
  static constexpr std::string_view kUtf8 = "utf-8";
  for (std::size_t i = 0; i < 5; ++i) {
    const char c =
        name[i] >= 'A' && name[i] <= 'Z' ? static_cast<char>(name[i] - 'A' + 'a') : name[i];
    if (c != kUtf8[i]) return false;
  }
  return true;
}

// UTF-16 → UTF-8: ASCII is copied directly; the rest goes through Xerces' UTF-8 transcoder.
void appendUtf8(std::string& out, const XMLCh* s, std::size_t n, xc::XMLTranscoder& utf8) {
  const std::size_t base = out.size();
  out.resize(base + n);
  char* p = out.data() + base;
  std::size_t i = 0;
  // ASCII in blocks of 16 through local arrays (no aliasing: the compiler vectorises them).
  for (; i + 16 <= n; i += 16) {
    XMLCh in[16];
    char narrow[16];
    std::memcpy(in, s + i, sizeof in);
    XMLCh bits = 0;
    for (std::size_t j = 0; j < 16; ++j) {
      bits |= in[j];
      narrow[j] = static_cast<char>(in[j]);
    }
    if (bits >= 0x80) break;
    std::memcpy(p + i, narrow, sizeof narrow);
  }
  for (; i < n && s[i] < 0x80; ++i)
    p[i] = static_cast<char>(s[i]);
  if (i == n) return;
  out.resize(base + i);
  while (i < n) {
    const std::size_t rest = n - i;
    const std::size_t at = out.size();
    out.resize(at + rest * 3);  // UTF-8 needs at most 3 bytes per UTF-16 code unit
    XMLSize_t eaten = 0;
    const XMLSize_t written =
        utf8.transcodeTo(s + i, rest, reinterpret_cast<XMLByte*>(out.data() + at), rest * 3, eaten,
                         xc::XMLTranscoder::UnRep_RepChar);
    out.resize(at + written);
    if (eaten == 0) break;
    i += eaten;
  }
}

// ASCII `name` against a UTF-16 string, without converting it.
bool equalsAscii(const XMLCh* s, std::string_view name) {
  if (s == nullptr) return name.empty();
  for (char c : name) {
    if (*s == 0 || *s != static_cast<XMLCh>(static_cast<unsigned char>(c))) return false;
    ++s;
  }
  return *s == 0;
}

bool isAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; });
}

class NoAttributes final : public XmlAttributeList {
 public:
  std::size_t size() const override { return 0; }
  const XmlAttribute& at(std::size_t) const override { return none_; }
  const XmlAttribute* find(std::string_view, std::string_view) const override { return nullptr; }

 private:
  XmlAttribute none_;
};

// Xerces attributes of the current start tag; each one converted on first use.
class LazyAttributes final : public XmlAttributeList {
 public:
  explicit LazyAttributes(xc::XMLTranscoder& utf8) : utf8_(utf8) {}

  void reset(const xc::Attributes& attrs) {
    attrs_ = &attrs;
    size_ = attrs.getLength();
    if (slots_.size() < size_) slots_.resize(size_);
    for (std::size_t i = 0; i < size_; ++i)
      slots_[i].ready = false;
  }

  std::size_t size() const override { return size_; }

  const XmlAttribute& at(std::size_t index) const override {
    Slot& slot = slots_[index];
    if (!slot.ready) {
      convert(slot.ns, attrs_->getURI(index));
      convert(slot.local, attrs_->getLocalName(index));
      convert(slot.value, attrs_->getValue(index));
      slot.view = XmlAttribute{slot.ns, slot.local, slot.value};
      slot.ready = true;
    }
    return slot.view;
  }

  const XmlAttribute* find(std::string_view name, std::string_view ns_uri) const override {
    const bool ascii = isAscii(name) && isAscii(ns_uri);
    for (std::size_t i = 0; i < size_; ++i) {
      if (ascii) {
        if (!equalsAscii(attrs_->getLocalName(i), name)) continue;
        if (!equalsAscii(attrs_->getURI(i), ns_uri)) continue;
        // The name and namespace are the ones asked for, character for character: only the
        // value needs converting (attr() is called a few times per element).
        Slot& slot = slots_[i];
        if (!slot.ready) {
          slot.ns.assign(ns_uri);
          slot.local.assign(name);
          convert(slot.value, attrs_->getValue(i));
          slot.view = XmlAttribute{slot.ns, slot.local, slot.value};
          slot.ready = true;
        }
        return &slot.view;
      }
      const XmlAttribute& a = at(i);
      if (a.local_name == name && a.ns == ns_uri) return &a;
    }
    return nullptr;
  }

 private:
  struct Slot {
    bool ready = false;
    std::string ns;
    std::string local;
    std::string value;
    XmlAttribute view;
  };

  void convert(std::string& out, const XMLCh* s) const {
    out.clear();
    if (s != nullptr) appendUtf8(out, s, xc::XMLString::stringLen(s), utf8_);
  }

  xc::XMLTranscoder& utf8_;
  const xc::Attributes* attrs_ = nullptr;
  std::size_t size_ = 0;
  mutable std::vector<Slot> slots_;  // sized once per start tag: views stay valid
};

class SaxBridge final : public xc::DefaultHandler {
 public:
  explicit SaxBridge(xc::XMLTranscoder& utf8) : utf8_(utf8), attributes_(utf8) {}

  // Buffers are kept from one parse to the next (their capacity is the point of reusing them).
  // `stable_names`: the scanner hands out element names and namespace URIs that stay where they
  // are, unchanged, until the parse ends (WFXMLScanner: its element declarations and its URI
  // pool, reset and reused by the next parse), so their UTF-8 forms are cached by address.
  void begin(XmlHandler& handler, const XmlLimits& limits, bool stable_names) {
    handler_ = &handler;
    limits_ = &limits;
    depth_ = elements_ = run_chars_ = stream_depth_ = 0;
    captures_.clear();
    capture_.clear();
    ns_u16_.clear();
    ns_.clear();
    ns_key_ = nullptr;
    stable_names_ = stable_names;
    for (CachedName& n : names_)
      n.key = nullptr;
  }

  void finish() {
    handler_ = nullptr;
    limits_ = nullptr;
    constexpr std::size_t kKeep = 1 << 20;  // do not hold on to the memory of a huge text
    if (capture_.capacity() > kKeep) std::string().swap(capture_);
    if (scratch_.capacity() > kKeep) std::string().swap(scratch_);
  }

  void setDocumentLocator(const xc::Locator* const locator) override { locator_ = locator; }

  void startElement(const XMLCh* const uri, const XMLCh* const localname, const XMLCh* const,
                    const xc::Attributes& attrs) override {
    if (++elements_ > limits_->max_elements) tooComplex("trop d'éléments");
    if (depth_ + 1 > limits_->max_depth) tooComplex("imbrication trop profonde");
    ++depth_;
    run_chars_ = 0;
    if (path_.size() < depth_) path_.resize(depth_);
    std::string& local = path_[depth_ - 1];
    local.assign(nameOf(localname));
    setNs(uri);

    const XMLSize_t count = attrs.getLength();
    if (count > limits_->max_attributes) tooComplex("trop d'attributs sur un élément");
    for (XMLSize_t i = 0; i < count; ++i) {
      if (xc::XMLString::stringLen(attrs.getValue(i)) > limits_->max_attribute_chars) {
        tooComplex("valeur d'attribut trop longue");
      }
    }
    attributes_.reset(attrs);

    const XmlElement element{
        ns_,         local, depth_, line(), std::span<const std::string>(path_.data(), depth_),
        &attributes_};
    switch (handler_->startElement(element)) {
      case XmlAction::Continue:
        break;
      case XmlAction::CaptureText:
        captures_.emplace_back(depth_, capture_.size());
        break;
      case XmlAction::StreamText:
        if (stream_depth_ == 0) stream_depth_ = depth_;
        break;
      case XmlAction::Stop:
        throw StopParse{};
    }
  }

  void endElement(const XMLCh* const uri, const XMLCh* const, const XMLCh* const) override {
    setNs(uri);
    run_chars_ = 0;
    std::string_view text;
    const bool captured = !captures_.empty() && captures_.back().first == depth_;
    if (captured) text = std::string_view(capture_).substr(captures_.back().second);
    const XmlElement element{ns_,
                             path_[depth_ - 1],
                             depth_,
                             line(),
                             std::span<const std::string>(path_.data(), depth_),
                             &no_attributes_};
    const XmlAction action = handler_->endElement(element, text);
    if (captured) {
      captures_.pop_back();
      if (captures_.empty()) capture_.clear();
    }
    if (stream_depth_ == depth_) stream_depth_ = 0;
    --depth_;
    if (action == XmlAction::Stop) throw StopParse{};
  }

  void characters(const XMLCh* const chars, const XMLSize_t length) override {
    run_chars_ += length;
    if (run_chars_ > limits_->max_text_chars) tooComplex("texte trop long");
    const bool capturing = !captures_.empty();
    if (!capturing && stream_depth_ == 0) return;  // nobody wants it: never converted
    std::string_view text;
    if (capturing) {
      const std::size_t before = capture_.size();
      if (before + length > limits_->max_text_chars) tooComplex("texte trop long");
      appendUtf8(capture_, chars, length, utf8_);
      text = std::string_view(capture_).substr(before);
    } else {
      scratch_.clear();
      appendUtf8(scratch_, chars, length, utf8_);
      text = scratch_;
    }
    if (stream_depth_ != 0 && handler_->characters(text) == XmlAction::Stop) throw StopParse{};
  }

  void startDTD(const XMLCh* const, const XMLCh* const, const XMLCh* const) override {
    if (!limits_->allow_doctype) {
      throw Abort{Errc::XmlDoctypeForbidden, "DOCTYPE refusé (" + where() + ")"};
    }
  }

  xc::InputSource* resolveEntity(const XMLCh* const, const XMLCh* const) override {
    throw Abort{Errc::XmlDoctypeForbidden, "entité externe refusée (" + where() + ")"};
  }

  void warning(const xc::SAXParseException&) override {}
  void error(const xc::SAXParseException& e) override { fail(e); }
  void fatalError(const xc::SAXParseException& e) override { fail(e); }

 private:
  [[noreturn]] void tooComplex(const char* what) {
    throw Abort{Errc::XmlTooComplex,
                std::string("XML trop complexe : ") + what + " (" + where() + ")"};
  }

  [[noreturn]] static void fail(const xc::SAXParseException& e) {
    std::string message = messageUtf8(e.getMessage());
    const std::string at = position(e.getLineNumber(), e.getColumnNumber());
    // The SecurityManager's limit surfaces as a fatal error; report it as a cost, not a syntax.
    if (message.find("entity expansions") != std::string::npos) {
      throw Abort{Errc::XmlTooComplex,
                  "XML trop complexe : trop d'expansions d'entités (" + at + ")"};
    }
    throw Abort{Errc::XmlMalformed, "XML mal formé (" + at + ") : " + message};
  }

  std::string where() const {
    if (locator_ == nullptr) return "position inconnue";
    return position(locator_->getLineNumber(), locator_->getColumnNumber());
  }

  std::uint64_t line() const { return locator_ != nullptr ? locator_->getLineNumber() : 0; }

  void setNs(const XMLCh* uri) {
    if (stable_names_ && uri == ns_key_ && uri != nullptr) return;  // the same pool entry
    ns_key_ = uri;
    const std::size_t n = uri != nullptr ? xc::XMLString::stringLen(uri) : 0;
    if (n == ns_u16_.size() && std::equal(uri, uri + n, ns_u16_.begin())) return;
    ns_u16_.assign(uri, n);
    ns_.clear();
    appendUtf8(ns_, uri, n, utf8_);
  }

  // An element's local name in UTF-8; cached by address when names are stable (see begin()).
  const std::string& nameOf(const XMLCh* name) {
    if (!stable_names_) {
      scratch_name_.clear();
      appendUtf8(scratch_name_, name, xc::XMLString::stringLen(name), utf8_);
      return scratch_name_;
    }
    CachedName& n = names_[(reinterpret_cast<std::uintptr_t>(name) >> 4) % names_.size()];
    if (n.key != name) {
      n.key = name;
      n.utf8.clear();
      appendUtf8(n.utf8, name, xc::XMLString::stringLen(name), utf8_);
    }
    return n.utf8;
  }

  XmlHandler* handler_ = nullptr;
  const XmlLimits* limits_ = nullptr;
  xc::XMLTranscoder& utf8_;
  const xc::Locator* locator_ = nullptr;

  std::size_t depth_ = 0;
  std::size_t elements_ = 0;
  std::size_t run_chars_ = 0;     // UTF-16 units since the last tag
  std::size_t stream_depth_ = 0;  // depth of the element streaming its text, 0 when none
  std::vector<std::string> path_;
  std::u16string ns_u16_;
  std::string ns_;
  const XMLCh* ns_key_ = nullptr;  // the URI ns_ was made from, when names are stable
  bool stable_names_ = false;
  struct CachedName {
    const XMLCh* key = nullptr;
    std::string utf8;
  };
  std::array<CachedName, 64> names_;  // direct-mapped by address; a collision converts again
  std::string scratch_name_;
  LazyAttributes attributes_;
  NoAttributes no_attributes_;
  std::string capture_;                                        // text of the captured elements
  std::vector<std::pair<std::size_t, std::size_t>> captures_;  // (depth, offset in capture_)
  std::string scratch_;
};

// SAX2 readers per thread, rebuilt after any parse that did not end normally: the
// well-formedness scanner (WFXMLScanner) for documents read as UTF-8 whose prolog holds no
// DOCTYPE (it never builds a grammar: no element declarations recorded per parse, about a third
// of Xerces' time), and the general scanner (IGXMLScanner, validation off) for everything else,
// where startDTD, the entity resolver and the SecurityManager stay the defences.
// The fast scanner skips a DOCTYPE without reading it, so it is only used where the byte-level
// check in readXml has already proved there is none (readAsUtf8 + prologHasDoctype).
// Member order matters: the readers point to the bridge and the security manager, the bridge
// to the transcoder; members are destroyed in reverse order.
struct ReaderSlot {
  std::unique_ptr<xc::XMLTranscoder> utf8;
  xc::SecurityManager security;
  std::unique_ptr<SaxBridge> bridge;
  std::unique_ptr<xc::SAX2XMLReader> general;
  std::unique_ptr<xc::SAX2XMLReader> fast;
};

std::unique_ptr<xc::SAX2XMLReader> makeReader(ReaderSlot& slot, bool well_formedness_only) {
  std::unique_ptr<xc::SAX2XMLReader> reader(xc::XMLReaderFactory::createXMLReader());
  xc::SAX2XMLReader& r = *reader;
  // The scanner first: choosing it replaces the scanner the features below are set on.
  if (well_formedness_only) {
    r.setProperty(xc::XMLUni::fgXercesScannerName, const_cast<XMLCh*>(xc::XMLUni::fgWFXMLScanner));
  }
  r.setFeature(xc::XMLUni::fgSAX2CoreNameSpaces, true);
  r.setFeature(xc::XMLUni::fgSAX2CoreNameSpacePrefixes, false);
  r.setFeature(xc::XMLUni::fgSAX2CoreValidation, false);
  r.setFeature(xc::XMLUni::fgXercesDynamic, false);
  r.setFeature(xc::XMLUni::fgXercesSchema, false);
  r.setFeature(xc::XMLUni::fgXercesSchemaFullChecking, false);
  r.setFeature(xc::XMLUni::fgXercesLoadSchema, false);
  r.setFeature(xc::XMLUni::fgXercesIdentityConstraintChecking, false);
  r.setFeature(xc::XMLUni::fgXercesLoadExternalDTD, false);
  r.setFeature(xc::XMLUni::fgXercesDisableDefaultEntityResolution, true);
  r.setFeature(xc::XMLUni::fgXercesContinueAfterFatalError, false);
  r.setFeature(xc::XMLUni::fgXercesCacheGrammarFromParse, false);
  r.setFeature(xc::XMLUni::fgXercesUseCachedGrammarInParse, false);
  // The general scanner only counts expansions of entities a DTD declared. The well-formedness
  // scanner reads no DTD, so only the predefined entities (&amp;…) ever expand there, yet it
  // counts those against the limit too: METADATA.XML is full of them, so no manager there.
  if (!well_formedness_only) r.setProperty(xc::XMLUni::fgXercesSecurityManager, &slot.security);
  // Never call setDTDHandler(nullptr) after this: in Xerces 3.2 it also unhooks the lexical
  // handler's startDTD (SAX2XMLReaderImpl::setDTDHandler resets the scanner's DocTypeHandler).
  r.setContentHandler(slot.bridge.get());
  r.setErrorHandler(slot.bridge.get());
  r.setEntityResolver(slot.bridge.get());
  r.setLexicalHandler(slot.bridge.get());
  return reader;
}

std::unique_ptr<ReaderSlot> makeReaderSlot() {
  auto slot = std::make_unique<ReaderSlot>();
  xc::XMLTransService::Codes code = xc::XMLTransService::Ok;
  slot->utf8.reset(xc::XMLPlatformUtils::fgTransService->makeNewTranscoderFor(
      xc::XMLRecognizer::UTF_8, code, 16 * 1024));
  if (!slot->utf8 || code != xc::XMLTransService::Ok) return nullptr;
  slot->bridge = std::make_unique<SaxBridge>(*slot->utf8);
  return slot;
}

thread_local std::unique_ptr<ReaderSlot> t_reader;
thread_local bool t_reader_busy = false;  // a handler that parses again gets its own reader

struct BusyGuard {
  bool& flag;
  explicit BusyGuard(bool& f) : flag(f) { flag = true; }
  ~BusyGuard() { flag = false; }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;
};

}  // namespace

std::optional<Error> readXml(std::string_view xml, XmlHandler& handler, const XmlLimits& limits) {
  if (!limits.allow_doctype && prologHasDoctype(xml)) {
    return Error{Errc::XmlDoctypeForbidden, "DOCTYPE refusé (prologue du document)"};
  }
  if (!initialiseXerces()) return Error{Errc::Internal, "initialisation de Xerces-C++ impossible"};

  std::optional<Error> result;
  bool clean = false;
  const bool nested = t_reader_busy;
  std::unique_ptr<ReaderSlot> own;  // nested parse only
  try {
    std::unique_ptr<ReaderSlot>& holder = nested ? own : t_reader;
    if (!holder) holder = makeReaderSlot();
    if (!holder) return Error{Errc::Internal, "transcodeur UTF-8 de Xerces-C++ indisponible"};
    ReaderSlot& slot = *holder;
    std::optional<BusyGuard> busy;
    if (!nested) busy.emplace(t_reader_busy);
    const bool fast = !limits.allow_doctype && readAsUtf8(xml);  // no DOCTYPE: checked above
    std::unique_ptr<xc::SAX2XMLReader>& reader = fast ? slot.fast : slot.general;
    if (!reader) reader = makeReader(slot, fast);
    slot.security.setEntityExpansionLimit(limits.max_entity_expansions);
    slot.bridge->begin(handler, limits, fast);
    xc::MemBufInputSource source(reinterpret_cast<const XMLByte*>(xml.data()), xml.size(),
                                 "liaison-xml", false);
    source.setCopyBufToStream(false);  // Xerces copies the whole input by default
    try {
      reader->parse(source);
      clean = true;
    } catch (const StopParse&) {
    } catch (const Abort& abort) {
      result = Error{abort.code, abort.detail};
    } catch (const xc::SAXParseException& e) {
      result = Error{Errc::XmlMalformed, "XML mal formé (" +
                                             position(e.getLineNumber(), e.getColumnNumber()) +
                                             ") : " + messageUtf8(e.getMessage())};
    }
    slot.bridge->finish();
  } catch (const xc::OutOfMemoryException&) {
    result = Error{Errc::XmlTooComplex, "XML trop complexe : mémoire épuisée"};
  } catch (const xc::XMLException& e) {
    result = Error{Errc::XmlMalformed, "XML illisible : " + messageUtf8(e.getMessage())};
  } catch (const xc::SAXException& e) {
    result = Error{Errc::XmlMalformed, "XML illisible : " + messageUtf8(e.getMessage())};
  } catch (const std::bad_alloc&) {
    result = Error{Errc::XmlTooComplex, "XML trop complexe : mémoire épuisée"};
  } catch (const Abort& abort) {
    result = Error{abort.code, abort.detail};
  } catch (...) {
    result = Error{Errc::Internal, "erreur inattendue pendant la lecture XML"};
  }
  if (!clean && !nested) t_reader.reset();  // rebuild the reader after any abnormal end
  return result;
}

}  // namespace liaison::parse
