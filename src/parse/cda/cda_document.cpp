// CDA R2 → CdaDocument in one SAX pass. Each open element gets a context computed from its
// parent's context and its local name; subtrees of no interest become Other (cheap to skip).
// Clinical statements are appended to doc.entries as they start, with a stack of the open ones;
// what needs the whole document (narrative references, which may point forward) is settled once
// the pass ends.

#include "parse/cda/cda_document.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "core/text/ascii.hpp"
#include "parse/cda/xml.hpp"
#include "parse/text/base64.hpp"

namespace liaison::parse {
namespace {

constexpr std::string_view kHl7Ns = "urn:hl7-org:v3";
constexpr std::string_view kSdtcNs = "urn:hl7-org:sdtc";
constexpr std::string_view kXsiNs = "http://www.w3.org/2001/XMLSchema-instance";
// A self-presenting CDA (CI-SIS "autoprésentable"): an XSL stylesheet whose data:Contenu holds
// the ClinicalDocument.
constexpr std::string_view kXslNs = "http://www.w3.org/1999/XSL/Transform";
constexpr std::string_view kCisisDataNs = "urn:asip-sante:ci-sis";

constexpr std::size_t kMaxTemplateIds = 32;        // per entry
constexpr std::size_t kMaxPatientParts = 100;      // name parts, addresses, telecom details
constexpr std::size_t kMaxRelatedDocuments = 16;   //
constexpr std::size_t kMaxAnchorBytes = 4u << 20;  // narrative elements with an ID, together
constexpr std::size_t kMaxOpenAnchors = 8;  // nested ones read at once (each gets every char)

enum class Ctx : std::uint8_t {
  Other,
  Wrapper,  // xsl:stylesheet, then its data:Contenu (a self-presenting CDA)
  Doc,
  RecordTarget,
  PatientRole,
  PatientAddr,
  Patient,
  PatientName,
  Birthplace,
  BirthplacePlace,
  BirthplaceAddr,
  Author,         // author: holds time and assignedAuthor
  LegalAuth,      // legalAuthenticator
  Recipient,      // informationRecipient (header)
  AssignedParty,  // assignedAuthor / assignedEntity / intendedRecipient
  PartyPerson,    // assignedPerson / intendedRecipient/informationRecipient
  PartyName,
  PartyOrg,  // representedOrganization / receivedOrganization
  Custodian,
  AssignedCustodian,
  CustodianOrg,
  DocumentationOf,
  ServiceEvent,
  ServiceEventTime,
  ComponentOf,
  Encounter,
  EncounterTime,
  EncounterLocation,
  Facility,
  RelatedDocument,
  ParentDocument,
  BodyComponent,
  NonXmlBody,
  StructuredBody,
  SectionHolder,  // structuredBody/component, section/component
  Section,
  Narrative,     // section/text and everything below it
  Entry,         // section/entry
  Statement,     // a clinical statement: act, observation, organizer …
  Relationship,  // entryRelationship / component / precondition of a statement
  StmtCode,      // statement/code
  StmtText,      // statement/text
  StmtTime,      // the statement's first effectiveTime
  Value,         // the statement's first value
  Dose,          // doseQuantity
  Consumable,
  Product,   // consumable/manufacturedProduct
  Material,  // manufacturedProduct/manufacturedMaterial
  Participant,
  ParticipantRole,
  PlayingEntity,  // playingEntity / playingDevice
  EntityCode,
  RefRange,      // referenceRange
  ObsRange,      // referenceRange/observationRange
  RangeValue,    // observationRange/value
  OriginalText,  // originalText of a statement's code, value, playing entity code
};

// What to do with an element's captured text when it ends.
enum class Capture : std::uint8_t {
  None,
  DocTitle,
  PatientFamily,
  PatientGiven,
  BirthCounty,
  BirthCity,
  BirthCountry,
  BirthPlaceName,
  AddrLine,      // a line of its own
  AddrStreet,    // street parts share a line
  AddrUnit,      // unit parts share a line
  AddrDelivery,  // delivery parts share a line
  AddrPostalCode,
  AddrCity,
  AddrCounty,
  AddrCountry,
  AddrWhole,  // the addr element itself: the address is complete
  PartyFamily,
  PartyGiven,
  PartyOrgName,
  CustodianName,
  SectionTitle,
  NonXmlText,
  StmtText,
  CodeText,      // statement code/originalText
  ValueText,     // value/originalText
  ValueContent,  // ST / ED / SC value
  MaterialName,
  EntityName,
  EntityText,    // playingEntity/code/originalText
  NarrativeEnd,  // not a capture: the narrative block ends
};

// Where a `reference` child (@value "#id") points the narrative text it names.
enum class RefTarget : std::uint8_t { None, Text, Code, ValueText, ValueValue, Entity };

struct Frame {
  Ctx ctx;
  Capture capture = Capture::None;
  RefTarget ref = RefTarget::None;
  bool qualifier_br = false;
  bool qualifier_cl = false;
  bool first_name = false;  // a part of the patient's first name element
  bool anchor = false;      // a narrative element with an ID
};

// A clinical statement being read: which "first" children were seen, and the references found.
struct OpenStatement {
  std::size_t entry = 0;
  bool id = false, code = false, text = false, status = false, time = false, value = false;
  bool interpretation = false, site = false, dose = false, route = false, material = false;
  bool participant = false, range = false;
  const char* bad = nullptr;  // the first part that did not read as it should
  std::string text_ref, code_ref, value_text_ref, value_ref, entity_ref;
  std::string entity_text;  // playingEntity/code/originalText
};

struct PendingRef {
  std::size_t entry;
  RefTarget target;
  std::string id;
};

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trimView(std::string_view s) {
  while (!s.empty() && isSpace(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back()))
    s.remove_suffix(1);
  return s;
}

bool isDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// HL7 REAL literal: [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?
bool isDecimal(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9')
    ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
      ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t exp = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
      ++i, ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}

bool isInteger(std::string_view s) {
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  return isDigits(s);
}

// An INSEE commune code: 5 digits, or 2A / 2B (Corsica) and 3 digits.
bool isInseeCode(std::string_view s) {
  if (s.size() != 5) return false;
  if (s.starts_with("2A") || s.starts_with("2B")) return isDigits(s.substr(2));
  return isDigits(s);
}

// Cuts `s` to at most `cap` bytes without leaving an incomplete UTF-8 sequence at the end.
void cutUtf8(std::string& s, std::size_t cap) {
  if (s.size() < cap) return;
  s.resize(cap);
  std::size_t lead = s.size();
  while (lead > 0 && (static_cast<unsigned char>(s[lead - 1]) & 0xC0) == 0x80)
    --lead;
  if (lead > 0) {
    const auto b = static_cast<unsigned char>(s[lead - 1]);
    const std::size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
    if (s.size() - (lead - 1) < need) s.resize(lead - 1);
  }
}

// The run of non-space characters of `s` that starts at `i`, and where it ends.
std::size_t runEnd(std::string_view s, std::size_t i) {
  while (i < s.size() && !isSpace(s[i]))
    ++i;
  return i;
}

// White space collapsed to single spaces, trimmed, at most `cap` bytes.
std::string collapse(std::string_view s, std::size_t cap) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && out.size() < cap;) {
    if (isSpace(s[i])) {
      ++i;
      continue;
    }
    const std::size_t end = runEnd(s, i);
    if (!out.empty()) out += ' ';
    out.append(s.substr(i, std::min(end - i, cap - std::min(cap, out.size()))));
    i = end;
  }
  cutUtf8(out, cap);
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

// The xsi:type of an element, without its namespace prefix.
std::string_view xsiType(const XmlElement& e) {
  const XmlAttribute* type = e.find("type", kXsiNs);
  if (type == nullptr) return {};
  std::string_view t = trimView(type->value);
  if (const std::size_t colon = t.find(':'); colon != std::string_view::npos) {
    t.remove_prefix(colon + 1);
  }
  return t;
}

// A reference's @value: "#id" (or, as some senders write it, "id") → "id".
std::string_view referenceId(const XmlElement& e) {
  std::string_view v = trimView(e.attr("value"));
  if (v.starts_with('#')) v.remove_prefix(1);
  return v;
}

bool isStatement(std::string_view n) {
  return n == "observation" || n == "organizer" || n == "act" || n == "procedure" ||
         n == "encounter" || n == "substanceAdministration" || n == "supply" ||
         n == "observationMedia" || n == "regionOfInterest" || n == "criterion";
}

// Narrative block → plain text: white space collapsed, blocks on their own lines, table cells
// separated by a space; bounded (cut on a UTF-8 character boundary).
class NarrativeText {
 public:
  explicit NarrativeText(std::size_t cap) : cap_(cap) {}
  void text(std::string_view s) {
    for (std::size_t i = 0; i < s.size() && out_.size() < cap_;) {  // full: nothing more fits
      if (isSpace(s[i])) {
        pending_space_ = true;
        ++i;
        continue;
      }
      if (pending_space_) {
        if (!out_.empty() && out_.back() != '\n' && out_.back() != ' ') put(' ');
        pending_space_ = false;
      }
      const std::size_t end = runEnd(s, i);
      out_.append(s.substr(i, std::min(end - i, cap_ - std::min(cap_, out_.size()))));
      i = end;
    }
  }
  void newline() {
    pending_space_ = false;
    while (!out_.empty() && out_.back() == ' ')
      out_.pop_back();
    if (!out_.empty() && out_.back() != '\n') put('\n');
  }
  void separator() { pending_space_ = true; }
  // The text so far; the writer starts again empty.
  std::string finish() {
    std::string s = std::move(out_);
    out_.clear();
    pending_space_ = false;
    if (s.size() >= cap_) cutUtf8(s, cap_);
    while (!s.empty() && isSpace(s.back()))
      s.pop_back();
    return s;
  }

