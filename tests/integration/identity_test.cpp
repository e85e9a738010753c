// A FHIR Bundle from outside (attached to an MSSanté mail, or a transaction posted to `POST /`)
// against a real PostgreSQL: it goes through the checks our own resources go through (accepted
// resource types, the Patient's INS by the nir module), and it never overwrites nor silently
// keeps a stored identity — a Patient claiming a stored INS with other traits leaves the stored
// one unchanged (same version), what came is linked to it, and an identity-review Task records
// the conflict.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>

#include "adapters/pg/pg_store.hpp"
#include "integration_env.hpp"
#include "pipeline/stored_intake.hpp"
#include "rest/access.hpp"
#include "rest/fhir_api.hpp"
#include "support/test_support.hpp"

namespace liaison {
namespace {

constexpr std::string_view kTestIns = "urn:oid:1.2.250.1.213.1.4.10";  // ANS test INS-NIR
constexpr std::string_view kInsA = "279035121518989";  // F, 1979-03, born 51215 (synthetic)

// A Patient (FR Core INS shape) of the INS above, with these traits.
std::string patient(std::string_view family, std::string_view value = kInsA,
                    std::string_view gender = "female") {
  return R"({"resourceType":"Patient","identifier":[{"system":")" + std::string(kTestIns) +
         R"(","value":")" + std::string(value) + R"("}],"name":[{"use":"official","family":")" +
         std::string(family) + R"(","given":["Camille"]}],"gender":")" + std::string(gender) +
         R"(","birthDate":"1979-03-14","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueAddress":{"extension":[{"url":"https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code","valueCoding":{"code":"51215"}}]}}]})";
}

std::string observation(int kg, std::string_view subject = "urn:uuid:patient-1") {
  return R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":")" +
         std::string(subject) + R"("},"valueQuantity":{"value":)" + std::to_string(kg) +
         R"(,"unit":"kg"}})";
}

// A collection Bundle as a sender attaches it: the Patient, then its other entries.
std::string attachedBundle(const std::string& patient_json, const std::string& more = {}) {
  return R"({"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:patient-1","resource":)" +
         patient_json + "}" + more + "]}";
}

// Another entry of an attached Bundle (no fullUrl, as senders often write them).
std::string more(const std::string& resource) {
  return R"(,{"resource":)" + resource + "}";
}

// An MSSanté mail with `bundle` as its FHIR JSON attachment (bundle.json).
std::string mailWith(std::string_view message_id, const std::string& bundle) {
  return "Return-Path: <dr.testeur@ch-fictif.mssante.fr>\r\n"
         "From: Dr TESTEUR <dr.testeur@ch-fictif.mssante.fr>\r\n"
         "To: secretariat@cardio-plus.ess.mssante.example\r\n"
         "Subject: Donnees patient\r\n"
         "Date: Mon, 07 Dec 2026 10:00:00 +0100\r\n"
         "Message-ID: <" +
         std::string(message_id) +
         "@ch-fictif.mssante.fr>\r\n"
         "MIME-Version: 1.0\r\n"
         "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
         "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDonnees FHIR jointes.\r\n"
         "--b1\r\nContent-Type: application/fhir+json; name=\"bundle.json\"\r\n"
         "Content-Disposition: attachment; filename=\"bundle.json\"\r\n\r\n" +
         bundle + "\r\n--b1--\r\n";
}

struct Reply {
  int status = 0;
  rapidjson::Document body;
  std::string text;
};

