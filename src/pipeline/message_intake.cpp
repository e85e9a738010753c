// One MSSanté mail → one FHIR transaction Bundle, in named stages a reader follows top to bottom:
//   decode      the MIME message, its body text (HTML converted to text)
//   unpack      the IHE_XDM.ZIP: METADATA.XML of each subset, each document checked against it
//   identify    the patient: INS and traits from every place that states them (patient_identity)
//   check       the X-MSS-* headers against the archive
//   map         the ESS, the patient, each document (its type, its entries), the attachments,
//               a form or a request to qualify, the request a document opens, the mail itself
//   finish      the Bundle, the documents' bytes (Binary) and identities, the status
// Hostile or unreadable input stops at the stage that sees it, quarantined with its reason.

#include "pipeline/message_intake.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <deque>
#include <set>

#include "core/fhir/terminology.hpp"
#include "core/nir/nir.hpp"
#include "core/text/ascii.hpp"
#include "parse/cda/cda_document.hpp"
#include "parse/cda/xds_metadata.hpp"
#include "parse/document/form_document.hpp"
#include "parse/json/json_util.hpp"
#include "parse/text/html_text.hpp"
#include "pipeline/cda_facts.hpp"
#include "pipeline/codec.hpp"
#include "pipeline/identity_review.hpp"
#include "pipeline/patient_identity.hpp"

namespace liaison::pipeline {
namespace {

using ascii::lower;

// ---------------------------------------------------------------------------------------------
// Small helpers

bool endsWithNoCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && lower(s.substr(s.size() - suffix.size())) == suffix;
}

// RFC 5322 date ("Mon, 16 Jan 2024 15:11:12 +0100") → FHIR dateTime, with glibc's strptime.
std::string fhirDateOfMail(const std::string& date) {
  if (date.empty()) return {};
  struct tm tm {};
  const char* rest = strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S %z", &tm);
  if (rest == nullptr) rest = strptime(date.c_str(), "%d %b %Y %H:%M:%S %z", &tm);
  if (rest == nullptr) return {};
  // Offsets beyond ±14 h are not real zones: treat the date as unusable rather than invent one.
  const long offset = tm.tm_gmtoff;
  if (offset < -14 * 3600 || offset > 14 * 3600 || tm.tm_year < -1900 || tm.tm_year > 8099)
    return {};
  const int off_minutes = static_cast<int>(std::labs(offset) / 60);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, offset < 0 ? '-' : '+',
                off_minutes / 60, off_minutes % 60);
  return buf;
}

std::vector<std::pair<std::string, int>> countTypes(
    const std::vector<map::EmittedResource>& emitted, std::size_t from) {
  std::vector<std::pair<std::string, int>> counts;
  for (std::size_t i = from; i < emitted.size(); ++i) {
    auto it = std::find_if(counts.begin(), counts.end(),
                           [&](const auto& c) { return c.first == emitted[i].resource_type; });
    if (it == counts.end()) {
      counts.emplace_back(emitted[i].resource_type, 1);
    } else {
      ++it->second;
    }
  }
  return counts;
}

std::string fullUrlFrom(const std::vector<map::EmittedResource>& emitted, std::size_t from,
                        std::string_view key) {
  for (std::size_t i = emitted.size(); i-- > from;) {
    if (emitted[i].key == key) return emitted[i].full_url;
  }
  return {};
}

std::string firstOfType(const std::vector<map::EmittedResource>& emitted, std::string_view type) {
  for (const auto& e : emitted) {
    if (e.resource_type == type) return e.full_url;
  }
  return {};
}

bool isXdmName(std::string_view filename) {
  return lower(filename) == "ihe_xdm.zip";
}

bool looksLikeXml(std::string_view bytes) {
  std::size_t i = 0;
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
  while (i < bytes.size() &&
         (bytes[i] == ' ' || bytes[i] == '\n' || bytes[i] == '\r' || bytes[i] == '\t'))
    ++i;
  return i < bytes.size() && bytes[i] == '<';
}

bool isJsonAttachment(const parse::MimeAttachment& a) {
  return a.content_type.find("json") != std::string::npos || endsWithNoCase(a.filename, ".json");
}

std::string kindOf(const parse::MimeAttachment& a) {
  if (a.content_type == "application/pdf" || endsWithNoCase(a.filename, ".pdf"))
    return "Document PDF";
  if (a.content_type.rfind("image/", 0) == 0) return "Image";
  if (a.content_type.rfind("text/", 0) == 0) return "Texte";
  return "Pièce jointe";
}

// The slots of one document's facts (its header, author, sections, entries, its file, where its
// resources are in the Bundle), cleared before the next document: every name of the vocabulary
// under these prefixes, and these names.
const std::vector<std::size_t>& documentFactSlots() {
  static const std::vector<std::size_t> slots = [] {
    static constexpr std::string_view kPrefixes[] = {"doc.", "author.", "custodian.", "encounter.",
                                                     "attachment."};
    static constexpr std::string_view kNames[] = {"sections",         "entries",
                                                  "bundle.document",  "bundle.author",
                                                  "bundle.custodian", "bundle.encounter"};
    std::vector<std::size_t> out;
    const std::vector<std::string>& names = mssVocabulary().names();
    for (std::size_t i = 0; i < names.size(); ++i) {
      const std::string_view n = names[i];
      const bool prefixed = std::any_of(std::begin(kPrefixes), std::end(kPrefixes),
                                        [&](std::string_view p) { return n.rfind(p, 0) == 0; });
      if (prefixed || std::find(std::begin(kNames), std::end(kNames), n) != std::end(kNames))
        out.push_back(i);
    }
    return out;
  }();
  return slots;
}

// A fast 64-bit hash of a document identity: the seed of the ids of what derives from it, so
// that the same document received again gives the same ids (the store then knows it has them).
std::uint64_t documentSeed(std::string_view key) {
  return contentSeed(key) ^ 0x2545F4914F6CDD1DULL;
}

// ---------------------------------------------------------------------------------------------

