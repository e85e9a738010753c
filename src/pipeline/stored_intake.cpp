#include "pipeline/stored_intake.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <unordered_map>

#include "core/fhir/terminology.hpp"
#include "core/json/json_out.hpp"
#include "core/text/ascii.hpp"
#include "map/mapping.hpp"
#include "parse/json/json_util.hpp"
#include "pipeline/codec.hpp"
#include "pipeline/identity_review.hpp"

namespace liaison::pipeline {
namespace {

using ascii::lowerAscii;
using ascii::startsWithNoCase;

constexpr int kAttempts = 4;  // transient store failures (serialization, deadlock) are retried

using Value = rapidjson::Value;

std::string_view stringOf(const Value& object, const char* key) {
  if (!object.IsObject()) return {};
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

// The resource as stored: its id first, then meta (versionId 1, lastUpdated; other meta members
// kept), then the rest.
std::string serialiseStored(const Value& resource, std::string_view id, std::string_view now) {
  std::string out;
  json::JsonOut w(out);
  json::JsonOutSax sax{w};
  w.StartObject();
  w.Key("resourceType");
  w.String(stringOf(resource, "resourceType"));
  w.Key("id");
  w.String(id);
  w.Key("meta");
  w.StartObject();
  w.Key("versionId");
  w.String("1");
  w.Key("lastUpdated");
  w.String(now);
  if (auto meta = resource.FindMember("meta");
      meta != resource.MemberEnd() && meta->value.IsObject()) {
    for (const auto& m : meta->value.GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (name == "versionId" || name == "lastUpdated") continue;
      w.Key(name);
      m.value.Accept(sax);
    }
  }
  w.EndObject();
  for (const auto& m : resource.GetObject()) {
    const std::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (name == "resourceType" || name == "id" || name == "meta") continue;
    w.Key(name);
    m.value.Accept(sax);
  }
  w.EndObject();
  return out;
}

std::optional<IngestStatus> statusOf(std::string_view s) {
  for (IngestStatus st :
       {IngestStatus::Accepted, IngestStatus::Incomplete, IngestStatus::Quarantined}) {
    if (toString(st) == s) return st;
  }
  return std::nullopt;
}

bool transient(const Error& e) {
  return info(e.code).retry == Retry::Transient;
}

}  // namespace

Result<std::string> prepareResource(std::string_view json, std::string_view type,
                                    std::string_view id, std::string_view now,
                                    bool ignore_body_id) {
  rapidjson::Document doc;
  if (auto bad = json::parseExternalJson(doc, json); bad && bad->code != Errc::JsonMalformed)
    return *bad;  // too deep, not UTF-8: their own codes
  if (!doc.IsObject()) return makeError(Errc::RestBodyInvalid, "Le corps n'est pas un objet JSON.");
  if (stringOf(doc, "resourceType") != type)
    return makeError(Errc::RestBodyInvalid, "resourceType attendu : " + std::string(type) + ".");
  if (const std::string_view own = stringOf(doc, "id");
      !ignore_body_id && !own.empty() && own != id)
    return makeError(Errc::RestBodyInvalid, "L'id du corps diffère de celui de l'URL.");
  return serialiseStored(doc, id, now);
}

std::string messageIdOf(std::string_view bytes) {
  constexpr std::size_t kMaxHeader = 256 * 1024;  // the MIME parser refuses longer header blocks
  std::size_t pos = 0;
  while (pos < bytes.size() && pos < kMaxHeader) {
    std::size_t end = bytes.find('\n', pos);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view line = bytes.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header block
    if (startsWithNoCase(line, "message-id:")) {
      std::string value(line.substr(11));
      // Folded continuation lines belong to the field.
      std::size_t next = end + 1;
      while (next < bytes.size() && (bytes[next] == ' ' || bytes[next] == '\t')) {
        std::size_t e = bytes.find('\n', next);
        if (e == std::string_view::npos) e = bytes.size();
        value += bytes.substr(next, e - next);
        next = e + 1;
      }
      std::string id;
      for (char c : value) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '<' && c != '>') id += c;
      }
      return id.size() <= 998 ? id : id.substr(0, 998);
    }
    pos = end + 1;
  }
  return {};
}

