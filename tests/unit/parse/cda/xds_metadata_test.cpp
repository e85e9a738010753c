#include "parse/cda/xds_metadata.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>

#include "cda_test_util.hpp"

namespace liaison::parse {
namespace {

using test::readData;
using test::replaced;

std::string sha1Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    hex += buf;
  }
  return hex;
}

void expectCode(const std::optional<XdsCode>& c, std::string_view code, std::string_view scheme,
                std::string_view display) {
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->code, code);
  EXPECT_EQ(c->scheme, scheme);
  EXPECT_EQ(c->display, display);
}

void expectPerson(const XdsPerson& p, std::string_view id, std::string_view family,
                  std::string_view given, std::string_view oid) {
  EXPECT_EQ(p.id, id);
  EXPECT_EQ(p.family, family);
  EXPECT_EQ(p.given, given);
  EXPECT_EQ(p.oid, oid);
}

constexpr std::string_view kDocUuid = "urn:uuid:0f3c1a52-7d4e-4a8b-9c61-2b5e8d9f1a01";

TEST(XdsMetadata, FixtureEveryField) {
  const std::string xml = readData("xds/METADATA.XML");
  auto r = parseXdsMetadata(xml);
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  const XdsSubmission& s = *r;
  EXPECT_TRUE(s.issues.empty()) << s.issues.items().front().message;

  const XdsSubmissionSet& set = s.submission_set;
  EXPECT_EQ(set.unique_id, "1.2.250.1.999.1.9.20240112.1");
  EXPECT_EQ(set.source_id, "1.2.250.1.999.1.9");
  EXPECT_EQ(set.submission_time, "20240112140500");
  EXPECT_EQ(set.title, "Envoi de la lettre de liaison");
  ASSERT_TRUE(set.patient_id);
  EXPECT_EQ(set.patient_id->value, "279035121518989");
  EXPECT_EQ(set.patient_id->oid, "1.2.250.1.213.1.4.10");
  EXPECT_EQ(set.patient_id->type, "NH");
  expectCode(set.content_type, "03", "1.2.250.1.213.2.2", "Hospitalisation complète");
  ASSERT_EQ(set.authors.size(), 1u);
  expectPerson(set.authors[0], "810001234567", "TESTEUR", "Jean", "1.2.250.1.71.4.2.1");

  ASSERT_EQ(s.documents.size(), 1u);
  const XdsDocumentEntry& d = s.documents[0];
  EXPECT_EQ(d.entry_uuid, kDocUuid);
  EXPECT_EQ(d.unique_id, "1.2.250.1.999.1.1.1^LDL-2024-0001");
  EXPECT_EQ(d.uri, "DOC0001.XML");
  EXPECT_EQ(d.mime_type, "text/xml");
  EXPECT_EQ(d.title, "Lettre de liaison à la sortie – Cardiologie");
  EXPECT_EQ(d.creation_time, "20240112133000");
  EXPECT_EQ(d.language, "fr-FR");
  EXPECT_EQ(d.service_start, "20240108083000");
  EXPECT_EQ(d.service_stop, "20240112130000");

  // DOC0001.XML is tests/data/cda/ldl_ses.xml: hash and size must describe it.
  const std::string doc = readData("cda/ldl_ses.xml");
  EXPECT_EQ(d.hash, sha1Hex(doc)) << "update METADATA.XML (see tests/data/cda/README.md)";
  ASSERT_TRUE(d.size);
  EXPECT_EQ(*d.size, doc.size());

  ASSERT_TRUE(d.patient_id);
  EXPECT_EQ(d.patient_id->value, "279035121518989");
  EXPECT_EQ(d.patient_id->oid, "1.2.250.1.213.1.4.10");
  EXPECT_EQ(d.patient_id->type, "NH");
  ASSERT_TRUE(d.source_patient_id);
  EXPECT_EQ(d.source_patient_id->value, "279035121518989");
  EXPECT_EQ(d.source_patient_id->oid, "1.2.250.1.213.1.4.10");
  EXPECT_EQ(d.source_patient_id->type, "PI");
  EXPECT_EQ(d.source_patient_info.family, "FICTIF-DUPONT");
  EXPECT_EQ(d.source_patient_info.given, "Camille");
  EXPECT_EQ(d.source_patient_info.birth_date, "19790314");
  EXPECT_EQ(d.source_patient_info.sex, "F");

  expectCode(d.class_code, "11", "1.2.250.1.213.1.1.4.1", "Synthèse");
  expectCode(d.type_code, "11490-0", "2.16.840.1.113883.6.1",
             "Lettre de liaison à la sortie d'un établissement de soins");
  expectCode(d.format_code, "urn:asip:ci-sis:ldl-ses:2017", "1.2.250.1.213.1.1.4.2.282",
             "Lettre de liaison à la sortie d'un établissement de santé");
  expectCode(d.healthcare_facility_type, "SA01", "1.2.250.1.71.4.2.4",
             "Etablissement public de santé");
  expectCode(d.practice_setting, "ETABLISSEMENT", "1.2.250.1.213.1.1.4.9",
             "Etablissement de santé");
  ASSERT_EQ(d.confidentiality.size(), 2u);
  EXPECT_EQ(d.confidentiality[0].code, "N");
  EXPECT_EQ(d.confidentiality[0].scheme, "2.16.840.1.113883.5.25");
  EXPECT_EQ(d.confidentiality[0].display, "Normal");
  EXPECT_EQ(d.confidentiality[1].code, "INVISIBLE_PATIENT");
  EXPECT_EQ(d.confidentiality[1].scheme, "1.2.250.1.213.1.1.4.13");
  ASSERT_EQ(d.event_codes.size(), 1u);
  EXPECT_EQ(d.event_codes[0].code, "I25.1");
  EXPECT_EQ(d.event_codes[0].scheme, "2.16.840.1.113883.6.3");
  EXPECT_EQ(d.event_codes[0].display, "Cardiopathie athéroscléreuse");

  ASSERT_EQ(d.authors.size(), 1u);
  expectPerson(d.authors[0], "810001234567", "TESTEUR", "Jean", "1.2.250.1.71.4.2.1");
  EXPECT_EQ(d.author_institutions,
            (std::vector<std::string>{"Centre Hospitalier Fictif^^^^^&1.2.250.1.71.4.2.2&ISO^"
                                      "IDNST^^^1990000017"}));
  EXPECT_EQ(d.author_specialties,
            (std::vector<std::string>{"G15_10/SM04^Médecin - Cardiologie et maladies vasculaires "
                                      "(SM)^1.2.250.1.213.1.1.4.5"}));
  ASSERT_TRUE(d.legal_authenticator);
  expectPerson(*d.legal_authenticator, "810007777777", "CHEFFE-FICTIVE", "Claire",
               "1.2.250.1.71.4.2.1");
}