// A document of the IHE_XDM.ZIP, read and checked against its METADATA.XML entry.
struct ReceivedDocument {
  std::string path;
  std::string_view bytes;
  const parse::XdsDocumentEntry* meta = nullptr;
  std::optional<parse::CdaDocument> cda;
  std::string sha1;  // raw, when METADATA.XML gave a hash to check
};

// Where a mapped document's resources are, for what comes after it (the request it opens).
struct MappedDocument {
  std::size_t index = 0;  // into docs_
  std::string document;   // fullUrl of its DocumentReference
  std::string author;     // of its author's PractitionerRole
  std::uint64_t seed = 0;
  std::size_t group = 0;  // into result.documents
};

class MessageRun {
 public:
  MessageRun(const MssProfile& mss, const EssProfile& ess, const FormIntake& forms,
             const MessageLimits& limits, std::string now)
      : mss_(mss),
        ess_(ess),
        forms_(forms),
        limits_(limits),
        now_(std::move(now)),
        facts_(mssVocabulary()) {}

  IngestResult run(std::string_view bytes) {
    seed_ = contentSeed(bytes);
    if (auto e = decode(bytes)) return quarantined(*e, r_.message_id);
    if (auto e = unpack()) return quarantined(*e, r_.message_id);
    if (archive_) {
      identify();
      checkMssHeaders();
      mapEss();
      mapPatient();
      mapDocuments();
      mapAttachments(mail_.attachments);
      mapRequest();
    } else {
      mapEss();
      if (auto e = mapWithoutArchive()) return quarantined(*e, r_.message_id);
    }
    mapCommunication();
    return finish();
  }

 private:
  // ---- decode: the MIME message and what the sender typed.
  std::optional<Error> decode(std::string_view bytes) {
    auto parsed = parse::parseMime(bytes, limits_.mime);
    if (!parsed) return parsed.error();
    mail_ = std::move(*parsed);
    r_.message_id = mail_.message_id;
    r_.issues.append(mail_.issues);
    body_ = mail_.text_body;
    if (body_.empty() && !mail_.html_body.empty()) {
      parse::HtmlText html = parse::htmlText(mail_.html_body);
      body_ = std::move(html.text);
      r_.issues.add(Errc::HtmlBodyConverted,
                    html.truncated ? "Corps du message en HTML seulement : converti en texte, "
                                     "tronqué (trop long ou trop imbriqué)."
                                   : "Corps du message en HTML seulement : converti en texte.",
                    {}, "corps");
    }
    const std::string date = fhirDateOfMail(mail_.date);
    facts_.text("message.id", mail_.message_id)
        .text("message.subject", mail_.subject)
        .text("message.from", mail_.from)
        .text("message.fromName", mail_.from_name.empty() ? mail_.from : mail_.from_name)
        .text("message.date", date.empty() ? now_ : date)
        .text("message.received", now_)
        .text("message.text", body_)
        .text("message.inReplyTo", mail_.in_reply_to);
    facts_.text("ess.name", ess_.name)
        .text("ess.organization.name", ess_.organization.name)
        .text("ess.organization.identifier.system", ess_.organization.identifier_system)
        .text("ess.organization.identifier.value", ess_.organization.identifier_value)
        .text("ess.mailbox", ess_.organization.mailbox);
    return std::nullopt;
  }

  // ---- unpack: the IHE_XDM.ZIP, by its name (MSSanté) or, failing that, any zip holding
  // IHE_XDM/…/METADATA.XML; each document checked against METADATA.XML and parsed.
  std::optional<Error> unpack() {
    for (const auto& a : mail_.attachments) {
      if (!isXdmName(a.filename)) continue;
      if (!parse::looksLikeZip(a.bytes))
        return makeError(Errc::XdmNotZip, "La pièce jointe IHE_XDM.ZIP n'est pas une archive zip.");
      auto zip = parse::readXdm(a.bytes, limits_.zip);
      if (!zip) return zip.error();
      xdm_part_ = &a;
      archive_ = std::move(*zip);
      break;
    }
    if (xdm_part_ == nullptr) {
      for (const auto& a : mail_.attachments) {
        if (!parse::looksLikeZip(a.bytes)) continue;
        auto zip = parse::readXdm(a.bytes, limits_.zip);
        if (zip && !zip->submissionSets().empty()) {
          xdm_part_ = &a;
          archive_ = std::move(*zip);
          break;
        }
      }
    }
    if (!archive_) return std::nullopt;

    const std::vector<std::string> subsets = archive_->submissionSets();
    if (subsets.empty()) return makeError(Errc::XdmNoMetadata, "IHE_XDM.ZIP sans METADATA.XML.");
    submissions_.reserve(subsets.size());  // ReceivedDocument::meta points into these
    for (const std::string& subset : subsets) {
      const parse::XdmEntry* metadata = archive_->find(subset + "/METADATA.XML");
      auto sub = parse::parseXdsMetadata(metadata != nullptr ? std::string_view(metadata->bytes)
                                                             : std::string_view{});
      if (!sub) return sub.error();
      submissions_.push_back(std::move(*sub));
      r_.issues.append(submissions_.back().issues);
      for (const parse::XdsDocumentEntry& e : submissions_.back().documents) {
        const parse::XdmEntry* file = archive_->resolve(subset, e.uri);
        if (file == nullptr) {
          return makeError(Errc::XdmDocumentMissing,
                           "METADATA.XML décrit " + e.uri + ", absent de l'archive.");
        }
        std::string digest = e.hash.empty() ? std::string() : sha1(file->bytes);
        if (!e.hash.empty() && lower(e.hash) != hexOf(digest)) {
          return makeError(Errc::XdmHashMismatch,
                           "Empreinte SHA-1 de " + file->path + " différente de METADATA.XML.");
        }
        if (e.size && *e.size != file->bytes.size()) {
          return makeError(Errc::XdmSizeMismatch,
                           "Taille de " + file->path + " différente de METADATA.XML.");
        }
        ReceivedDocument doc{file->path, file->bytes, &e, std::nullopt, std::move(digest)};
        if (e.mime_type.find("xml") != std::string::npos ||
            (e.mime_type.empty() && looksLikeXml(file->bytes))) {
          auto cda = parse::parseCda(file->bytes);
          if (!cda) return cda.error();
          for (Issue issue : cda->issues.items()) {
            if (issue.location.empty() || issue.location.rfind("line ", 0) == 0)
              issue.location = file->path + (issue.location.empty() ? "" : " " + issue.location);
            r_.issues.add(std::move(issue));
          }
          doc.cda = std::move(*cda);
        }
        docs_.push_back(std::move(doc));
      }
    }
    return std::nullopt;
  }

