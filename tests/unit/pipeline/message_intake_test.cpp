#include "pipeline/message_intake.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <rapidjson/document.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "support/test_support.hpp"

// The messages are written at test time by tests/mssante/make_messages.py (its docstring lists
// every case); LIAISON_MESSAGES_DIR says where.

namespace liaison::pipeline {
namespace {

using test::ingestMessage;
using test::readRepoFile;

constexpr std::string_view kInsA = "279035121518989";  // FICTIF-DUPONT Camille (ldl_ses, pps)
constexpr std::string_view kInsB = "162018885045327";  // FICTIF-MARTIN Paul (tlm_da, n1_pdf)
constexpr std::string_view kTestInsSystem = "urn:oid:1.2.250.1.213.1.4.10";

std::string message(std::string_view name) {
  const char* dir = std::getenv("LIAISON_MESSAGES_DIR");
  EXPECT_NE(dir, nullptr) << "LIAISON_MESSAGES_DIR is not set (run through ctest)";
  if (dir == nullptr) return {};
  std::ifstream in(std::string(dir) + "/" + std::string(name), std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << name;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

IngestResult ingestCase(std::string_view file) {
  std::string name = "message-" + std::string(file.substr(0, file.rfind('.')));
  return ingestMessage(message(file), name);
}

std::string hexToBase64(std::string_view hex) {
  std::string raw;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    raw += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  std::string out(raw.size() * 4 / 3 + 4, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(raw.data()),
                                static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

using test::Bundle;
using test::parseBundle;

// The bytes of a Binary the result carries, by the url a DocumentReference gives ("Binary/<id>").
std::string binaryOf(const IngestResult& r, std::string_view url) {
  EXPECT_EQ(url.substr(0, 7), "Binary/") << url;
  for (const BinaryContent& b : r.binaries) {
    if ("Binary/" + b.id == url) {
      EXPECT_EQ(b.id.size(), 64u);
      return b.bytes;
    }
  }
  ADD_FAILURE() << "no binary " << url;
  return {};
}

// A form that came by mail: its resources, plus the mail itself and the receiving ESS.
std::map<std::string, int> withTheMail(std::map<std::string, int> counts) {
  ++counts["Communication"];
  ++counts["Organization"];
  return counts;
}

bool has(const IngestResult& r, Errc code) {
  return r.issues.contains(code);
}

std::string issuesText(const IngestResult& r) {
  std::string out;
  for (const Issue& i : r.issues.items())
    out += std::string(info(i.code).code) + " @" + i.location + ": " + i.message + "\n";
  return out;
}

std::string str(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "";
}

// The INS identifier of the Patient, or "" when it has none.
std::string insOf(const rapidjson::Value& patient) {
  if (!patient.IsObject() || !patient.HasMember("identifier")) return {};
  for (const auto& id : patient["identifier"].GetArray()) {
    if (str(id, "system") == kTestInsSystem) return str(id, "value");
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Discharge letter (LDL-SES) in an IHE_XDM.ZIP

TEST(MessageIntake, DischargeLetterBecomesDocumentReferenceEncounterAndVitalSigns) {
  const IngestResult r = ingestCase("ldl_ses.eml");
  ASSERT_EQ(r.status, IngestStatus::Accepted) << issuesText(r);
  EXPECT_EQ(r.message_id, "ldl_ses@ch-fictif.mssante.fr");
  EXPECT_FALSE(r.issues.hasErrors()) << issuesText(r);
  const Bundle b = parseBundle(r);
  EXPECT_STREQ(b.doc["type"].GetString(), "transaction");
  auto counts = b.counts();
  EXPECT_EQ(counts["Patient"], 1);
  EXPECT_EQ(counts["Encounter"], 1);
  EXPECT_EQ(counts["Observation"], 5);
  EXPECT_EQ(counts["DocumentReference"], 2);  // the CDA and the PDF rendition

  const rapidjson::Value& patient = b.one("Patient");
  EXPECT_EQ(insOf(patient), kInsA);
  EXPECT_EQ(str(patient, "gender"), "female");
  EXPECT_EQ(str(patient, "birthDate"), "1979-03-14");
  const std::string patient_url = b.fullUrlOf(patient);

  // The CDA's DocumentReference: XDS uniqueId, the original bytes with their size and SHA-1.
  const std::string cda = readRepoFile("tests/data/cda/ldl_ses.xml");
  const std::string metadata = readRepoFile("tests/data/xds/METADATA.XML");
  const std::size_t hash_at = metadata.find("<rim:Slot name=\"hash\"><rim:ValueList><rim:Value>");
  ASSERT_NE(hash_at, std::string::npos);
  const std::string hash_hex = metadata.substr(hash_at + 48, 40);
  const rapidjson::Value* cda_ref = nullptr;
  const rapidjson::Value* pdf_ref = nullptr;
  for (const rapidjson::Value* d : b.of("DocumentReference")) {
    const auto& a = (*d)["content"][0]["attachment"];
    (str(a, "contentType") == "application/pdf" ? pdf_ref : cda_ref) = d;
  }
  ASSERT_NE(cda_ref, nullptr);
  ASSERT_NE(pdf_ref, nullptr);
  const auto& att = (*cda_ref)["content"][0]["attachment"];
  // The bytes are not in the Bundle: a Binary under their SHA-256, which the result carries.
  EXPECT_FALSE(att.HasMember("data"));
  EXPECT_EQ(binaryOf(r, str(att, "url")), cda);
  EXPECT_EQ(att["size"].GetInt64(), static_cast<std::int64_t>(cda.size()));
  EXPECT_EQ(str(att, "hash"), hexToBase64(hash_hex));
  EXPECT_FALSE(str((*cda_ref)["masterIdentifier"], "value").empty());
  EXPECT_EQ(str((*cda_ref)["type"]["coding"][0], "code"), "11490-0");
  EXPECT_EQ(str((*cda_ref)["subject"], "reference"), patient_url);
  EXPECT_TRUE(cda_ref->HasMember("author"));
  EXPECT_TRUE(cda_ref->HasMember("securityLabel"));
  EXPECT_EQ(str((*pdf_ref)["subject"], "reference"), patient_url);
  EXPECT_EQ((*pdf_ref)["content"][0]["attachment"]["size"].GetInt64(), 20000);

  // Vital signs as Observations with UCUM quantities, about the patient.
  std::map<std::string, std::string> units;
  for (const rapidjson::Value* o : b.of("Observation")) {
    EXPECT_EQ(str((*o)["subject"], "reference"), patient_url);
    ASSERT_TRUE(o->HasMember("valueQuantity"));
    EXPECT_EQ(str((*o)["valueQuantity"], "system"), "http://unitsofmeasure.org");
    units[str((*o)["code"]["coding"][0], "code")] = str((*o)["valueQuantity"], "code");
  }
  EXPECT_EQ(units["29463-7"], "kg");     // weight
  EXPECT_EQ(units["8302-2"], "cm");      // height
  EXPECT_EQ(units["8480-6"], "mm[Hg]");  // systolic
  EXPECT_EQ(units["8462-4"], "mm[Hg]");  // diastolic
  EXPECT_EQ(units["8867-4"], "/min");    // heart rate

  const rapidjson::Value& encounter = b.one("Encounter");
  EXPECT_EQ(str(encounter["subject"], "reference"), patient_url);
  EXPECT_TRUE(encounter.HasMember("period"));

  // The report says what was mapped and what stayed text.
  ASSERT_GE(r.reports.size(), 2u);
  const MappingReport& doc = r.reports.front();
  EXPECT_EQ(doc.document, "IHE_XDM/SUBSET01/DOC0001.XML");
  EXPECT_NE(doc.kind.find("11490-0"), std::string::npos);
  auto mapped = std::map<std::string, int>(doc.mapped.begin(), doc.mapped.end());
  EXPECT_EQ(mapped["Observation"], 5);
  EXPECT_EQ(mapped["Encounter"], 1);
  auto entries = std::map<std::string, int>(doc.entries.begin(), doc.entries.end());
  EXPECT_EQ(entries["cda-signes-vitaux"], 5);
  EXPECT_FALSE(doc.text_only.empty());
  EXPECT_NE(doc.mapping.find("cda-signes-vitaux"), std::string::npos) << doc.mapping;
  bool pdf_reported = false;
  for (const MappingReport& rep : r.reports)
    pdf_reported = pdf_reported || rep.document == "lettre-de-liaison.pdf";
  EXPECT_TRUE(pdf_reported);
  // One group for the one document: what derives from it, and its PDF rendition.
  ASSERT_EQ(r.documents.size(), 1u);
  EXPECT_EQ(r.documents[0].document, b.fullUrlOf(*cda_ref));
  EXPECT_EQ(r.documents[0].resources.size(), 5u + 1u + 3u + 1u + 1u)
      << "observations, encounter, practitioner, organization, role, custodian, rendition";
  const auto& group = r.documents[0].resources;
  EXPECT_NE(std::find(group.begin(), group.end(), b.fullUrlOf(*pdf_ref)), group.end());
}

TEST(MessageIntake, SameMessageSameBundle) {
  const std::string bytes = message("ldl_ses.eml");
  EXPECT_EQ(ingestMessage(bytes, "").bundle_json, ingestMessage(bytes, "").bundle_json);
}

TEST(MessageIntake, SignedMessageIsUnwrapped) {
  const IngestResult r = ingestCase("signed.eml");
  ASSERT_EQ(r.status, IngestStatus::Accepted) << issuesText(r);
  auto counts = parseBundle(r).counts();
  EXPECT_EQ(counts["Observation"], 5);
  EXPECT_EQ(counts["Encounter"], 1);
  // The signature is not a document of the patient's.
  EXPECT_EQ(counts["DocumentReference"], 1);
}

// ---------------------------------------------------------------------------------------------
// Other CDA models

TEST(MessageIntake, RequestForAdviceBecomesServiceRequest) {
  const IngestResult r = ingestCase("tlm_da.eml");
  ASSERT_EQ(r.status, IngestStatus::Accepted) << issuesText(r);
  const Bundle b = parseBundle(r);
  const rapidjson::Value& patient = b.one("Patient");
  EXPECT_EQ(insOf(patient), kInsB);
  const rapidjson::Value& request = b.one("ServiceRequest");
  EXPECT_EQ(str(request["subject"], "reference"), b.fullUrlOf(patient));
  EXPECT_FALSE(str(request, "status").empty());
  EXPECT_EQ(b.of("DocumentReference").size(), 1u);
}

TEST(MessageIntake, CarePlanDocumentBecomesCarePlan) {
  const IngestResult r = ingestCase("pps.eml");
  ASSERT_EQ(r.status, IngestStatus::Accepted) << issuesText(r);
  const Bundle b = parseBundle(r);
  const rapidjson::Value& plan = b.one("CarePlan");
  EXPECT_EQ(str(plan["subject"], "reference"), b.fullUrlOf(b.one("Patient")));
  EXPECT_EQ(b.of("DocumentReference").size(), 1u);
}

TEST(MessageIntake, UnstructuredCdaKeepsItsPdf) {
  const IngestResult r = ingestCase("n1_pdf.eml");
  // n1_pdf.xml has no birthplace: the INS travels without all its traits (905); the header
  // X-MSS-INS: O then says more than the archive holds.
  EXPECT_EQ(r.status, IngestStatus::Incomplete);
  EXPECT_TRUE(has(r, Errc::InsTraitsIncomplete)) << issuesText(r);
  EXPECT_TRUE(has(r, Errc::MssHeaderMismatch)) << issuesText(r);
  const Bundle b = parseBundle(r);
  const rapidjson::Value& doc = b.one("DocumentReference");
  ASSERT_EQ(doc["content"].Size(), 2u);
  const auto& pdf = doc["content"][1]["attachment"];
  EXPECT_EQ(str(pdf, "contentType"), "application/pdf");
  EXPECT_EQ(pdf["size"].GetInt64(), 460);
  EXPECT_EQ(binaryOf(r, str(pdf, "url")).substr(0, 5), "%PDF-");
  ASSERT_FALSE(r.reports.empty());
  bool says_unstructured = false;
  for (const std::string& t : r.reports.front().text_only)
    says_unstructured = says_unstructured || t.find("non structuré") != std::string::npos;
  EXPECT_TRUE(says_unstructured);
}

// ---------------------------------------------------------------------------------------------
// Mails without XDM

TEST(MessageIntake, QuestionnaireResponseAttachmentTakesTheFormPath) {
  const IngestResult r = ingestCase("qr_attachment.eml");
  ASSERT_NE(r.status, IngestStatus::Quarantined) << issuesText(r);
  const Bundle b = parseBundle(r);
  EXPECT_EQ(b.of("QuestionnaireResponse").size(), 1u);
  EXPECT_EQ(b.of("ServiceRequest").size(), 1u);
  EXPECT_TRUE(r.eligibility.has_value());
  // The same form on its own gives the same resources.
  const IngestResult direct =
      test::ingestCardioPlus(readRepoFile("samples/fiches/questionnaire-response.json"), "");
  EXPECT_EQ(b.counts(), withTheMail(parseBundle(direct).counts()));
}

TEST(MessageIntake, FormInLatin9QuotedPrintableBody) {
  const IngestResult r = ingestCase("fiche_body.eml");
  ASSERT_NE(r.status, IngestStatus::Quarantined) << issuesText(r);
  EXPECT_FALSE(r.issues.hasErrors()) << issuesText(r);
  const Bundle b = parseBundle(r);
  const IngestResult direct =
      test::ingestCardioPlus(readRepoFile("samples/fiches/fiche-complete.txt"), "");
  EXPECT_EQ(b.counts(), withTheMail(parseBundle(direct).counts()));
  // Accents survived ISO-8859-15 + quoted-printable.
  EXPECT_EQ(str(b.one("Patient"), "birthDate"),
            str(parseBundle(direct).one("Patient"), "birthDate"));
  EXPECT_NE(r.bundle_json.find("é"), std::string::npos);
}

TEST(MessageIntake, IncompleteFormInBodyListsWhatIsMissing) {
  const IngestResult r = ingestCase("fiche_incomplete.eml");
  EXPECT_EQ(r.status, IngestStatus::Incomplete);
  EXPECT_TRUE(has(r, Errc::FormRequiredMissing)) << issuesText(r);
  EXPECT_EQ(parseBundle(r).of("QuestionnaireResponse").size(), 1u);
}

TEST(MessageIntake, FhirBundleAttachmentJoinsTheTransaction) {
  const IngestResult r = ingestCase("bundle_attachment.eml");
  ASSERT_EQ(r.status, IngestStatus::Accepted) << issuesText(r);
  const Bundle b = parseBundle(r);
  EXPECT_EQ(insOf(b.one("Patient")), kInsB);
  const rapidjson::Value& obs = b.one("Observation");
  EXPECT_EQ(str(obs["subject"], "reference"), b.fullUrlOf(b.one("Patient")));
  for (const auto& e : b.doc["entry"].GetArray()) {
    EXPECT_EQ(str(e["request"], "method"), "POST");
    EXPECT_EQ(str(e["request"], "url"), str(e["resource"], "resourceType"));
    EXPECT_FALSE(str(e, "fullUrl").empty());
  }
}

TEST(MessageIntake, PdfOnlyIsARequestToQualify) {
  const IngestResult r = ingestCase("pdf_only.eml");
  EXPECT_EQ(r.status, IngestStatus::Incomplete);
  EXPECT_TRUE(has(r, Errc::MessageToQualify));
  const Bundle b = parseBundle(r);
  const rapidjson::Value& request = b.one("ServiceRequest");
  EXPECT_EQ(str(request, "status"), "draft");
  const rapidjson::Value& patient = b.one("Patient");
  EXPECT_EQ(insOf(patient), "");  // to be identified by the secretariat
  EXPECT_EQ(str(request["subject"], "reference"), b.fullUrlOf(patient));
  const rapidjson::Value& pdf = b.one("DocumentReference");
  EXPECT_EQ(str(pdf["content"][0]["attachment"], "contentType"), "application/pdf");
  EXPECT_EQ(pdf["content"][0]["attachment"]["size"].GetInt64(), 8000);
  EXPECT_EQ(str(pdf["subject"], "reference"), b.fullUrlOf(patient));
}

TEST(MessageIntake, FreeTextIsDecodedAndKept) {
  const IngestResult r = ingestCase("free_text.eml");
  EXPECT_EQ(r.status, IngestStatus::Incomplete);
  EXPECT_TRUE(has(r, Errc::MessageToQualify));
  const Bundle b = parseBundle(r);
  // The text is the mail's Communication, about the request to qualify.
  const rapidjson::Value& mail = b.one("Communication");
  const std::string body = str(mail["payload"][0], "contentString");
  EXPECT_NE(body.find("Chère consœur"), std::string::npos) << body;  // windows-1252 → UTF-8
  EXPECT_EQ(str(mail["about"][0], "reference"), b.fullUrlOf(b.one("ServiceRequest")));
  EXPECT_EQ(str(b.one("ServiceRequest")["note"][1], "text"), body);
  EXPECT_NE(body.find("« normal »"), std::string::npos) << body;
  EXPECT_NE(r.bundle_json.find("Demande d'avis – dyspnée"), std::string::npos);  // RFC 2047
}

TEST(MessageIntake, EmptyMessageIsQuarantined) {
  const IngestResult r = ingestCase("empty.eml");
  EXPECT_EQ(r.status, IngestStatus::Quarantined);
  ASSERT_TRUE(r.quarantine);
  EXPECT_EQ(r.quarantine->code, Errc::MessageEmpty);
}

// ---------------------------------------------------------------------------------------------
// The patient's identity

TEST(MessageIntake, NoInsIsIncomplete) {
  const IngestResult r = ingestCase("no_ins.eml");
  EXPECT_EQ(r.status, IngestStatus::Incomplete);
  EXPECT_TRUE(has(r, Errc::InsMissing)) << issuesText(r);
  const Bundle b = parseBundle(r);
  EXPECT_EQ(insOf(b.one("Patient")), "");
  EXPECT_EQ(b.counts()["Observation"], 5);  // nothing else is lost
}

TEST(MessageIntake, InsMismatchPointsAtMetadata) {
  const IngestResult r = ingestCase("ins_mismatch.eml");
  EXPECT_EQ(r.status, IngestStatus::Incomplete);
  int mismatches = 0;
  for (const Issue& i : r.issues.items()) {
    if (i.code != Errc::InsMismatch) continue;
    ++mismatches;
    EXPECT_NE(i.location.find("METADATA.XML"), std::string::npos) << i.location;
  }
  EXPECT_EQ(mismatches, 2) << issuesText(r);  // SubmissionSet and DocumentEntry
  // The CDA's INS is the patient's, and it agrees with the CDA's traits.
  EXPECT_EQ(insOf(parseBundle(r).one("Patient")), kInsA);
  EXPECT_FALSE(has(r, Errc::NirTraitSexMismatch)) << issuesText(r);
}

TEST(MessageIntake, TraitsMismatchPointsAtSourcePatientInfo) {
  const IngestResult r = ingestCase("traits_mismatch.eml");
  EXPECT_EQ(r.status, IngestStatus::Incomplete);
  bool found = false;
  for (const Issue& i : r.issues.items()) {
    if (i.code != Errc::InsTraitsMismatch) continue;
    found = true;
    EXPECT_NE(i.location.find("sourcePatientInfo"), std::string::npos) << i.location;
    EXPECT_NE(i.message.find("date de naissance"), std::string::npos) << i.message;
  }
  EXPECT_TRUE(found) << issuesText(r);
}

TEST(MessageIntake, MssHeadersAreCrossChecked) {
  const IngestResult r = ingestCase("header_mismatch.eml");
  EXPECT_EQ(r.status, IngestStatus::Accepted);  // warnings: the archive is right
  std::vector<std::string> where;
  for (const Issue& i : r.issues.items()) {
    if (i.code == Errc::MssHeaderMismatch) where.push_back(i.location);
  }
  EXPECT_EQ(where, (std::vector<std::string>{"X-MSS-INS", "X-MSS-CODECDA"})) << issuesText(r);
}

// ---------------------------------------------------------------------------------------------
// Hostile and broken messages: quarantined with a stable code, nothing else.

struct HostileCase {
  const char* file;
  Errc code;
};

class HostileMessage : public ::testing::TestWithParam<HostileCase> {};

TEST_P(HostileMessage, QuarantinedWithItsCode) {
  const IngestResult r = ingestCase(GetParam().file);
  ASSERT_EQ(r.status, IngestStatus::Quarantined) << GetParam().file << "\n" << issuesText(r);
  ASSERT_TRUE(r.quarantine);
  EXPECT_EQ(info(r.quarantine->code).code, info(GetParam().code).code)
      << GetParam().file << ": " << r.quarantine->detail;
  EXPECT_FALSE(r.quarantine->detail.empty());
  EXPECT_TRUE(r.bundle_json.empty());
  EXPECT_TRUE(r.issues.contains(GetParam().code));
  // The outcome names the reason for the secretariat and the sender's MDN.
  EXPECT_NE(operationOutcomeJson(r, "urn:test").find(info(GetParam().code).code),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Generated, HostileMessage,
    ::testing::Values(HostileCase{"xdm_bomb.eml", Errc::XdmCompressionRatio},
                      HostileCase{"xdm_lying_bomb.eml", Errc::XdmDeclaredSizeMismatch},
                      HostileCase{"xdm_traversal.eml", Errc::XdmUnsafePath},
                      HostileCase{"xdm_symlink.eml", Errc::XdmSymlink},
                      HostileCase{"xdm_not_zip.eml", Errc::XdmNotZip},
                      HostileCase{"xdm_hash_mismatch.eml", Errc::XdmHashMismatch},
                      HostileCase{"xdm_size_mismatch.eml", Errc::XdmSizeMismatch},
                      HostileCase{"xdm_no_metadata.eml", Errc::XdmNoMetadata},
                      HostileCase{"xdm_document_missing.eml", Errc::XdmDocumentMissing},
                      HostileCase{"cda_xxe.eml", Errc::XmlDoctypeForbidden},
                      HostileCase{"cda_parameter_entity.eml", Errc::XmlDoctypeForbidden},
                      HostileCase{"cda_billion_laughs.eml", Errc::XmlDoctypeForbidden},
                      HostileCase{"metadata_xxe.eml", Errc::XmlDoctypeForbidden},
                      HostileCase{"cda_no_record_target.eml", Errc::CdaRecordTargetMissing},
                      HostileCase{"cda_no_patient_id.eml", Errc::CdaPatientIdMissing},
                      HostileCase{"mime_unterminated.eml", Errc::MimeMalformed},
                      HostileCase{"mime_truncated_base64.eml", Errc::MimeEncodingInvalid},
                      HostileCase{"mime_huge_header.eml", Errc::MimeHeaderTooLong},
                      HostileCase{"mime_deep_nesting.eml", Errc::MimeNestingTooDeep},
                      HostileCase{"mime_many_parts.eml", Errc::MimeTooManyParts}),
    [](const ::testing::TestParamInfo<HostileCase>& param) {
      std::string name = param.param.file;
      name = name.substr(0, name.rfind('.'));
      for (char& c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) c = '_';
      }
      return name;
    });

// Damaged copies of a good message: any outcome but a crash, and a quarantine always says why.
TEST(MessageIntake, DamagedMessagesNeverCrash) {
  const std::string good = message("ldl_ses.eml");
  ASSERT_FALSE(good.empty());
  std::mt19937 rng(20241);
  std::map<IngestStatus, int> seen;
  for (int round = 0; round < 150; ++round) {
    std::string bytes = good;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % bytes.size();
      switch (rng() % 3) {
        case 0:
          bytes[at] = static_cast<char>(rng());
          break;
        case 1:
          bytes.erase(at, 1 + rng() % 64);
          break;
        default:
          bytes.insert(at, bytes.substr(rng() % bytes.size(), 1 + rng() % 64));
      }
    }
    const IngestResult r = ingestMessage(bytes, "");
    ++seen[r.status];
    if (r.status == IngestStatus::Quarantined) {
      ASSERT_TRUE(r.quarantine);
      EXPECT_FALSE(r.quarantine->detail.empty());
    } else {
      EXPECT_FALSE(r.bundle_json.empty());
    }
  }
  for (std::size_t cut = 0; cut < good.size(); cut += 1499) {
    const IngestResult r = ingestMessage(good.substr(0, cut), "");
    ++seen[r.status];
    if (r.status == IngestStatus::Quarantined) {
      EXPECT_TRUE(r.quarantine);
    }
  }
  EXPECT_GT(seen[IngestStatus::Quarantined], 0);
}

TEST(MessageIntake, LooksLikeMail) {
  EXPECT_TRUE(looksLikeMail(message("ldl_ses.eml")));
  EXPECT_TRUE(looksLikeMail("From MAILER-DAEMON Fri Jan 12 14:05:00 2024\nFrom: a@b\n"));
  EXPECT_TRUE(looksLikeMail("Received: from x by y\r\n"));
  EXPECT_FALSE(looksLikeMail(readRepoFile("samples/fiches/fiche-complete.txt")));
  EXPECT_FALSE(looksLikeMail(readRepoFile("samples/fiches/questionnaire-response.json")));
}

}  // namespace
}  // namespace liaison::pipeline

// ---------------------------------------------------------------------------------------------
// Issue 12: what an ESS receives, kept whole (tests/mssante/make_messages.py, patient C)

namespace liaison::pipeline {
namespace {

constexpr std::string_view kInsC = "248073818504263";

const rapidjson::Value* byType(const Bundle& b, std::string_view type, std::string_view code) {
  const char* member = type == "DocumentReference" ? "type" : "code";
  for (const rapidjson::Value* r : b.of(type)) {
    if (!r->HasMember(member) || !(*r)[member].HasMember("coding")) continue;
    for (const auto& c : (*r)[member]["coding"].GetArray())
      if (str(c, "code") == code) return r;
  }
  return nullptr;
}

TEST(MessageIntake, ReferralNoteOpensARequestFromItsAuthor) {
  const IngestResult r = ingestCase("referral_note.eml");
  ASSERT_EQ(r.status, IngestStatus::Accepted) << issuesText(r);
  const Bundle b = parseBundle(r);
  EXPECT_EQ(insOf(b.one("Patient")), kInsC);
  const rapidjson::Value& request = b.one("ServiceRequest");
  EXPECT_EQ(str(request, "status"), "active");
  EXPECT_EQ(str(request["subject"], "reference"), b.fullUrlOf(b.one("Patient")));
  // Requested by the letter's author: a PractitionerRole for the GP (RPPS) and their practice.
  const rapidjson::Value& role = b.one("PractitionerRole");
  EXPECT_EQ(str(request["requester"], "reference"), b.fullUrlOf(role));
  EXPECT_EQ(str(role["practitioner"], "reference"), b.fullUrlOf(b.one("Practitioner")));
  EXPECT_EQ(str(b.one("Practitioner")["identifier"][0], "value"), "99700234562");
  EXPECT_EQ(str(request, "authoredOn").substr(0, 10), "2024-01-15");
  // Supported by the letter and its PDF rendition; performed by the ESS.
  std::set<std::string> support;
  for (const auto& s : request["supportingInfo"].GetArray())
    support.insert(str(s, "reference"));
  ASSERT_EQ(b.of("DocumentReference").size(), 2u);
  for (const rapidjson::Value* d : b.of("DocumentReference"))
    EXPECT_EQ(support.count(b.fullUrlOf(*d)), 1u);
  const rapidjson::Value* ess = nullptr;
  for (const rapidjson::Value* o : b.of("Organization"))
    if (str(*o, "name") == "ESS Cardio+ Isère") ess = o;
  ASSERT_NE(ess, nullptr);
  EXPECT_EQ(str(request["performer"][0], "reference"), b.fullUrlOf(*ess));
  // The letter is an N1 CDA: its PDF is a Binary too, beside the CDA's own bytes.
  const rapidjson::Value* letter = byType(b, "DocumentReference", "57133-1");
  ASSERT_NE(letter, nullptr);
  ASSERT_EQ((*letter)["content"].Size(), 2u);
  EXPECT_EQ(binaryOf(r, str((*letter)["content"][1]["attachment"], "url")).substr(0, 5), "%PDF-");
  // The mail's text (ISO-8859-1 quoted-printable) is kept, about the request.
  const rapidjson::Value& mail = b.one("Communication");
  const std::string text = str(mail["payload"][0], "contentString");
  EXPECT_EQ(text.rfind("Cher confrère,", 0), 0u) << text;
  EXPECT_NE(text.find("« râpeux »"), std::string::npos) << text;
  EXPECT_EQ(str(mail["about"][0], "reference"), b.fullUrlOf(request));
  EXPECT_EQ(str(mail["topic"], "text").rfind("XDM/1.0/DDM+", 0), 0u);
  EXPECT_EQ(str(mail["sender"]["identifier"], "value"),
            "mailto:marc.dubosc-fictif@medecin.mssante.fr");
  // The request belongs to the letter: received again, it opens nothing new.
  ASSERT_FALSE(r.documents.empty());
  const auto& group = r.documents.front().resources;
  EXPECT_NE(std::find(group.begin(), group.end(), b.fullUrlOf(request)), group.end());
}

TEST(MessageIntake, HtmlOnlyBodyIsConvertedToText) {
  const IngestResult r = ingestCase("referral_html.eml");
  EXPECT_EQ(r.status, IngestStatus::Incomplete);  // no structured document: to qualify
  EXPECT_TRUE(has(r, Errc::HtmlBodyConverted)) << issuesText(r);
  EXPECT_TRUE(has(r, Errc::MessageToQualify)) << issuesText(r);
  const Bundle b = parseBundle(r);
  const std::string text = str(b.one("Communication")["payload"][0], "contentString");
  EXPECT_EQ(text.find('<'), std::string::npos) << text;            // no markup left
  EXPECT_EQ(text.find("function"), std::string::npos) << text;     // no script
  EXPECT_EQ(text.find("font-family"), std::string::npos) << text;  // no style
  EXPECT_NE(text.find("\n- "), std::string::npos) << text;         // the list
  EXPECT_NE(text.find("é"), std::string::npos) << text;            // &eacute;
  EXPECT_EQ(str(b.one("ServiceRequest")["note"][1], "text"), text);
}

TEST(MessageIntake, PlannedActsBecomeCarePlanActivities) {
  const IngestResult r = ingestCase("pps_activities.eml");
  ASSERT_EQ(r.status, IngestStatus::Accepted) << issuesText(r);
  const Bundle b = parseBundle(r);
  const rapidjson::Value& plan = b.one("CarePlan");
  ASSERT_TRUE(plan.HasMember("activity"));
  ASSERT_EQ(plan["activity"].Size(), 4u);
  std::map<std::string, std::string> scheduled;  // start → status
  std::map<std::string, std::string> kinds;      // start → kind
  for (const auto& a : plan["activity"].GetArray()) {
    const auto& d = a["detail"];
    EXPECT_FALSE(str(d, "description").empty());
    if (d.HasMember("scheduledPeriod")) {
      scheduled[str(d["scheduledPeriod"], "start")] = str(d, "status");
      kinds[str(d["scheduledPeriod"], "start")] = str(d, "kind");
    }
  }
  EXPECT_EQ(scheduled["2024-02-05"], "not-started");  // echocardiography, INT
  EXPECT_EQ(kinds["2024-02-05"], "ServiceRequest");
  EXPECT_EQ(scheduled["2024-04-15T14:30:00+02:00"], "scheduled");  // consultation, APT
  EXPECT_EQ(kinds["2024-04-15T14:30:00+02:00"], "Appointment");
  EXPECT_EQ(scheduled["2024-03-01"], "not-started");  // IPA follow-up
  const MappingReport& report = r.reports.front();
  auto entries = std::map<std::string, int>(report.entries.begin(), report.entries.end());
  EXPECT_EQ(entries["mssante-cda-pps"], 4);
}

TEST(MessageIntake, ConsultationReportEntriesBecomeResources) {
  const IngestResult r = ingestCase("cr_consultation.eml");
  ASSERT_EQ(r.status, IngestStatus::Accepted) << issuesText(r);
  const Bundle b = parseBundle(r);
  // Vital signs of a document that is not an LDL-SES.
  for (auto [code, unit] : {std::pair{"29463-7", "kg"},
                            {"8302-2", "cm"},
                            {"8480-6", "mm[Hg]"},
                            {"8462-4", "mm[Hg]"},
                            {"8867-4", "/min"}}) {
    const rapidjson::Value* o = byType(b, "Observation", code);
    ASSERT_NE(o, nullptr) << code;
    EXPECT_EQ(str((*o)["category"][0]["coding"][0], "code"), "vital-signs") << code;
    EXPECT_EQ(str((*o)["valueQuantity"], "code"), unit) << code;
  }
  EXPECT_EQ((*byType(b, "Observation", "8480-6"))["valueQuantity"]["value"].GetDouble(), 148);
  // Biology: laboratory Observations with interpretation and reference range.
  int lab = 0;
  for (const rapidjson::Value* o : b.of("Observation")) {
    if (str((*o)["category"][0]["coding"][0], "code") != "laboratory") continue;
    ++lab;
    EXPECT_TRUE(o->HasMember("interpretation")) << str((*o)["code"], "text");
    EXPECT_TRUE(o->HasMember("referenceRange")) << str((*o)["code"], "text");
  }
  EXPECT_EQ(lab, 3);
  // Problems, treatments, allergy.
  ASSERT_EQ(b.of("Condition").size(), 2u);
  const rapidjson::Value* hta = byType(b, "Condition", "I10");
  ASSERT_NE(hta, nullptr);
  EXPECT_EQ(str((*hta)["clinicalStatus"]["coding"][0], "code"), "active");
  EXPECT_EQ(str((*hta)["subject"], "reference"), b.fullUrlOf(b.one("Patient")));
  EXPECT_EQ(b.of("MedicationStatement").size(), 2u);
  for (const rapidjson::Value* m : b.of("MedicationStatement")) {
    EXPECT_TRUE((*m)["medicationCodeableConcept"].HasMember("coding"));
    EXPECT_FALSE(str(*m, "status").empty());
  }
  const rapidjson::Value& allergy = b.one("AllergyIntolerance");
  EXPECT_TRUE(allergy["code"].HasMember("coding"));
  EXPECT_EQ(str(allergy["clinicalStatus"]["coding"][0], "code"), "active");
  // The report says which mapping read what, and what stayed text.
  const MappingReport& report = r.reports.front();
  auto entries = std::map<std::string, int>(report.entries.begin(), report.entries.end());
  EXPECT_EQ(entries["cda-signes-vitaux"], 5);
  EXPECT_EQ(entries["cda-resultats-biologie"], 3);
  EXPECT_EQ(entries["cda-problemes"], 2);
  EXPECT_EQ(entries["cda-traitements"], 2);
  EXPECT_EQ(entries["cda-allergies"], 1);
  bool habitus_as_text = false;
  for (const std::string& t : report.text_only)
    habitus_as_text = habitus_as_text || (t.find("Habitus") != std::string::npos &&
                                          t.find("gardée(s) en texte") != std::string::npos);
  EXPECT_TRUE(habitus_as_text);
}

TEST(MessageIntake, PatientNamesAsTheAnsMapsThem) {
  const IngestResult r = ingestCase("names_chloe.eml");
  ASSERT_EQ(r.status, IngestStatus::Accepted) << issuesText(r);
  EXPECT_FALSE(has(r, Errc::InsTraitsMismatch)) << issuesText(r);  // PID-5 L and D agree
  const Bundle b = parseBundle(r);
  const rapidjson::Value& patient = b.one("Patient");
  const rapidjson::Value* official = nullptr;
  const rapidjson::Value* usual = nullptr;
  for (const auto& n : patient["name"].GetArray())
    (str(n, "use") == "official" ? official : usual) = &n;
  ASSERT_NE(official, nullptr);
  ASSERT_NE(usual, nullptr);
  EXPECT_EQ(str(*official, "family"), "FICTIF-PETIT");
  ASSERT_EQ((*official)["given"].Size(), 1u);
  EXPECT_STREQ((*official)["given"][0].GetString(), "CHLOE");
  EXPECT_EQ(str((*official)["extension"][0], "valueString"), "CHLOE EMMA");  // not "… CHLOE CHLOE"
  EXPECT_EQ(str(*usual, "family"), "FICTIF-ROUSSEAU");
  EXPECT_STREQ((*usual)["given"][0].GetString(), "CHLOE");
  EXPECT_EQ(patient["multipleBirthInteger"].GetInt(), 2);
  EXPECT_FALSE(patient.HasMember("multipleBirthBoolean"));  // one of the choice only
  bool birth_place = false;
  for (const auto& e : patient["extension"].GetArray()) {
    if (str(e, "url") != "http://hl7.org/fhir/StructureDefinition/patient-birthPlace") continue;
    birth_place = true;
    EXPECT_EQ(str(e["valueAddress"], "text"), "AJACCIO");
    EXPECT_EQ(str(e["valueAddress"]["extension"][0]["valueCoding"], "code"), "2A004");
  }
  EXPECT_TRUE(birth_place);
}

TEST(MessageIntake, TheSameDocumentGivesTheSameIdentityAndIds) {
  const IngestResult first = ingestCase("ldl_ses.eml");
  const IngestResult again = ingestCase("ldl_ses_again.eml");
  ASSERT_FALSE(first.documents.empty());
  ASSERT_FALSE(again.documents.empty());
  const DocumentGroup& a = first.documents.front();
  const DocumentGroup& b = again.documents.front();
  EXPECT_EQ(a.identity.key, "urn:oid:1.2.250.1.999.1.1.1|LDL-2024-0001");
  EXPECT_EQ(a.identity.key, b.identity.key);
  EXPECT_EQ(a.identity.set, "urn:oid:1.2.250.1.999.1.1.2|SET-0001");
  EXPECT_EQ(a.identity.version, 1);
  // Its resources derive from the document, not from the mail that brought it (the first mail
  // also had the PDF rendition, the forwarded copy has none).
  EXPECT_EQ(a.document, b.document);
  ASSERT_EQ(a.resources.size(), b.resources.size() + 1);
  EXPECT_TRUE(std::equal(b.resources.begin(), b.resources.end(), a.resources.begin()));
  const Bundle first_bundle = parseBundle(first);
  const Bundle again_bundle = parseBundle(again);
  EXPECT_NE(first_bundle.fullUrlOf(first_bundle.one("Communication")),
            again_bundle.fullUrlOf(again_bundle.one("Communication")));
}

TEST(MessageIntake, ANewVersionNamesTheOneItReplaces) {
  const IngestResult v2 = ingestCase("ldl_ses_v2.eml");
  ASSERT_EQ(v2.status, IngestStatus::Accepted) << issuesText(v2);
  ASSERT_FALSE(v2.documents.empty());
  const DocumentIdentity& id = v2.documents.front().identity;
  EXPECT_EQ(id.set, "urn:oid:1.2.250.1.999.1.1.2|SET-0001");
  EXPECT_EQ(id.version, 2);
  ASSERT_EQ(id.replaces.size(), 1u);
  EXPECT_EQ(id.replaces[0], "urn:oid:1.2.250.1.999.1.1.1|LDL-2024-0001");
  EXPECT_NE(id.key, id.replaces[0]);
  // What the CDA says it replaces is kept on the DocumentReference (by identifier: whether it is
  // stored is for the store to say, which then names it by a literal reference).
  const Bundle b = parseBundle(v2);
  const rapidjson::Value* doc = nullptr;
  for (const rapidjson::Value* d : b.of("DocumentReference"))
    if (d->HasMember("masterIdentifier")) doc = d;
  ASSERT_NE(doc, nullptr);
  ASSERT_TRUE(doc->HasMember("relatesTo"));
  const auto& relation = (*doc)["relatesTo"][0];
  EXPECT_EQ(str(relation, "code"), "replaces");
  EXPECT_EQ(str(relation["target"]["identifier"], "system"), "urn:oid:1.2.250.1.999.1.1.1");
  EXPECT_EQ(str(relation["target"]["identifier"], "value"), "LDL-2024-0001");
}

TEST(MessageIntake, ARedeliveryHasTheSameContentKey) {
  const MessageIntake intake(test::mssante(), test::cardioPlus(), test::testClock());
  const std::string original = message("ldl_ses.eml");
  const std::string relayed = message("ldl_ses_redelivered.eml");
  ASSERT_NE(original, relayed);
  EXPECT_EQ(intake.contentKey(original), intake.contentKey(relayed));
  EXPECT_NE(intake.contentKey(original), intake.contentKey(message("ldl_ses_reused_id.eml")));
  // Line ends a store rewrote, and an mbox separator, are not the sender's either.
  std::string lf;
  for (char c : original)
    if (c != '\r') lf += c;
  EXPECT_EQ(intake.contentKey(original), intake.contentKey(lf));
  EXPECT_EQ(intake.contentKey(original),
            intake.contentKey("From MAILER-DAEMON Fri Jan 12 14:05:00 2024\n" + original));
  // A header the sender wrote is part of the message: changing it changes the key.
  std::string edited = original;
  edited.replace(edited.find("Subject: "), 9, "Subject: RE: ");
  EXPECT_NE(intake.contentKey(original), intake.contentKey(edited));
  // A folded trace field is left out with its continuation lines.
  const std::string folded =
      "Received: from relay.example\r\n\tby mx.example; Fri, 12 Jan 2024\r\n" + original;
  EXPECT_EQ(intake.contentKey(original), intake.contentKey(folded));
}

// ---------------------------------------------------------------------------------------------
// Entry shapes of the ANS examples (ansforge/TestContenuCDA-3-0), in a document of our own

// A problem's status, an allergy's status, reaction and severity are statements nested in the
// entry: parts of its resource, never resources of their own (the ANS examples gave four
// AllergyIntolerances for one allergy, and a Condition "Actif").
TEST(MessageIntake, StatementsNestedInAnEntryAreItsParts) {
  const IngestResult r = ingestCase("fiche_avk.eml");
  ASSERT_EQ(r.status, IngestStatus::Accepted) << issuesText(r);
  const Bundle b = parseBundle(r);
  ASSERT_EQ(b.of("Condition").size(), 1u);
  EXPECT_NE(byType(b, "Condition", "I48.0"), nullptr);
  ASSERT_EQ(b.of("AllergyIntolerance").size(), 2u);
  for (const rapidjson::Value* a : b.of("AllergyIntolerance"))
    EXPECT_TRUE((*a)["code"].HasMember("coding")) << "an allergy without its allergen";
  const MappingReport& report = r.reports.front();
  auto entries = std::map<std::string, int>(report.entries.begin(), report.entries.end());
  EXPECT_EQ(entries["cda-problemes"], 1);
  EXPECT_EQ(entries["cda-allergies"], 2);
  for (const std::string& t : report.text_only)
    EXPECT_EQ(t.find("gardée(s) en texte"), std::string::npos) << t;
}

// The status a problem or an allergy carries (FR-Statut-du-probleme) is its clinical status,
// before the concern's: the ANS examples close the concern of a problem still active.
TEST(MessageIntake, NestedStatusIsTheClinicalStatus) {
  const IngestResult r = ingestCase("fiche_avk.eml");
  const Bundle b = parseBundle(r);
  const rapidjson::Value* fa = byType(b, "Condition", "I48.0");
  ASSERT_NE(fa, nullptr);
  EXPECT_EQ(str((*fa)["clinicalStatus"]["coding"][0], "code"), "active");
  const rapidjson::Value* fluconazole = byType(b, "AllergyIntolerance", "J02AC01");
  ASSERT_NE(fluconazole, nullptr);
  EXPECT_EQ(str((*fluconazole)["clinicalStatus"]["coding"][0], "code"), "inactive");
  const rapidjson::Value* penicillin = byType(b, "AllergyIntolerance", "J01C");
  ASSERT_NE(penicillin, nullptr);
  EXPECT_EQ(str((*penicillin)["clinicalStatus"]["coding"][0], "code"), "active");  // the concern's
}

// An allergy's kind (ObservationIntoleranceType), its reaction and the reaction's severity.
TEST(MessageIntake, AllergyTypeReactionAndSeverity) {
  const IngestResult r = ingestCase("fiche_avk.eml");
  const Bundle b = parseBundle(r);
  const rapidjson::Value* fluconazole = byType(b, "AllergyIntolerance", "J02AC01");
  const rapidjson::Value* penicillin = byType(b, "AllergyIntolerance", "J01C");
  ASSERT_NE(fluconazole, nullptr);
  ASSERT_NE(penicillin, nullptr);
  EXPECT_EQ(str(*fluconazole, "type"), "intolerance");  // DNAINT
  EXPECT_STREQ((*fluconazole)["category"][0].GetString(), "medication");
  // Its value is its effect: the manifestation, in MedDRA.
  const auto& effect = (*fluconazole)["reaction"][0]["manifestation"][0];
  EXPECT_EQ(str(effect["coding"][0], "system"), "https://www.meddra.org");
  EXPECT_EQ(str(effect["coding"][0], "code"), "10022402");
  EXPECT_EQ(str(*penicillin, "type"), "allergy");  // DALG
  const auto& reaction = (*penicillin)["reaction"][0];
  EXPECT_EQ(str(reaction["manifestation"][0]["coding"][0], "code"), "126485001");
  EXPECT_EQ(str(reaction["manifestation"][0], "text"), "urticaire");
  EXPECT_EQ(str(reaction, "severity"), "moderate");
  EXPECT_EQ(str((*penicillin)["code"]["coding"][0], "system"), "http://www.whocc.no/atc");
}

// Codes of the CI-SIS entries carry the FHIR canonical URL of their system, not urn:oid.
TEST(MessageIntake, EntryCodesUseCanonicalSystems) {
  const IngestResult r = ingestCase("fiche_avk.eml");
  const Bundle b = parseBundle(r);
  const rapidjson::Value* inr = byType(b, "Observation", "34714-6");
  ASSERT_NE(inr, nullptr);
  EXPECT_EQ(str((*inr)["interpretation"][0]["coding"][0], "system"),
            "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation");
  EXPECT_EQ((*inr)["valueQuantity"]["value"].GetDouble(), 2.6);
  const rapidjson::Value* warfarin = nullptr;
  for (const rapidjson::Value* m : b.of("MedicationStatement"))
    if (str(*m, "status") == "active") warfarin = m;
  ASSERT_NE(warfarin, nullptr);
  EXPECT_EQ(str((*warfarin)["medicationCodeableConcept"]["coding"][0], "system"),
            "http://www.whocc.no/atc");
  EXPECT_EQ(str((*warfarin)["dosage"][0]["route"]["coding"][0], "system"),
            "http://standardterms.edqm.eu");
}

// A treatment planned in FR-Plan-de-soins (moodCode INT) is intended, not taken.
TEST(MessageIntake, PlannedTreatmentIsIntended) {
  const IngestResult r = ingestCase("fiche_avk.eml");
  const Bundle b = parseBundle(r);
  std::map<std::string, std::string> status;  // start → status
  for (const rapidjson::Value* m : b.of("MedicationStatement"))
    status[str((*m)["effectivePeriod"], "start")] = str(*m, "status");
  EXPECT_EQ(status["2023-09-20"], "active");    // FR-Traitements, EVN
  EXPECT_EQ(status["2024-03-15"], "intended");  // FR-Plan-de-soins, INT (statusCode completed)
}

// A chapter around subsections keeps nothing as text of its own: the report does not list it.
TEST(MessageIntake, ChapterSectionIsNotReportedAsText) {
  const IngestResult r = ingestCase("fiche_avk.eml");
  for (const std::string& t : r.reports.front().text_only)
    EXPECT_EQ(t.find("BIOLOGIE"), std::string::npos) << t;
  bool inr_read = false;
  for (const auto& [mapping, count] : r.reports.front().entries)
    inr_read = inr_read || (mapping == "cda-resultats-biologie" && count == 1);
  EXPECT_TRUE(inr_read);
}

}  // namespace
}  // namespace liaison::pipeline