 private:
  void put(char c) {
    if (out_.size() < cap_) out_.push_back(c);
  }
  std::string out_;
  std::size_t cap_;
  bool pending_space_ = false;
};

bool isBlock(std::string_view name) {
  return name == "paragraph" || name == "list" || name == "item" || name == "table" ||
         name == "tr" || name == "thead" || name == "tbody" || name == "tfoot" ||
         name == "caption" || name == "br";
}

// A narrative element with an ID being read, and one that was read.
struct OpenAnchor {
  std::size_t depth;
  std::string id;
  NarrativeText text{kMaxEntryText};
};
struct Anchor {
  std::size_t section;
  std::string id;
  std::string text;
};

class CdaHandler final : public XmlHandler {
 public:
  XmlAction startElement(const XmlElement& e) override {
    if (e.depth == 1) {
      if (e.local_name == "stylesheet" && e.ns == kXslNs) {
        stack_.push_back(Frame{Ctx::Wrapper});
        return XmlAction::Continue;
      }
      if (e.local_name != "ClinicalDocument" || e.ns != kHl7Ns) {
        root_error_ = true;
        return XmlAction::Stop;
      }
      document_seen_ = true;
      stack_.push_back(Frame{Ctx::Doc});
      return XmlAction::Continue;
    }
    const Frame& parent = stack_.back();
    if (parent.ctx == Ctx::Wrapper) {
      // Only the first ClinicalDocument of stylesheet/data:Contenu: the templates may name one.
      Frame frame{Ctx::Other};
      if (e.depth == 2 && e.local_name == "Contenu" && e.ns == kCisisDataNs) {
        frame.ctx = Ctx::Wrapper;
      } else if (e.depth == 3 && !document_seen_ && e.local_name == "ClinicalDocument" &&
                 e.ns == kHl7Ns) {
        document_seen_ = true;
        frame.ctx = Ctx::Doc;
      }
      stack_.push_back(frame);
      return XmlAction::Continue;
    }
    Frame frame{Ctx::Other};
    if (parent.ctx == Ctx::Other) {
      stack_.push_back(frame);
      return XmlAction::Continue;
    }
    if (e.ns != kHl7Ns) {
      if (parent.ctx == Ctx::Patient && e.ns == kSdtcNs) readSdtcPatient(e);
      if (parent.ctx == Ctx::Narrative) frame.ctx = Ctx::Narrative;
      stack_.push_back(frame);
      return XmlAction::Continue;
    }
    if (parent.ref != RefTarget::None && e.local_name == "reference") {
      readReference(parent.ref, e);
    } else {
      start(parent, e, frame);
    }
    stack_.push_back(frame);
    switch (frame.capture) {
      case Capture::None:
        return XmlAction::Continue;
      case Capture::NarrativeEnd:
        return XmlAction::StreamText;
      default:
        return XmlAction::CaptureText;
    }
  }

