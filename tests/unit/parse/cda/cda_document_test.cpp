#include "parse/cda/cda_document.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdio>
#include <random>
#include <string>

#include "cda_test_util.hpp"
#include "parse/cda/xds_metadata.hpp"

namespace liaison::parse {
namespace {

using test::readData;
using test::replaced;

void expectId(const CdaId& id, std::string_view root, std::string_view extension) {
  EXPECT_EQ(id.root, root);
  EXPECT_EQ(id.extension, extension);
}

void expectCode(const CdaCode& c, std::string_view code, std::string_view system,
                std::string_view display) {
  EXPECT_EQ(c.code, code);
  EXPECT_EQ(c.system, system);
  EXPECT_EQ(c.display, display);
}

constexpr std::string_view kLoinc = "2.16.840.1.113883.6.1";
constexpr std::string_view kRpps = "1.2.250.1.71.4.2.1";
constexpr std::string_view kStruct = "1.2.250.1.71.4.2.2";
constexpr std::string_view kInsTest = "1.2.250.1.213.1.4.10";

CdaDocument parseOk(const std::string& xml) {
  auto r = parseCda(xml);
  EXPECT_TRUE(r.has_value()) << r.error().detail;
  return r.has_value() ? std::move(r).value() : CdaDocument{};
}

// The one observation entry coded `code` (any code system).
const CdaEntry& observation(const CdaDocument& d, std::string_view code) {
  static const CdaEntry kNone;
  const CdaEntry* found = nullptr;
  for (const CdaEntry& e : d.entries) {
    if (e.kind != "observation" || e.code.code != code) continue;
    EXPECT_EQ(found, nullptr) << "two observations " << code;
    found = &e;
  }
  EXPECT_NE(found, nullptr) << "no observation " << code;
  return found != nullptr ? *found : kNone;
}

// The time of the nearest enclosing organizer, "" when there is none.
std::string organizerTime(const CdaDocument& d, const CdaEntry& e) {
  for (int p = e.parent; p >= 0; p = d.entries.at(static_cast<std::size_t>(p)).parent) {
    const CdaEntry& up = d.entries.at(static_cast<std::size_t>(p));
    if (up.kind == "organizer") return up.time;
  }
  return {};
}

// A vital sign as the intake's mapping reads it (mappings/mssante/entries/vital-signs.json): an
// observation with a LOINC code and a PQ value, its own time, the time of the organizer around
// it (which the intake takes when the observation has none), the code of its section.
void expectVital(const CdaDocument& d, std::string_view code, std::string_view value,
                 std::string_view unit, std::string_view own_time, std::string_view organizer_time,
                 std::string_view section) {
  const CdaEntry& e = observation(d, code);
  EXPECT_EQ(e.code.system, kLoinc) << code;
  EXPECT_EQ(e.value.type, "PQ") << code;
  EXPECT_FALSE(e.value.null) << code;
  EXPECT_EQ(e.value.value, value) << code;
  EXPECT_EQ(e.value.unit, unit) << code;
  EXPECT_EQ(e.time, own_time) << code;
  EXPECT_EQ(organizerTime(d, e), organizer_time) << code;
  ASSERT_LT(e.section, d.sections.size()) << code;
  EXPECT_EQ(d.sections[e.section].code.code, section) << code;
}

TEST(Cda, LdlSesHeader) {
  const CdaDocument d = parseOk(readData("cda/ldl_ses.xml"));
  EXPECT_TRUE(d.issues.empty());
  expectId(d.id, "1.2.250.1.999.1.1.1", "LDL-2024-0001");
  expectId(d.set_id, "1.2.250.1.999.1.1.2", "SET-0001");
  EXPECT_EQ(d.version, "1");
  expectCode(d.code, "11490-0", kLoinc,
             "Lettre de liaison à la sortie d'un établissement de soins");
  EXPECT_EQ(d.title, "Lettre de liaison à la sortie – Cardiologie");
  EXPECT_EQ(d.effective_time, "20240112143000+0100");
  EXPECT_EQ(d.confidentiality, "N");
  EXPECT_EQ(d.language, "fr-FR");
  EXPECT_EQ(d.template_ids,
            (std::vector<std::string>{"2.16.840.1.113883.2.8.2.1", "1.2.250.1.213.1.1.1.1",
                                      "1.2.250.1.213.1.1.1.29|2022.01"}));

  ASSERT_TRUE(d.patient);
  const CdaPatient& p = *d.patient;
  ASSERT_EQ(p.ids.size(), 2u);  // the nullFlavor id is dropped
  expectId(p.ids[0], kInsTest, "279035121518989");
  expectId(p.ids[1], "1.2.250.1.999.2.1", "IPP-000042");
  EXPECT_EQ(p.birth_family, "FICTIF-DUPONT");
  EXPECT_EQ(p.used_family, "FICTIF-LEROY");
  EXPECT_EQ(p.first_given, "Camille");
  EXPECT_EQ(p.birth_given, "Camille Rose");
  EXPECT_EQ(p.used_given, "Cam");
  EXPECT_EQ(p.given, (std::vector<std::string>{"Camille Rose", "Camille", "Cam"}));
  EXPECT_EQ(p.sex, "F");
  EXPECT_EQ(p.birth_time, "19790314");
  EXPECT_EQ(p.birth_place_code, "51215");
  EXPECT_EQ(p.birth_place_city, "COMMUNE-FICTIVE");
  EXPECT_EQ(p.telecoms, (std::vector<std::string>{"tel:0600000001",
                                                  "mailto:279035121518989@patient.mssante.fr"}));
  EXPECT_EQ(p.multiple_birth_order, 0);

  ASSERT_EQ(d.authors.size(), 1u);
  const CdaAuthor& a = d.authors[0];
  ASSERT_EQ(a.ids.size(), 1u);
  expectId(a.ids[0], kRpps, "810001234567");
  EXPECT_EQ(a.family, "TESTEUR");
  EXPECT_EQ(a.given, "Jean Pierre");
  expectCode(a.specialty, "G15_10/SM04", "1.2.250.1.213.1.1.4.5",
             "Médecin - Cardiologie et maladies vasculaires (SM)");
  EXPECT_EQ(a.time, "20240112143000+0100");
  ASSERT_EQ(a.organization_ids.size(), 1u);
  expectId(a.organization_ids[0], kStruct, "1990000017");
  EXPECT_EQ(a.organization_name, "Centre Hospitalier Fictif");

  ASSERT_EQ(d.custodian_ids.size(), 1u);
  expectId(d.custodian_ids[0], kStruct, "1990000017");
  EXPECT_EQ(d.custodian_name, "Centre Hospitalier Fictif");

  ASSERT_TRUE(d.legal_authenticator);
  const CdaAuthor& l = *d.legal_authenticator;
  ASSERT_EQ(l.ids.size(), 1u);
  expectId(l.ids[0], kRpps, "810007777777");
  EXPECT_EQ(l.family, "CHEFFE-FICTIVE");
  EXPECT_EQ(l.given, "Claire");
  EXPECT_EQ(l.specialty.code, "G15_10/SM04");
  EXPECT_EQ(l.time, "20240112150000+0100");
  ASSERT_EQ(l.organization_ids.size(), 1u);
  EXPECT_EQ(l.organization_name, "Centre Hospitalier Fictif");

  ASSERT_EQ(d.recipients.size(), 2u);
  expectId(d.recipients[0].ids.at(0), kRpps, "810009876543");
  EXPECT_EQ(d.recipients[0].family, "GENERALISTE-FICTIVE");
  EXPECT_EQ(d.recipients[0].given, "Anne");
  expectId(d.recipients[0].organization_ids.at(0), kStruct, "1990000025");
  EXPECT_EQ(d.recipients[0].organization_name, "Cabinet Médical Fictif");
  EXPECT_EQ(d.recipients[0].time, "");
  expectId(d.recipients[1].ids.at(0), kRpps, "810005555555");
  EXPECT_EQ(d.recipients[1].family, "INFIRMIER-FICTIF");
  EXPECT_EQ(d.recipients[1].given, "Luc");
  EXPECT_TRUE(d.recipients[1].organization_ids.empty());
  EXPECT_EQ(d.recipients[1].organization_name, "");

  expectCode(d.service_event_code, "IMP", "2.16.840.1.113883.5.4",
             "Hospitalisation (établissement, y compris HAD)");
  EXPECT_EQ(d.service_event_start, "20240108093000+0100");
  EXPECT_EQ(d.service_event_end, "20240112140000+0100");
  EXPECT_EQ(d.encounter_start, "20240108093000+0100");
  EXPECT_EQ(d.encounter_end, "20240112140000+0100");
  expectCode(d.encounter_facility_type, "SA01", "1.2.250.1.71.4.2.4",
             "Etablissement public de santé");
  ASSERT_EQ(d.encounter_location_ids.size(), 1u);
  expectId(d.encounter_location_ids[0], kStruct, "1990000017");
}

TEST(Cda, LdlSesBody) {
  const CdaDocument d = parseOk(readData("cda/ldl_ses.xml"));
  EXPECT_TRUE(d.structured);
  EXPECT_EQ(d.non_xml_media_type, "");
  EXPECT_EQ(d.non_xml_data, "");
  ASSERT_EQ(d.sections.size(), 8u);

  const CdaSection& status = d.sections[0];
  expectCode(status.code, "33557-0", kLoinc, "Etat d'achèvement");
  EXPECT_EQ(status.title, "Statut du document");
  EXPECT_EQ(status.text, "Statut du document Validé");
  EXPECT_EQ(status.template_ids,
            (std::vector<std::string>{"1.2.250.1.213.1.1.2.35", "1.2.250.1.213.1.1.2.35.1"}));

  const CdaSection& reason = d.sections[1];
  expectCode(reason.code, "42349-1", kLoinc, "Raison de la recommandation");
  EXPECT_EQ(reason.title, "Motif de l'hospitalisation");
  EXPECT_EQ(reason.text,
            "Douleur thoracique d'effort récidivante.\n"
            "Adressée par son médecin traitant & le SAMU.");
  EXPECT_EQ(reason.template_ids, (std::vector<std::string>{"1.3.6.1.4.1.19376.1.5.3.1.3.1"}));

  const CdaSection& summary = d.sections[2];
  EXPECT_EQ(summary.code.code, "42545-4");
  EXPECT_EQ(summary.title, "Synthèse médicale du séjour");
  EXPECT_EQ(summary.text,
            "Rubrique Contenu\n"
            "Entrée 08/01/2024, domicile\n"
            "Sortie 12/01/2024, domicile\n"
            "Synthèse Coronarographie\xC2\xA0: sténose de l'IVA traitée par angioplastie et stent "
            "actif.");
  EXPECT_EQ(summary.template_ids.size(), 2u);

  const CdaSection& meds = d.sections[3];
  EXPECT_EQ(meds.code.code, "10183-2");
  EXPECT_EQ(meds.text,
            "Acide acétylsalicylique 75 mg : 1 cp/jour\n"
            "Ticagrélor 90 mg : 1 cp matin et soir\npendant 12 mois\n"
            "Atorvastatine 80 mg : 1 cp le soir");

  const CdaSection& vitals = d.sections[4];
  expectCode(vitals.code, "8716-3", kLoinc, "Signes vitaux");
  EXPECT_EQ(vitals.title, "Signes vitaux");
  EXPECT_EQ(vitals.text,
            "Mesure Valeur\nPoids 72.5 kg\nTaille 168 cm\nPression artérielle 135/85 mm[Hg]\n"
            "Fréquence cardiaque 64 /min");
  EXPECT_EQ(vitals.template_ids, (std::vector<std::string>{"1.3.6.1.4.1.19376.1.5.3.1.3.25",
                                                           "1.3.6.1.4.1.19376.1.5.3.1.1.5.3.2"}));

  const CdaSection& results = d.sections[5];
  EXPECT_EQ(results.code.code, "30954-2");
  EXPECT_EQ(results.text, "Voir la sous-section biologie.");
  const CdaSection& bio = d.sections[6];  // nested, after its parent
  expectCode(bio.code, "18719-5", kLoinc, "Chimie");
  EXPECT_EQ(bio.title, "Biologie");
  EXPECT_EQ(bio.text, "Troponine négative à H3. LDL-c 1,2 g/L.");
  EXPECT_TRUE(bio.template_ids.empty());
  const CdaSection& plan = d.sections[7];
  EXPECT_EQ(plan.code.code, "18776-5");
  EXPECT_EQ(plan.title, "Plan de soins");
  EXPECT_EQ(plan.text,
            "Réadaptation cardiaque à programmer.\nConsultation de cardiologie à 3 mois.");

  // Entries: the document status and the mode of entry (coded values), then the vital signs'
  // organizer and its five observations.
  ASSERT_EQ(d.entries.size(), 8u);
  EXPECT_EQ(observation(d, "GEN-065").value.type, "CD");
  EXPECT_EQ(observation(d, "ORG-070").value.type, "CE");
  const std::string at_organizer = "20240112090000+0100";
  EXPECT_EQ(d.entries[2].kind, "organizer");
  EXPECT_EQ(d.entries[2].time, at_organizer);
  expectVital(d, "29463-7", "72.5", "kg", "", at_organizer, "8716-3");
  EXPECT_EQ(observation(d, "29463-7").code.display, "Poids corporel");
  expectVital(d, "8302-2", "168", "cm", "", at_organizer, "8716-3");
  expectVital(d, "8480-6", "135", "mm[Hg]", "", at_organizer, "8716-3");
  expectVital(d, "8462-4", "85", "mm[Hg]", "", at_organizer, "8716-3");
  // Its own effectiveTime, which the intake takes over the organizer's.
  expectVital(d, "8867-4", "64", "/min", "20240112093000+0100", at_organizer, "8716-3");
}

TEST(Cda, TlmDa) {
  const CdaDocument d = parseOk(readData("cda/tlm_da.xml"));
  EXPECT_TRUE(d.issues.empty());
  expectId(d.id, "1.2.250.1.999.1.1.1.7", "");
  expectId(d.set_id, "1.2.250.1.999.1.1.2.7", "");
  EXPECT_EQ(d.version, "2");
  expectCode(d.code, "75496-0", kLoinc, "Demande d'acte de télémédecine");
  EXPECT_EQ(d.title, "Demande de téléexpertise en cardiologie");
  EXPECT_EQ(d.effective_time, "20240203101500+0100");
  EXPECT_EQ(d.confidentiality, "R");
  EXPECT_EQ(d.language, "fr-FR");
  EXPECT_EQ(d.template_ids.back(), "1.2.250.1.213.1.1.1.38|2021.01");

  const CdaPatient& p = d.patient.value();
  ASSERT_EQ(p.ids.size(), 1u);
  expectId(p.ids[0], kInsTest, "162018885045327");
  EXPECT_EQ(p.birth_family, "FICTIF-MARTIN");  // first unqualified family
  EXPECT_EQ(p.used_family, "FICTIF-BERNARD");  // second unqualified family
  EXPECT_EQ(p.first_given, "Paul");
  EXPECT_EQ(p.birth_given, "Paul Henri");
  EXPECT_EQ(p.used_given, "");
  EXPECT_EQ(p.given, (std::vector<std::string>{"Paul Henri", "Paul"}));
  EXPECT_EQ(p.sex, "M");
  EXPECT_EQ(p.birth_time, "19620115");
  EXPECT_EQ(p.birth_place_code, "88850");
  EXPECT_EQ(p.birth_place_city, "");
  EXPECT_EQ(p.telecoms, (std::vector<std::string>{"tel:0600000004"}));  // nullFlavor skipped
  EXPECT_EQ(p.multiple_birth_order, 2);

  ASSERT_EQ(d.authors.size(), 2u);
  expectId(d.authors[0].ids.at(0), kRpps, "810009876543");
  EXPECT_EQ(d.authors[0].family, "GENERALISTE-FICTIVE");
  EXPECT_EQ(d.authors[0].given, "Anne");
  expectCode(d.authors[0].specialty, "SM26", "1.2.250.1.213.1.1.4.5",
             "Qualifié en médecine générale (SM)");
  EXPECT_EQ(d.authors[0].time, "20240203101500+0100");
  expectId(d.authors[0].organization_ids.at(0), kStruct, "1990000025");
  EXPECT_EQ(d.authors[0].organization_name, "Cabinet Médical Fictif");
  expectId(d.authors[1].ids.at(0), kRpps, "810005555555");
  EXPECT_EQ(d.authors[1].family, "INFIRMIER-FICTIF");
  EXPECT_EQ(d.authors[1].specialty.code, "");
  EXPECT_EQ(d.authors[1].time, "20240203100000+0100");
  EXPECT_TRUE(d.authors[1].organization_ids.empty());

  expectId(d.custodian_ids.at(0), kStruct, "1990000025");
  EXPECT_EQ(d.custodian_name, "Cabinet Médical Fictif");
  EXPECT_FALSE(d.legal_authenticator);
  ASSERT_EQ(d.recipients.size(), 1u);
  EXPECT_EQ(d.recipients[0].family, "TESTEUR");
  EXPECT_EQ(d.recipients[0].organization_name, "Centre Hospitalier Fictif");
  expectCode(d.service_event_code, "TE2", "1.2.250.1.999.9.2", "Téléexpertise (requis)");
  EXPECT_EQ(d.service_event_start, "20240203");
  EXPECT_EQ(d.service_event_end, "");
  EXPECT_EQ(d.encounter_start, "");
  EXPECT_EQ(d.encounter_end, "");
  EXPECT_EQ(d.encounter_facility_type.code, "");
  EXPECT_TRUE(d.encounter_location_ids.empty());

  EXPECT_TRUE(d.structured);
  ASSERT_EQ(d.sections.size(), 4u);
  EXPECT_EQ(d.sections[0].code.code, "46612-8");
  EXPECT_EQ(d.sections[0].template_ids, (std::vector<std::string>{"1.2.250.1.213.1.1.2.68"}));
  EXPECT_EQ(d.sections[0].title, "Anamnèse et facteurs de risques");
  EXPECT_EQ(d.sections[0].text, "Patient fumeur, hypertendu.");
  EXPECT_EQ(d.sections[1].code.code, "10164-2");
  EXPECT_EQ(d.sections[1].template_ids, (std::vector<std::string>{"1.2.250.1.213.1.1.2.69"}));
  EXPECT_EQ(d.sections[1].text, "Dyspnée d'effort depuis 3 semaines.\nECG joint.");
  EXPECT_EQ(d.sections[2].code.code, "10160-0");
  EXPECT_EQ(d.sections[2].title, "Traitements en cours");
  EXPECT_EQ(d.sections[2].text, "Amlodipine 5 mg\nRamipril 5 mg");
  EXPECT_EQ(d.sections[3].code.code, "42349-1");
  EXPECT_EQ(d.sections[3].title, "Question posée");
  EXPECT_EQ(d.sections[3].text, "Avis sur l'indication d'une épreuve d'effort ?");
  EXPECT_TRUE(d.sections[3].template_ids.empty());

  // Entries of the Anamnèse subsection, read as written: a CD value, a PQ under a non-LOINC
  // code, a PQ with a nullFlavor (nothing measured), and two vital signs, the second nested
  // (entryRelationship) in the first.
  ASSERT_EQ(d.entries.size(), 5u);
  for (const CdaEntry& e : d.entries)
    EXPECT_EQ(e.section, 1u) << e.code.code;
  const CdaEntry& smoking = observation(d, "72166-2");
  EXPECT_EQ(smoking.value.type, "CD");
  EXPECT_EQ(smoking.value.code.code, "77176002");
  EXPECT_EQ(smoking.value.value, "");
  const CdaEntry& local = observation(d, "LOCAL-1");
  EXPECT_EQ(local.code.system, "1.2.250.1.999.9.3");
  EXPECT_EQ(local.value.type, "PQ");
  EXPECT_EQ(local.value.value, "12");
  const CdaEntry& weight = observation(d, "29463-7");
  EXPECT_EQ(weight.code.system, kLoinc);
  EXPECT_EQ(weight.value.type, "PQ");
  EXPECT_TRUE(weight.value.null);
  EXPECT_EQ(weight.value.value, "");
  expectVital(d, "8480-6", "152", "mm[Hg]", "20240201", "", "10164-2");  // low@value
  expectVital(d, "8867-4", "88", "/min", "", "", "10164-2");
  EXPECT_EQ(observation(d, "8867-4").parent, 3);
  EXPECT_EQ(d.entries[3].code.code, "8480-6");
  EXPECT_EQ(d.entries[3].parent, -1);
}

TEST(Cda, Pps) {
  const CdaDocument d = parseOk(readData("cda/pps.xml"));
  EXPECT_TRUE(d.issues.empty());
  expectId(d.id, "1.2.250.1.999.1.1.1", "PPS-2024-0003");
  expectId(d.set_id, "", "");
  EXPECT_EQ(d.version, "");
  expectCode(d.code, "18776-5", kLoinc, "Plan personnalisé de santé");
  EXPECT_EQ(d.title, "Plan personnalisé de santé");
  EXPECT_EQ(d.effective_time, "20240301");
  EXPECT_EQ(d.template_ids.back(), "1.2.250.1.213.1.1.1.20|2022.01");
  const CdaPatient& p = d.patient.value();
  expectId(p.ids.at(0), kInsTest, "279035121518989");
  EXPECT_EQ(p.birth_family, "FICTIF-DUPONT");
  EXPECT_EQ(p.used_family, "");
  EXPECT_EQ(p.first_given, "Camille");
  EXPECT_EQ(p.birth_given, "Camille Rose");
  EXPECT_EQ(p.birth_place_code, "51215");
  EXPECT_TRUE(p.telecoms.empty());
  ASSERT_EQ(d.authors.size(), 1u);
  EXPECT_EQ(d.authors[0].family, "TESTEUR");
  EXPECT_EQ(d.authors[0].specialty.code, "G15_10/SM04");
  EXPECT_EQ(d.authors[0].specialty.display, "");
  expectId(d.custodian_ids.at(0), kStruct, "1990000017");
  EXPECT_EQ(d.custodian_name, "");
  EXPECT_TRUE(d.recipients.empty());
  EXPECT_EQ(d.service_event_code.code, "");
  ASSERT_EQ(d.sections.size(), 2u);
  EXPECT_EQ(d.sections[0].code.code, "11450-4");
  EXPECT_EQ(d.sections[0].text, "Cardiopathie ischémique\nDiabète de type 2");
  EXPECT_EQ(d.sections[1].title, "Plan d'actions");
  EXPECT_EQ(d.sections[1].text,
            "Action Intervenant Échéance\n"
            "Éducation thérapeutique IDE mars 2024\n"
            "Bilan lipidique Laboratoire juin 2024");
  EXPECT_TRUE(d.entries.empty());
}

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

TEST(Cda, NonXmlBodyPdf) {
  const CdaDocument d = parseOk(readData("cda/n1_pdf.xml"));
  EXPECT_TRUE(d.issues.empty());
  expectId(d.id, "1.2.250.1.999.1.1.1", "N1-2024-0004");
  expectCode(d.code, "11488-4", kLoinc, "Compte rendu de consultation");
  EXPECT_EQ(d.title, "Compte rendu de consultation (PDF)");
  EXPECT_EQ(d.template_ids.back(), "1.3.6.1.4.1.19376.1.2.20");
  EXPECT_EQ(d.patient.value().birth_family, "FICTIF-MARTIN");
  EXPECT_EQ(d.patient.value().first_given, "Paul");
  EXPECT_EQ(d.patient.value().given, (std::vector<std::string>{"Paul"}));
  EXPECT_FALSE(d.structured);
  EXPECT_TRUE(d.sections.empty());
  EXPECT_TRUE(d.entries.empty());
  EXPECT_EQ(d.non_xml_media_type, "application/pdf");
  ASSERT_EQ(d.non_xml_data.size(), 460u);
  EXPECT_EQ(d.non_xml_data.substr(0, 9), "%PDF-1.4\n");
  EXPECT_EQ(d.non_xml_data.substr(d.non_xml_data.size() - 6), "%%EOF\n");
  EXPECT_EQ(sha1Hex(d.non_xml_data), "bcdd9cf33a3004ab65a800f88263fffb83841bb9");
}

TEST(Cda, Base64VariantsAndErrors) {
  const std::string n1 = readData("cda/n1_pdf.xml");
  const std::size_t open = n1.find("representation=\"B64\">") + 21;
  const std::size_t close = n1.find("</text>", open);
  auto withBody = [&](std::string_view attrs, std::string_view body) {
    std::string x = n1;
    x.replace(open, close - open, body);
    return replaced(x, "mediaType=\"application/pdf\" representation=\"B64\"", attrs);
  };
  auto b64 = [&](std::string_view body) {
    return withBody("mediaType=\"application/pdf\" representation=\"B64\"", body);
  };
  CdaDocument d = parseOk(b64(" SGVs\r\n bG8g\tV29y bGQ= \n"));
  EXPECT_EQ(d.non_xml_data, "Hello World");
  EXPECT_TRUE(d.issues.empty());
  d = parseOk(b64("SGk="));
  EXPECT_EQ(d.non_xml_data, "Hi");
  d = parseOk(b64("SA=="));
  EXPECT_EQ(d.non_xml_data, "H");
  d = parseOk(b64(""));
  EXPECT_EQ(d.non_xml_data, "");
  EXPECT_TRUE(d.issues.empty());
  for (std::string_view bad :
       {std::string_view("SGVsbG8"), std::string_view("SG=sbG8="), std::string_view("SGVs*G8="),
        std::string_view("===="), std::string_view("S===")}) {
    d = parseOk(b64(bad));
    EXPECT_EQ(d.non_xml_data, "") << bad;
    ASSERT_EQ(d.issues.size(), 1u) << bad;
    EXPECT_EQ(d.issues.items()[0].code, Errc::CdaValueInvalid);
    EXPECT_EQ(d.issues.items()[0].severity, Severity::Warning);
  }
  // Plain text body: kept as written; default media type text/plain.
  d = parseOk(withBody("", "Compte rendu &lt;texte&gt;"));
  EXPECT_EQ(d.non_xml_media_type, "text/plain");
  EXPECT_EQ(d.non_xml_data, "Compte rendu <texte>");
}

TEST(Cda, VitalValueNotANumberIsAWarning) {
  const std::string xml = replaced(readData("cda/ldl_ses.xml"), "value=\"72.5\" unit=\"kg\"",
                                   "value=\"72,5\" unit=\"kg\"");
  const CdaDocument d = parseOk(xml);
  ASSERT_EQ(d.issues.size(), 1u);
  EXPECT_EQ(d.issues.items()[0].code, Errc::CdaValueInvalid);
  EXPECT_EQ(d.issues.items()[0].severity, Severity::Warning);
  EXPECT_NE(d.issues.items()[0].message.find("29463-7"), std::string::npos);
  EXPECT_NE(d.issues.items()[0].location.find("line "), std::string::npos);
  // Kept as written; the other vital signs are untouched.
  EXPECT_EQ(observation(d, "29463-7").value.type, "PQ");
  EXPECT_EQ(observation(d, "29463-7").value.value, "72,5");
  expectVital(d, "8302-2", "168", "cm", "", "20240112090000+0100", "8716-3");

  for (std::string_view ok : {"1e3", "-0.5", ".5", "5.", "+7", "1.5E-2"}) {
    const std::string v = replaced(readData("cda/ldl_ses.xml"), "value=\"72.5\"",
                                   "value=\"" + std::string(ok) + "\"");
    const CdaDocument g = parseOk(v);
    EXPECT_TRUE(g.issues.empty()) << ok;
    EXPECT_EQ(observation(g, "29463-7").value.value, ok);
  }
  for (std::string_view bad : {"", "abc", "1e", "--1", "1.2.3", "NaN", "0x10"}) {
    const std::string v = replaced(readData("cda/ldl_ses.xml"), "value=\"72.5\"",
                                   "value=\"" + std::string(bad) + "\"");
    const CdaDocument b = parseOk(v);
    EXPECT_EQ(observation(b, "29463-7").value.value, bad);
    EXPECT_TRUE(b.issues.contains(Errc::CdaValueInvalid)) << bad;
  }
  // A prefixed xsi:type is understood.
  const CdaDocument prefixed =
      parseOk(replaced(readData("cda/ldl_ses.xml"), "xsi:type=\"PQ\" value=\"72.5\"",
                       "xsi:type=\"hl7:PQ\" value=\"72.5\""));
  EXPECT_TRUE(prefixed.issues.empty());
  expectVital(prefixed, "29463-7", "72.5", "kg", "", "20240112090000+0100", "8716-3");
}

TEST(Cda, RootBodyAndPatientErrors) {
  const std::string ldl = readData("cda/ldl_ses.xml");
  auto codeOf = [](const std::string& xml) {
    auto r = parseCda(xml);
    return r.has_value() ? Errc::Internal : r.error().code;
  };
  // ClinicalDocument outside the HL7 v3 namespace is not a CDA.
  EXPECT_EQ(codeOf(replaced(ldl, "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"",
                            "<ClinicalDocument xmlns=\"urn:hl7-org:v2\"")),
            Errc::CdaInvalid);
  EXPECT_EQ(codeOf("<ClinicalDocument/>"), Errc::CdaInvalid);
  // No body.
  std::string no_body = ldl;
  no_body.erase(
      no_body.find("<component>\n    <structuredBody>"),
      no_body.find("</ClinicalDocument>") - no_body.find("<component>\n    <structuredBody>"));
  EXPECT_EQ(codeOf(no_body), Errc::CdaInvalid);
  // Patient id: none usable.
  std::string ids =
      replaced(ldl, "<id root=\"1.2.250.1.213.1.4.10\" extension=\"279035121518989\"/>", "");
  ids = replaced(ids, "<id root=\"1.2.250.1.999.2.1\" extension=\"IPP-000042\"/>",
                 "<id extension=\"IPP-000042\"/>");
  EXPECT_EQ(codeOf(ids), Errc::CdaPatientIdMissing);
  // A second recordTarget is ignored with a warning.
  const std::size_t rt = ldl.find("<recordTarget>");
  const std::size_t rt_end = ldl.find("</recordTarget>") + 15;
  std::string two = ldl;
  two.insert(rt_end, ldl.substr(rt, rt_end - rt));
  auto r = parseCda(two);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->patient->ids.size(), 2u);
  EXPECT_EQ(r->patient->given.size(), 3u);
  ASSERT_EQ(r->issues.size(), 1u);
  EXPECT_EQ(r->issues.items()[0].code, Errc::CdaInvalid);
  EXPECT_EQ(r->issues.items()[0].severity, Severity::Warning);
}

// A self-presenting CDA (CI-SIS "autoprésentable", as ANS examples such as
// CANCER-PPS_2022.01_Autopresentable.xml are): an XSL stylesheet that carries the
// ClinicalDocument in its data:Contenu and displays it. The document is that ClinicalDocument;
// a ClinicalDocument anywhere else in the stylesheet is not it.
TEST(Cda, SelfPresentingDocumentIsReadFromItsStylesheet) {
  const std::string ldl = readData("cda/ldl_ses.xml");
  const std::string cda = ldl.substr(ldl.find("<ClinicalDocument"));
  const std::string head = R"(<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="#"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:data="urn:asip-sante:ci-sis" xmlns:c="urn:hl7-org:v3">
  <xsl:template match="/">
    <c:ClinicalDocument><c:id root="1.2.3.4" extension="NOT-THIS-ONE"/></c:ClinicalDocument>
  </xsl:template>
)";
  const std::string tail = R"(
  <xsl:template match="c:section"><div><xsl:apply-templates/></div></xsl:template>
</xsl:stylesheet>
)";
  const CdaDocument plain = parseOk(ldl);
  const CdaDocument wrapped =
      parseOk(head + "  <data:Contenu>\n" + cda + "  </data:Contenu>\n" + tail);
  expectId(wrapped.id, plain.id.root, plain.id.extension);
  EXPECT_EQ(wrapped.code.code, "11490-0");
  ASSERT_TRUE(wrapped.patient.has_value());
  EXPECT_EQ(wrapped.patient->birth_family, plain.patient->birth_family);
  EXPECT_EQ(wrapped.sections.size(), plain.sections.size());
  EXPECT_EQ(wrapped.entries.size(), plain.entries.size());
  EXPECT_TRUE(wrapped.issues.empty());
  // A stylesheet without data:Contenu, or with the document elsewhere, carries no CDA.
  for (const std::string& xml :
       {head + tail, head + "  <data:Autre>\n" + cda + "  </data:Autre>\n" + tail,
        head + "  <xsl:variable name=\"doc\">\n" + cda + "  </xsl:variable>\n" + tail}) {
    auto r = parseCda(xml);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::CdaInvalid);
  }
}