  // ---- identify: one patient for the message.
  void identify() {
    IdentityStatements statements;
    for (const ReceivedDocument& d : docs_) {
      if (d.cda && d.cda->patient) stateFromCda(*d.cda->patient, d.path, statements);
    }
    for (const parse::XdsSubmission& s : submissions_)
      stateFromMetadata(s, statements);
    identity_ = consolidateIdentity(statements, r_.issues);
    addPatientFacts(identity_, identity_.traits.empty() && !identity_.ins);
    for (const ReceivedDocument& d : docs_) {
      if (d.cda && d.cda->patient) {
        patient_ = &*d.cda->patient;
        break;
      }
    }
    if (patient_ != nullptr) addContactFacts(*patient_);
  }

  void addPatientFacts(const PatientIdentity& id, bool to_identify) {
    if (id.ins && id.nir_valid) {
      const auto& system = nir::identifierSystem(nir::kindOfSystem(id.ins->oid));
      facts_.text("patient.ins.value", id.normalized)
          .text("patient.ins.system", std::string(system.uri))
          .text("patient.ins.type", std::string(system.fr_core_type))
          .text("patient.ins.use", std::string(system.use))
          .text("patient.identityStatus", "PROV");
    }
    const PatientTraits& t = id.traits;
    facts_.text("patient.birthFamily", t.birth_family)
        .text("patient.usedFamily", t.used_family)
        .text("patient.firstGiven", t.first_given)
        .text("patient.givens", t.birth_givens)
        .text("patient.usedGiven", t.used_given)
        .text("patient.birthDate", t.birth_date)
        .text("patient.birthPlace.insee", t.birth_place)
        .text("patient.birthPlace.name", t.birth_place_name);
    if (t.sex == "M") facts_.text("patient.gender", "male");
    if (t.sex == "F") facts_.text("patient.gender", "female");
    if (t.sex == "U") facts_.text("patient.gender", "unknown");
    // FHIR's deceased[x] and multipleBirth[x] are choices: the most precise one is written.
    if (!t.deceased_time.empty()) {
      facts_.text("patient.deceasedTime", t.deceased_time);
    } else if (t.deceased) {
      facts_.boolean("patient.deceased", *t.deceased);
    }
    if (t.birth_order > 0) {
      facts_.integer("patient.birthOrder", t.birth_order);
    } else if (t.multiple_birth) {
      facts_.boolean("patient.multipleBirth", *t.multiple_birth);
    }
    if (!id.ins || to_identify) facts_.boolean("patient.toIdentify", true);
    for (const std::string& d : t.derived)
      derived_.push_back(d);
  }

  void addContactFacts(const parse::CdaPatient& p) {
    for (const parse::CdaAddress& a : p.addresses) {
      auto line = [&](std::size_t i) {
        return facts_.keepText(i < a.lines.size() ? a.lines[i] : std::string());
      };
      facts_.record("patient.addresses", {{"use", facts_.keepText(a.use)},
                                          {"line1", line(0)},
                                          {"line2", line(1)},
                                          {"line3", line(2)},
                                          {"postalCode", facts_.keepText(a.postal_code)},
                                          {"city", facts_.keepText(a.city)},
                                          {"country", facts_.keepText(a.country)}});
    }
    for (const parse::CdaTelecom& t : p.telecom_details) {
      const std::string_view v = t.value;
      const std::size_t colon = v.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string scheme = lower(v.substr(0, colon));
      const std::string_view value = v.substr(colon + 1);
      const char* system = scheme == "tel"                         ? "phone"
                           : scheme == "mailto"                    ? "email"
                           : scheme == "fax"                       ? "fax"
                           : scheme == "http" || scheme == "https" ? "url"
                                                                   : nullptr;
      if (system == nullptr || value.empty()) continue;
      facts_.record("patient.telecoms",
                    {{"system", facts_.keepText(system)},
                     {"value", facts_.keepText(std::string(system) == "url" ? std::string(v)
                                                                            : std::string(value))},
                     {"use", facts_.keepText(t.use)}});
    }
  }

  // ---- check: X-MSS-INS says whether the archive holds a qualified INS; X-MSS-CODECDA lists the
  // CDA codes. The archive is right when they disagree: warnings.
  void checkMssHeaders() {
    if (auto ins_header = mail_.header("X-MSS-INS")) {
      const bool says_ins = lower(*ins_header).find('o') != std::string::npos;
      const bool has_ins =
          identity_.ins.has_value() && !r_.issues.contains(Errc::InsTraitsIncomplete);
      if (says_ins != has_ins) {
        r_.issues.add(Errc::MssHeaderMismatch,
                      says_ins ? "En-tête X-MSS-INS: O, mais pas d'INS complet dans l'archive."
                               : "En-tête X-MSS-INS: N, mais l'archive porte un INS.",
                      {}, "X-MSS-INS");
      }
    }
    if (auto codes_header = mail_.header("X-MSS-CODECDA")) {
      for (const ReceivedDocument& d : docs_) {
        if (d.cda && codes_header->find(d.cda->code.code) == std::string::npos) {
          r_.issues.add(Errc::MssHeaderMismatch,
                        "En-tête X-MSS-CODECDA sans le code du document " + d.cda->code.code + ".",
                        {}, "X-MSS-CODECDA");
        }
      }
    }
  }

  // ---- map
  void mapEss() {
    bundle_.append(mss_.ess(), facts_, seed_ ^ 0x11);
    ess_url_ = bundle_.fullUrlOf("ess");
    facts_.text("bundle.ess", ess_url_);
  }

