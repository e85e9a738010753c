// METADATA.XML (ebRIM 3.0 SubmitObjectsRequest) → XdsSubmission. One SAX pass collects the
// registry objects with their slots, classifications and external identifiers; they are mapped
// by scheme UUID afterwards (a top-level Classification may come after the package it marks).

#include "parse/cda/xds_metadata.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "parse/cda/xml.hpp"

namespace liaison::parse {
namespace {

// IHE ITI TF-3 Table 4.2.5-1 (see docs: french-e-health.md §1.9).
constexpr std::string_view kStableDocumentEntry = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1";
constexpr std::string_view kDocAuthor = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d";
constexpr std::string_view kDocClassCode = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a";
constexpr std::string_view kDocConfidentiality = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f";
constexpr std::string_view kDocEventCode = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4";
constexpr std::string_view kDocFormatCode = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d";
constexpr std::string_view kDocFacilityType = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1";
constexpr std::string_view kDocPracticeSetting = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead";
constexpr std::string_view kDocTypeCode = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983";
constexpr std::string_view kDocPatientId = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427";
constexpr std::string_view kDocUniqueId = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab";
constexpr std::string_view kSubmissionSetNode = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd";
constexpr std::string_view kSetAuthor = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d";
constexpr std::string_view kSetContentType = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500";
constexpr std::string_view kSetPatientId = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446";
constexpr std::string_view kSetSourceId = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832";
constexpr std::string_view kSetUniqueId = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8";

constexpr std::string_view kLcmNs = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0";

constexpr std::size_t kMaxPatientNames = 100;  // PID-5 names kept from one sourcePatientInfo

struct Slot {
  std::string name;
  std::vector<std::string> values;
};

struct Classification {
  std::string scheme;
  std::string node;  // classificationNode
  std::string node_representation;
  std::string classified_object;
  std::string display;
  std::vector<Slot> slots;
};

struct RegistryObject {
  bool package = false;  // RegistryPackage, else ExtrinsicObject
  std::string id;
  std::string mime_type;
  std::string object_type;
  std::string title;
  std::uint64_t line = 0;
  std::vector<Slot> slots;
  std::vector<Classification> classifications;
  std::vector<std::pair<std::string, std::string>> external_ids;  // scheme, value
};

class MetadataHandler final : public XmlHandler {
 public:
  XmlAction startElement(const XmlElement& e) override {
    const std::string_view local = e.local_name;
    if (e.depth == 1) {
      if (local != "SubmitObjectsRequest") {
        root_error_ = "la racine n'est pas un SubmitObjectsRequest ebRIM";
        return XmlAction::Stop;
      }
      root_ns_ = e.ns;
      return XmlAction::Continue;
    }
    if (!object_) {
      if (local == "ExtrinsicObject" || local == "RegistryPackage") {
        object_.emplace();
        object_depth_ = e.depth;
        object_->package = local == "RegistryPackage";
        object_->id = e.attr("id");
        object_->mime_type = e.attr("mimeType");
        object_->object_type = e.attr("objectType");
        object_->line = e.line;
      } else if (local == "Classification") {
        Classification c;
        c.node = e.attr("classificationNode");
        c.classified_object = e.attr("classifiedObject");
        top_classifications_.push_back(std::move(c));
      }
      return XmlAction::Continue;
    }
    if (local == "Classification" && !classification_) {
      classification_.emplace();
      classification_depth_ = e.depth;
      classification_->scheme = e.attr("classificationScheme");
      classification_->node = e.attr("classificationNode");
      classification_->node_representation = e.attr("nodeRepresentation");
      classification_->classified_object = e.attr("classifiedObject");
    } else if (local == "ExternalIdentifier" && !classification_) {
      object_->external_ids.emplace_back(e.attr("identificationScheme"), e.attr("value"));
    } else if (local == "Slot" && !slot_ &&
               e.depth == (classification_ ? classification_depth_ : object_depth_) + 1) {
      slot_.emplace();
      slot_depth_ = e.depth;
      slot_->name = e.attr("name");
    } else if (local == "Value" && slot_ && e.depth == slot_depth_ + 2) {
      return XmlAction::CaptureText;
    } else if (local == "LocalizedString" && e.ancestor(1) == "Name") {
      if (classification_ && e.depth == classification_depth_ + 2) {
        if (classification_->display.empty()) classification_->display = e.attr("value");
      } else if (!classification_ && e.depth == object_depth_ + 2) {
        if (object_->title.empty()) object_->title = e.attr("value");
      }
    }
    return XmlAction::Continue;
  }

