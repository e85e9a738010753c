// CDA R2 → CdaDocument in one SAX pass. Each open element gets a context computed from its
// parent's context and its local name; subtrees of no interest become Other (cheap to skip).

#include "parse/cda/cda_document.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstring>
#include <utility>

#include "parse/cda/xml.hpp"
#include "parse/text/base64.hpp"

namespace liaison::parse {
namespace {

constexpr std::string_view kHl7Ns = "urn:hl7-org:v3";
constexpr std::string_view kSdtcNs = "urn:hl7-org:sdtc";
constexpr std::string_view kXsiNs = "http://www.w3.org/2001/XMLSchema-instance";
constexpr std::string_view kLoinc = "2.16.840.1.113883.6.1";

enum class Ctx : std::uint8_t {
  Other,
  Doc,
  RecordTarget,
  PatientRole,
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
  BodyComponent,
  NonXmlBody,
  StructuredBody,
  SectionHolder,  // structuredBody/component, section/component
  Section,
  Narrative,  // section/text and everything below it
  Clinical,   // entries and everything below them
  ObsTime,    // observation/effectiveTime
  OrgTime,    // organizer/effectiveTime
};

// What to do with an element's captured text when it ends.
enum class Capture : std::uint8_t {
  None,
  DocTitle,
  PatientFamily,
  PatientGiven,
  BirthCounty,
  BirthCity,
  PartyFamily,
  PartyGiven,
  PartyOrgName,
  CustodianName,
  SectionTitle,
  NonXmlText,
  NarrativeEnd,  // not a capture: the narrative block ends
};

struct Frame {
  Ctx ctx;
  Capture capture = Capture::None;
  bool qualifier_br = false;
  bool qualifier_cl = false;
};

// observation / organizer being read.
struct ClinicalFrame {
  bool organizer = false;
  std::size_t depth = 0;
  std::uint64_t line = 0;
  CdaCode code;
  bool pq = false;  // has a value of xsi:type PQ
  bool pq_value_present = false;
  std::string value;
  std::string unit;
  std::string time;
};

bool hasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const std::size_t sp = list.find(' ');
    if (list.substr(0, sp) == token) return true;
    if (sp == std::string_view::npos) break;
    list.remove_prefix(sp + 1);
  }
  return false;
}

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

// Narrative block → plain text: white space collapsed, blocks on their own lines, table cells
// separated by a space; bounded (cut on a UTF-8 character boundary).
class NarrativeText {
 public:
  void reset(std::string* out) {
    out_ = out;
    pending_space_ = false;
  }
  void text(std::string_view s) {
    for (char c : s) {
      if (isSpace(c)) {
        pending_space_ = true;
        continue;
      }
      if (pending_space_) {
        if (!out_->empty() && out_->back() != '\n' && out_->back() != ' ') put(' ');
        pending_space_ = false;
      }
      put(c);
    }
  }
  void newline() {
    pending_space_ = false;
    while (!out_->empty() && out_->back() == ' ')
      out_->pop_back();
    if (!out_->empty() && out_->back() != '\n') put('\n');
  }
  void separator() { pending_space_ = true; }
  void finish() {
    std::string& s = *out_;
    if (s.size() >= kMaxSectionText) {
      // Drop an incomplete UTF-8 sequence at the cut.
      std::size_t lead = s.size();
      while (lead > 0 && (static_cast<unsigned char>(s[lead - 1]) & 0xC0) == 0x80)
        --lead;
      if (lead > 0) {
        const auto b = static_cast<unsigned char>(s[lead - 1]);
        const std::size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
        if (s.size() - (lead - 1) < need) s.resize(lead - 1);
      }
    }
    while (!s.empty() && isSpace(s.back()))
      s.pop_back();
  }

 private:
  void put(char c) {
    if (out_->size() < kMaxSectionText) out_->push_back(c);
  }
  std::string* out_ = nullptr;
  bool pending_space_ = false;
};

bool isBlock(std::string_view name) {
  return name == "paragraph" || name == "list" || name == "item" || name == "table" ||
         name == "tr" || name == "thead" || name == "tbody" || name == "tfoot" ||
         name == "caption" || name == "br";
}

