#pragma once
// The mapping engine: a mapping file (mappings/*.json, data) compiled once against a source
// schema, then run per input to write a FHIR R4 transaction Bundle.
//
// Mapping file format (see mappings/README.md for the full reference):
//   { "name": ..., "source": ..., "bundleType": "transaction", "appliesTo": {…},
//     "tables": { "<table>": { "<code>": <any JSON> } },
//     "resources": [ { "key": "patient", "when": "<condition>", "forEach": [ {vars} ],
//                      "each": "<list expr>" (one resource per value, read as it / it.<field>),
//                      "request": { "method": "POST", "url": "Patient", "ifNoneExist": "..." },
//                      "resource": { <FHIR JSON template> } } ] }
// In templates, "{{expr}}" is a typed value, "text {{expr}}" interpolates, "${var}" is a forEach
// variable (substituted when compiling); {"$when": cond, ...} makes an object conditional and
// {"$each": expr, "$value": template} inside an array repeats per value ("it").
// Absent values drop the property; objects and arrays left without dynamic content are dropped.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error/result.hpp"
#include "core/json/json_out.hpp"
#include "map/value.hpp"

namespace liaison::map {

struct EmittedResource {
  std::string key;
  std::string resource_type;
  std::string full_url;  // urn:uuid:…
};

struct BundleOutput {
  std::string json;  // the Bundle, compact
  std::vector<EmittedResource> resources;
};

class Mapping {
 public:
  // Variables of the deployment, substituted like forEach ones ("${name}") before anything else:
  // e.g. "canonical", the base of liaison's own CodeSystems and extensions.
  using Variables = std::map<std::string, std::string>;
  static Result<Mapping> compile(std::string_view mapping_json, const SourceSchema& schema,
                                 const Variables& globals = {});

  // Deterministic: the same source and seed give the same Bundle (ids derive from the seed).
  BundleOutput run(const Source& source, std::uint64_t seed) const;

  // Writes this mapping's entries into an open JSON array (a Bundle.entry that several
  // mappings fill, e.g. one per document of a message), appending what it wrote to `emitted`.
  void writeEntries(const Source& source, std::uint64_t seed, json::JsonOut& w, bool with_request,
                    std::vector<EmittedResource>& emitted) const;

  // "appliesTo" of the file: selector name → values (e.g. "documentCode": ["11490-0"]).
  const std::map<std::string, std::vector<std::string>>& appliesTo() const;

  const std::string& name() const;
  const std::string& sourceName() const;  // e.g. the Questionnaire canonical this mapping reads

  Mapping(Mapping&&) noexcept;
  Mapping& operator=(Mapping&&) noexcept;
  ~Mapping();

 private:
  struct Compiled;
  explicit Mapping(std::unique_ptr<Compiled> c);
  std::unique_ptr<Compiled> c_;
};

// A version-4 UUID text derived from (seed, key), stable across runs.
std::string deriveUuid(std::uint64_t seed, std::string_view key);

}  // namespace liaison::map