  XmlAction endElement(const XmlElement& e, std::string_view text) override {
    if (!object_) return XmlAction::Continue;
    if (slot_) {
      if (e.depth == slot_depth_ + 2 && e.local_name == "Value") {
        slot_->values.emplace_back(text);
      } else if (e.depth == slot_depth_) {
        auto& slots = classification_ ? classification_->slots : object_->slots;
        slots.push_back(std::move(*slot_));
        slot_.reset();
      }
      return XmlAction::Continue;
    }
    if (classification_ && e.depth == classification_depth_) {
      object_->classifications.push_back(std::move(*classification_));
      classification_.reset();
    } else if (e.depth == object_depth_) {
      objects_.push_back(std::move(*object_));
      object_.reset();
    }
    return XmlAction::Continue;
  }

  std::string root_error_;
  std::string root_ns_;
  std::vector<RegistryObject> objects_;
  std::vector<Classification> top_classifications_;

 private:
  std::optional<RegistryObject> object_;
  std::optional<Classification> classification_;
  std::optional<Slot> slot_;
  std::size_t object_depth_ = 0;
  std::size_t classification_depth_ = 0;
  std::size_t slot_depth_ = 0;
};

// --- HL7 v2 data types -------------------------------------------------------------------------

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t at = s.find(sep, start);
    out.push_back(
        s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

// HL7 v2 escapes of the default delimiters: \F\ | \S\ ^ \T\ & \R\ ~ \E\ backslash.
std::string unescape(std::string_view s) {
  if (s.find('\\') == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 2 < s.size() && s[i + 2] == '\\') {
      const char c = s[i + 1];
      const char* to = c == 'F'   ? "|"
                       : c == 'S' ? "^"
                       : c == 'T' ? "&"
                       : c == 'R' ? "~"
                       : c == 'E' ? "\\"
                                  : nullptr;
      if (to != nullptr) {
        out += to;
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string_view component(const std::vector<std::string_view>& parts, std::size_t i) {
  return i < parts.size() ? parts[i] : std::string_view{};
}

// "&oid&ISO" or "NAMESPACE&oid&ISO" → oid (a bare OID without '&' is accepted too).
std::string authorityOid(std::string_view hd) {
  if (hd.find('&') == std::string_view::npos) return unescape(hd);
  return unescape(component(split(hd, '&'), 1));
}

const Slot* findSlot(const std::vector<Slot>& slots, std::string_view name) {
  for (const Slot& s : slots) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string firstValue(const std::vector<Slot>& slots, std::string_view name) {
  const Slot* s = findSlot(slots, name);
  return s != nullptr && !s->values.empty() ? s->values.front() : std::string{};
}

XdsCode toCode(const Classification& c) {
  return XdsCode{c.node_representation, firstValue(c.slots, "codingScheme"), c.display};
}

std::string joinUri(const std::vector<std::string>& values) {
  // XDS.a split long URIs into "1|…", "2|…": every value then carries its index.
  std::vector<std::pair<unsigned, std::string_view>> pieces;
  for (const std::string& v : values) {
    const std::size_t bar = v.find('|');
    unsigned index = 0;
    if (bar == std::string::npos || bar == 0) {
      pieces.clear();
      break;
    }
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + bar, index);
    if (ec != std::errc{} || ptr != v.data() + bar) {
      pieces.clear();
      break;
    }
    pieces.emplace_back(index, std::string_view(v).substr(bar + 1));
  }
  std::string out;
  if (pieces.empty()) {
    for (const std::string& v : values)
      out += v;
    return out;
  }
  std::stable_sort(pieces.begin(), pieces.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& p : pieces)
    out += p.second;
  return out;
}

bool isHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

std::string_view trimView(std::string_view s) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && ws(s.back()))
    s.remove_suffix(1);
  return s;
}

std::string trim(std::string_view s) {
  return std::string(trimView(s));
}

// sourcePatientInfo values "PID-n|data". PID-5 (XPN, ~ repetitions) → every name, and
// family / given from the first PID-5 value that yields a family (its type L repetition, else
// its first); PID-11 (XAD, ~ repetitions) of type BDL → its county (XAD.9).
XdsPatientInfo parsePatientInfo(const std::vector<std::string>& values) {
  XdsPatientInfo info;
  for (const std::string& raw : values) {
    const std::string_view v = trimView(raw);
    const std::size_t bar = v.find('|');
    if (bar == std::string_view::npos) continue;
    const std::string_view field = trimView(v.substr(0, bar));
    const std::string_view data = v.substr(bar + 1);
    if (field == "PID-5") {
      std::string_view chosen;
      bool legal = false;
      for (std::string_view rep : split(data, '~')) {
        auto parts = split(rep, '^');
        if (chosen.empty()) chosen = rep;
        if (!legal && component(parts, 6) == "L") {
          chosen = rep;
          legal = true;
        }
        XdsPatientName name{unescape(component(parts, 0)), unescape(component(parts, 1)),
                            unescape(component(parts, 2)), unescape(component(parts, 6))};
        const bool empty = name.family.empty() && name.given.empty() && name.further_given.empty();
        if (!empty && info.names.size() < kMaxPatientNames) info.names.push_back(std::move(name));
      }
      if (!info.family.empty()) continue;
      auto parts = split(chosen, '^');
      info.family = unescape(component(parts, 0));
      info.given = unescape(component(parts, 1));
    } else if (field == "PID-7" && info.birth_date.empty()) {
      info.birth_date = unescape(data);
    } else if (field == "PID-8" && info.sex.empty()) {
      info.sex = unescape(data);
    } else if (field == "PID-11" && info.birth_place.empty()) {
      for (std::string_view rep : split(data, '~')) {
        auto parts = split(rep, '^');
        if (component(parts, 6) == "BDL") {
          info.birth_place = unescape(component(parts, 8));
          if (!info.birth_place.empty()) break;
        }
      }
    }
  }
  return info;
}

class Mapper {
 public:
  explicit Mapper(IssueList& issues) : issues_(issues) {}

  void warn(std::string message, std::uint64_t line) {
    issues_.add(Issue{Errc::XdsMetadataInvalid,
                      Severity::Warning,
                      std::move(message),
                      {},
                      line != 0 ? "line " + std::to_string(line) : std::string{}});
  }

  std::vector<XdsPerson> authors(const Classification& c, std::vector<std::string>* institutions,
                                 std::vector<std::string>* specialties) {
    std::vector<XdsPerson> out;
    for (const Slot& s : c.slots) {
      if (s.name == "authorPerson") {
        for (const std::string& v : s.values)
          out.push_back(parseXcn(v));
      } else if (s.name == "authorInstitution" && institutions != nullptr) {
        institutions->insert(institutions->end(), s.values.begin(), s.values.end());
      } else if (s.name == "authorSpecialty" && specialties != nullptr) {
        specialties->insert(specialties->end(), s.values.begin(), s.values.end());
      }
    }
    return out;
  }

  XdsDocumentEntry document(const RegistryObject& o) {
    XdsDocumentEntry d;
    d.entry_uuid = o.id;
    d.mime_type = o.mime_type;
    d.title = o.title;
    d.creation_time = firstValue(o.slots, "creationTime");
    d.language = firstValue(o.slots, "languageCode");
    d.service_start = firstValue(o.slots, "serviceStartTime");
    d.service_stop = firstValue(o.slots, "serviceStopTime");
    if (const Slot* s = findSlot(o.slots, "URI")) d.uri = joinUri(s->values);
    if (std::string hash = trim(firstValue(o.slots, "hash")); !hash.empty()) {
      if (hash.size() == 40 && isHex(hash)) {
        std::transform(hash.begin(), hash.end(), hash.begin(),
                       [](char c) { return c >= 'A' && c <= 'F' ? static_cast<char>(c + 32) : c; });
        d.hash = std::move(hash);
      } else {
        warn("Empreinte SHA-1 (hash) illisible : ignorée.", o.line);
      }
    }
    if (std::string size = trim(firstValue(o.slots, "size")); !size.empty()) {
      std::uint64_t n = 0;
      auto [ptr, ec] = std::from_chars(size.data(), size.data() + size.size(), n);
      if (ec == std::errc{} && ptr == size.data() + size.size()) {
        d.size = n;
      } else {
        warn("Taille du document (size) illisible : ignorée.", o.line);
      }
    }
    if (std::string v = firstValue(o.slots, "sourcePatientId"); !v.empty()) {
      d.source_patient_id = parseCx(v);
    }
    if (const Slot* s = findSlot(o.slots, "sourcePatientInfo")) {
      d.source_patient_info = parsePatientInfo(s->values);
    }
    if (std::string v = firstValue(o.slots, "legalAuthenticator"); !v.empty()) {
      d.legal_authenticator = parseXcn(v);
    }
    for (const Classification& c : o.classifications) {
      if (c.scheme == kDocAuthor) {
        auto people = authors(c, &d.author_institutions, &d.author_specialties);
        d.authors.insert(d.authors.end(), people.begin(), people.end());
      } else if (c.scheme == kDocClassCode) {
        setOnce(d.class_code, c, "classCode", o.line);
      } else if (c.scheme == kDocTypeCode) {
        setOnce(d.type_code, c, "typeCode", o.line);
      } else if (c.scheme == kDocFormatCode) {
        setOnce(d.format_code, c, "formatCode", o.line);
      } else if (c.scheme == kDocFacilityType) {
        setOnce(d.healthcare_facility_type, c, "healthcareFacilityTypeCode", o.line);
      } else if (c.scheme == kDocPracticeSetting) {
        setOnce(d.practice_setting, c, "practiceSettingCode", o.line);
      } else if (c.scheme == kDocConfidentiality) {
        d.confidentiality.push_back(toCode(c));
      } else if (c.scheme == kDocEventCode) {
        d.event_codes.push_back(toCode(c));
      }
    }
    for (const auto& [scheme, value] : o.external_ids) {
      if (scheme == kDocPatientId && !d.patient_id) {
        d.patient_id = parseCx(value);
      } else if (scheme == kDocUniqueId && d.unique_id.empty()) {
        d.unique_id = value;
      }
    }
    if (!d.patient_id) warn("Document sans patientId (XDSDocumentEntry.patientId).", o.line);
    if (d.unique_id.empty()) warn("Document sans uniqueId (XDSDocumentEntry.uniqueId).", o.line);
    if (d.uri.empty()) warn("Document sans emplacement (slot URI).", o.line);
    if (d.hash.empty()) warn("Document sans empreinte SHA-1 (slot hash).", o.line);
    if (!d.size) warn("Document sans taille (slot size).", o.line);
    return d;
  }

  XdsSubmissionSet submissionSet(const RegistryObject& o) {
    XdsSubmissionSet s;
    s.title = o.title;
    s.submission_time = firstValue(o.slots, "submissionTime");
    for (const Classification& c : o.classifications) {
      if (c.scheme == kSetAuthor) {
        auto people = authors(c, nullptr, nullptr);
        s.authors.insert(s.authors.end(), people.begin(), people.end());
      } else if (c.scheme == kSetContentType && !s.content_type) {
        s.content_type = toCode(c);
      }
    }
    for (const auto& [scheme, value] : o.external_ids) {
      if (scheme == kSetPatientId && !s.patient_id) {
        s.patient_id = parseCx(value);
      } else if (scheme == kSetSourceId && s.source_id.empty()) {
        s.source_id = value;
      } else if (scheme == kSetUniqueId && s.unique_id.empty()) {
        s.unique_id = value;
      }
    }
    if (s.unique_id.empty()) warn("Lot de soumission sans uniqueId.", o.line);
    if (s.source_id.empty()) warn("Lot de soumission sans sourceId.", o.line);
    if (!s.patient_id) warn("Lot de soumission sans patientId.", o.line);
    return s;
  }

 private:
  void setOnce(std::optional<XdsCode>& target, const Classification& c, std::string_view what,
               std::uint64_t line) {
    if (target) {
      warn("Classification " + std::string(what) + " répétée : la première est retenue.", line);
      return;
    }
    target = toCode(c);
  }

  IssueList& issues_;
};

bool isSubmissionSet(const RegistryObject& o, const std::vector<Classification>& top) {
  for (const Classification& c : o.classifications) {
    if (c.node == kSubmissionSetNode) return true;
  }
  for (const Classification& c : top) {
    if (c.node == kSubmissionSetNode && c.classified_object == o.id) return true;
  }
  return false;
}

bool hasSubmissionSetId(const RegistryObject& o) {
  return std::any_of(o.external_ids.begin(), o.external_ids.end(), [](const auto& e) {
    return e.first == kSetUniqueId || e.first == kSetSourceId;
  });
}

}  // namespace

XdsIdentifier parseCx(std::string_view cx) {
  auto parts = split(cx, '^');
  return XdsIdentifier{unescape(component(parts, 0)), authorityOid(component(parts, 3)),
                       unescape(component(parts, 4))};
}

XdsPerson parseXcn(std::string_view xcn) {
  auto parts = split(xcn, '^');
  return XdsPerson{unescape(component(parts, 0)), unescape(component(parts, 1)),
                   unescape(component(parts, 2)), authorityOid(component(parts, 8))};
}

Result<XdsSubmission> parseXdsMetadata(std::string_view xml) {
  MetadataHandler handler;
  if (auto error = readXml(xml, handler)) return *error;
  if (!handler.root_error_.empty()) {
    return makeError(Errc::XdsMetadataInvalid, "METADATA.XML : " + handler.root_error_ + ".");
  }

  XdsSubmission out;
  Mapper mapper(out.issues);
  if (handler.root_ns_ != kLcmNs) {
    mapper.warn("SubmitObjectsRequest hors de l'espace de noms ebRIM 3.0 (lcm:3.0).", 1);
  }

  const RegistryObject* set = nullptr;
  for (const RegistryObject& o : handler.objects_) {
    if (o.package && isSubmissionSet(o, handler.top_classifications_)) {
      if (set == nullptr) {
        set = &o;
      } else {
        mapper.warn("Plusieurs lots de soumission : le premier est retenu.", o.line);
      }
    }
  }
  if (set == nullptr) {
    for (const RegistryObject& o : handler.objects_) {
      if (o.package && hasSubmissionSetId(o)) {
        set = &o;
        mapper.warn(
            "Lot de soumission non classé (classificationNode) : reconnu par ses "
            "identifiants.",
            o.line);
        break;
      }
    }
  }
  if (set != nullptr) {
    out.submission_set = mapper.submissionSet(*set);
  } else {
    mapper.warn("METADATA.XML sans lot de soumission (RegistryPackage).", 0);
  }

  for (const RegistryObject& o : handler.objects_) {
    if (o.package) continue;
    if (o.object_type.empty()) {
      mapper.warn("ExtrinsicObject sans objectType : traité comme un document stable.", o.line);
    } else if (o.object_type != kStableDocumentEntry) {
      mapper.warn("ExtrinsicObject d'un autre type que DocumentEntry stable : ignoré.", o.line);
      continue;
    }
    out.documents.push_back(mapper.document(o));
  }
  if (out.documents.empty()) {
    return makeError(Errc::XdsMetadataInvalid,
                     "METADATA.XML ne décrit aucun document (ExtrinsicObject stable absent).");
  }
  return out;
}

}  // namespace liaison::parse