  void mapPatient() {
    bundle_.append(mss_.patient(), facts_, seed_);
    patient_url_ = bundle_.fullUrlOf("patient");
    facts_.text("bundle.patient", patient_url_);
  }

  // Starts a document's group: its identity, and the Bundle position its resources start at.
  std::size_t openGroup(DocumentIdentity identity) {
    r_.documents.push_back({std::move(identity), {}, {}});
    group_start_ = bundle_.emitted().size();
    return r_.documents.size() - 1;
  }

  void closeGroup(std::size_t group, std::string_view document_url) {
    DocumentGroup& g = r_.documents[group];
    g.document = document_url;
    for (std::size_t i = group_start_; i < bundle_.emitted().size(); ++i) {
      if (bundle_.emitted()[i].full_url != document_url)
        g.resources.push_back(bundle_.emitted()[i].full_url);
    }
    facts_.text("bundle.documents", std::string(document_url));
  }

  void clearDocumentFacts() {
    for (std::size_t slot : documentFactSlots())
      facts_.clear(slot);
  }

  // The identity of a file that names none (an attachment): its bytes, for this patient — the
  // same bytes (a blank form, a logo, a leaflet) may come for several patients, and each must
  // get their own DocumentReference. Without a valid INS, for this message only.
  std::string fileKey(std::string_view bytes) {
    std::string key = "sha256|" + sha256Of(bytes);
    if (identity_.ins && identity_.nir_valid) {
      key += "|" + identity_.ins->oid + "|" + identity_.normalized;
    } else {
      char seed[17];
      std::snprintf(seed, sizeof seed, "%016llx", static_cast<unsigned long long>(seed_));
      key += "|message|" + std::string(seed);
    }
    return key;
  }

  // Digests of the bytes of a document, computed once however many facts and resources need
  // them (a referral's facts are made twice; a file's SHA-256 is its identity and its Binary's
  // id). Keyed by address: only for bytes the run owns until it ends (the mail's parts, the
  // archive's entries, a CDA's embedded document), never for a temporary.
  struct Digests {
    std::string_view bytes;
    std::string sha256;  // hex
    std::string sha1;    // base64
  };
  Digests& digestsOf(std::string_view bytes) {
    for (Digests& d : digests_) {
      if (d.bytes.data() == bytes.data() && d.bytes.size() == bytes.size()) return d;
    }
    return digests_.emplace_back(Digests{bytes, {}, {}});
  }
  std::string sha256Of(std::string_view bytes) {
    Digests& d = digestsOf(bytes);
    if (d.sha256.empty()) d.sha256 = sha256Hex(bytes);
    return d.sha256;
  }
  std::string sha1Base64Of(std::string_view bytes) {
    Digests& d = digestsOf(bytes);
    if (d.sha1.empty()) d.sha1 = sha1Base64(bytes);
    return d.sha1;
  }

  // Keeps a document's bytes as a Binary; its url for the DocumentReference. The bytes are
  // taken at finish (moved out of the buffer they were decoded into, not copied).
  std::string keepBinary(std::string_view bytes, std::string content_type) {
    std::string id = sha256Of(bytes);
    std::string url = "Binary/" + id;
    if (binary_ids_.insert(id).second) {
      r_.binaries.push_back({std::move(id), std::move(content_type), {}});
      binary_bytes_.push_back(bytes);
    }
    return url;
  }

  // The buffer the run decoded `bytes` into, moved out when `bytes` is the whole of it (nothing
  // reads the mail's parts, the archive or the documents once the Bundle is written), else a copy.
  std::string takeBytes(std::string_view bytes) {
    auto whole = [&](std::string& owner) {
      return owner.data() == bytes.data() && owner.size() == bytes.size();
    };
    for (parse::MimeAttachment& a : mail_.attachments) {
      if (whole(a.bytes)) return std::move(a.bytes);
    }
    if (archive_) {
      for (parse::XdmEntry& e : archive_->entries) {
        if (whole(e.bytes)) return std::move(e.bytes);
      }
    }
    for (ReceivedDocument& d : docs_) {
      if (d.cda && whole(d.cda->non_xml_data)) return std::move(d.cda->non_xml_data);
    }
    return std::string(bytes);
  }

  void mapDocuments() {
    std::set<std::string> seen;
    for (std::size_t i = 0; i < docs_.size(); ++i) {
      const ReceivedDocument& d = docs_[i];
      MappingReport report;
      report.document = d.path;
      clearDocumentFacts();
      DocumentIdentity identity = identityOf(d);
      if (!seen.insert(identity.key).second) {
        // The same document twice in one archive: mapped once.
        report.kind = d.cda ? "CDA " + d.cda->code.code : "document";
        report.skipped.push_back("document en double dans l'archive : repris une seule fois");
        r_.reports.push_back(std::move(report));
        continue;
      }
      const std::uint64_t doc_seed = documentSeed(identity.key);
      const std::size_t group = openGroup(std::move(identity));
      const std::size_t first = bundle_.emitted().size();
      if (!d.cda) {
        addAttachmentFacts(d.path, d.meta->mime_type, "Document", d.meta->title, d.bytes);
        bundle_.append(mss_.attachment(), facts_, doc_seed);
        report.kind = d.meta->mime_type.empty() ? "document" : d.meta->mime_type;
        report.mapping = mss_.attachment().name();
        report.text_only.push_back("document non CDA gardé tel quel");
        closeGroup(group, fullUrlFrom(bundle_.emitted(), first, "attachment"));
      } else {
        MappedDocument mapped = mapCda(i, doc_seed, group, report);
        closeGroup(group, mapped.document);
        cda_groups_.push_back(group);
        if (!opener_ && ess_.requests.opens(d.cda->code.code)) opener_ = mapped;
      }
      report.mapped = countTypes(bundle_.emitted(), first);
      r_.reports.push_back(std::move(report));
    }
    clearDocumentFacts();
  }