  XmlAction endElement(const XmlElement& e, std::string_view text) override {
    const Frame frame = stack_.back();
    stack_.pop_back();
    if (frame.ctx == Ctx::Narrative) {
      narrativeEnd(frame, e.local_name);
      return XmlAction::Continue;
    }
    if (frame.capture != Capture::None) endCapture(frame, text);
    if (frame.ctx == Ctx::Statement) {
      endStatement();
    } else if (frame.ctx == Ctx::Section && !sections_open_.empty()) {
      sections_open_.pop_back();
    }
    return XmlAction::Continue;
  }

  XmlAction characters(std::string_view text) override {
    if (in_narrative_ && stack_.back().ctx == Ctx::Narrative) {
      narrative_.text(text);
      for (OpenAnchor& a : anchors_open_)
        a.text.text(text);
    }
    return XmlAction::Continue;
  }

  // After a complete pass: references resolved, birth place completed.
  void finish() {
    CdaPatient& p = *doc_.patient;
    if (p.birth_family.empty() && !families_unqualified_.empty()) {
      p.birth_family = families_unqualified_[0];
    }
    if (p.used_family.empty() && families_unqualified_.size() >= 2) {
      p.used_family = families_unqualified_[1];
    }
    for (const std::string& g : given_unqualified_) {
      if (g.empty()) continue;
      if (!p.birth_given.empty()) p.birth_given += ' ';
      p.birth_given += g;
    }
    if (p.birth_place_code.empty() && isInseeCode(birth_country_)) {
      p.birth_place_code = birth_country_;
    }
    resolveReferences();
  }

  // Results.
  bool root_error_ = false;
  bool document_seen_ =
      false;  // the ClinicalDocument (the root, or in a stylesheet's data:Contenu)
  bool record_target_seen_ = false;
  bool body_seen_ = false;
  CdaDocument doc_;

 private:
  void warn(std::string message, std::uint64_t line, Errc code = Errc::CdaValueInvalid) {
    doc_.issues.add(Issue{code,
                          Severity::Warning,
                          std::move(message),
                          {},
                          line != 0 ? "line " + std::to_string(line) : std::string{}});
  }

  static CdaId readId(const XmlElement& e) {
    return CdaId{std::string(e.attr("root")), std::string(e.attr("extension"))};
  }
  static CdaCode readCode(const XmlElement& e) {
    return CdaCode{std::string(e.attr("code")), std::string(e.attr("codeSystem")),
                   std::string(e.attr("displayName"))};
  }
  static std::string templateId(const XmlElement& e) {
    std::string id(e.attr("root"));
    if (std::string_view ext = e.attr("extension"); !ext.empty()) {
      id += '|';
      id += ext;
    }
    return id;
  }
  // An id counts when it has a root and no nullFlavor.
  static bool usableId(const XmlElement& e) {
    return !e.attr("root").empty() && e.find("nullFlavor") == nullptr;
  }

  CdaSection* currentSection() {
    return sections_open_.empty() ? nullptr : &doc_.sections[sections_open_.back()];
  }

  // An entry's text: white space collapsed, bounded, within the document's budget.
  std::string keep(std::string_view raw) {
    std::string s = collapse(raw, kMaxEntryText);
    return charge(std::move(s));
  }
  std::string charge(std::string s) {
    if (entry_text_bytes_ + s.size() > kMaxEntryTextTotal) {
      if (!entry_text_capped_) {
        entry_text_capped_ = true;
        warn("Textes des entrées trop volumineux : les suivants ne sont pas lus.", 0,
             Errc::CdaInvalid);
      }
      return {};
    }
    entry_text_bytes_ += s.size();
    return s;
  }

  std::optional<bool> readBool(const XmlElement& e, std::string_view what) {
    const XmlAttribute* a = e.find("value");
    if (a == nullptr) return std::nullopt;
    const std::string_view v = trimView(a->value);
    if (v == "true") return true;
    if (v == "false") return false;
    warn(std::string(what) + " illisible (true/false attendu) : ignoré.", e.line);
    return std::nullopt;
  }

