#pragma once
// A transaction Bundle posted to `POST /` by a client, processed as HAPI's transaction processor
// does: each entry's `request` honoured (POST, POST with ifNoneExist, PUT Type/id, conditional
// PUT Type?criteria, DELETE Type/id), references between entries (their fullUrl) resolved to the
// ids finally used, all in the caller's database transaction. What is not supported is refused
// before anything is written, naming the entry (`Bundle.entry[3].request.method`), and so is a
// resource type the deployment does not accept from outside and a Patient whose INS the nir module
// refuses. A POST of a resource whose identifier a rule names (a Patient's INS…) already held
// references the stored one; a Patient that claims a stored INS with other traits (POST, or PUT
// over it) leaves the stored one unchanged and adds an identity-review Task, which the entry's
// response.outcome names.
//
// (The intake's own Bundles take pipeline::applyTransaction: identity merges, document versions.)

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/auth/authorize.hpp"
#include "core/error/result.hpp"
#include "core/ports/store.hpp"
#include "map/search_parameters.hpp"
#include "pipeline/incoming_rules.hpp"
#include "rest/search_query.hpp"

namespace liaison::rest {

// Why a transaction was refused: the error and where in the Bundle (FHIRPath, "" when the Bundle
// as a whole is at fault). Nothing of it may be committed.
struct TransactionRefusal {
  Error error;
  std::string expression;
};

struct TransactionReply {
  std::optional<TransactionRefusal> refused;
  std::string response_json;  // the transaction-response Bundle, when not refused
};

struct TransactionContext {
  Store& store;  // conditional searches (run in `tx`'s session: they see its writes)
  StoreTransaction& tx;
  const map::SearchParameters& search;
  SearchLimits limits;
  std::string_view base;   // this server's base URL: absolute request URLs under it are accepted
  std::string now;         // FHIR instant
  std::uint64_t salt = 0;  // new ids derive from the Bundle and this salt
  // Whether the principal may do `interaction` (Create, Update, Delete) on that type; unset: yes.
  std::function<bool(auth::Interaction, std::string_view type)> permitted;
  // The resource types a Bundle from outside may carry and the identifiers that merge (the
  // deployment's, with its ESS's additions); unset: pipeline::IncomingRules::builtIn().
  const pipeline::IncomingRules* rules = nullptr;
};

// Processes `bundle_json` (a Bundle of type transaction). Store failures are returned as errors;
// refusals of the client's Bundle in TransactionReply::refused.
Result<TransactionReply> processTransaction(std::string_view bundle_json,
                                            const TransactionContext& context);

}  // namespace liaison::rest