  // What makes the document itself: its CDA id (what the author signed; METADATA.XML restates it
  // as uniqueId), else the XDS uniqueId, else its bytes.
  DocumentIdentity identityOf(const ReceivedDocument& d) {
    DocumentIdentity id;
    const std::string cda_id = d.cda && !d.cda->id.root.empty() ? uniqueIdOf(d.cda->id) : "";
    if (!cda_id.empty() && !d.meta->unique_id.empty() &&
        keyOf(identifierOf(cda_id)) != keyOf(identifierOf(d.meta->unique_id))) {
      r_.issues.add(Errc::XdsUniqueIdMismatch,
                    "uniqueId de METADATA.XML différent de l'identifiant du CDA : le document est "
                    "reconnu par celui du CDA.",
                    {}, d.path);
    }
    const std::string unique_id = !cda_id.empty() ? cda_id : d.meta->unique_id;
    id.key = unique_id.empty() ? fileKey(d.bytes) : keyOf(identifierOf(unique_id));
    if (!d.cda) return id;
    if (!d.cda->set_id.root.empty()) id.set = keyOf(identifierOf(uniqueIdOf(d.cda->set_id)));
    id.version = versionOf(d.cda->version);
    for (const parse::CdaRelatedDocument& rel : d.cda->related_documents) {
      if (rel.type_code == "RPLC" && !rel.id.root.empty())
        id.replaces.push_back(keyOf(identifierOf(uniqueIdOf(rel.id))));
    }
    return id;
  }

  MappedDocument mapCda(std::size_t index, std::uint64_t doc_seed, std::size_t group,
                        MappingReport& report) {
    const ReceivedDocument& d = docs_[index];
    const parse::CdaDocument& cda = *d.cda;
    const std::size_t first = bundle_.emitted().size();
    addDocumentFacts(d);
    bundle_.append(mss_.document(), facts_, doc_seed);
    report.kind = "CDA " + cda.code.code + (cda.structured ? " (structuré)" : " (non structuré)");
    report.mapping = mss_.document().name();
    MappedDocument mapped{index, fullUrlFrom(bundle_.emitted(), first, "document"),
                          fullUrlFrom(bundle_.emitted(), first, "author-role"), doc_seed, group};
    facts_.text("bundle.document", mapped.document)
        .text("bundle.author", mapped.author)
        .text("bundle.custodian", fullUrlFrom(bundle_.emitted(), first, "custodian"));

    // Which mapping reads which entry: the document type's first, then the entry mappings in
    // file order; an entry is read by one mapping at most.
    std::vector<bool> taken(cda.entries.size(), false);
    // A statement inside one a mapping read belongs to it (a problem's or an allergy's status,
    // an allergy's reaction or severity): never a resource of its own, whatever its templates or
    // its section say. Parents come before their children.
    auto insideTaken = [&](std::size_t k) {
      for (int p = cda.entries[k].parent; p >= 0;
           p = cda.entries[static_cast<std::size_t>(p)].parent)
        if (taken[static_cast<std::size_t>(p)]) return true;
      return false;
    };
    const std::string doc_date = fhir::dateTimeOfTs(cda.effective_time).value_or("");
    auto apply = [&](const SelectingMapping& m) {
      facts_.clear("entries");
      int selected = 0;
      if (m.select.selectsAny()) {
        for (std::size_t k = 0; k < cda.entries.size(); ++k) {
          if (taken[k] || !m.select.matches(cda, cda.entries[k]) || insideTaken(k)) continue;
          taken[k] = true;
          ++selected;
          addEntryRecord(facts_, cda, k, doc_date);
        }
      }
      const std::size_t before = bundle_.emitted().size();
      // Seeded by the mapping's name, not its rank: adding a mapping file leaves the ids of what
      // the others derive from a document unchanged (the store recognises them on a copy).
      bundle_.append(m.mapping, facts_, doc_seed ^ contentSeed(m.mapping.name()));
      if (selected > 0) report.entries.emplace_back(m.mapping.name(), selected);
      return bundle_.emitted().size() > before;
    };
    if (const SelectingMapping* type = mss_.documentTypeFor(cda.code.code, cda.template_ids)) {
      apply(*type);
      report.mapping += " + " + type->mapping.name();
      facts_.text("bundle.encounter", fullUrlFrom(bundle_.emitted(), first, "encounter"));
    } else if (!ess_.requests.opens(cda.code.code)) {
      report.skipped.push_back("type de document " + cda.code.code +
                               " sans correspondance propre : en-tête et entrées reconnues "
                               "seulement");
    }
    for (const SelectingMapping& m : mss_.entryMappings()) {
      if (apply(m)) report.mapping += " + " + m.mapping.name();
    }
    facts_.clear("entries");
    reportSections(cda, taken, report);
    for (const Issue& issue : cda.issues.items()) {
      if (issue.code == Errc::CdaValueInvalid) report.skipped.push_back(issue.message);
    }
    if (!cda.structured)
      report.text_only.push_back("corps non structuré (" + cda.non_xml_media_type + ")");
    return mapped;
  }

  // The document's facts: its header and content (cda_facts), and its bytes kept as Binaries.
  void addDocumentFacts(const ReceivedDocument& d) {
    const parse::CdaDocument& cda = *d.cda;
    const std::string content_type = addCdaFacts(facts_, d.path, *d.meta, cda, now_);
    facts_.text("doc.url", keepBinary(d.bytes, content_type));
    facts_.integer("doc.size", static_cast<std::int64_t>(d.bytes.size()));
    facts_.text("doc.hash", d.sha1.empty() ? sha1Base64Of(d.bytes) : base64(d.sha1));
    if (!cda.non_xml_data.empty() && cda.non_xml_media_type == "application/pdf") {
      facts_.text("doc.pdf.url", keepBinary(cda.non_xml_data, "application/pdf"));
      facts_.integer("doc.pdf.size", static_cast<std::int64_t>(cda.non_xml_data.size()));
      facts_.text("doc.pdf.hash", sha1Base64Of(cda.non_xml_data));
    }
  }