TEST(Cda, OddPatientValuesAreWarnings) {
  std::string xml =
      replaced(readData("cda/tlm_da.xml"), "<sdtc:multipleBirthOrderNumber value=\"2\"/>",
               "<sdtc:multipleBirthOrderNumber value=\"deux\"/>");
  xml = replaced(xml, "administrativeGenderCode code=\"M\"", "administrativeGenderCode code=\"X\"");
  const CdaDocument d = parseOk(xml);
  EXPECT_EQ(d.patient->multiple_birth_order, 0);
  EXPECT_EQ(d.patient->sex, "X");
  EXPECT_EQ(d.issues.size(), 2u);
  EXPECT_FALSE(d.issues.hasErrors());
}

TEST(Cda, NarrativeIsBoundedOnACharacterBoundary) {
  std::string big;
  while (big.size() < 3 * kMaxSectionText)
    big += "é€ ";
  const std::string xml =
      replaced(readData("cda/pps.xml"), "<text><list><item>Cardiopathie ischémique</item>",
               "<text><paragraph>" + big + "</paragraph><list><item>x</item>");
  const CdaDocument d = parseOk(xml);
  const std::string& t = d.sections[0].text;
  EXPECT_LE(t.size(), kMaxSectionText);
  EXPECT_GT(t.size(), kMaxSectionText - 8);
  // Valid UTF-8 at the end: the last character is complete.
  const std::size_t tail = t.rfind(' ');
  ASSERT_NE(tail, std::string::npos);
  for (std::string_view rest = std::string_view(t).substr(tail + 1); !rest.empty();) {
    if (rest.starts_with("é")) {
      rest.remove_prefix(2);
    } else {
      ASSERT_TRUE(rest.starts_with("€")) << "broken UTF-8 at the cut";
      rest.remove_prefix(3);
    }
  }
  EXPECT_EQ(d.sections[1].title, "Plan d'actions");  // the next section is unaffected
}