TEST(XdsMetadata, Hl7v2Pieces) {
  XdsIdentifier cx = parseCx("162018885045327^^^&1.2.250.1.213.1.4.10&ISO^NH");
  EXPECT_EQ(cx.value, "162018885045327");
  EXPECT_EQ(cx.oid, "1.2.250.1.213.1.4.10");
  EXPECT_EQ(cx.type, "NH");
  cx = parseCx("123^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS");
  EXPECT_EQ(cx.oid, "1.2.250.1.213.1.4.8");
  EXPECT_EQ(cx.type, "INS");
  cx = parseCx("A\\S\\B^^^1.2.3");
  EXPECT_EQ(cx.value, "A^B");
  EXPECT_EQ(cx.oid, "1.2.3");
  EXPECT_EQ(cx.type, "");
  cx = parseCx("");
  EXPECT_EQ(cx.value, "");
  EXPECT_EQ(cx.oid, "");

  XdsPerson p = parseXcn("899700367909^DOC0036790^KIT^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS");
  expectPerson(p, "899700367909", "DOC0036790", "KIT", "1.2.250.1.71.4.2.1");
  p = parseXcn("^D\\T\\D^Zoé");
  expectPerson(p, "", "D&D", "Zoé", "");
}

TEST(XdsMetadata, SchemesNotPositions) {
  // Move the typeCode classification first and the author last: same result.
  std::string xml = readData("xds/METADATA.XML");
  const std::size_t type_at = xml.find("<rim:Classification id=\"cl09\"");
  const std::size_t type_end = xml.find("</rim:Classification>", type_at) + 21;
  const std::string type_cls = xml.substr(type_at, type_end - type_at);
  xml.erase(type_at, type_end - type_at);
  xml.insert(xml.find("<rim:Slot name=\"creationTime\">"), type_cls);
  auto r = parseXdsMetadata(xml);
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  expectCode(r->documents[0].type_code, "11490-0", "2.16.840.1.113883.6.1",
             "Lettre de liaison à la sortie d'un établissement de soins");
  EXPECT_TRUE(r->issues.empty());

  // A classification under an unknown scheme is ignored.
  xml = replaced(readData("xds/METADATA.XML"), "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983",
                 "urn:uuid:00000000-0000-0000-0000-000000000000");
  r = parseXdsMetadata(xml);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->documents[0].type_code);
}