class CdaHandler final : public XmlHandler {
 public:
  XmlAction startElement(const XmlElement& e) override {
    if (e.depth == 1) {
      if (e.local_name != "ClinicalDocument" || e.ns != kHl7Ns) {
        root_error_ = true;
        return XmlAction::Stop;
      }
      stack_.push_back(Frame{Ctx::Doc});
      return XmlAction::Continue;
    }
    const Ctx parent = stack_.back().ctx;
    Frame frame{Ctx::Other};
    if (parent == Ctx::Other) {
      stack_.push_back(frame);
      return XmlAction::Continue;
    }
    if (e.ns != kHl7Ns) {
      if (parent == Ctx::Patient && e.ns == kSdtcNs && e.local_name == "multipleBirthOrderNumber") {
        readBirthOrder(e);
      }
      if (parent == Ctx::Narrative) frame.ctx = Ctx::Narrative;
      stack_.push_back(frame);
      return XmlAction::Continue;
    }
    start(parent, e, frame);
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
      if (frame.capture == Capture::NarrativeEnd) {
        narrative_.finish();
        in_narrative_ = false;
      } else if (isBlock(e.local_name) && e.local_name != "br") {
        narrative_.newline();
      } else if (e.local_name == "td" || e.local_name == "th") {
        narrative_.separator();
      }
      return XmlAction::Continue;
    }
    if (frame.capture != Capture::None) endCapture(frame, text);
    if (!clinical_.empty() && clinical_.back().depth == e.depth) endClinical();
    if (frame.ctx == Ctx::Section && !sections_open_.empty()) sections_open_.pop_back();
    return XmlAction::Continue;
  }

  XmlAction characters(std::string_view text) override {
    if (in_narrative_ && stack_.back().ctx == Ctx::Narrative) narrative_.text(text);
    return XmlAction::Continue;
  }

  // Results.
  bool root_error_ = false;
  bool record_target_seen_ = false;
  bool body_seen_ = false;
  CdaDocument doc_;
  std::vector<std::string> families_unqualified_;
  std::vector<std::string> given_unqualified_;

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

  void readBirthOrder(const XmlElement& e) {
    std::string_view v = e.attr("value");
    if (v.empty()) return;
    int n = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec == std::errc{} && ptr == v.data() + v.size() && n >= 0) {
      doc_.patient->multiple_birth_order = n;
    } else {
      warn("Rang de naissance (multipleBirthOrderNumber) illisible : ignoré.", e.line);
    }
  }

  void start(Ctx parent, const XmlElement& e, Frame& f) {
    const std::string_view n = e.local_name;
    switch (parent) {
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
        } else if (n == "component") {
          f.ctx = Ctx::BodyComponent;
        }
        return;
      case Ctx::RecordTarget:
        if (n == "patientRole") f.ctx = Ctx::PatientRole;
        return;
      case Ctx::PatientRole:
        if (n == "id") {
          if (usableId(e)) doc_.patient->ids.push_back(readId(e));
        } else if (n == "telecom") {
          if (std::string_view v = e.attr("value"); !v.empty()) {
            doc_.patient->telecoms.emplace_back(v);
          }
        } else if (n == "patient") {
          f.ctx = Ctx::Patient;
        }
        return;
      case Ctx::Patient:
        if (n == "name") {
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
          f.capture = n == "family" ? Capture::PatientFamily : Capture::PatientGiven;
          const std::string_view q = e.attr("qualifier");
          f.qualifier_br = hasToken(q, "BR");
          f.qualifier_cl = hasToken(q, "CL");
        }
        return;
      case Ctx::Birthplace:
        if (n == "place") f.ctx = Ctx::BirthplacePlace;
        return;
      case Ctx::BirthplacePlace:
        if (n == "addr") f.ctx = Ctx::BirthplaceAddr;
        return;
      case Ctx::BirthplaceAddr:
        if (n == "county") f.capture = Capture::BirthCounty;
        if (n == "city") f.capture = Capture::BirthCity;
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
          s.text.clear();
          narrative_.reset(&s.text);
        } else if (n == "component") {
          f.ctx = Ctx::SectionHolder;
        } else if (n == "entry") {
          f.ctx = Ctx::Clinical;
        }
        return;
      }
      case Ctx::Narrative:
        f.ctx = Ctx::Narrative;
        if (isBlock(n)) {
          narrative_.newline();
        } else if (n == "td" || n == "th") {
          narrative_.separator();
        }
        return;
      case Ctx::Clinical:
        f.ctx = Ctx::Clinical;
        clinicalStart(e, f);
        return;
      case Ctx::ObsTime:
      case Ctx::OrgTime:
        if ((n == "low" || n == "center") && clinical_.back().time.empty()) {
          clinical_.back().time = e.attr("value");
        }
        return;
      case Ctx::Other:
        return;
    }
  }

  void clinicalStart(const XmlElement& e, Frame& f) {
    const std::string_view n = e.local_name;
    if (n == "observation" || n == "organizer") {
      ClinicalFrame c;
      c.organizer = n == "organizer";
      c.depth = e.depth;
      c.line = e.line;
      clinical_.push_back(std::move(c));
      return;
    }
    if (clinical_.empty() || e.depth != clinical_.back().depth + 1) return;
    ClinicalFrame& c = clinical_.back();
    if (n == "effectiveTime") {
      c.time = e.attr("value");
      f.ctx = c.organizer ? Ctx::OrgTime : Ctx::ObsTime;
    } else if (c.organizer) {
      return;
    } else if (n == "code") {
      c.code = readCode(e);
    } else if (n == "value" && !c.pq) {
      const XmlAttribute* type = e.find("type", kXsiNs);
      if (type == nullptr) return;
      std::string_view t = type->value;
      if (const std::size_t colon = t.find(':'); colon != std::string_view::npos) {
        t.remove_prefix(colon + 1);
      }
      if (t != "PQ") return;
      c.pq = true;
      if (const XmlAttribute* v = e.find("value")) {
        c.pq_value_present = true;
        c.value = trimView(v->value);
      }
      c.unit = e.attr("unit");
    }
  }

  void endClinical() {
    ClinicalFrame c = std::move(clinical_.back());
    clinical_.pop_back();
    if (c.organizer || !c.pq || c.code.system != kLoinc || c.code.code.empty()) return;
    if (!c.pq_value_present) return;  // nullFlavor: nothing measured
    if (!isDecimal(c.value)) {
      warn("Mesure LOINC " + c.code.code + " : valeur non numérique, ignorée.", c.line);
      return;
    }
    CdaVital v;
    v.code = std::move(c.code);
    v.value = std::move(c.value);
    v.unit = std::move(c.unit);
    v.effective_time = std::move(c.time);
    for (auto it = clinical_.rbegin(); v.effective_time.empty() && it != clinical_.rend(); ++it) {
      if (it->organizer) v.effective_time = it->time;
    }
    if (const CdaSection* s = currentSection()) v.section_code = s->code.code;
    doc_.vitals.push_back(std::move(v));
  }

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
        break;
      }
      case Capture::PatientGiven: {
        CdaPatient& p = *doc_.patient;
        p.given.emplace_back(text);
        if (f.qualifier_br && p.first_given.empty()) p.first_given = text;
        if (f.qualifier_cl && p.used_given.empty()) p.used_given = text;
        if (!f.qualifier_br && !f.qualifier_cl) given_unqualified_.emplace_back(text);
        break;
      }
      case Capture::BirthCounty:
        doc_.patient->birth_place_code = text;
        break;
      case Capture::BirthCity:
        doc_.patient->birth_place_city = text;
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
      case Capture::None:
      case Capture::NarrativeEnd:
        break;
    }
  }

  std::vector<Frame> stack_;
  std::vector<ClinicalFrame> clinical_;
  std::vector<std::size_t> sections_open_;  // indexes into doc_.sections
  CdaAuthor* party_ = nullptr;              // the participation being read
  NarrativeText narrative_;
  bool in_narrative_ = false;
  bool service_event_seen_ = false;
  bool non_xml_b64_ = false;
  std::uint64_t non_xml_line_ = 0;
};

}  // namespace