namespace {

// The seed of the ids of what derives from one document: its identity and its ESS, so that the
// same document received again gives the same ids, and sent to two ESS does not.
std::uint64_t documentIdSeed(std::string_view ess, std::string_view key) {
  return contentSeed(ess.empty() ? std::string(key) : std::string(ess) + "|" + std::string(key)) ^
         0x6A09E667F3BCC909ULL;
}

void setString(Value& object, const char* name, std::string_view text,
               rapidjson::Document::AllocatorType& alloc) {
  Value v(text.data(), static_cast<rapidjson::SizeType>(text.size()), alloc);
  if (auto it = object.FindMember(name); it != object.MemberEnd()) {
    it->value = v;
  } else {
    object.AddMember(Value(name, alloc), v, alloc);
  }
}

Value referenceTo(std::string_view target, rapidjson::Document::AllocatorType& alloc) {
  Value ref(rapidjson::kObjectType);
  ref.AddMember("reference",
                Value(target.data(), static_cast<rapidjson::SizeType>(target.size()), alloc),
                alloc);
  return ref;
}

// relatesTo: [{code: replaces, target: …}] on the new version of a document. The intake wrote
// the documents its CDA says it replaces as logical references (their identifier): the stored
// ones the claim found are named by a literal reference instead.
void addReplaces(Value& docref, std::string_view old_document,
                 rapidjson::Document::AllocatorType& alloc) {
  auto it = docref.FindMember("relatesTo");
  if (it == docref.MemberEnd() || !it->value.IsArray()) {
    docref.RemoveMember("relatesTo");
    docref.AddMember("relatesTo", Value(rapidjson::kArrayType), alloc);
    it = docref.FindMember("relatesTo");
  }
  Value& relations = it->value;
  for (auto r = relations.Begin(); r != relations.End();) {
    const bool logical = stringOf(*r, "code") == "replaces" && r->HasMember("target") &&
                         (*r)["target"].IsObject() && !(*r)["target"].HasMember("reference");
    r = logical ? relations.Erase(r) : r + 1;
  }
  Value relation(rapidjson::kObjectType);
  relation.AddMember("code", "replaces", alloc);
  relation.AddMember("target", referenceTo(old_document, alloc), alloc);
  it->value.PushBack(relation, alloc);
}

// content[0].attachment.url of a DocumentReference: where its bytes are (Binary/<sha256>).
std::string_view firstAttachmentUrl(const Value& docref) {
  auto content = docref.FindMember("content");
  if (content == docref.MemberEnd() || !content->value.IsArray() || content->value.Empty())
    return {};
  const Value& first = content->value[0];
  if (!first.IsObject() || !first.HasMember("attachment")) return {};
  return stringOf(first["attachment"], "url");
}

bool hasMember(const Value& v, const char* name) {
  return v.IsObject() && v.HasMember(name);
}

}  // namespace

void rewriteReferences(Value& v, const std::unordered_map<std::string, std::string>& to,
                       rapidjson::Document::AllocatorType& alloc) {
  if (v.IsObject()) {
    for (auto& m : v.GetObject()) {
      if (m.value.IsString() && std::string_view(m.name.GetString()) == "reference") {
        auto hit = to.find(std::string(m.value.GetString(), m.value.GetStringLength()));
        if (hit != to.end())
          m.value.SetString(hit->second.data(), static_cast<unsigned>(hit->second.size()), alloc);
      } else {
        rewriteReferences(m.value, to, alloc);
      }
    }
  } else if (v.IsArray()) {
    for (auto& item : v.GetArray())
      rewriteReferences(item, to, alloc);
  }
}