class Identity : public ::testing::Test {
 protected:
  void SetUp() override {
    database_ = itest::migratedTestDatabase("t_id_");
    ASSERT_NE(database_.db, nullptr);
    messages_ = std::make_unique<pipeline::MessageIntake>(test::mssante(), test::cardioPlus(),
                                                          test::testClock());
    forms_ = std::make_unique<pipeline::FormIntake>(test::cardioPlus(), test::testClock());
    auto policy = rest::parsePolicy(test::readRepoFile("profiles/policy.json"));
    ASSERT_TRUE(policy) << policy.error().detail;
    policy_ = std::make_unique<auth::Policy>(std::move(*policy));
    rest::AccessSettings access;
    access.tokens.push_back(
        {"coordination", rest::tokenHash("jeton-coordination"), {"coordinator"}, {"cardio-plus"}});
    access_ = std::make_unique<rest::ClientAccess>(std::move(access));
    rest::ApiOptions options{"https://gw.test/fhir", 20, 1000, nullptr, {}, {}};
    options.authenticator = access_.get();
    options.policy = policy_.get();
    const std::string dsn = database_.dsn;
    api_ = std::make_unique<rest::FhirApi>(
        [dsn] {
          auto s = pg::PgStore::open(dsn);
          if (!s) return Result<std::unique_ptr<Store>>(s.error());
          return Result<std::unique_ptr<Store>>(std::unique_ptr<Store>(std::move(*s)));
        },
        test::searchParameters(), *messages_, *forms_, test::testClock(), options);
    auto store = pg::PgStore::open(dsn);
    ASSERT_TRUE(store) << store.error().detail;
    store_ = std::move(*store);
    static const std::string kEss[] = {"cardio-plus"};
    store_->setEss(kEss);
  }
  void TearDown() override {
    api_.reset();
    store_.reset();
    database_.db.reset();
    itest::dropDatabase(database_.name);
  }

  pipeline::StoredIngest ingestMail(const std::string& bytes) {
    pipeline::StoredIntake intake(*store_, *messages_, *forms_, test::searchParameters(),
                                  test::testClock());
    auto stored = intake.ingest(bytes, "test", true);
    EXPECT_TRUE(stored) << (stored ? "" : stored.error().detail);
    return stored ? std::move(*stored) : pipeline::StoredIngest{};
  }

  Reply transaction(const std::string& entries) {
    http::Request request;
    request.method = "POST";
    request.target = "/";
    request.body = R"({"resourceType":"Bundle","type":"transaction","entry":[)" + entries + "]}";
    request.headers.push_back({"Authorization", "Bearer jeton-coordination"});
    request.headers.push_back({"Content-Type", "application/fhir+json"});
    request.remote = "127.0.0.1:5555";
    http::Response response = api_->handle(request);
    Reply r;
    r.status = response.status;
    r.text = response.body;
    r.body.Parse(r.text.c_str());
    return r;
  }
  static std::string post(const std::string& resource, std::string_view type,
                          std::string_view full_url = {}) {
    return (full_url.empty() ? std::string("{")
                             : R"({"fullUrl":")" + std::string(full_url) + "\",") +
           R"("request":{"method":"POST","url":")" + std::string(type) + R"("},"resource":)" +
           resource + "}";
  }

  std::int64_t count(const std::string& where) {
    return itest::count(*database_.db,
                        "SELECT count(*) FROM resource WHERE NOT deleted AND " + where);
  }
  std::string value(const std::string& sql) {
    auto r = database_.db->exec(sql);
    EXPECT_TRUE(r) << (r ? "" : r.error().detail);
    return r && r->rows() > 0 ? std::string(r->text(0, 0)) : std::string();
  }
  // The stored review Tasks as a collection Bundle, for the FHIR conformance check
  // (tests/conformance: structure, invariants, required bindings).
  void dumpTasks(std::string_view name) {
    test::dumpBundle(name, value("SELECT jsonb_build_object('resourceType', 'Bundle', 'type', "
                                 "'collection', 'entry', jsonb_agg(jsonb_build_object('fullUrl', "
                                 "'https://gw.test/fhir/Task/' || id, 'resource', content)))::text "
                                 "FROM resource WHERE type = 'Task'"));
  }
  std::string storedPatient() {
    return value("SELECT id FROM resource WHERE type = 'Patient' ORDER BY last_updated LIMIT 1");
  }

  itest::TestDatabase database_;
  std::unique_ptr<pipeline::MessageIntake> messages_;
  std::unique_ptr<pipeline::FormIntake> forms_;
  std::unique_ptr<auth::Policy> policy_;
  std::unique_ptr<rest::ClientAccess> access_;
  std::unique_ptr<rest::FhirApi> api_;
  std::unique_ptr<pg::PgStore> store_;
};