  void addAttachmentFacts(std::string_view filename, std::string_view content_type,
                          std::string_view kind, std::string_view description,
                          std::string_view bytes) {
    const std::string type(content_type.empty() ? "application/octet-stream" : content_type);
    facts_.text("attachment.filename", std::string(filename))
        .text("attachment.contentType", type)
        .text("attachment.kind", std::string(kind))
        .text("attachment.description", std::string(description))
        .text("attachment.url", keepBinary(bytes, type))
        .integer("attachment.size", static_cast<std::int64_t>(bytes.size()))
        .text("attachment.hash", sha1Base64Of(bytes));
  }

  // Other parts of the mail, kept as they are. With one CDA in the archive, its PDFs are its
  // renditions (MSSanté sends the PDF/A made from the CDA beside the IHE_XDM.ZIP): they belong to
  // its group, with ids of the document's (a copy's rendition, even made again, is the one
  // stored; a new version retires it). Any other file is a document of its own, identified by
  // its bytes.
  void mapAttachments(const std::vector<parse::MimeAttachment>& parts) {
    const bool one_cda = cda_groups_.size() == 1;
    std::size_t renditions = 0;
    for (const parse::MimeAttachment& a : parts) {
      if (&a == xdm_part_) continue;
      if (one_cda && kindOf(a) == "Document PDF") {
        mapRendition(a, cda_groups_.front(), renditions++);
      } else {
        mapAttachment(a);
      }
    }
  }

  // A rendition: into the CDA's group, with an id of the document's (a copy's rendition, even
  // made again, is the one stored).
  void mapRendition(const parse::MimeAttachment& a, std::size_t group, std::size_t index) {
    mapFile(a, group,
            documentSeed(r_.documents[group].identity.key) ^ contentSeed("rendition") ^
                (index * 0x9E3779B97F4A7C15ULL),
            "Rendu PDF du document", "rendu PDF du document, gardé tel quel");
  }

  // Any other file: a document of its own, in a group of its own.
  void mapAttachment(const parse::MimeAttachment& a) {
    const std::size_t group = openGroup({fileKey(a.bytes), {}, 0, {}});
    mapFile(a, group, documentSeed(r_.documents[group].identity.key), "Pièce jointe du message",
            "pièce jointe gardée telle quelle");
  }

  void mapFile(const parse::MimeAttachment& a, std::size_t group, std::uint64_t seed,
               std::string_view description, std::string kept) {
    clearDocumentFacts();
    const std::size_t first = bundle_.emitted().size();
    addAttachmentFacts(a.filename, a.content_type, kindOf(a), description, a.bytes);
    bundle_.append(mss_.attachment(), facts_, seed);
    const std::string document = fullUrlFrom(bundle_.emitted(), first, "attachment");
    DocumentGroup& g = r_.documents[group];
    if (g.document.empty()) {
      g.document = document;
    } else {
      g.resources.push_back(document);
    }
    facts_.text("bundle.documents", document);
    r_.reports.push_back({a.filename.empty() ? "partie " + a.part_path : a.filename,
                          a.content_type,
                          mss_.attachment().name(),
                          countTypes(bundle_.emitted(), first),
                          {},
                          {std::move(kept)},
                          {}});
    clearDocumentFacts();
  }

  // The request the first request-opening document opens (a referral, a TLM-DA), mapped once
  // every document is in the Bundle so that it refers to all of them; it belongs to the
  // document's group (the same referral received again opens nothing new).
  void mapRequest() {
    if (!opener_) return;
    const ReceivedDocument& d = docs_[opener_->index];
    clearDocumentFacts();
    addDocumentFacts(d);
    facts_.text("bundle.document", opener_->document).text("bundle.author", opener_->author);
    const std::size_t first = bundle_.emitted().size();
    bundle_.append(mss_.request(), facts_, opener_->seed ^ 0x7265717565737431ULL);
    request_url_ = fullUrlFrom(bundle_.emitted(), first, "request");
    for (std::size_t i = first; i < bundle_.emitted().size(); ++i)
      r_.documents[opener_->group].resources.push_back(bundle_.emitted()[i].full_url);
    clearDocumentFacts();
    r_.reports.push_back({d.path,
                          "demande ouverte par le document " + d.cda->code.code,
                          mss_.request().name(),
                          countTypes(bundle_.emitted(), first),
                          {},
                          {},
                          {}});
  }

  // ---- map, without an archive: FHIR attachments, a form in the body, or a request to qualify.
  std::optional<Error> mapWithoutArchive() {
    bool handled = false;
    auto takeForm = [&](std::string_view form_bytes, const std::string& where,
                        const std::string& kind) {
      const std::size_t first = bundle_.emitted().size();
      return acceptForm(forms_.ingestInto(form_bytes, bundle_), first, where, kind);
    };
    std::vector<const parse::MimeAttachment*> kept;
    for (const auto& a : mail_.attachments) {
      if (isJsonAttachment(a) && !handled) {
        if (ess_.requests.forms && takeForm(a.bytes, a.filename, "fiche de demande (FHIR)")) {
          handled = true;
          continue;
        }
        const std::size_t first = bundle_.emitted().size();
        if (copyBundle(a.bytes, a.filename)) {
          handled = true;
          r_.reports.push_back(
              {a.filename, "Bundle FHIR", "", countTypes(bundle_.emitted(), first), {}, {}, {}});
          continue;
        }
      }
      kept.push_back(&a);
    }
    if (!handled && ess_.requests.forms && !body_.empty() && forms_.recognises(body_)) {
      handled = takeForm(body_, "corps du message", "fiche de demande (texte)");
    }
    if (!handled && ess_.requests.forms) handled = takeFormDocument(kept);
    if (!handled && body_.empty() && kept.empty())
      return makeError(Errc::MessageEmpty, "Message sans texte ni pièce jointe.");

    patient_url_ = firstOfType(bundle_.emitted(), "Patient");
    if (patient_url_.empty()) {
      // Nothing says who the patient is: the secretariat identifies them.
      addPatientFacts(PatientIdentity{}, true);
      mapPatient();
    } else {
      facts_.text("bundle.patient", patient_url_);
    }
    request_url_ = firstOfType(bundle_.emitted(), "ServiceRequest");
    // The files of a request (the form's PDF itself, an ECG sent with it) are its documents.
    facts_.text("bundle.request", request_url_);
    for (const parse::MimeAttachment* a : kept)
      mapAttachment(*a);
    facts_.clear("bundle.request");
    if (!handled) {
      // PDF only or free text: a request to qualify (when the ESS takes them), else the message
      // is kept for the patient's open request.
      to_qualify_ = true;
      r_.issues.add(Errc::MessageToQualify,
                    ess_.requests.unstructured
                        ? "Demande non structurée : à qualifier par le secrétariat."
                        : "Message non structuré : à rattacher par le secrétariat.");
      if (ess_.requests.unstructured) {
        const std::size_t first = bundle_.emitted().size();
        bundle_.append(mss_.toQualify(), facts_, seed_ ^ 1);
        request_url_ = fullUrlFrom(bundle_.emitted(), first, "request");
        r_.reports.push_back({"message",
                              "demande à qualifier",
                              mss_.toQualify().name(),
                              countTypes(bundle_.emitted(), first),
                              {},
                              {},
                              {}});
      }
    }
    return std::nullopt;
  }