bool markEnteredInError(Value& resource, rapidjson::Document::AllocatorType& alloc) {
  const std::string_view type = stringOf(resource, "resourceType");
  const char* verification = type == "Condition" ? "http://terminology.hl7.org/CodeSystem/"
                                                   "condition-ver-status"
                             : type == "AllergyIntolerance"
                                 ? "http://terminology.hl7.org/CodeSystem/"
                                   "allergyintolerance-verification"
                                 : nullptr;
  if (verification != nullptr) {
    // Their clinicalStatus SHALL NOT be present once entered-in-error (con-5, ait-2).
    resource.RemoveMember("clinicalStatus");
    resource.RemoveMember("verificationStatus");
    Value coding(rapidjson::kObjectType);
    coding.AddMember("system", Value(verification, alloc), alloc);
    coding.AddMember("code", "entered-in-error", alloc);
    Value codings(rapidjson::kArrayType);
    codings.PushBack(coding, alloc);
    Value status(rapidjson::kObjectType);
    status.AddMember("coding", codings, alloc);
    resource.AddMember("verificationStatus", status, alloc);
    return true;
  }
  // Resources whose status value set has entered-in-error.
  static constexpr std::string_view kWithStatus[] = {"Observation",
                                                     "Encounter",
                                                     "CarePlan",
                                                     "ServiceRequest",
                                                     "MedicationStatement",
                                                     "DocumentReference",
                                                     "Communication",
                                                     "Procedure",
                                                     "DiagnosticReport",
                                                     "QuestionnaireResponse",
                                                     "Immunization",
                                                     "MedicationRequest",
                                                     "CareTeam",
                                                     "Goal",
                                                     "Task",
                                                     "Appointment"};
  if (std::find(std::begin(kWithStatus), std::end(kWithStatus), type) == std::end(kWithStatus))
    return false;
  // Goal's is lifecycleStatus; the others' status.
  setString(resource, type == "Goal" ? "lifecycleStatus" : "status", "entered-in-error", alloc);
  return true;
}