TEST(XdsMetadata, SplitUriHashCaseAndSize) {
  std::string xml =
      replaced(readData("xds/METADATA.XML"), "<rim:Value>DOC0001.XML</rim:Value>",
               "<rim:Value>2|0001.XML</rim:Value><rim:Value>1|SUBSET01/DOC</rim:Value>");
  auto r = parseXdsMetadata(xml);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->documents[0].uri, "SUBSET01/DOC0001.XML");

  const std::string doc_hash = sha1Hex(readData("cda/ldl_ses.xml"));
  std::string upper = doc_hash;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) {
    return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  });
  r = parseXdsMetadata(replaced(readData("xds/METADATA.XML"), doc_hash, " " + upper + "\n"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->documents[0].hash, doc_hash);
  EXPECT_TRUE(r->issues.empty());

  r = parseXdsMetadata(replaced(readData("xds/METADATA.XML"), doc_hash, "not-a-sha1"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->documents[0].hash, "");
  EXPECT_TRUE(r->issues.contains(Errc::XdsMetadataInvalid));
  EXPECT_FALSE(r->issues.hasErrors());  // warnings only

  r = parseXdsMetadata(replaced(readData("xds/METADATA.XML"), "<rim:Value>16", "<rim:Value>-16"));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->documents[0].size);
  EXPECT_EQ(r->issues.size(), 2u);  // unreadable size + document without size
  r = parseXdsMetadata(replaced(readData("xds/METADATA.XML"), "<rim:Value>16",
                                "<rim:Value>99999999999999999999916"));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->documents[0].size);
}

TEST(XdsMetadata, MissingOptionalSlotsAreWarnings) {
  const std::string xml =
      R"(<SubmitObjectsRequest xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0">
    <RegistryObjectList xmlns="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
      <ExtrinsicObject id="Document01" mimeType="text/xml"
          objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"/>
    </RegistryObjectList></SubmitObjectsRequest>)";
  auto r = parseXdsMetadata(xml);
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  ASSERT_EQ(r->documents.size(), 1u);
  EXPECT_EQ(r->documents[0].entry_uuid, "Document01");
  EXPECT_FALSE(r->documents[0].patient_id);
  EXPECT_FALSE(r->issues.hasErrors());
  // patientId, uniqueId, URI, hash, size, and no submission set.
  EXPECT_EQ(r->issues.size(), 6u);
  for (const Issue& i : r->issues.items()) {
    EXPECT_EQ(i.code, Errc::XdsMetadataInvalid);
    EXPECT_EQ(i.severity, Severity::Warning);
  }
}

TEST(XdsMetadata, SubmissionSetFoundByNestedNodeOrByItsIdentifiers) {
  std::string xml = readData("xds/METADATA.XML");
  // Drop the top-level classification: the package is still recognised by its identifiers.
  const std::size_t at = xml.find("<rim:Classification id=\"cl12\"");
  xml.erase(at, xml.find("/>", at) + 2 - at);
  auto r = parseXdsMetadata(xml);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->submission_set.unique_id, "1.2.250.1.999.1.9.20240112.1");
  EXPECT_EQ(r->issues.size(), 1u);

  // Nested classificationNode (ebRIM allows it inside the package).
  xml = replaced(xml, "<rim:Slot name=\"submissionTime\">",
                 "<rim:Classification id=\"n1\" classificationNode="
                 "\"urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd\"/>"
                 "<rim:Slot name=\"submissionTime\">");
  r = parseXdsMetadata(xml);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->submission_set.submission_time, "20240112140500");
  EXPECT_TRUE(r->issues.empty());
}

TEST(XdsMetadata, OnlyStableDocumentEntries) {
  // An on-demand entry is skipped with a warning; with nothing else, the metadata is invalid.
  const std::string on_demand =
      replaced(readData("xds/METADATA.XML"), "7edca82f-054d-47f2-a032-9b2a5b5186c1",
               "34268e47-fdf5-41a6-ba33-82133c465248");
  auto r = parseXdsMetadata(on_demand);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::XdsMetadataInvalid);
}

TEST(XdsMetadata, NotEbRim) {
  for (std::string_view xml :
       {std::string_view("<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>"),
        std::string_view(
            "<SubmitObjectsRequest xmlns=\"urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0\">"
            "<RegistryObjectList/></SubmitObjectsRequest>"),
        std::string_view(
            "<lcm:SubmitObjectsRequest xmlns:lcm=\"urn:oasis:names:tc:ebxml-regrep:xsd:"
            "lcm:3.0\"><RegistryPackage id=\"ss\"/></lcm:SubmitObjectsRequest>")}) {
    auto r = parseXdsMetadata(xml);
    ASSERT_FALSE(r.has_value()) << xml;
    EXPECT_EQ(r.error().code, Errc::XdsMetadataInvalid) << xml;
  }
  auto r = parseXdsMetadata("<SubmitObjectsRequest><RegistryObjectList>");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::XmlMalformed);
}

