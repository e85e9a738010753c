// CdaPatient's name parts, birth place, sdtc traits, addresses and telecoms; relatedDocument.

#include <gtest/gtest.h>

#include <string>

#include "cda_build.hpp"
#include "parse/cda/cda_document.hpp"

namespace liaison::parse {
namespace {

using test::buildCda;
using test::CdaParts;
using test::parseOk;
using test::section;

using Part = CdaPatient::NamePart;

void expectParts(const std::vector<Part>& parts,
                 std::vector<std::pair<std::string, std::string>> expected) {
  ASSERT_EQ(parts.size(), expected.size());
  for (std::size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(parts[i].text, expected[i].first) << i;
    EXPECT_EQ(parts[i].qualifier, expected[i].second) << i;
  }
}

CdaDocument parsePatient(std::string patient, std::string patient_role = {}) {
  CdaParts p;
  p.patient = std::move(patient);
  p.patient_role = std::move(patient_role);
  p.body = section("X", "<text>x</text>");
  return parseOk(buildCda(p));
}

TEST(CdaPatient, NamePartsOfTheFirstNameWithTheirQualifiers) {
  const CdaDocument d = parsePatient(R"(<name>
  <family qualifier="BR">FICTIF-DUPONT</family>
  <given>CHLOE EMMA</given>
  <given qualifier="BR">CHLOE</given>
  <family qualifier="CL">FICTIF-LEROY</family>
  <given qualifier="CL">CHLOE</given>
  <given qualifier="BR SP"> CLO </given>
  <prefix>MME</prefix>
</name>
<name><family>FICTIF-AUTRE</family><given>ZOE</given></name>)");
  const CdaPatient& p = *d.patient;
  expectParts(p.families, {{"FICTIF-DUPONT", "BR"}, {"FICTIF-LEROY", "CL"}});
  expectParts(p.givens, {{"CHLOE EMMA", ""}, {"CHLOE", "BR"}, {"CHLOE", "CL"}, {"CLO", "BR SP"}});
  // The older fields are unchanged: `given` gathers the given elements of every name element.
  EXPECT_EQ(p.birth_family, "FICTIF-DUPONT");
  EXPECT_EQ(p.used_family, "FICTIF-LEROY");
  EXPECT_EQ(p.first_given, "CHLOE");
  EXPECT_EQ(p.used_given, "CHLOE");
  EXPECT_EQ(p.given, (std::vector<std::string>{"CHLOE EMMA", "CHLOE", "CHLOE", "CLO", "ZOE"}));
  EXPECT_TRUE(d.issues.empty());
}

TEST(CdaPatient, BirthPlaceDeceasedAndMultipleBirth) {
  const CdaDocument d = parsePatient(R"(<name><family>FICTIF-TEST</family></name>
<birthTime value="19790314"/>
<sdtc:deceasedInd value="true"/>
<sdtc:deceasedTime value="20240110"/>
<sdtc:multipleBirthInd value="false"/>
<birthplace><place><name>Maternité  fictive</name>
  <addr><county>51215</county><city>COMMUNE-FICTIVE</city><country>2A004</country></addr></place></birthplace>)");
  const CdaPatient& p = *d.patient;
  EXPECT_EQ(p.deceased, true);
  EXPECT_EQ(p.deceased_time, "20240110");
  EXPECT_EQ(p.multiple_birth, false);
  EXPECT_EQ(p.multiple_birth_order, 0);
  EXPECT_EQ(p.birth_place_name, "Maternité fictive");
  EXPECT_EQ(p.birth_place_code, "51215");  // the county wins over the country
  EXPECT_EQ(p.birth_place_city, "COMMUNE-FICTIVE");
  EXPECT_TRUE(d.issues.empty());

  // Without a county, the country when it holds an INSEE code (ANS ConceptMap).
  auto codeFrom = [](std::string_view addr) {
    return parsePatient("<birthplace><place><addr>" + std::string(addr) +
                        "</addr></place></birthplace>")
        .patient->birth_place_code;
  };
  EXPECT_EQ(codeFrom("<country>2A004</country>"), "2A004");
  EXPECT_EQ(codeFrom("<country>2B033</country>"), "2B033");
  EXPECT_EQ(codeFrom("<country> 99134 </country>"), "99134");  // born abroad (Spain)
  EXPECT_EQ(codeFrom("<county/><country>51215</country>"), "51215");
  EXPECT_EQ(codeFrom("<country>FRANCE</country>"), "");
  EXPECT_EQ(codeFrom("<country>FRA</country>"), "");
  EXPECT_EQ(codeFrom("<country>2C004</country>"), "");
  EXPECT_EQ(codeFrom("<country>512150</country>"), "");

  // Absent: nothing; unreadable: a warning.
  const CdaDocument none = parsePatient("<name><family>X</family></name>");
  EXPECT_FALSE(none.patient->deceased.has_value());
  EXPECT_FALSE(none.patient->multiple_birth.has_value());
  const CdaDocument odd =
      parsePatient(R"(<sdtc:deceasedInd value="oui"/><sdtc:multipleBirthInd nullFlavor="UNK"/>)");
  EXPECT_FALSE(odd.patient->deceased.has_value());
  EXPECT_FALSE(odd.patient->multiple_birth.has_value());
  ASSERT_EQ(odd.issues.size(), 1u);
  EXPECT_EQ(odd.issues.items()[0].code, Errc::CdaValueInvalid);
  EXPECT_EQ(odd.issues.items()[0].severity, Severity::Warning);
  EXPECT_EQ(odd.issues.items()[0].message.find("oui"), std::string::npos);
}

TEST(CdaPatient, AddressesAndTelecoms) {
  const CdaDocument d = parsePatient(R"(<name><family>FICTIF-TEST</family></name>
<guardian><addr><streetAddressLine>pas le patient</streetAddressLine></addr><telecom value="tel:0100000000"/></guardian>)",
                                     R"(<addr use="H">
  <houseNumber>28</houseNumber>
  <buildingNumberSuffix>bis</buildingNumberSuffix>
  <streetName>Avenue   de l'Exemple</streetName>
  <unitType>Escalier</unitType><unitID>A</unitID>
  <additionalLocator>Résidence Fictive</additionalLocator>
  <postalCode>75007</postalCode>
  <city>PARIS</city>
  <county>75056</county>
  <country>FRANCE</country>
</addr>
<addr use="PST"><streetAddressLine>1 rue Fictive</streetAddressLine><streetAddressLine>BP 12</streetAddressLine><postalCode>51100</postalCode><city>REIMS</city></addr>
<addr nullFlavor="NAV"/>
<addr/>
<addr>  12 chemin Fictif
  51100 VILLE  </addr>
<telecom value="tel:0600000001" use="MC"/>
<telecom nullFlavor="NASK"/>
<telecom value="mailto:279035121518989@patient.mssante.fr"/>)");
  const CdaPatient& p = *d.patient;
  ASSERT_EQ(p.addresses.size(), 3u);
  const CdaAddress& home = p.addresses[0];
  EXPECT_EQ(home.use, "H");
  EXPECT_EQ(home.lines, (std::vector<std::string>{"28 bis Avenue de l'Exemple", "Escalier A",
                                                  "Résidence Fictive"}));
  EXPECT_EQ(home.postal_code, "75007");
  EXPECT_EQ(home.city, "PARIS");
  EXPECT_EQ(home.county, "75056");
  EXPECT_EQ(home.country, "FRANCE");
  const CdaAddress& post = p.addresses[1];
  EXPECT_EQ(post.use, "PST");
  EXPECT_EQ(post.lines, (std::vector<std::string>{"1 rue Fictive", "BP 12"}));
  EXPECT_EQ(post.postal_code, "51100");
  EXPECT_EQ(post.city, "REIMS");
  EXPECT_EQ(post.county, "");
  const CdaAddress& free = p.addresses[2];
  EXPECT_EQ(free.use, "");
  EXPECT_EQ(free.lines, (std::vector<std::string>{"12 chemin Fictif 51100 VILLE"}));
  EXPECT_EQ(free.city, "");