  // The first attachment that is this ESS's form as a PDF (filled form fields or a text layer)
  // or a Word document opens the request; the file itself stays attached to it. An attachment
  // that is not the form (a letter, a scan) is only kept; one that cannot be read at all
  // (encrypted, damaged) is said in a warning.
  bool takeFormDocument(const std::vector<const parse::MimeAttachment*>& attachments) {
    for (const parse::MimeAttachment* a : attachments) {
      if (!FormIntake::isFormDocument(a->bytes)) continue;
      const std::string where = a->filename.empty() ? "partie " + a->part_path : a->filename;
      const std::size_t first = bundle_.emitted().size();
      IngestResult form = forms_.ingestDocumentInto(a->bytes, where, bundle_);
      if (form.status == IngestStatus::Quarantined) {
        const Errc code = form.quarantine ? form.quarantine->code : Errc::InputUnrecognised;
        if (code != Errc::InputUnrecognised && code != Errc::DocumentNoText &&
            code != Errc::DocxInvalid) {
          r_.issues.add(Issue{code,
                              Severity::Warning,
                              "Pièce jointe illisible, gardée telle quelle : " +
                                  (form.quarantine ? form.quarantine->detail : std::string()),
                              {},
                              where});
        }
        continue;
      }
      return acceptForm(
          std::move(form), first, where,
          parse::looksLikePdf(a->bytes) ? "fiche de demande (PDF)" : "fiche de demande (Word)");
    }
    return false;
  }

  // A form read into the Bundle from `first` on: its issues (located at `where` when they say
  // nowhere), its eligibility and its report join the message's. False when it was quarantined.
  bool acceptForm(IngestResult form, std::size_t first, const std::string& where,
                  const std::string& kind) {
    if (form.status == IngestStatus::Quarantined) return false;
    for (Issue issue : form.issues.items()) {
      if (issue.location.empty()) issue.location = where;
      r_.issues.add(std::move(issue));
    }
    r_.eligibility = form.eligibility;
    r_.reports.push_back(
        {where, kind, ess_.mapping().name(), countTypes(bundle_.emitted(), first), {}, {}, {}});
    return true;
  }

  // A FHIR Bundle sent as an attachment: its entries join the message's transaction, each with a
  // fullUrl and a request (POST of its type when the sender gave none). False when the bytes are
  // not a Bundle of resources.
  bool copyBundle(std::string_view bytes, const std::string& where) {
    rapidjson::Document doc;
    if (json::parseExternalJson(doc, bytes) || !doc.IsObject() || !doc.HasMember("resourceType") ||
        !doc["resourceType"].IsString() ||
        std::string_view(doc["resourceType"].GetString()) != "Bundle") {
      return false;
    }
    if (!doc.HasMember("entry") || !doc["entry"].IsArray()) return false;
    json::JsonOut& w = bundle_.entries();
    std::size_t index = 0;
    for (auto& entry : doc["entry"].GetArray()) {
      const std::string here = where + " entry[" + std::to_string(index++) + "]";
      if (!entry.IsObject() || !entry.HasMember("resource") || !entry["resource"].IsObject() ||
          !entry["resource"].HasMember("resourceType") ||
          !entry["resource"]["resourceType"].IsString()) {
        r_.issues.add(Errc::FhirStructure, "Entrée de Bundle sans ressource : ignorée.", {}, here);
        continue;
      }
      const std::string type = entry["resource"]["resourceType"].GetString();
      // The same checks as our own resources: the types the deployment accepts from outside,
      // and a Patient's INS as the nir module checks any other.
      if (!mss_.incoming().accepts(type)) {
        r_.issues.add(
            Errc::BundleTypeRefused,
            "Type de ressource non accepté dans un Bundle reçu : " + type + " (entrée ignorée).",
            {}, here);
        continue;
      }
      if (type == "Patient") checkIns(entry["resource"], here);
      std::string full_url = entry.HasMember("fullUrl") && entry["fullUrl"].IsString()
                                 ? entry["fullUrl"].GetString()
                                 : "urn:uuid:" + map::deriveUuid(seed_, here);
      w.StartObject();
      w.Key("fullUrl");
      w.String(full_url);
      w.Key("resource");
      json::JsonOutSax sax{w};
      entry["resource"].Accept(sax);
      w.Key("request");
      if (entry.HasMember("request") && entry["request"].IsObject() &&
          entry["request"].HasMember("method") && entry["request"].HasMember("url")) {
        entry["request"].Accept(sax);
      } else {
        w.StartObject();
        w.Key("method");
        w.String("POST");
        w.Key("url");
        w.String(type);
        w.EndObject();
      }
      w.EndObject();
      bundle_.emitted().push_back({"attachment-entry", type, full_url});
    }
    return true;
  }