// --- robustness and speed ----------------------------------------------------------------------

std::string mutate(const std::string& base, std::mt19937& rng) {
  std::string m = base;
  const int edits = 1 + static_cast<int>(rng() % 8);
  for (int k = 0; k < edits && !m.empty(); ++k) {
    const std::size_t at = rng() % m.size();
    switch (rng() % 6) {
      case 0:
        m[at] = static_cast<char>(rng());
        break;
      case 1:
        m.erase(at, 1 + rng() % 64);
        break;
      case 2:
        m.insert(at, m.substr(rng() % m.size(), 1 + rng() % 512));
        break;
      case 3:
        m.insert(at, std::string(1, "<>&\"'/=![]?-:#;"[rng() % 15]));
        break;
      case 4:
        m[at] = static_cast<char>(0x80 | (rng() & 0x7F));
        break;
      default:
        m.resize(at);
        break;
    }
  }
  return m;
}

TEST(Cda, RandomMutationsNeverCrash) {
  std::mt19937 rng(75496);
  int parsed = 0;
  for (const char* fixture : {"cda/ldl_ses.xml", "cda/tlm_da.xml", "cda/n1_pdf.xml"}) {
    const std::string base = readData(fixture);
    for (int i = 0; i < 1500; ++i) {
      auto r = parseCda(mutate(base, rng));
      if (r.has_value()) {
        ++parsed;
        EXPECT_FALSE(r->patient->ids.empty());
        for (const CdaSection& s : r->sections)
          EXPECT_LE(s.text.size(), kMaxSectionText);
      }
    }
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace liaison::parse