  ASSERT_EQ(p.telecom_details.size(), 2u);
  EXPECT_EQ(p.telecom_details[0].use, "MC");
  EXPECT_EQ(p.telecom_details[0].value, "tel:0600000001");
  EXPECT_EQ(p.telecom_details[1].use, "");
  EXPECT_EQ(p.telecom_details[1].value, "mailto:279035121518989@patient.mssante.fr");
  EXPECT_EQ(p.telecoms, (std::vector<std::string>{"tel:0600000001",
                                                  "mailto:279035121518989@patient.mssante.fr"}));
  EXPECT_TRUE(d.issues.empty());
}

TEST(CdaPatient, PartsAreBounded) {
  std::string names = "<name>";
  std::string role;
  for (int i = 0; i < 150; ++i) {
    names += "<given>G</given><family>F</family>";
    role += "<addr><city>C</city></addr><telecom value=\"tel:0\"/>";
  }
  const CdaDocument d = parsePatient(names + "</name>", role);
  EXPECT_EQ(d.patient->givens.size(), 100u);
  EXPECT_EQ(d.patient->families.size(), 100u);
  EXPECT_EQ(d.patient->addresses.size(), 100u);
  EXPECT_EQ(d.patient->telecom_details.size(), 100u);
  EXPECT_EQ(d.patient->given.size(), 150u);  // as before
}

TEST(CdaDocumentIdentity, RelatedDocumentsSetIdAndVersion) {
  CdaParts p;
  p.header = R"(<setId root="1.2.250.1.999.1.1.2" extension="SET-7"/>
<versionNumber value="3"/>
<relatedDocument typeCode="RPLC">
  <parentDocument>
    <id nullFlavor="UNK"/>
    <id root="1.2.250.1.999.1.1.1" extension="TEST-0000"/>
    <code code="11488-4" codeSystem="2.16.840.1.113883.6.1"/>
    <setId root="1.2.250.1.999.1.1.2" extension="SET-7"/>
    <versionNumber value="2"/>
  </parentDocument>
</relatedDocument>
<relatedDocument typeCode="APND"><parentDocument><id root="1.2.250.1.999.1.1.9"/></parentDocument></relatedDocument>)";
  p.body = section("X", "<text>x</text>");
  const CdaDocument d = parseOk(buildCda(p));
  EXPECT_EQ(d.set_id.root, "1.2.250.1.999.1.1.2");
  EXPECT_EQ(d.set_id.extension, "SET-7");
  EXPECT_EQ(d.version, "3");
  ASSERT_EQ(d.related_documents.size(), 2u);
  const CdaRelatedDocument& r = d.related_documents[0];
  EXPECT_EQ(r.type_code, "RPLC");
  EXPECT_EQ(r.id.root, "1.2.250.1.999.1.1.1");
  EXPECT_EQ(r.id.extension, "TEST-0000");
  EXPECT_EQ(r.set_id.root, "1.2.250.1.999.1.1.2");
  EXPECT_EQ(r.set_id.extension, "SET-7");
  EXPECT_EQ(r.version, "2");
  EXPECT_EQ(d.related_documents[1].type_code, "APND");
  EXPECT_EQ(d.related_documents[1].id.root, "1.2.250.1.999.1.1.9");
  EXPECT_EQ(d.related_documents[1].set_id.root, "");
  EXPECT_EQ(d.related_documents[1].version, "");
  // The document's own id is not taken from its parent's.
  EXPECT_EQ(d.id.extension, "TEST-0001");
}

}  // namespace
}  // namespace liaison::parse