// METADATA.XML whose sourcePatientInfo holds `values` (XML-escaped by the caller).
XdsPatientInfo patientInfo(std::initializer_list<std::string_view> values) {
  std::string list;
  for (std::string_view v : values)
    list += "<rim:Value>" + std::string(v) + "</rim:Value>\n";
  const std::string xml = replaced(readData("xds/METADATA.XML"),
                                   "<rim:Value>PID-5|FICTIF-DUPONT^Camille^^^^^L</rim:Value>\n"
                                   "          <rim:Value>PID-7|19790314</rim:Value>\n"
                                   "          <rim:Value>PID-8|F</rim:Value>\n",
                                   list);
  auto r = parseXdsMetadata(xml);
  EXPECT_TRUE(r.has_value());
  return r.has_value() ? r->documents.at(0).source_patient_info : XdsPatientInfo{};
}

void expectName(const XdsPatientName& n, std::string_view family, std::string_view given,
                std::string_view further, std::string_view type) {
  EXPECT_EQ(n.family, family);
  EXPECT_EQ(n.given, given);
  EXPECT_EQ(n.further_given, further);
  EXPECT_EQ(n.type, type);
}

TEST(XdsMetadata, PatientNamesEveryPid5AndRepetition) {
  const XdsPatientInfo fixture = patientInfo({"PID-5|FICTIF-DUPONT^Camille^^^^^L"});
  ASSERT_EQ(fixture.names.size(), 1u);
  expectName(fixture.names[0], "FICTIF-DUPONT", "Camille", "", "L");

  const XdsPatientInfo info = patientInfo({
      "PID-5|FICTIF-LEROY^CHLOE^^^^^D~FICTIF-DUPONT^CHLOE^CHLOE,EMMA^^^^L",
      "PID-7|20010203",
      " PID-5|FICTIF-D\\S\\UPONT\\T\\FILS^ZO\\F\\E^A\\R\\B\\E\\C^^^^S~~^^^^^^U ",
      "PID-8|F",
  });
  ASSERT_EQ(info.names.size(), 3u);  // the empty repetitions are skipped
  expectName(info.names[0], "FICTIF-LEROY", "CHLOE", "", "D");
  expectName(info.names[1], "FICTIF-DUPONT", "CHLOE", "CHLOE,EMMA", "L");
  expectName(info.names[2], "FICTIF-D^UPONT&FILS", "ZO|E", "A~B\\C", "S");
  // family / given as before: the type L repetition of the first PID-5.
  EXPECT_EQ(info.family, "FICTIF-DUPONT");
  EXPECT_EQ(info.given, "CHLOE");
  EXPECT_EQ(info.birth_date, "20010203");
  EXPECT_EQ(info.sex, "F");
  EXPECT_EQ(info.birth_place, "");

  // No type L: the first repetition; an escaped ~ does not split.
  const XdsPatientInfo plain = patientInfo({"PID-5|FICTIF-A\\R\\B^Luc~FICTIF-C^Lea^^^^^D"});
  EXPECT_EQ(plain.family, "FICTIF-A~B");
  EXPECT_EQ(plain.given, "Luc");
  ASSERT_EQ(plain.names.size(), 2u);
  expectName(plain.names[1], "FICTIF-C", "Lea", "", "D");
}

TEST(XdsMetadata, BirthPlaceFromPid11OfTypeBdl) {
  EXPECT_EQ(patientInfo({"PID-11|1 rue Fictive^^REIMS^^51100^FRA^H^^51454~^^COMMUNE-FICTIVE^^^FRA^"
                         "BDL^^51215"})
                .birth_place,
            "51215");
  EXPECT_EQ(patientInfo({"PID-11|^^^^^^H^^51454", "PID-11|^^^^^^BDL^^2A004"}).birth_place, "2A004");
  EXPECT_EQ(patientInfo({"PID-11|^^^^^^BDL", "PID-11|^^^^^^BDL^^99134"}).birth_place, "99134");
  EXPECT_EQ(patientInfo({"PID-11|^^^^^^H^^51454"}).birth_place, "");
  EXPECT_EQ(patientInfo({"PID-11|"}).birth_place, "");
}

TEST(XdsMetadata, RandomMutationsNeverCrash) {
  const std::string base = readData("xds/METADATA.XML");
  std::mt19937 rng(20240112);
  int parsed = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string m = base;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < edits && !m.empty(); ++k) {
      const std::size_t at = rng() % m.size();
      switch (rng() % 5) {
        case 0:
          m[at] = static_cast<char>(rng());
          break;
        case 1:
          m.erase(at, 1 + rng() % 64);
          break;
        case 2:
          m.insert(at, m.substr(rng() % m.size(), 1 + rng() % 256));
          break;
        case 3:
          m.insert(at, std::string(1, "<>&\"'/=![]?-"[rng() % 12]));
          break;
        default:
          m.resize(at);
          break;
      }
    }
    auto r = parseXdsMetadata(m);
    if (r.has_value()) ++parsed;
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace liaison::parse