TEST_F(Identity, AttachedBundleClaimingAStoredInsWithOtherTraitsOpensAReview) {
  ingestMail(mailWith("m1", attachedBundle(patient("FICTIF-DUPONT"), more(observation(70)))));
  ASSERT_EQ(count("type = 'Patient'"), 1);
  const std::string id = storedPatient();
  const std::string before = value("SELECT content::text FROM resource WHERE type = 'Patient'");

  // Another sender's Bundle: the same INS, another birth name.
  auto second =
      ingestMail(mailWith("m2", attachedBundle(patient("FICTIF-DURAND"), more(observation(72)))));
  EXPECT_EQ(count("type = 'Patient'"), 1);
  EXPECT_EQ(value("SELECT version FROM resource WHERE type = 'Patient'"), "1");  // not bumped
  EXPECT_EQ(value("SELECT content::text FROM resource WHERE type = 'Patient'"), before);
  EXPECT_EQ(
      count("type = 'Observation' AND content->'subject'->>'reference' = 'Patient/" + id + "'"),
      2);  // what came is linked to the stored Patient
  ASSERT_EQ(count("type = 'Task'"), 1);
  EXPECT_EQ(value("SELECT content->'for'->>'reference' FROM resource WHERE type = 'Task'"),
            "Patient/" + id);
  EXPECT_EQ(value("SELECT content->'code'->'coding'->0->>'code' FROM resource WHERE type = 'Task'"),
            "identity-conflict");
  EXPECT_EQ(value("SELECT content->'status' #>> '{}' FROM resource WHERE type = 'Task'"),
            "requested");
  EXPECT_EQ(value("SELECT string_agg(i->>'valueCode', ',') FROM resource, "
                  "jsonb_array_elements(content->'input') i WHERE type = 'Task' AND i ? "
                  "'valueCode'"),
            "birth-family");
  // The incoming identity is kept for the reviewer.
  EXPECT_EQ(value("SELECT content->'contained'->0->'name'->0->>'family' FROM resource "
                  "WHERE type = 'Task'"),
            "FICTIF-DURAND");
  EXPECT_NE(second.outcome_json.find("identity-conflict"), std::string::npos)
      << second.outcome_json;
  dumpTasks("identity_review_mail");

  // The same discrepancy in another mail: linked too, and the open review is named, not doubled.
  auto again =
      ingestMail(mailWith("m2b", attachedBundle(patient("FICTIF-DURAND"), more(observation(73)))));
  EXPECT_EQ(count("type = 'Task'"), 1);
  EXPECT_NE(again.outcome_json.find("déjà ouverte"), std::string::npos) << again.outcome_json;
  // Searchable as the worklist will search it.
  EXPECT_EQ(itest::count(*database_.db,
                         "SELECT count(*) FROM search_token WHERE type = 'Task' AND param = 'code' "
                         "AND value = 'identity-conflict'"),
            1);

  // The same traits again: linked, and no review.
  ingestMail(mailWith("m3", attachedBundle(patient("fictif-dupont"), more(observation(71)))));
  EXPECT_EQ(count("type = 'Patient'"), 1);
  EXPECT_EQ(count("type = 'Task'"), 1);
  EXPECT_EQ(
      count("type = 'Observation' AND content->'subject'->>'reference' = 'Patient/" + id + "'"), 4);
}