  void readSdtcPatient(const XmlElement& e) {
    CdaPatient& p = *doc_.patient;
    const std::string_view n = e.local_name;
    if (n == "multipleBirthOrderNumber") {
      std::string_view v = e.attr("value");
      if (v.empty()) return;
      int order = 0;
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), order);
      if (ec == std::errc{} && ptr == v.data() + v.size() && order >= 0) {
        p.multiple_birth_order = order;
      } else {
        warn("Rang de naissance (multipleBirthOrderNumber) illisible : ignoré.", e.line);
      }
    } else if (n == "multipleBirthInd") {
      p.multiple_birth = readBool(e, "Naissance multiple (multipleBirthInd)");
    } else if (n == "deceasedInd") {
      p.deceased = readBool(e, "Indicateur de décès (deceasedInd)");
    } else if (n == "deceasedTime") {
      p.deceased_time = e.attr("value");
    }
  }

  void start(const Frame& parent, const XmlElement& e, Frame& f) {
    const std::string_view n = e.local_name;
    switch (parent.ctx) {
      case Ctx::Doc:
        if (n == "templateId") {
          doc_.template_ids.push_back(templateId(e));
        } else if (n == "id") {
          doc_.id = readId(e);
        } else if (n == "setId") {
          doc_.set_id = readId(e);
        } else if (n == "versionNumber") {
          doc_.version = e.attr("value");
        } else if (n == "code") {
          doc_.code = readCode(e);
        } else if (n == "title") {
          f.capture = Capture::DocTitle;
        } else if (n == "effectiveTime") {
          doc_.effective_time = e.attr("value");
        } else if (n == "confidentialityCode") {
          doc_.confidentiality = e.attr("code");
        } else if (n == "languageCode") {
          doc_.language = e.attr("code");
        } else if (n == "recordTarget") {
          if (record_target_seen_) {
            warn("Plusieurs recordTarget : seul le premier est lu.", e.line, Errc::CdaInvalid);
          } else {
            record_target_seen_ = true;
            doc_.patient.emplace();
            f.ctx = Ctx::RecordTarget;
          }
        } else if (n == "author") {
          party_ = &doc_.authors.emplace_back();
          f.ctx = Ctx::Author;
        } else if (n == "custodian") {
          f.ctx = Ctx::Custodian;
        } else if (n == "legalAuthenticator") {
          if (!doc_.legal_authenticator) {
            party_ = &doc_.legal_authenticator.emplace();
            f.ctx = Ctx::LegalAuth;
          }
        } else if (n == "informationRecipient") {
          party_ = &doc_.recipients.emplace_back();
          f.ctx = Ctx::Recipient;
        } else if (n == "documentationOf") {
          if (!service_event_seen_) {
            service_event_seen_ = true;
            f.ctx = Ctx::DocumentationOf;
          }
        } else if (n == "componentOf") {
          f.ctx = Ctx::ComponentOf;
        } else if (n == "relatedDocument") {
          if (doc_.related_documents.size() < kMaxRelatedDocuments) {
            doc_.related_documents.emplace_back().type_code = e.attr("typeCode");
            f.ctx = Ctx::RelatedDocument;
          }
        } else if (n == "component") {
          f.ctx = Ctx::BodyComponent;
        }
        return;
      case Ctx::RecordTarget:
        if (n == "patientRole") f.ctx = Ctx::PatientRole;
        return;
      case Ctx::PatientRole: {
        CdaPatient& p = *doc_.patient;
        if (n == "id") {
          if (usableId(e)) p.ids.push_back(readId(e));
        } else if (n == "telecom") {
          if (std::string_view v = e.attr("value"); !v.empty()) {
            p.telecoms.emplace_back(v);
            if (p.telecom_details.size() < kMaxPatientParts) {
              p.telecom_details.push_back(CdaTelecom{std::string(e.attr("use")), std::string(v)});
            }
          }
        } else if (n == "addr") {
          if (e.find("nullFlavor") == nullptr && p.addresses.size() < kMaxPatientParts) {
            p.addresses.emplace_back().use = e.attr("use");
            addr_pending_.clear();
            f.ctx = Ctx::PatientAddr;
            f.capture = Capture::AddrWhole;
          }
        } else if (n == "patient") {
          f.ctx = Ctx::Patient;
        }
        return;
      }
      case Ctx::PatientAddr:
        f.capture = addressPart(n);
        return;
      case Ctx::Patient:
        if (n == "name") {
          ++patient_names_;
          f.ctx = Ctx::PatientName;
        } else if (n == "administrativeGenderCode") {
          doc_.patient->sex = e.attr("code");
          const std::string& s = doc_.patient->sex;
          if (!s.empty() && s != "M" && s != "F" && s != "U") {
            warn("Sexe administratif hors de M/F/U.", e.line);
          }
        } else if (n == "birthTime") {
          doc_.patient->birth_time = e.attr("value");
        } else if (n == "birthplace") {
          f.ctx = Ctx::Birthplace;
        }
        return;
      case Ctx::PatientName:
        if (n == "family" || n == "given") {
          const bool family = n == "family";
          f.capture = family ? Capture::PatientFamily : Capture::PatientGiven;
          const std::string_view q = e.attr("qualifier");
          f.qualifier_br = ascii::hasToken(q, "BR");
          f.qualifier_cl = ascii::hasToken(q, "CL");
          auto& parts = family ? doc_.patient->families : doc_.patient->givens;
          if (patient_names_ == 1 && parts.size() < kMaxPatientParts) {
            parts.push_back(CdaPatient::NamePart{{}, std::string(q)});
            f.first_name = true;
          }
        }
        return;
      case Ctx::Birthplace:
        if (n == "place") f.ctx = Ctx::BirthplacePlace;
        return;
      case Ctx::BirthplacePlace:
        if (n == "addr") f.ctx = Ctx::BirthplaceAddr;
        if (n == "name") f.capture = Capture::BirthPlaceName;
        return;
      case Ctx::BirthplaceAddr:
        if (n == "county") f.capture = Capture::BirthCounty;
        if (n == "city") f.capture = Capture::BirthCity;
        if (n == "country") f.capture = Capture::BirthCountry;
        return;
      case Ctx::Author:
      case Ctx::LegalAuth:
        if (n == "time") {
          party_->time = e.attr("value");
        } else if (n == "assignedAuthor" || n == "assignedEntity") {
          f.ctx = Ctx::AssignedParty;
        }
        return;
      case Ctx::Recipient:
        if (n == "intendedRecipient") f.ctx = Ctx::AssignedParty;
        return;
      case Ctx::AssignedParty:
        if (n == "id") {
          if (usableId(e)) party_->ids.push_back(readId(e));
        } else if (n == "code") {
          party_->specialty = readCode(e);
        } else if (n == "assignedPerson" || n == "informationRecipient") {
          f.ctx = Ctx::PartyPerson;
        } else if (n == "representedOrganization" || n == "receivedOrganization") {
          f.ctx = Ctx::PartyOrg;
        }
        return;
      case Ctx::PartyPerson:
        if (n == "name") f.ctx = Ctx::PartyName;
        return;
      case Ctx::PartyName:
        if (n == "family") f.capture = Capture::PartyFamily;
        if (n == "given") f.capture = Capture::PartyGiven;
        return;
      case Ctx::PartyOrg:
        if (n == "id") {
          if (usableId(e)) party_->organization_ids.push_back(readId(e));
        } else if (n == "name") {
          f.capture = Capture::PartyOrgName;
        }
        return;
      case Ctx::Custodian:
        if (n == "assignedCustodian") f.ctx = Ctx::AssignedCustodian;
        return;
      case Ctx::AssignedCustodian:
        if (n == "representedCustodianOrganization") f.ctx = Ctx::CustodianOrg;
        return;
      case Ctx::CustodianOrg:
        if (n == "id") {
          if (usableId(e)) doc_.custodian_ids.push_back(readId(e));
        } else if (n == "name") {
          f.capture = Capture::CustodianName;
        }
        return;
      case Ctx::DocumentationOf:
        if (n == "serviceEvent") f.ctx = Ctx::ServiceEvent;
        return;
      case Ctx::ServiceEvent:
        if (n == "code") {
          doc_.service_event_code = readCode(e);
        } else if (n == "effectiveTime") {
          doc_.service_event_start = e.attr("value");
          f.ctx = Ctx::ServiceEventTime;
        }
        return;
      case Ctx::ServiceEventTime:
        if (n == "low") doc_.service_event_start = e.attr("value");
        if (n == "high") doc_.service_event_end = e.attr("value");
        return;
      case Ctx::ComponentOf:
        if (n == "encompassingEncounter") f.ctx = Ctx::Encounter;
        return;
      case Ctx::Encounter:
        if (n == "effectiveTime") {
          doc_.encounter_start = e.attr("value");
          f.ctx = Ctx::EncounterTime;
        } else if (n == "location") {
          f.ctx = Ctx::EncounterLocation;
        }
        return;
      case Ctx::EncounterTime:
        if (n == "low") doc_.encounter_start = e.attr("value");
        if (n == "high") doc_.encounter_end = e.attr("value");
        return;
      case Ctx::EncounterLocation:
        if (n == "healthCareFacility") f.ctx = Ctx::Facility;
        return;
      case Ctx::Facility:
        if (n == "id") {
          if (usableId(e)) doc_.encounter_location_ids.push_back(readId(e));
        } else if (n == "code") {
          doc_.encounter_facility_type = readCode(e);
        }
        return;
      case Ctx::RelatedDocument:
        if (n == "parentDocument") f.ctx = Ctx::ParentDocument;
        return;
      case Ctx::ParentDocument: {
        CdaRelatedDocument& r = doc_.related_documents.back();
        if (n == "id") {
          if (r.id.root.empty()) r.id = readId(e);
        } else if (n == "setId") {
          r.set_id = readId(e);
        } else if (n == "versionNumber") {
          r.version = e.attr("value");
        }
        return;
      }
      case Ctx::BodyComponent:
        if (n == "nonXMLBody") {
          body_seen_ = true;
          f.ctx = Ctx::NonXmlBody;
        } else if (n == "structuredBody") {
          body_seen_ = true;
          doc_.structured = true;
          f.ctx = Ctx::StructuredBody;
        }
        return;
      case Ctx::NonXmlBody:
        if (n == "text") {
          doc_.non_xml_media_type = e.attr("mediaType");
          if (doc_.non_xml_media_type.empty()) doc_.non_xml_media_type = "text/plain";
          non_xml_b64_ = e.attr("representation") == "B64";
          non_xml_line_ = e.line;
          f.capture = Capture::NonXmlText;
        }
        return;
      case Ctx::StructuredBody:
        if (n == "component") f.ctx = Ctx::SectionHolder;
        return;
      case Ctx::SectionHolder:
        if (n == "section") {
          sections_open_.push_back(doc_.sections.size());
          doc_.sections.emplace_back();
          f.ctx = Ctx::Section;
        }
        return;
      case Ctx::Section: {
        CdaSection& s = doc_.sections[sections_open_.back()];
        if (n == "templateId") {
          s.template_ids.push_back(templateId(e));
        } else if (n == "code") {
          s.code = readCode(e);
        } else if (n == "title") {
          f.capture = Capture::SectionTitle;
        } else if (n == "text") {
          f.ctx = Ctx::Narrative;
          f.capture = Capture::NarrativeEnd;
          in_narrative_ = true;
          narrative_.finish();  // starts empty
          openAnchor(e, f);
        } else if (n == "component") {
          f.ctx = Ctx::SectionHolder;
        } else if (n == "entry") {
          f.ctx = Ctx::Entry;
        }
        return;
      }
      case Ctx::Narrative:
        f.ctx = Ctx::Narrative;
        if (isBlock(n)) {
          forEachWriter([](NarrativeText& w) { w.newline(); });
        } else if (n == "td" || n == "th") {
          forEachWriter([](NarrativeText& w) { w.separator(); });
        }
        openAnchor(e, f);
        return;
      case Ctx::Entry:
        if (isStatement(n)) startStatement(e, f, -1);
        return;
      case Ctx::Relationship:
        if (isStatement(n)) startStatement(e, f, static_cast<int>(stmts_.back().entry));
        return;
      case Ctx::Statement:
        statementChild(e, f);
        return;
      case Ctx::StmtCode:
        if (n == "originalText") {
          f.ctx = Ctx::OriginalText;
          f.capture = Capture::CodeText;
          f.ref = RefTarget::Code;
        }
        return;
      case Ctx::StmtTime: {
        CdaEntry& x = entry();
        if (n == "low") {
          x.time_low = e.attr("value");
          if (x.time.empty()) x.time = x.time_low;
        } else if (n == "center") {
          if (x.time.empty()) x.time = e.attr("value");
        } else if (n == "high") {
          x.time_high = e.attr("value");
        }
        return;
      }
      case Ctx::Value: {
        CdaValue& v = entry().value;
        if (n == "originalText") {
          f.ctx = Ctx::OriginalText;
          f.capture = Capture::ValueText;
          f.ref = RefTarget::ValueText;
        } else if (n == "low" || n == "high") {
          bound(e, v, v.type.starts_with("IVL_") && v.type != "IVL_TS", "valeur numérique");
        } else if (n == "center") {
          if (v.value.empty()) v.value = trimView(e.attr("value"));
        }
        return;
      }
      case Ctx::Dose:
        if (n == "low" || n == "high") {
          CdaValue& d = entry().dose;
          d.type = "IVL_PQ";
          bound(e, d, true, "dose");
        }
        return;
      case Ctx::Consumable:
        if (n == "manufacturedProduct") f.ctx = Ctx::Product;
        return;
      case Ctx::Product:
        if (n == "manufacturedMaterial" && !stmts_.back().material) {
          stmts_.back().material = true;
          f.ctx = Ctx::Material;
        }
        return;
      case Ctx::Material:
        if (n == "code") {
          entry().material = readCode(e);
        } else if (n == "name") {
          f.capture = Capture::MaterialName;
        }
        return;
      case Ctx::Participant:
        if (n == "participantRole") f.ctx = Ctx::ParticipantRole;
        return;
      case Ctx::ParticipantRole:
        if ((n == "playingEntity" || n == "playingDevice") && !stmts_.back().participant) {
          stmts_.back().participant = true;
          f.ctx = Ctx::PlayingEntity;
        }
        return;
      case Ctx::PlayingEntity:
        if (n == "code") {
          entry().participant = readCode(e);
          f.ctx = Ctx::EntityCode;
        } else if (n == "name") {
          f.capture = Capture::EntityName;
        }
        return;
      case Ctx::EntityCode:
        if (n == "originalText") {
          f.ctx = Ctx::OriginalText;
          f.capture = Capture::EntityText;
          f.ref = RefTarget::Entity;
        }
        return;
      case Ctx::RefRange:
        if (n == "observationRange") f.ctx = Ctx::ObsRange;
        return;
      case Ctx::ObsRange:
        if (n == "value") {
          entry().reference_range_unit = e.attr("unit");
          f.ctx = Ctx::RangeValue;
        }
        return;
      case Ctx::RangeValue: {
        CdaEntry& x = entry();
        if (n == "low" || n == "high") {
          const std::string_view v = trimView(e.attr("value"));
          (n == "low" ? x.reference_range_low : x.reference_range_high) = v;
          if (x.reference_range_unit.empty()) x.reference_range_unit = e.attr("unit");
          if (!v.empty() && !isDecimal(v)) markBad("intervalle de référence");
        }
        return;
      }
      case Ctx::StmtText:
      case Ctx::OriginalText:
      case Ctx::Wrapper:  // handled in startElement
      case Ctx::Other:
        return;
    }
  }

  // --- clinical statements ---------------------------------------------------------------------

  CdaEntry& entry() { return doc_.entries[stmts_.back().entry]; }

  void markBad(const char* what) {
    if (stmts_.back().bad == nullptr) stmts_.back().bad = what;
  }

  void startStatement(const XmlElement& e, Frame& f, int parent) {
    if (doc_.entries.size() >= kMaxCdaEntries) {
      if (!entries_capped_) {
        entries_capped_ = true;
        warn("Plus de " + std::to_string(kMaxCdaEntries) +
                 " entrées cliniques : les suivantes ne sont pas lues.",
             e.line, Errc::CdaInvalid);
      }
      return;  // stays Other: its subtree is skipped
    }
    // An entry is large: a few growth steps of the vector are cheaper than many.
    if (doc_.entries.empty()) doc_.entries.reserve(32);
    CdaEntry& x = doc_.entries.emplace_back();
    x.section = sections_open_.empty() ? 0 : sections_open_.back();
    x.parent = parent;
    x.kind = e.local_name;
    x.mood = e.attr("moodCode");
    x.class_code = e.attr("classCode");
    x.negated = trimView(e.attr("negationInd")) == "true";
    x.line = e.line;
    stmts_.emplace_back().entry = doc_.entries.size() - 1;
    f.ctx = Ctx::Statement;
  }

  void statementChild(const XmlElement& e, Frame& f) {
    const std::string_view n = e.local_name;
    OpenStatement& st = stmts_.back();
    CdaEntry& x = doc_.entries[st.entry];
    if (n == "templateId") {
      if (x.template_ids.size() < kMaxTemplateIds) x.template_ids.push_back(templateId(e));
    } else if (n == "id") {
      if (!st.id && !e.attr("root").empty()) {
        st.id = true;
        x.id = readId(e);
      }
    } else if (n == "code") {
      if (!st.code) {
        st.code = true;
        x.code = readCode(e);
        f.ctx = Ctx::StmtCode;
      }
    } else if (n == "text") {
      if (!st.text) {
        st.text = true;
        f.ctx = Ctx::StmtText;
        f.capture = Capture::StmtText;
        f.ref = RefTarget::Text;
      }
    } else if (n == "statusCode") {
      if (!st.status) {
        st.status = true;
        x.status = e.attr("code");
      }
    } else if (n == "effectiveTime") {
      if (!st.time) {
        st.time = true;
        x.time = e.attr("value");
        f.ctx = Ctx::StmtTime;
      }
    } else if (n == "value") {
      if (!st.value) {
        st.value = true;
        startValue(e, f, x.value);
      }
    } else if (n == "interpretationCode") {
      if (!st.interpretation) {
        st.interpretation = true;
        x.interpretation = readCode(e);
      }
    } else if (n == "targetSiteCode") {
      if (!st.site) {
        st.site = true;
        x.target_site = readCode(e);
      }
    } else if (n == "doseQuantity") {
      if (!st.dose) {
        st.dose = true;
        CdaValue& d = x.dose;
        d.type = "PQ";
        d.null = e.find("nullFlavor") != nullptr;
        d.value = trimView(e.attr("value"));
        d.unit = e.attr("unit");
        if (!d.value.empty() && !isDecimal(d.value)) markBad("dose");
        f.ctx = Ctx::Dose;
      }
    } else if (n == "routeCode") {
      if (!st.route) {
        st.route = true;
        x.route = readCode(e);
      }
    } else if (n == "consumable") {
      if (!st.material) f.ctx = Ctx::Consumable;
    } else if (n == "participant") {
      if (!st.participant) f.ctx = Ctx::Participant;
    } else if (n == "referenceRange") {
      if (!st.range) {
        st.range = true;
        f.ctx = Ctx::RefRange;
      }
    } else if (n == "entryRelationship" || n == "component" || n == "precondition") {
      f.ctx = Ctx::Relationship;
    }
  }

  void startValue(const XmlElement& e, Frame& f, CdaValue& v) {
    v.type = xsiType(e);
    v.null = e.find("nullFlavor") != nullptr;
    if (const XmlAttribute* a = e.find("value")) {
      v.value = trimView(a->value);
      const std::string_view t = v.type;
      if (t == "PQ" || t == "REAL" || t == "MO") {
        if (!isDecimal(v.value)) markBad("valeur numérique");
      } else if (t == "INT") {
        if (!isInteger(v.value)) markBad("valeur entière");
      } else if (t == "BL") {
        if (v.value != "true" && v.value != "false") markBad("valeur booléenne");
      }
    }
    v.unit = v.type == "MO" ? e.attr("currency") : e.attr("unit");
    if (e.find("code") != nullptr || e.find("codeSystem") != nullptr) v.code = readCode(e);
    f.ctx = Ctx::Value;
    if (v.type == "ST" || v.type == "ED" || v.type == "SC") f.capture = Capture::ValueContent;
    if (v.type == "ED") f.ref = RefTarget::ValueValue;
  }

  // low / high of an interval: @value, and @unit when the interval has none.
  void bound(const XmlElement& e, CdaValue& v, bool numeric, const char* what) {
    const std::string_view value = trimView(e.attr("value"));
    (e.local_name == "low" ? v.low : v.high) = value;
    if (v.unit.empty()) v.unit = e.attr("unit");
    if (numeric && !value.empty() && !isDecimal(value)) markBad(what);
  }

  void readReference(RefTarget target, const XmlElement& e) {
    const std::string_view id = referenceId(e);
    if (id.empty() || id.size() > 256 || stmts_.empty()) return;
    OpenStatement& st = stmts_.back();
    std::string& slot = target == RefTarget::Text         ? st.text_ref
                        : target == RefTarget::Code       ? st.code_ref
                        : target == RefTarget::ValueText  ? st.value_text_ref
                        : target == RefTarget::ValueValue ? st.value_ref
                                                          : st.entity_ref;
    if (slot.empty()) slot = id;
  }

  void endStatement() {
    OpenStatement st = std::move(stmts_.back());
    stmts_.pop_back();
    CdaEntry& x = doc_.entries[st.entry];
    if (st.bad != nullptr) {
      std::string what = x.kind;
      if (!x.code.code.empty()) what += " " + x.code.code;
      warn("Entrée " + what + " : " + st.bad + " illisible, non exploitable.", x.line);
    }
    auto pend = [&](RefTarget target, std::string& id) {
      if (!id.empty()) pending_.push_back(PendingRef{st.entry, target, std::move(id)});
    };
    if (!st.text_ref.empty()) {
      pend(RefTarget::Text, st.text_ref);
    } else if (x.text.empty()) {
      pend(RefTarget::Text, st.code_ref);
    }
    pend(RefTarget::ValueText, st.value_text_ref);
    pend(RefTarget::ValueValue, st.value_ref);
    if (x.participant_name.empty()) {
      x.participant_name = std::move(st.entity_text);
      pend(RefTarget::Entity, st.entity_ref);
    }
  }

  // --- narrative -------------------------------------------------------------------------------

  template <typename F>
  void forEachWriter(F f) {
    f(narrative_);
    for (OpenAnchor& a : anchors_open_)
      f(a.text);
  }

  void openAnchor(const XmlElement& e, Frame& f) {
    const std::string_view id = trimView(e.attr("ID"));
    if (id.empty() || id.size() > 256 || sections_open_.empty()) return;
    if (anchors_open_.size() >= kMaxOpenAnchors || anchor_bytes_ >= kMaxAnchorBytes) return;
    anchors_open_.push_back(OpenAnchor{e.depth, std::string(id)});
    f.anchor = true;
  }

  void closeAnchor() {
    OpenAnchor a = std::move(anchors_open_.back());
    anchors_open_.pop_back();
    std::string text = a.text.finish();
    anchor_bytes_ += a.id.size() + text.size() + 64;  // 64: the record's own weight
    anchors_.push_back(Anchor{sections_open_.back(), std::move(a.id), std::move(text)});
  }

  void narrativeEnd(const Frame& f, std::string_view name) {
    if (f.capture == Capture::NarrativeEnd) {
      if (f.anchor) closeAnchor();
      if (CdaSection* s = currentSection()) s->text = narrative_.finish();
      in_narrative_ = false;
      return;
    }
    if (isBlock(name) && name != "br") {
      forEachWriter([](NarrativeText& w) { w.newline(); });
    } else if (name == "td" || name == "th") {
      forEachWriter([](NarrativeText& w) { w.separator(); });
    }
    if (f.anchor) closeAnchor();
  }

  // The narrative element `id`: in `section` first, else in any section (first one read).
  const Anchor* findAnchor(const std::unordered_multimap<std::string_view, std::size_t>& index,
                           std::size_t section, std::string_view id) const {
    const Anchor* any = nullptr;
    auto [it, end] = index.equal_range(id);
    for (; it != end; ++it) {
      const Anchor& a = anchors_[it->second];
      if (a.section == section) return &a;
      if (any == nullptr || &a < any) any = &a;
    }
    return any;
  }

  void resolveReferences() {
    if (pending_.empty()) return;
    std::unordered_multimap<std::string_view, std::size_t> index;
    index.reserve(anchors_.size());
    for (std::size_t i = 0; i < anchors_.size(); ++i)
      index.emplace(anchors_[i].id, i);
    std::size_t missing = 0;
    std::uint64_t first_line = 0;
    for (PendingRef& r : pending_) {
      CdaEntry& x = doc_.entries[r.entry];
      const Anchor* a = findAnchor(index, x.section, r.id);
      if (a == nullptr) {
        if (missing++ == 0) first_line = x.line;
        continue;
      }
      std::string* field = nullptr;
      switch (r.target) {
        case RefTarget::Text:
        case RefTarget::Code:
          field = &x.text;
          break;
        case RefTarget::ValueText:
          field = &x.value.text;
          break;
        case RefTarget::ValueValue:
          field = &x.value.value;
          break;
        case RefTarget::Entity:
          field = &x.participant_name;
          break;
        case RefTarget::None:
          continue;
      }
      if (std::string text = charge(a->text); !text.empty()) *field = std::move(text);
    }
    if (missing != 0) {
      warn(std::to_string(missing) +
               " référence(s) d'entrée vers un texte narratif absent (attribut ID) : "
               "texte non résolu.",
           first_line);
    }
  }

  // --- addresses -------------------------------------------------------------------------------

  static Capture addressPart(std::string_view n) {
    if (n == "streetAddressLine" || n == "deliveryAddressLine" || n == "additionalLocator" ||
        n == "careOf") {
      return Capture::AddrLine;
    }
    if (n == "houseNumber" || n == "houseNumberNumeric" || n == "buildingNumberSuffix" ||
        n == "streetNameType" || n == "streetNameBase" || n == "streetName" || n == "direction") {
      return Capture::AddrStreet;
    }
    if (n == "unitType" || n == "unitID") return Capture::AddrUnit;
    if (n == "postBox" || n.starts_with("deliveryInstallation") || n.starts_with("deliveryMode")) {
      return Capture::AddrDelivery;
    }
    if (n == "postalCode") return Capture::AddrPostalCode;
    if (n == "city") return Capture::AddrCity;
    if (n == "county") return Capture::AddrCounty;
    if (n == "country") return Capture::AddrCountry;
    return Capture::None;
  }

  void addressPartEnd(Capture kind, std::string_view raw) {
    CdaAddress& a = doc_.patient->addresses.back();
    std::string text = collapse(raw, kMaxEntryText);
    if (text.empty()) return;
    address_parts_ = true;
    switch (kind) {
      case Capture::AddrPostalCode:
        if (a.postal_code.empty()) a.postal_code = std::move(text);
        return;
      case Capture::AddrCity:
        if (a.city.empty()) a.city = std::move(text);
        return;
      case Capture::AddrCounty:
        if (a.county.empty()) a.county = std::move(text);
        return;
      case Capture::AddrCountry:
        if (a.country.empty()) a.country = std::move(text);
        return;
      default:
        break;
    }
    if (kind != Capture::AddrLine && kind == addr_pending_kind_ && !addr_pending_.empty()) {
      addr_pending_ += ' ';
      addr_pending_ += text;
      return;
    }
    flushAddressLine();
    if (kind == Capture::AddrLine) {
      a.lines.push_back(std::move(text));
    } else {
      addr_pending_ = std::move(text);
      addr_pending_kind_ = kind;
    }
  }

  void flushAddressLine() {
    if (addr_pending_.empty()) return;
    doc_.patient->addresses.back().lines.push_back(std::move(addr_pending_));
    addr_pending_.clear();
  }

  void addressEnd(std::string_view raw) {
    flushAddressLine();
    CdaAddress& a = doc_.patient->addresses.back();
    if (!address_parts_) {
      // Free text only: one line.
      if (std::string text = collapse(raw, kMaxEntryText); !text.empty()) {
        a.lines.push_back(std::move(text));
      } else {
        doc_.patient->addresses.pop_back();  // nothing in it
      }
    }
    address_parts_ = false;
  }

  // --- captured texts --------------------------------------------------------------------------

  void endCapture(const Frame& f, std::string_view raw) {
    const std::string_view text = trimView(raw);
    switch (f.capture) {
      case Capture::DocTitle:
        doc_.title = text;
        break;
      case Capture::PatientFamily: {
        CdaPatient& p = *doc_.patient;
        if (f.qualifier_br && p.birth_family.empty()) p.birth_family = text;
        if (f.qualifier_cl && p.used_family.empty()) p.used_family = text;
        if (!f.qualifier_br && !f.qualifier_cl) families_unqualified_.emplace_back(text);
        if (f.first_name) p.families.back().text = text;
        break;
      }
      case Capture::PatientGiven: {
        CdaPatient& p = *doc_.patient;
        p.given.emplace_back(text);
        if (f.qualifier_br && p.first_given.empty()) p.first_given = text;
        if (f.qualifier_cl && p.used_given.empty()) p.used_given = text;
        if (!f.qualifier_br && !f.qualifier_cl) given_unqualified_.emplace_back(text);
        if (f.first_name) p.givens.back().text = text;
        break;
      }
      case Capture::BirthCounty:
        doc_.patient->birth_place_code = text;
        break;
      case Capture::BirthCity:
        doc_.patient->birth_place_city = text;
        break;
      case Capture::BirthCountry:
        birth_country_ = text;
        break;
      case Capture::BirthPlaceName:
        doc_.patient->birth_place_name = collapse(text, kMaxEntryText);
        break;
      case Capture::AddrLine:
      case Capture::AddrStreet:
      case Capture::AddrUnit:
      case Capture::AddrDelivery:
      case Capture::AddrPostalCode:
      case Capture::AddrCity:
      case Capture::AddrCounty:
      case Capture::AddrCountry:
        addressPartEnd(f.capture, text);
        break;
      case Capture::AddrWhole:
        addressEnd(text);
        break;
      case Capture::PartyFamily:
        if (party_->family.empty()) party_->family = text;
        break;
      case Capture::PartyGiven:
        if (!text.empty()) {
          if (!party_->given.empty()) party_->given += ' ';
          party_->given += text;
        }
        break;
      case Capture::PartyOrgName:
        if (party_->organization_name.empty()) party_->organization_name = text;
        break;
      case Capture::CustodianName:
        if (doc_.custodian_name.empty()) doc_.custodian_name = text;
        break;
      case Capture::SectionTitle:
        if (CdaSection* s = currentSection()) s->title = text;
        break;
      case Capture::NonXmlText:
        if (non_xml_b64_) {
          if (auto bytes = decodeBase64(raw)) {
            doc_.non_xml_data = std::move(*bytes);
          } else {
            doc_.non_xml_data.clear();
            warn("Corps non structuré : base64 invalide, contenu ignoré.", non_xml_line_);
          }
        } else {
          doc_.non_xml_data = raw;
        }
        break;
      case Capture::StmtText:
        entry().text = keep(text);
        break;
      case Capture::CodeText:
        entry().code_text = keep(text);
        break;
      case Capture::ValueText:
        entry().value.text = keep(text);
        break;
      case Capture::ValueContent:
        entry().value.value = keep(text);
        break;
      case Capture::MaterialName:
        if (CdaEntry& x = entry(); x.material_name.empty()) x.material_name = keep(text);
        break;
      case Capture::EntityName:
        if (CdaEntry& x = entry(); x.participant_name.empty()) x.participant_name = keep(text);
        break;
      case Capture::EntityText:
        stmts_.back().entity_text = keep(text);
        break;
      case Capture::None:
      case Capture::NarrativeEnd:
        break;
    }
  }

  std::vector<Frame> stack_;
  std::vector<std::size_t> sections_open_;  // indexes into doc_.sections
  CdaAuthor* party_ = nullptr;              // the participation being read
  NarrativeText narrative_{kMaxSectionText};
  bool in_narrative_ = false;
  bool service_event_seen_ = false;
  bool non_xml_b64_ = false;
  std::uint64_t non_xml_line_ = 0;

  // Patient.
  std::size_t patient_names_ = 0;  // name elements of the patient so far
  std::vector<std::string> families_unqualified_;
  std::vector<std::string> given_unqualified_;
  std::string birth_country_;
  std::string addr_pending_;  // the street / unit / delivery line being joined
  Capture addr_pending_kind_ = Capture::None;
  bool address_parts_ = false;  // the open addr had a non-empty part

  // Entries.
  std::vector<OpenStatement> stmts_;  // the open statements, innermost last
  std::vector<PendingRef> pending_;
  bool entries_capped_ = false;
  std::size_t entry_text_bytes_ = 0;
  bool entry_text_capped_ = false;

  // Narrative elements with an ID.
  std::vector<OpenAnchor> anchors_open_;
  std::vector<Anchor> anchors_;
  std::size_t anchor_bytes_ = 0;
};

}  // namespace

Result<CdaDocument> parseCda(std::string_view xml) {
  CdaHandler handler;
  if (auto error = readXml(xml, handler)) return *error;
  if (handler.root_error_ || !handler.document_seen_) {
    return makeError(Errc::CdaInvalid,
                     "la racine n'est pas un ClinicalDocument (urn:hl7-org:v3) : pas un CDA R2.");
  }
  if (!handler.record_target_seen_) {
    return makeError(Errc::CdaRecordTargetMissing, "CDA sans recordTarget (patient).");
  }
  if (handler.doc_.patient->ids.empty()) {
    return makeError(Errc::CdaPatientIdMissing,
                     "CDA sans identifiant patient (recordTarget/patientRole/id avec root).");
  }
  if (!handler.body_seen_) {
    return makeError(Errc::CdaInvalid, "CDA sans corps (nonXMLBody ou structuredBody).");
  }
  handler.finish();
  return std::move(handler.doc_);
}

}  // namespace liaison::parse