Result<TransactionOutcome> applyTransaction(std::string_view bundle_json, StoreTransaction& tx,
                                            const std::string& now,
                                            const map::SearchParameters& search,
                                            const IncomingRules& rules, std::string& response_json,
                                            std::uint64_t salt,
                                            std::span<const DocumentGroup> documents,
                                            IssueList* notes, std::string_view ess) {
  rapidjson::Document doc;
  if (auto bad = json::parseExternalJson(doc, bundle_json); bad && bad->code != Errc::JsonMalformed)
    return *bad;
  if (!doc.IsObject() || !doc.HasMember("entry") || !doc["entry"].IsArray()) {
    return makeError(Errc::FhirStructure, "Bundle sans entrées lisibles.");
  }
  auto& alloc = doc.GetAllocator();
  const std::uint64_t seed =
      std::hash<std::string_view>{}(bundle_json) ^ (salt * 0x9E3779B97F4A7C15ULL);

  // Which document each entry derives from.
  std::unordered_map<std::string_view, std::size_t> group_of;
  for (std::size_t g = 0; g < documents.size(); ++g) {
    group_of.emplace(documents[g].document, g);
    for (const std::string& r : documents[g].resources)
      group_of.emplace(r, g);
  }

  struct Planned {
    std::string type;
    std::string id;
    Value* resource;
    bool create;
    bool merged;  // found by its identifier (a Patient's INS…): shared, never retired
    std::optional<std::size_t> group;
  };
  std::vector<Planned> plan;
  std::unordered_map<std::string, std::string> references;
  // Incoming Patients that claim a stored INS with other traits: the stored one is kept, and a
  // review Task records the conflict.
  struct Review {
    std::string patient;  // Patient/<id>, the stored one
    std::vector<std::string> differing;
    Value* incoming;
    std::string at;
  };
  std::vector<Review> reviews;
  std::size_t index = 0;
  for (Value& entry : doc["entry"].GetArray()) {
    const std::string at = "entry[" + std::to_string(index++) + "]";
    if (!entry.IsObject() || !entry.HasMember("resource") || !entry["resource"].IsObject())
      return makeError(Errc::FhirStructure, "Entrée de Bundle sans ressource : " + at);
    Value& resource = entry["resource"];
    const std::string type(stringOf(resource, "resourceType"));
    if (type.empty()) return makeError(Errc::FhirStructure, "Ressource sans type : " + at);
    const std::string full_url(stringOf(entry, "fullUrl"));
    std::optional<std::size_t> group;
    if (auto g = group_of.find(full_url); !full_url.empty() && g != group_of.end())
      group = g->second;
    // Ids are new per transaction (FHIR: the server assigns them), derived from the Bundle so
    // that a retried transaction of the same Bundle assigns the same ones; those of a document's
    // resources derive from the document, so that receiving it again finds them.
    std::string id =
        group ? map::deriveUuid(documentIdSeed(ess, documents[*group].identity.key), full_url)
              : map::deriveUuid(seed, full_url.empty() ? at : full_url + at);
    bool create = true;
    bool merged = false;
    if (auto key = rules.identifying(type, resource)) {
      auto holder = tx.holderOf(type, key->system, key->value, id);
      if (!holder) return holder.error();
      create = holder->claimed;
      merged = true;
      id = holder->id;
      if (!create && type == "Patient") {
        // Never silently kept: the stored identity is compared with the incoming one.
        auto stored = tx.read(type, id);
        if (!stored) return stored.error();
        if (*stored) {
          rapidjson::Document old;
          old.Parse((*stored)->json.data(), (*stored)->json.size());
          if (!old.HasParseError() && old.IsObject()) {
            std::vector<std::string> differing = differingTraits(old, resource);
            if (!differing.empty())
              reviews.push_back({type + "/" + id, std::move(differing), &resource, at});
          }
        }
      }
    }
    const std::string target = type + "/" + id;
    if (!full_url.empty()) references[full_url] = target;
    if (const std::string_view own = stringOf(resource, "id"); !own.empty())
      references[type + "/" + std::string(own)] = target;
    plan.push_back({type, id, &resource, create, merged, group});
  }

  // What the store knows of each document, claimed in the order of their keys (the store's
  // locks are then always taken in one order: two ingests never wait for each other in a cycle).
  std::vector<DocumentClaim> claims(documents.size());
  std::vector<std::size_t> order(documents.size());
  for (std::size_t g = 0; g < order.size(); ++g)
    order[g] = g;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return documents[a].identity.key < documents[b].identity.key;
  });
  for (const std::size_t g : order) {
    const DocumentGroup& group = documents[g];
    std::string document;
    std::vector<std::string> derived;
    for (const Planned& p : plan) {
      if (p.group != g) continue;
      const std::string target = p.type + "/" + p.id;
      if (references[group.document] == target) {
        document = target;
      } else if (!p.merged) {
        derived.push_back(target);
      }
    }
    if (document.empty()) continue;  // the intake wrote no DocumentReference for it
    auto claim = tx.claimDocument(group.identity, document, derived);
    if (!claim) return claim.error();
    claims[g] = std::move(*claim);
    const DocumentClaim& c = claims[g];
    switch (c.status) {
      case DocumentClaim::Status::New:
        break;
      case DocumentClaim::Status::Same: {
        // Received before: what is stored of it is not written again, and this message points at
        // it. What this copy derives that the store does not have (an entry a newer mapping
        // reads) is added to it — when its ids are those of the stored copy (derived alike).
        if (!c.current.empty()) references[group.document] = c.current;
        const bool derived_alike = c.current == document;
        std::string_view received_bytes;
        std::vector<std::string> added;
        for (Planned& p : plan) {
          if (p.group != g) continue;
          const std::string target = p.type + "/" + p.id;
          if (target == document) {
            received_bytes = firstAttachmentUrl(*p.resource);
            p.create = false;
          } else if (!p.merged) {
            const bool stored =
                std::find(c.resources.begin(), c.resources.end(), target) != c.resources.end();
            p.create = derived_alike && !stored;
            if (p.create) added.push_back(target);
          }
        }
        if (auto kept = tx.addToDocument(group.identity.key, added); !kept) return kept.error();
        // The same identifier on other bytes: a correction sent without a new version, or an
        // identifier reused by mistake. The first stays; the secretariat is told.
        const std::size_t slash = c.current.find('/');
        if (auto stored = tx.read("DocumentReference", c.current.substr(slash + 1));
            stored && *stored && notes != nullptr) {
          rapidjson::Document old;
          old.Parse((*stored)->json.data(), (*stored)->json.size());
          if (!old.HasParseError() && firstAttachmentUrl(old) != received_bytes)
            notes->add(Errc::DocumentContentDiffers,
                       "Document déjà reçu sous le même identifiant avec un autre contenu : la "
                       "première version reçue est gardée ; demander à l'expéditeur une nouvelle "
                       "version (versionNumber, relatedDocument RPLC).",
                       {}, group.identity.key);
        } else if (!stored) {
          return stored.error();
        }
        if (notes != nullptr)
          notes->add(Errc::DocumentAlreadyStored,
                     "Document déjà reçu : rattaché à ce message sans être enregistré à nouveau (" +
                         c.current + ").",
                     {}, group.identity.key);
        break;
      }
      case DocumentClaim::Status::Supersedes:
        for (Planned& p : plan) {
          if (p.group != g || p.type + "/" + p.id != document) continue;
          for (const DocumentClaim::Version& v : c.superseded)
            addReplaces(*p.resource, v.document, alloc);
        }
        if (notes != nullptr) {
          for (const DocumentClaim::Version& v : c.superseded)
            notes->add(Errc::DocumentSuperseded,
                       "Nouvelle version du document : remplace " + v.document +
                           " ; ce qui en était tiré est marqué entered-in-error.",
                       {}, group.identity.key);
        }
        break;
      case DocumentClaim::Status::Superseded:
        // A late older version: kept, retired at once, so that nothing of it is live.
        for (Planned& p : plan) {
          if (p.group != g || p.merged) continue;
          if (p.type == "DocumentReference") {  // the document and its renditions
            setString(*p.resource, "status", "superseded", alloc);
          } else {
            markEnteredInError(*p.resource, alloc);
          }
        }
        if (notes != nullptr)
          notes->add(Errc::DocumentSuperseded,
                     "Version antérieure reçue après une plus récente (" + c.current +
                         ") : enregistrée comme remplacée.",
                     {}, group.identity.key);
        break;
    }
  }

  // The request the documents and the mail belong to: the Bundle's, else the patient's open one.
  std::string request;
  std::string patient;
  for (const Planned& p : plan) {
    if (request.empty() && p.type == "ServiceRequest") request = "ServiceRequest/" + p.id;
    if (patient.empty() && p.type == "Patient") patient = "Patient/" + p.id;
  }
  if (request.empty() && !patient.empty()) {
    auto open = tx.openRequestOf(patient);
    if (!open) return open.error();
    if (*open) request = **open;
  }

  std::vector<NewResource> resources;
  resources.reserve(plan.size());
  for (const Planned& p : plan) {
    if (!p.create) continue;
    rewriteReferences(*p.resource, references, alloc);
    if (!request.empty() && p.type == "DocumentReference") {
      Value& r = *p.resource;
      if (!hasMember(r, "context")) r.AddMember("context", Value(rapidjson::kObjectType), alloc);
      Value& context = r["context"];
      if (context.IsObject() && !context.HasMember("related")) {
        Value related(rapidjson::kArrayType);
        related.PushBack(referenceTo(request, alloc), alloc);
        context.AddMember("related", related, alloc);
      }
    } else if (!request.empty() && p.type == "Communication" && !hasMember(*p.resource, "about")) {
      Value about(rapidjson::kArrayType);
      about.PushBack(referenceTo(request, alloc), alloc);
      p.resource->AddMember("about", about, alloc);
    }
    resources.push_back({p.type, p.id, serialiseStored(*p.resource, p.id, now), now,
                         search.extract(p.type, *p.resource)});
  }
  for (const Review& review : reviews) {
    rewriteReferences(*review.incoming, references, alloc);
    // One review per stored Patient and incoming identity, however many messages bring it.
    const std::string key = identityReviewKey(review.patient, *review.incoming);
    auto holder = tx.holderOf("Task", rules.reviewKeySystem(), key,
                              map::deriveUuid(seed, "identity-review " + review.at));
    if (!holder) return holder.error();
    if (holder->claimed) {
      const std::string task = identityReviewTask(
          rules.reviewSystem(), rules.reviewKeySystem(), key, review.patient, review.differing,
          *review.incoming, now, "message " + std::to_string(salt));
      rapidjson::Document parsed;
      parsed.Parse(task.data(), task.size());
      resources.push_back({"Task", holder->id, serialiseStored(parsed, holder->id, now), now,
                           search.extract("Task", parsed)});
    }
    if (notes != nullptr)
      notes->add(Errc::IdentityConflict,
                 "Identité à vérifier : le patient enregistré sous cet INS (" + review.patient +
                     ") a d'autres traits (" + traitLabels(review.differing) +
                     ") ; il est gardé tel quel, les données reçues lui sont rattachées (Task/" +
                     holder->id + (holder->claimed ? "" : ", déjà ouverte") + ").",
                 {}, review.at);
  }
  auto created = tx.create(resources);
  if (!created) return created.error();

  // The versions a new one replaces: DocumentReference superseded, what derived from it
  // entered-in-error (never left as live duplicates).
  for (const DocumentClaim& c : claims) {
    // A late version may still replace others explicitly (RPLC): those are retired too.
    for (const DocumentClaim::Version& v : c.superseded) {
      std::vector<std::string> targets{v.document};
      targets.insert(targets.end(), v.resources.begin(), v.resources.end());
      for (const std::string& target : targets) {
        const std::size_t slash = target.find('/');
        if (slash == std::string::npos) continue;
        const std::string type = target.substr(0, slash);
        const std::string id = target.substr(slash + 1);
        auto stored = tx.read(type, id);
        if (!stored) return stored.error();
        if (!*stored) continue;
        rapidjson::Document old;
        old.Parse((*stored)->json.data(), (*stored)->json.size());
        if (old.HasParseError() || !old.IsObject()) continue;
        if (target == v.document || type == "DocumentReference") {
          // The document and its renditions: superseded, as FHIR says of a replaced document.
          setString(old, "status", "superseded", old.GetAllocator());
        } else if (!markEnteredInError(old, old.GetAllocator())) {
          continue;
        }
        std::string json;
        json::JsonOut w(json);
        json::JsonOutSax sax{w};
        old.Accept(sax);
        auto updated =
            tx.update({type, id, std::move(json), now, search.extract(type, old)}, std::nullopt);
        if (!updated) return updated.error();
      }
    }
  }

  TransactionOutcome outcome;
  std::string& out = response_json;
  out.clear();
  json::JsonOut w(out);
  w.StartObject();
  w.Key("resourceType");
  w.String("Bundle");
  w.Key("type");
  w.String("transaction-response");
  w.Key("entry");
  w.StartArray();
  std::size_t next_created = 0;
  for (const Planned& p : plan) {
    StoredVersion v{p.type, p.id, 0, {}};
    if (p.create && next_created < created->size()) v = (*created)[next_created++];
    w.StartObject();
    w.Key("response");
    w.StartObject();
    w.Key("status");
    w.String(p.create ? "201 Created" : "200 OK");
    w.Key("location");
    w.String(p.create ? p.type + "/" + p.id + "/_history/" + std::to_string(v.version)
                      : p.type + "/" + p.id);
    if (p.create) {
      w.Key("etag");
      w.String("W/\"" + std::to_string(v.version) + "\"");
      w.Key("lastModified");
      w.String(v.last_updated.empty() ? now : v.last_updated);
    }
    w.EndObject();
    w.EndObject();
    outcome.stored.push_back(std::move(v));
    outcome.created.push_back(p.create);
  }
  w.EndArray();
  w.EndObject();
  return outcome;
}

