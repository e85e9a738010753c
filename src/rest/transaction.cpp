#include "rest/transaction.hpp"

#include <rapidjson/document.h>

#include <functional>
#include <set>
#include <unordered_map>
#include <vector>

#include "core/json/json_out.hpp"
#include "map/mapping.hpp"
#include "parse/json/json_util.hpp"
#include "pipeline/identity_review.hpp"
#include "pipeline/stored_intake.hpp"
#include "rest/target.hpp"

namespace liaison::rest {
namespace {

using Value = rapidjson::Value;

std::string_view stringOf(const Value& object, const char* key) {
  if (!object.IsObject()) return {};
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

enum class Method { Post, Put, Delete };

// One entry as understood before anything is written.
struct Planned {
  std::size_t index = 0;
  Method method = Method::Post;
  std::string type;
  std::string id;         // PUT, DELETE: from the URL; POST: assigned (or the match's)
  std::string condition;  // ifNoneExist (POST) or the query of a conditional PUT
  std::optional<std::int64_t> if_match;
  Value* resource = nullptr;  // POST, PUT
  std::string full_url;
  bool matched = false;     // POST ifNoneExist found a resource: nothing written
  StoredVersion written;    // what the store answered
  bool removed = false;     // DELETE: a version was written
  std::string stored_json;  // POST that found a stored resource: its JSON
  std::string review;       // Task/<id>: the identity review this entry's Patient opened
  std::string review_traits;
};

std::string at(std::size_t index, std::string_view member = {}) {
  std::string s = "Bundle.entry[" + std::to_string(index) + "]";
  if (!member.empty()) s += "." + std::string(member);
  return s;
}

TransactionRefusal refusal(Errc code, std::string text, std::string expression) {
  return {makeError(code, std::move(text)), std::move(expression)};
}

// A request URL relative to the server (an absolute one under `base` is accepted as such).
std::string_view relative(std::string_view url, std::string_view base) {
  if (!base.empty() && url.size() > base.size() && url.substr(0, base.size()) == base &&
      url[base.size()] == '/')
    return url.substr(base.size() + 1);
  return url;
}

std::optional<std::int64_t> versionOf(std::string_view etag, bool& valid) {
  valid = true;
  if (etag.empty()) return std::nullopt;
  if (etag.substr(0, 2) == "W/") etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  auto v = parseVersion(etag);
  valid = v.has_value();
  return v;
}

std::string serialise(const Value& v) {
  std::string out;
  json::JsonOut w(out);
  json::JsonOutSax sax{w};
  v.Accept(sax);
  return out;
}

// Reads one entry's request; a refusal names the member at fault.
std::optional<TransactionRefusal> plan(Value& entry, std::size_t index, std::string_view base,
                                       Planned& p) {
  p.index = index;
  if (!entry.IsObject()) return refusal(Errc::RestUnprocessable, "Entrée illisible.", at(index));
  auto request = entry.FindMember("request");
  if (request == entry.MemberEnd() || !request->value.IsObject())
    return refusal(Errc::RestUnprocessable,
                   "Entrée de transaction sans request (méthode et URL) : obligatoire.",
                   at(index, "request"));
  const Value& r = request->value;
  const std::string_view method = stringOf(r, "method");
  if (method == "POST") {
    p.method = Method::Post;
  } else if (method == "PUT") {
    p.method = Method::Put;
  } else if (method == "DELETE") {
    p.method = Method::Delete;
  } else {
    return refusal(Errc::RestTransactionUnsupported,
                   "Méthode non prise en charge dans une transaction : « " + std::string(method) +
                       " » (seuls POST, PUT et DELETE le sont).",
                   at(index, "request.method"));
  }
  const std::string_view url = relative(stringOf(r, "url"), base);
  if (url.empty())
    return refusal(Errc::RestUnprocessable, "request.url manquante.", at(index, "request.url"));
  const std::size_t question = url.find('?');
  const std::string_view path = url.substr(0, question);
  const std::size_t slash = path.find('/');
  p.type = std::string(path.substr(0, slash));
  const std::string_view id = slash == std::string_view::npos ? "" : path.substr(slash + 1);
  p.full_url = std::string(stringOf(entry, "fullUrl"));

  bool valid_etag = true;
  p.if_match = versionOf(stringOf(r, "ifMatch"), valid_etag);
  if (!valid_etag)
    return refusal(Errc::RestUnprocessable, "request.ifMatch illisible (W/\"<version>\" attendu).",
                   at(index, "request.ifMatch"));

  if (p.method == Method::Delete) {
    if (question != std::string_view::npos)
      return refusal(Errc::RestTransactionUnsupported,
                     "Suppression conditionnelle non prise en charge : Type/id attendu.",
                     at(index, "request.url"));
    if (!isFhirId(id))
      return refusal(Errc::RestUnprocessable, "request.url : Type/id attendu.",
                     at(index, "request.url"));
    p.id = std::string(id);
    return std::nullopt;
  }

  auto resource = entry.FindMember("resource");
  if (resource == entry.MemberEnd() || !resource->value.IsObject())
    return refusal(Errc::RestUnprocessable, "Entrée sans ressource.", at(index, "resource"));
  p.resource = &resource->value;
  if (stringOf(*p.resource, "resourceType") != p.type)
    return refusal(Errc::RestUnprocessable,
                   "request.url ne nomme pas le type de la ressource (" +
                       std::string(stringOf(*p.resource, "resourceType")) + ").",
                   at(index, "request.url"));

  if (p.method == Method::Post) {
    if (!id.empty() || question != std::string_view::npos)
      return refusal(Errc::RestUnprocessable, "request.url d'un POST : le type seul.",
                     at(index, "request.url"));
    p.condition = std::string(stringOf(r, "ifNoneExist"));
    if (p.condition.starts_with('?')) p.condition.erase(0, 1);
    return std::nullopt;
  }

  // PUT: Type/id, or Type?search (conditional update: the id is that of the one match).
  if (question != std::string_view::npos) {
    if (!id.empty() || question + 1 == url.size())
      return refusal(Errc::RestUnprocessable, "request.url : Type?critères attendu.",
                     at(index, "request.url"));
    p.condition = std::string(url.substr(question + 1));
    return std::nullopt;
  }
  if (!isFhirId(id))
    return refusal(Errc::RestUnprocessable, "request.url : Type/id attendu.",
                   at(index, "request.url"));
  p.id = std::string(id);
  return std::nullopt;
}

auth::Interaction interactionOf(Method m) {
  switch (m) {
    case Method::Post:
      return auth::Interaction::Create;
    case Method::Put:
      return auth::Interaction::Update;
    case Method::Delete:
      return auth::Interaction::Delete;
  }
  return auth::Interaction::Create;
}

void writeVersion(json::JsonOut& w, const StoredVersion& v) {
  w.Key("location");
  w.String(v.type + "/" + v.id + "/_history/" + std::to_string(v.version));
  w.Key("etag");
  w.String("W/\"" + std::to_string(v.version) + "\"");
  w.Key("lastModified");
  w.String(v.last_updated);
}

}  // namespace

Result<TransactionReply> processTransaction(std::string_view bundle_json,
                                            const TransactionContext& c) {
  TransactionReply reply;
  const pipeline::IncomingRules& rules =
      c.rules != nullptr ? *c.rules : pipeline::IncomingRules::builtIn();
  auto refuse = [&reply](TransactionRefusal r) {
    reply.refused = std::move(r);
    return reply;
  };
  rapidjson::Document doc;
  if (auto bad = json::parseExternalJson(doc, bundle_json)) return refuse({*bad, ""});
  if (!doc.IsObject() || stringOf(doc, "type") != "transaction")
    return refuse(refusal(Errc::RestBodyInvalid, "Bundle de type transaction attendu.", "Bundle"));
  auto entries = doc.FindMember("entry");
  if (entries != doc.MemberEnd() && !entries->value.IsArray())
    return refuse(refusal(Errc::RestBodyInvalid, "Bundle.entry n'est pas une liste.", "Bundle"));
  auto& alloc = doc.GetAllocator();

  // 1. Every entry understood and permitted before anything is written.
  std::vector<Planned> plans;
  if (entries != doc.MemberEnd()) {
    std::size_t index = 0;
    for (Value& entry : entries->value.GetArray()) {
      Planned p;
      if (auto refused = plan(entry, index, c.base, p)) return refuse(std::move(*refused));
      if (!rules.accepts(p.type))
        return refuse(
            refusal(Errc::BundleTypeRefused,
                    "Type de ressource non accepté dans une transaction : " + p.type + ".",
                    at(index, "request.url")));
      if (c.search.of(p.type).empty())
        return refuse(refusal(Errc::RestTypeUnsupported,
                              "Type de ressource non pris en charge : " + p.type + ".",
                              at(index, "request.url")));
      if (p.type == "Patient" && p.resource != nullptr) {
        // Its INS checked as any other (structure, key, consistency with its traits).
        pipeline::InsCheck ins = pipeline::checkInsOf(*p.resource, at(index, "resource") + ".");
        for (const Issue& issue : ins.issues.items()) {
          if (issue.severity == Severity::Error || issue.severity == Severity::Fatal)
            return refuse({makeError(issue.code, issue.message), issue.location});
        }
      }
      if (c.permitted && !c.permitted(interactionOf(p.method), p.type))
        return refuse(
            refusal(Errc::Forbidden,
                    "Accès refusé : " + std::string(auth::toString(interactionOf(p.method))) + " " +
                        p.type + " n'est pas permis à ce client.",
                    at(index, "request.method")));
      plans.push_back(std::move(p));
      ++index;
    }
  }
  // One resource is written by one entry at most (FHIR: otherwise the outcome depends on order).
  std::set<std::string> named;
  auto named_once = [&named](const Planned& p) {
    return p.id.empty() || p.matched || named.insert(p.type + "/" + p.id).second;
  };
  for (const Planned& p : plans) {
    if (p.condition.empty() && !named_once(p))
      return refuse(refusal(Errc::RestUnprocessable,
                            p.type + "/" + p.id + " est visé par plusieurs entrées.",
                            at(p.index, "request.url")));
  }

  // 2. Deletions first, as HAPI does: a conditional create after them does not find what they
  // removed.
  for (Planned& p : plans) {
    if (p.method != Method::Delete) continue;
    auto removed = c.tx.remove(p.type, p.id, p.if_match);
    if (!removed) {
      if (removed.error().code == Errc::RestPreconditionFailed)
        return refuse({removed.error(), at(p.index, "request.ifMatch")});
      return removed.error();
    }
    if (*removed) {
      p.removed = true;
      p.written = **removed;
    }
  }

  // 3. The ids finally used: conditional creates that match take the stored one; other creates
  // a new one, derived from the Bundle and the salt.
  const std::uint64_t seed =
      std::hash<std::string_view>{}(bundle_json) ^ (c.salt * 0x9E3779B97F4A7C15ULL);
  std::unordered_map<std::string, std::string> references;
  for (Planned& p : plans) {
    if (p.method == Method::Delete) continue;
    if (!p.condition.empty()) {
      // ifNoneExist, or a conditional update's criteria: none, one or several stored matches.
      const bool create = p.method == Method::Post;
      const std::string where = at(p.index, create ? "request.ifNoneExist" : "request.url");
      auto parsed = parseSearch(p.type, parseTarget("?" + p.condition), c.search, c.limits, c.base);
      if (!parsed) return refuse({parsed.error(), where});
      parsed->request.count = 2;
      auto page = c.store.search(parsed->request);
      if (!page) return page.error();
      if (page->resources.size() > 1)
        return refuse(refusal(Errc::RestPreconditionFailed,
                              std::string(create ? "ifNoneExist" : "Mise à jour conditionnelle") +
                                  " : plusieurs ressources correspondent.",
                              where));
      const std::string_view own = stringOf(*p.resource, "id");
      if (page->resources.size() == 1) {
        const StoredResource& found = page->resources.front();
        p.id = found.id;
        if (create) {
          p.matched = true;
          p.written = {found.type, found.id, found.version, found.last_updated};
          p.stored_json = found.json;
        } else if (!own.empty() && own != found.id) {
          return refuse(refusal(Errc::RestUnprocessable,
                                "L'id de la ressource diffère de celui de la ressource trouvée (" +
                                    p.type + "/" + found.id + ").",
                                at(p.index, "resource.id")));
        }
      } else if (!create) {
        // No match: created, under the body's id when it gives one (FHIR conditional update).
        if (!own.empty() && !isFhirId(own))
          return refuse(refusal(Errc::RestUnprocessable, "id de ressource invalide.",
                                at(p.index, "resource.id")));
        p.id = own.empty() ? map::deriveUuid(seed, p.full_url + at(p.index)) : std::string(own);
      }
      if (!named_once(p))
        return refuse(refusal(Errc::RestUnprocessable,
                              p.type + "/" + p.id + " est visé par plusieurs entrées.", where));
    }
    if (p.method == Method::Post && !p.matched) {
      p.id = map::deriveUuid(seed, p.full_url + at(p.index));
      // An identifier a rule names (a Patient's INS, an RPPS…) already held: the stored resource.
      if (auto key = rules.identifying(p.type, *p.resource)) {
        auto holder = c.tx.holderOf(p.type, key->system, key->value, p.id);
        if (!holder) return holder.error();
        if (!holder->claimed) {
          p.id = holder->id;
          auto stored = c.tx.read(p.type, p.id);
          if (!stored) return stored.error();
          if (*stored) {
            p.matched = true;
            p.written = {(*stored)->type, (*stored)->id, (*stored)->version,
                         (*stored)->last_updated};
            p.stored_json = (*stored)->json;
          }
        }
      }
    }
    const std::string target = p.type + "/" + p.id;
    if (!p.full_url.empty()) references[p.full_url] = target;
  }

  // A Patient never silently kept nor overwritten: one that claims the INS of a stored Patient
  // with other traits leaves it as it is (a PUT over it included) and opens an identity review.
  std::vector<NewResource> reviews;
  for (Planned& p : plans) {
    if (p.type != "Patient" || p.method == Method::Delete) continue;
    const auto key = rules.identifying(p.type, *p.resource);
    if (!key || !key->ins) continue;
    if (p.method == Method::Put) {
      auto stored = c.tx.read(p.type, p.id);
      if (!stored) return stored.error();
      if (!*stored) continue;
      p.stored_json = (*stored)->json;
      p.written = {(*stored)->type, (*stored)->id, (*stored)->version, (*stored)->last_updated};
    } else if (!p.matched) {
      continue;
    }
    rapidjson::Document stored;
    stored.Parse(p.stored_json.data(), p.stored_json.size());
    if (stored.HasParseError() || !stored.IsObject()) continue;
    std::vector<std::string> differing = pipeline::differingTraits(stored, *p.resource);
    if (differing.empty()) continue;
    p.matched = true;  // nothing of it is written
    pipeline::rewriteReferences(*p.resource, references, alloc);
    // One review per stored Patient and incoming identity, however many requests bring it.
    const std::string patient = p.type + "/" + p.id;
    const std::string review_key = pipeline::identityReviewKey(patient, *p.resource);
    auto holder = c.tx.holderOf("Task", rules.reviewKeySystem(), review_key,
                                map::deriveUuid(seed, "identity-review " + at(p.index)));
    if (!holder) return holder.error();
    p.review = "Task/" + holder->id;
    p.review_traits = pipeline::traitLabels(differing);
    if (!holder->claimed) continue;
    const std::string task =
        pipeline::identityReviewTask(rules.reviewSystem(), rules.reviewKeySystem(), review_key,
                                     patient, differing, *p.resource, c.now, "POST /");
    auto prepared = pipeline::prepareResource(task, "Task", holder->id, c.now);
    if (!prepared) return prepared.error();
    reviews.push_back({"Task", holder->id, *prepared, c.now, c.search.extract("Task", *prepared)});
  }
  if (!reviews.empty()) {
    if (auto created = c.tx.create(reviews); !created) return created.error();
  }

  // 4. Creates and updates, their references to other entries rewritten.
  for (Planned& p : plans) {
    if (p.method == Method::Delete || p.matched) continue;
    pipeline::rewriteReferences(*p.resource, references, alloc);
    auto prepared = pipeline::prepareResource(serialise(*p.resource), p.type, p.id, c.now,
                                              p.method == Method::Post);
    if (!prepared) return refuse({prepared.error(), at(p.index, "resource")});
    if (auto key = rules.identifying(p.type, *prepared)) {
      auto holder = c.tx.holderOf(p.type, key->system, key->value, p.id);
      if (!holder) return holder.error();
      if (holder->id != p.id)
        return refuse(refusal(Errc::RestIdentifierTaken,
                              p.type + "/" + holder->id + " porte déjà cet identifiant (" +
                                  key->system + ") : utiliser ifNoneExist ou PUT " + p.type + "/" +
                                  holder->id + ".",
                              at(p.index, "resource")));
    }
    auto written = c.tx.update(
        NewResource{p.type, p.id, *prepared, c.now, c.search.extract(p.type, *prepared)},
        p.if_match);
    if (!written) {
      if (written.error().code == Errc::RestPreconditionFailed)
        return refuse({written.error(), at(p.index, "request.ifMatch")});
      return written.error();
    }
    p.written = *written;
  }

  // 5. The transaction-response Bundle, in request order.
  std::string& out = reply.response_json;
  json::JsonOut w(out);
  w.StartObject();
  w.Key("resourceType");
  w.String("Bundle");
  w.Key("type");
  w.String("transaction-response");
  w.Key("entry");
  w.StartArray();
  for (const Planned& p : plans) {
    w.StartObject();
    w.Key("response");
    w.StartObject();
    w.Key("status");
    if (p.method == Method::Delete) {
      w.String("204 No Content");
      if (p.removed) {
        w.Key("etag");
        w.String("W/\"" + std::to_string(p.written.version) + "\"");
      }
    } else {
      const bool created = !p.matched && p.written.version == 1;
      w.String(created ? "201 Created" : "200 OK");
      writeVersion(w, p.written);
      if (!p.review.empty()) {
        // Said to the client: its Patient was not written, the stored one is to be reviewed.
        w.Key("outcome");
        w.StartObject();
        w.Key("resourceType");
        w.String("OperationOutcome");
        w.Key("issue");
        w.StartArray();
        w.StartObject();
        w.Key("severity");
        w.String("warning");
        w.Key("code");
        w.String(info(Errc::IdentityConflict).issue_type);
        w.Key("details");
        w.StartObject();
        w.Key("coding");
        w.StartArray();
        w.StartObject();
        w.Key("system");
        w.String(rules.reviewSystem());
        w.Key("code");
        w.String("identity-conflict");
        w.EndObject();
        w.EndArray();
        w.EndObject();
        w.Key("diagnostics");
        w.String("Identité à vérifier : " + p.type + "/" + p.id +
                 " porte cet INS avec d'autres traits (" + p.review_traits +
                 ") ; il est gardé tel quel, les données reçues lui sont rattachées (" + p.review +
                 ").");
        w.EndObject();
        w.EndArray();
        w.EndObject();
      }
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return reply;
}

}  // namespace liaison::rest