TEST_F(Identity, EveryPathComparesTheIdentityItMergesInto) {
  // A Patient stored from a CDA document (ldl_ses: FICTIF-DUPONT Camille, born 1979-03-14), then
  // a Bundle that claims its INS with another birth date.
  ingestMail(itest::message("ldl_ses.eml"));
  ASSERT_EQ(count("type = 'Patient'"), 1);
  const std::string before = value("SELECT content::text FROM resource WHERE type = 'Patient'");
  std::string other = patient("FICTIF-DUPONT");
  other.replace(other.find("1979-03-14"), 10, "1979-03-04");
  ingestMail(mailWith("m2", attachedBundle(other)));
  EXPECT_EQ(count("type = 'Patient'"), 1);
  EXPECT_EQ(value("SELECT content::text FROM resource WHERE type = 'Patient'"), before);
  EXPECT_EQ(value("SELECT string_agg(i->>'valueCode', ',') FROM resource, "
                  "jsonb_array_elements(content->'input') i WHERE type = 'Task' AND i ? "
                  "'valueCode'"),
            "birth-date");

  // The form path: the same NIR typed with another birth name.
  const std::string fiche = test::readRepoFile("samples/fiches/fiche-complete.txt");
  pipeline::StoredIntake intake(*store_, *messages_, *forms_, test::searchParameters(),
                                test::testClock());
  ASSERT_TRUE(intake.ingest(fiche, "test", false));
  ASSERT_EQ(count("type = 'Patient'"), 2);
  std::string renamed = fiche;
  renamed.replace(renamed.find("Nom de naissance : LEGRAND"), 26, "Nom de naissance : LEBRUN");
  auto second = intake.ingest(renamed, "test", false);
  ASSERT_TRUE(second);
  EXPECT_EQ(count("type = 'Patient'"), 2);
  EXPECT_EQ(count("type = 'Task'"), 2);
  EXPECT_NE(second->outcome_json.find("identity-conflict"), std::string::npos);
}

TEST_F(Identity, AnInvalidInsInAnAttachedBundleIsLocatedAndMergesNothing) {
  ingestMail(mailWith("m1", attachedBundle(patient("FICTIF-DUPONT"))));
  ASSERT_EQ(count("type = 'Patient'"), 1);
  // The same matricule with a wrong key.
  auto bad = ingestMail(mailWith(
      "m2", attachedBundle(patient("FICTIF-DUPONT", "279035121518988"), more(observation(72)))));
  EXPECT_EQ(bad.result.status, pipeline::IngestStatus::Incomplete);
  EXPECT_NE(bad.outcome_json.find("nir-key-mismatch"), std::string::npos) << bad.outcome_json;
  EXPECT_NE(bad.outcome_json.find("bundle.json entry[0] identifier[0]"), std::string::npos)
      << bad.outcome_json;
  EXPECT_EQ(count("type = 'Patient'"), 2);  // not merged into the stored one
  EXPECT_EQ(count("type = 'Patient' AND content::text LIKE '%279035121518988%'"), 0);
  EXPECT_EQ(count("type = 'Task'"), 0);
}

TEST_F(Identity, AResourceTypeOutsideTheAcceptedListIsRefusedAtItsEntry) {
  auto r = ingestMail(mailWith(
      "m1", attachedBundle(
                patient("FICTIF-DUPONT"),
                R"(,{"resource":{"resourceType":"AuditEvent","type":{"code":"rest"}}},)"
                R"({"resource":{"resourceType":"Task","status":"requested","intent":"order"}})")));
  EXPECT_EQ(r.result.status, pipeline::IngestStatus::Incomplete);
  EXPECT_NE(r.outcome_json.find("bundle-type-refused"), std::string::npos) << r.outcome_json;
  EXPECT_NE(r.outcome_json.find("bundle.json entry[1]"), std::string::npos);
  EXPECT_NE(r.outcome_json.find("bundle.json entry[2]"), std::string::npos);
  EXPECT_EQ(count("type IN ('AuditEvent', 'Task')"), 0);
  EXPECT_EQ(count("type = 'Patient'"), 1);
}