StoredIntake::StoredIntake(Store& store, const MessageIntake& messages, const FormIntake& forms,
                           const map::SearchParameters& search, const Clock& clock)
    : ess_(messages.essId()),
      store_(&store),
      messages_(&messages),
      forms_(&forms),
      search_(&search),
      clock_(&clock) {}

InboundMessage StoredIntake::inbound(std::string_view bytes, std::string source, bool mail) const {
  return InboundMessage{bytes, mail ? messageIdOf(bytes) : std::string{}, sha256Hex(bytes),
                        std::move(source), mail ? messages_->contentKey(bytes) : std::string{}};
}

Result<StoredIngest> StoredIntake::ingest(std::string_view bytes, std::string source,
                                          bool mail) const {
  // Journaled for its ESS (exactly once per ESS: the same mail to two ESS is two messages).
  const std::string scope[] = {ess_};
  store_->setEss(scope);
  auto journaled = store_->journal(inbound(bytes, source, mail));
  if (!journaled) return journaled.error();
  return process(*journaled, bytes, mail, source);
}

Result<StoredIngest> StoredIntake::process(const JournalEntry& journaled, std::string_view bytes,
                                           bool mail, std::string_view source,
                                           const Error* give_up) const {
  StoredIngest out;
  out.journal_id = journaled.id;
  out.duplicate = false;  // processed now, even when journaled before (an interrupted ingest)
  auto fromStored = [&out](const StoredOutcome& stored) {
    out.duplicate = true;
    out.result.status = statusOf(stored.status).value_or(IngestStatus::Quarantined);
    out.outcome_json = stored.outcome_json;
    out.response_json = stored.response_json;
    return out;
  };
  if (journaled.outcome) return fromStored(*journaled.outcome);
  // Its ESS's rows only: the patient found by INS, the documents claimed, what is written.
  const std::string scope[] = {ess_};
  store_->setEss(scope);

  // A journaled message without an outcome (a crash, or first time): process it now.
  if (give_up != nullptr)
    out.result = quarantined(*give_up, mail ? messageIdOf(bytes) : std::string{});
  else
    out.result = mail ? messages_->ingest(bytes) : forms_->ingest(bytes);
  if (journaled.message_id_reused) {
    // Another mail came with this Message-ID and a different content: both are kept and
    // processed, and the secretariat sees that the identifier was reused.
    out.result.issues.add(Errc::MessageIdReused,
                          "Message-ID déjà reçu avec un autre contenu : les deux messages sont "
                          "gardés ; vérifier auprès de l'expéditeur.",
                          {}, "Message-ID");
  }
  const IssueList intake_issues = out.result.issues;  // before the store's notes are added
  const std::string issue_system = issueCodeSystem(messages_->canonicalBase());
  out.outcome_json = operationOutcomeJson(out.result, issue_system);
  const std::string now = fhir::instantOf(clock_->now());
  std::string quarantine_code =
      out.result.quarantine ? std::string(info(out.result.quarantine->code).code) : "";

  std::vector<OutboundMail> answers = mail && answer_
                                          ? answer_(bytes, out.result, out.journal_id, source)
                                          : std::vector<OutboundMail>{};
  bool refused = false;

  for (int attempt = 1;; ++attempt) {
    auto tx = store_->begin();
    if (!tx) {
      if (transient(tx.error()) && attempt < kAttempts) continue;
      return tx.error();
    }
    std::string response;
    std::optional<Error> failed;
    for (const BinaryContent& binary : out.result.binaries) {
      if (failed) break;
      if (auto put = (*tx)->putBinary(binary); !put) failed = put.error();
    }
    if (!failed && !out.result.bundle_json.empty()) {
      IssueList notes;
      auto applied = applyTransaction(
          out.result.bundle_json, **tx, now, *search_, messages_->incoming(), response,
          static_cast<std::uint64_t>(out.journal_id), out.result.documents, &notes, ess_);
      if (!applied) failed = applied.error();
      if (applied && !notes.empty()) {
        out.result.issues = intake_issues;  // a retried transaction starts from the intake's
        out.result.issues.append(notes);
        out.outcome_json = operationOutcomeJson(out.result, issue_system);
      }
    }
    if (!failed) {
      auto recorded = (*tx)->recordOutcome(
          out.journal_id,
          StoredOutcome{std::string(toString(out.result.status)), out.outcome_json, response},
          quarantine_code);
      if (!recorded) failed = recorded.error();
    }
    for (const OutboundMail& answer : answers) {
      if (failed) break;
      if (auto queued = (*tx)->enqueue(answer); !queued) failed = queued.error();
    }
    if (!failed && witness_) {
      if (auto witnessed = witness_(**tx, out.journal_id, response); !witnessed)
        failed = witnessed.error();
    }
    if (!failed) {
      auto committed = (*tx)->commit();
      if (!committed) failed = committed.error();
    }
    if (!failed) {
      out.response_json = std::move(response);
      return out;
    }
    tx->reset();  // roll back before anything else
    if (failed->code == Errc::DbConflict) {
      // A concurrent ingest of the same message finished first: its outcome is the outcome.
      auto stored = store_->outcomeOf(out.journal_id);
      if (!stored) return stored.error();
      if (*stored) return fromStored(**stored);
    }
    if (!transient(*failed) && !refused) {
      // The store refuses what the intake made of this message (data it cannot hold, or a bug):
      // the message is quarantined with that reason, rather than retried for ever in front of
      // those behind it. Its bytes stay in the journal, to process again once fixed.
      refused = true;
      out.result = quarantined(*failed, out.result.message_id);
      out.outcome_json = operationOutcomeJson(out.result, issue_system);
      quarantine_code = std::string(info(failed->code).code);
      answers = mail && answer_ ? answer_(bytes, out.result, out.journal_id, source)
                                : std::vector<OutboundMail>{};
      attempt = 0;
      continue;
    }
    if (!transient(*failed) || attempt >= kAttempts) return *failed;
  }
}

}  // namespace liaison::pipeline