  // The INS identifiers of a Patient from an attached Bundle: system, structure, key and
  // consistency with its own traits. One the nir module refuses is taken out of the Patient, so
  // that it merges nothing and is not passed on (the attachment stays in the journal).
  void checkIns(rapidjson::Value& patient, const std::string& here) {
    InsCheck check = checkInsOf(patient, here + " ");
    r_.issues.append(check.issues);
    auto& ids = patient["identifier"];  // present when something was refused
    for (auto j = check.refused.rbegin(); j != check.refused.rend(); ++j) {
      r_.issues.add(Issue{Errc::InsMismatch,
                          Severity::Warning,
                          "INS du Patient refusé par le contrôle du NIR : retiré, il ne sert pas à "
                          "rapprocher le patient d'un patient enregistré.",
                          {},
                          here + " identifier[" + std::to_string(*j) + "]"});
      ids.Erase(ids.Begin() + *j);
    }
  }

  // ---- map: the mail itself, what the sender typed, about the request.
  void mapCommunication() {
    clearDocumentFacts();
    if (!request_url_.empty()) facts_.text("bundle.request", request_url_);
    const std::size_t first = bundle_.emitted().size();
    bundle_.append(mss_.communication(), facts_, seed_ ^ 0x636f6d6dULL);
    r_.reports.push_back({"message",
                          body_.empty() ? "message sans texte" : "texte du message",
                          mss_.communication().name(),
                          countTypes(bundle_.emitted(), first),
                          {},
                          {},
                          {}});
  }

  // ---- finish
  IngestResult finish() {
    if (!derived_.empty() && !r_.reports.empty()) {
      for (const std::string& d : derived_)
        r_.reports.front().text_only.push_back("identité : " + d);
    }
    r_.status =
        (r_.issues.hasErrors() || to_qualify_) ? IngestStatus::Incomplete : IngestStatus::Accepted;
    r_.resources = bundle_.emitted();
    r_.bundle_json = bundle_.finish();
    for (std::size_t i = 0; i < r_.binaries.size(); ++i)
      r_.binaries[i].bytes = takeBytes(binary_bytes_[i]);
    return std::move(r_);
  }

  const MssProfile& mss_;
  const EssProfile& ess_;
  const FormIntake& forms_;
  const MessageLimits& limits_;
  const std::string now_;
  std::uint64_t seed_ = 0;

  parse::MimeMessage mail_;
  std::string body_;
  const parse::MimeAttachment* xdm_part_ = nullptr;
  std::optional<parse::XdmArchive> archive_;
  std::vector<parse::XdsSubmission> submissions_;
  std::vector<ReceivedDocument> docs_;  // views into archive_
  PatientIdentity identity_;
  const parse::CdaPatient* patient_ = nullptr;
  std::vector<std::string> derived_;

  Facts facts_;
  BundleWriter bundle_;
  IngestResult r_;
  std::set<std::string> binary_ids_;
  std::vector<std::string_view> binary_bytes_;  // r_.binaries[i]'s bytes, taken at finish
  std::deque<Digests> digests_;                 // a deque: digestsOf hands out references
  std::size_t group_start_ = 0;
  std::optional<MappedDocument> opener_;
  std::vector<std::size_t> cda_groups_;  // into r_.documents, the CDA documents' groups
  std::string ess_url_;
  std::string patient_url_;
  std::string request_url_;
  bool to_qualify_ = false;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

bool looksLikeMail(std::string_view bytes) {
  if (bytes.substr(0, 5) == "From ") return true;  // mbox
  static constexpr std::string_view kFields[] = {
      "from:",    "received:", "message-id:", "mime-version:", "return-path:",
      "subject:", "to:",       "date:",       "delivered-to:", "x-"};
  std::string_view first = bytes.substr(0, bytes.find('\n'));
  std::string head = lower(first.substr(0, 32));
  for (std::string_view f : kFields) {
    if (head.rfind(f, 0) == 0) return true;
  }
  return false;
}

std::string mailContentKey(std::string_view bytes, const std::vector<std::string>& trace_fields) {
  // The header block without the trace fields (unfolded lines kept with their field), then the
  // body; line ends normalised (a relay may store LF where the sender wrote CRLF).
  std::string kept;
  kept.reserve(bytes.size());
  std::size_t pos = 0;
  if (bytes.substr(0, 5) == "From ") {  // an mbox separator line is the store's, not the mail's
    const std::size_t nl = bytes.find('\n');
    pos = nl == std::string_view::npos ? bytes.size() : nl + 1;
  }
  bool skipping = false;
  while (pos < bytes.size()) {
    std::size_t end = bytes.find('\n', pos);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view line = bytes.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = end + 1;
    if (line.empty()) {
      kept += '\n';
      break;  // the body follows
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (!skipping) (kept += line) += '\n';
      continue;
    }
    const std::size_t colon = line.find(':');
    const std::string name = lower(line.substr(0, colon == std::string_view::npos ? 0 : colon));
    skipping = std::find(trace_fields.begin(), trace_fields.end(), name) != trace_fields.end();
    if (!skipping) (kept += line) += '\n';
  }
  while (pos < bytes.size()) {
    std::size_t end = bytes.find('\n', pos);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view line = bytes.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    kept += line;
    if (end < bytes.size()) kept += '\n';
    pos = end + 1;
  }
  return sha256Hex(kept);
}

MessageIntake::MessageIntake(std::shared_ptr<const MssProfile> mss,
                             std::shared_ptr<const EssProfile> ess, const Clock& clock,
                             MessageLimits limits)
    : mss_(std::move(mss)),
      ess_(std::move(ess)),
      clock_(&clock),
      limits_(limits),
      forms_(ess_, clock),
      incoming_(mss_->incoming()) {
  for (const IdentifierRule& rule : ess_->identifiers)
    incoming_.add(rule);
}

IngestResult MessageIntake::ingest(std::string_view bytes) const {
  MessageRun run(*mss_, *ess_, forms_, limits_, fhir::dateTimeOf(clock_->now()));
  return run.run(bytes);
}

std::string MessageIntake::contentKey(std::string_view bytes) const {
  return mailContentKey(bytes, mss_->traceHeaders());
}

}  // namespace liaison::pipeline