TEST_F(Identity, PostedTransactionClaimingAStoredInsWithOtherTraitsOpensAReview) {
  Reply first = transaction(post(patient("FICTIF-DUPONT"), "Patient"));
  ASSERT_EQ(first.status, 200) << first.text;
  const std::string id = storedPatient();
  const std::string before = value("SELECT content::text FROM resource WHERE type = 'Patient'");

  Reply second = transaction(post(patient("FICTIF-DURAND"), "Patient", "urn:uuid:patient-1") + "," +
                             post(observation(72), "Observation"));
  ASSERT_EQ(second.status, 200) << second.text;
  const auto& entry = second.body["entry"][0]["response"];
  EXPECT_STREQ(entry["status"].GetString(), "200 OK");
  EXPECT_EQ(std::string(entry["location"].GetString()), "Patient/" + id + "/_history/1");
  ASSERT_TRUE(entry.HasMember("outcome")) << second.text;
  EXPECT_NE(std::string(entry["outcome"]["issue"][0]["diagnostics"].GetString()).find("Task/"),
            std::string::npos);
  EXPECT_EQ(value("SELECT version FROM resource WHERE type = 'Patient'"), "1");
  EXPECT_EQ(value("SELECT content::text FROM resource WHERE type = 'Patient'"), before);
  EXPECT_EQ(
      count("type = 'Observation' AND content->'subject'->>'reference' = 'Patient/" + id + "'"), 1);
  ASSERT_EQ(count("type = 'Task'"), 1);
  EXPECT_EQ(value("SELECT content->'focus'->>'reference' FROM resource WHERE type = 'Task'"),
            "Patient/" + id);

  // The same discrepancy again: the open review is named, not doubled.
  Reply again = transaction(post(patient("FICTIF-DURAND"), "Patient"));
  ASSERT_EQ(again.status, 200) << again.text;
  EXPECT_EQ(count("type = 'Task'"), 1);
  EXPECT_NE(again.text.find(value("SELECT id FROM resource WHERE type = 'Task'")),
            std::string::npos);

  // A PUT over it with other traits does not overwrite it either.
  Reply put = transaction(R"({"request":{"method":"PUT","url":"Patient/)" + id +
                          R"("},"resource":)" + patient("FICTIF-MARTIN") + "}");
  ASSERT_EQ(put.status, 200) << put.text;
  EXPECT_EQ(value("SELECT version FROM resource WHERE type = 'Patient'"), "1");
  EXPECT_EQ(count("type = 'Task'"), 2);
  dumpTasks("identity_review_transaction");

  // The same traits: the stored Patient, no review.
  Reply same = transaction(post(patient("FICTIF-DUPONT"), "Patient"));
  ASSERT_EQ(same.status, 200) << same.text;
  EXPECT_EQ(std::string(same.body["entry"][0]["response"]["location"].GetString()),
            "Patient/" + id + "/_history/1");
  EXPECT_FALSE(same.body["entry"][0]["response"].HasMember("outcome"));
  EXPECT_EQ(count("type = 'Patient'"), 1);
  EXPECT_EQ(count("type = 'Task'"), 2);
}

TEST_F(Identity, PostedTransactionWithAnInvalidInsOrATypeOutsideTheListIsRefusedAtTheEntry) {
  Reply key = transaction(post(observation(70, "Patient/x"), "Observation") + "," +
                          post(patient("FICTIF-DUPONT", "279035121518988"), "Patient"));
  EXPECT_EQ(key.status, 422) << key.text;
  EXPECT_NE(key.text.find("nir-key-mismatch"), std::string::npos) << key.text;
  EXPECT_NE(key.text.find("Bundle.entry[1].resource.identifier[0]"), std::string::npos) << key.text;
  // A well-formed matricule that contradicts the Patient's sex.
  Reply sex = transaction(post(patient("FICTIF-DUPONT", kInsA, "male"), "Patient"));
  EXPECT_EQ(sex.status, 422) << sex.text;
  EXPECT_NE(sex.text.find("nir-traits-sex-mismatch"), std::string::npos) << sex.text;

  Reply type =
      transaction(post(patient("FICTIF-DUPONT"), "Patient") + "," +
                  post(R"({"resourceType":"Task","status":"requested","intent":"order"})", "Task"));
  EXPECT_EQ(type.status, 422) << type.text;
  EXPECT_NE(type.text.find("bundle-type-refused"), std::string::npos) << type.text;
  EXPECT_NE(type.text.find("Bundle.entry[1].request.url"), std::string::npos) << type.text;
  EXPECT_EQ(count("TRUE"), 0);  // nothing stored
}

}  // namespace
}  // namespace liaison