Result<CdaDocument> parseCda(std::string_view xml) {
  CdaHandler handler;
  if (auto error = readXml(xml, handler)) return *error;
  if (handler.root_error_) {
    return makeError(Errc::CdaInvalid,
                     "la racine n'est pas un ClinicalDocument (urn:hl7-org:v3) : pas un CDA R2.");
  }
  CdaDocument& doc = handler.doc_;
  if (!handler.record_target_seen_) {
    return makeError(Errc::CdaRecordTargetMissing, "CDA sans recordTarget (patient).");
  }
  if (doc.patient->ids.empty()) {
    return makeError(Errc::CdaPatientIdMissing,
                     "CDA sans identifiant patient (recordTarget/patientRole/id avec root).");
  }
  if (!handler.body_seen_) {
    return makeError(Errc::CdaInvalid, "CDA sans corps (nonXMLBody ou structuredBody).");
  }
  CdaPatient& p = *doc.patient;
  const auto& families = handler.families_unqualified_;
  if (p.birth_family.empty() && !families.empty()) p.birth_family = families[0];
  if (p.used_family.empty() && families.size() >= 2) p.used_family = families[1];
  for (const std::string& g : handler.given_unqualified_) {
    if (g.empty()) continue;
    if (!p.birth_given.empty()) p.birth_given += ' ';
    p.birth_given += g;
  }
  return std::move(doc);
}

}  // namespace liaison::parse
