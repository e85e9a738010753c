#pragma once
// A CDA document → the facts the MSSanté mappings read (mappings/README.md, "Facts of MSSanté
// messages"): its header (identity, type, author, custodian, encounter), its sections and, one
// record each, its clinical entries. Pure: the document's bytes (Binary) are the intake's.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parse/cda/cda_document.hpp"
#include "parse/cda/xds_metadata.hpp"
#include "pipeline/facts.hpp"
#include "pipeline/form_intake.hpp"

namespace liaison::pipeline {

void addCode(Facts& f, std::string_view name, const parse::CdaCode& c);
void addXdsCode(Facts& f, std::string_view name, const std::optional<parse::XdsCode>& c);
map::Value keepCoding(Facts& f, const parse::CdaCode& c);

// idNat_PS "8" + RPPS, idNat_Struct "1" + FINESS (spec digest §3.2–3.3): the RPPS (FINESS) when
// the national id holds one, and the national id itself in `idnps` (`idnst`).
std::string rppsOf(const std::vector<parse::CdaId>& ids, std::string& idnps);
std::string finessOf(const std::vector<parse::CdaId>& ids, std::string& idnst);

// An identifier as XDS writes a uniqueId ("root^extension", an OID or a UUID) → FHIR system and
// value (IHE MHD rules for DocumentReference.masterIdentifier).
std::pair<std::string, std::string> identifierOf(std::string_view unique_id);
// A CDA II as a uniqueId: "root^extension", or the root alone.
std::string uniqueIdOf(const parse::CdaId& id);
// "system|value": what identifies a document in the store (DocumentIdentity::key).
std::string keyOf(const std::pair<std::string, std::string>& identifier);
// A CDA versionNumber; 0 when absent or unreadable.
std::int64_t versionOf(std::string_view v);

// The header's facts (doc.*, author.*, custodian.*, encounter.*, sections) of a CDA and its
// METADATA.XML entry; returns the document's content type. `now`: the intake's time, the
// DocumentReference's date when the document gives none.
std::string addCdaFacts(Facts& f, std::string_view path, const parse::XdsDocumentEntry& entry,
                        const parse::CdaDocument& cda, const std::string& now);

// One entry of `doc` as a record of "entries" (its fields in mappings/README.md, "CDA entries").
void addEntryRecord(Facts& f, const parse::CdaDocument& doc, std::size_t index,
                    const std::string& doc_date);

// Sections whose entries no mapping read (`taken`, by entry) stay text: the report says which.
void reportSections(const parse::CdaDocument& cda, const std::vector<bool>& taken,
                    MappingReport& report);

}  // namespace liaison::pipeline
