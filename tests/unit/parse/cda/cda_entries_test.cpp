// CdaDocument::entries: the clinical statements of CI-SIS sections (FR-Signes-vitaux,
// FR-Probleme, FR-Allergie-ou-hypersensibilite, FR-Traitement, FR-Resultat-examens-de-biologie,
// PPS planned acts), narrative references, nesting, values, limits.

#include <gtest/gtest.h>

#include <string>

#include "cda_build.hpp"
#include "cda_test_util.hpp"
#include "parse/cda/cda_document.hpp"

namespace liaison::parse {
namespace {

using test::buildCda;
using test::CdaParts;
using test::cdaWithBody;
using test::lineOf;
using test::parseOk;
using test::readData;
using test::section;

constexpr std::string_view kLoinc = "2.16.840.1.113883.6.1";
constexpr std::string_view kSnomed = "2.16.840.1.113883.6.96";

void expectCode(const CdaCode& c, std::string_view code, std::string_view system,
                std::string_view display) {
  EXPECT_EQ(c.code, code);
  EXPECT_EQ(c.system, system);
  EXPECT_EQ(c.display, display);
}

CdaDocument parseBody(const std::string& body) {
  CdaParts p;
  p.body = body;
  return parseOk(buildCda(p));
}

// --- FR-Signes-vitaux ---------------------------------------------------------------------------

constexpr std::string_view kVitals = R"(<templateId root="1.2.250.1.213.1.1.2.74"/>
<title>Signes vitaux</title>
<text><table><tbody>
  <tr ID="sv-poids"><td>Poids</td><td>72.5 kg</td></tr>
  <tr><td>Pression artérielle</td><td><content ID="sv-pas">135</content>/<content ID="sv-pad">85</content> mm[Hg]</td></tr>
</tbody></table></text>
<entry>
  <organizer classCode="CLUSTER" moodCode="EVN">
    <templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.13.1"/>
    <templateId root="1.2.250.1.213.1.1.3.48" extension="2024.01"/>
    <id root="1.2.250.1.999.3.1"/>
    <code code="46680005" codeSystem="2.16.840.1.113883.6.96" displayName="Signes vitaux"/>
    <statusCode code="completed"/>
    <effectiveTime value="20240112090000+0100"/>
    <component>
      <observation classCode="OBS" moodCode="EVN">
        <templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.13.2"/>
        <id root="1.2.250.1.999.3.2" extension="P"/>
        <code code="29463-7" codeSystem="2.16.840.1.113883.6.1" displayName="Poids corporel"/>
        <text><reference value="#sv-poids"/></text>
        <statusCode code="completed"/>
        <value xsi:type="PQ" value="72.5" unit="kg"/>
      </observation>
    </component>
    <component>
      <observation classCode="OBS" moodCode="EVN">
        <code code="8480-6" codeSystem="2.16.840.1.113883.6.1" displayName="Pression artérielle systolique"/>
        <text><reference value="#sv-pas"/></text>
        <statusCode code="completed"/>
        <effectiveTime value="20240112093000+0100"/>
        <value xsi:type="PQ" value=" 135 " unit="mm[Hg]"/>
        <interpretationCode code="H" codeSystem="2.16.840.1.113883.5.83"/>
      </observation>
    </component>
    <component>
      <observation classCode="OBS" moodCode="EVN">
        <code code="8462-4" codeSystem="2.16.840.1.113883.6.1" displayName="Pression artérielle diastolique"/>
        <text><reference value="#sv-pad"/></text>
        <value xsi:type="PQ" value="85" unit="mm[Hg]"/>
      </observation>
    </component>
  </organizer>
</entry>)";

TEST(CdaEntries, VitalSignsOrganizer) {
  const std::string xml = cdaWithBody(section("8716-3", kVitals));
  const CdaDocument d = parseOk(xml);
  EXPECT_TRUE(d.issues.empty()) << d.issues.items().front().message;
  ASSERT_EQ(d.entries.size(), 4u);

  const CdaEntry& org = d.entries[0];
  EXPECT_EQ(org.section, 0u);
  EXPECT_EQ(org.parent, -1);
  EXPECT_EQ(org.kind, "organizer");
  EXPECT_EQ(org.mood, "EVN");
  EXPECT_EQ(org.class_code, "CLUSTER");
  EXPECT_FALSE(org.negated);
  EXPECT_EQ(org.template_ids, (std::vector<std::string>{"1.3.6.1.4.1.19376.1.5.3.1.4.13.1",
                                                        "1.2.250.1.213.1.1.3.48|2024.01"}));
  EXPECT_EQ(org.id.root, "1.2.250.1.999.3.1");
  EXPECT_EQ(org.id.extension, "");
  expectCode(org.code, "46680005", kSnomed, "Signes vitaux");
  EXPECT_EQ(org.status, "completed");
  EXPECT_EQ(org.time, "20240112090000+0100");
  EXPECT_EQ(org.value.type, "");
  EXPECT_EQ(org.text, "");
  EXPECT_EQ(org.line, lineOf(xml, "<organizer"));

  const CdaEntry& weight = d.entries[1];
  EXPECT_EQ(weight.parent, 0);
  EXPECT_EQ(weight.section, 0u);
  EXPECT_EQ(weight.kind, "observation");
  EXPECT_EQ(weight.id.extension, "P");
  expectCode(weight.code, "29463-7", kLoinc, "Poids corporel");
  EXPECT_EQ(weight.text, "Poids 72.5 kg");  // the row's cells, space-separated
  EXPECT_EQ(weight.time, "");               // its own: the organizer's is not copied
  EXPECT_EQ(weight.value.type, "PQ");
  EXPECT_EQ(weight.value.value, "72.5");
  EXPECT_EQ(weight.value.unit, "kg");
  EXPECT_FALSE(weight.value.null);
  EXPECT_EQ(weight.line, lineOf(xml, "<observation"));

  const CdaEntry& sys = d.entries[2];
  EXPECT_EQ(sys.parent, 0);
  EXPECT_EQ(sys.text, "135");
  EXPECT_EQ(sys.time, "20240112093000+0100");
  EXPECT_EQ(sys.value.value, "135");  // trimmed
  expectCode(sys.interpretation, "H", "2.16.840.1.113883.5.83", "");
  EXPECT_EQ(d.entries[3].text, "85");
  EXPECT_EQ(d.entries[3].status, "");

  // What the intake's vital-sign mapping reads: LOINC code, PQ value and unit, the section's
  // code, and the observation's time, else (through parent) the organizer's.
  const CdaEntry& dia = d.entries[3];
  expectCode(dia.code, "8462-4", kLoinc, "Pression artérielle diastolique");
  EXPECT_EQ(dia.value.type, "PQ");
  EXPECT_EQ(dia.value.value, "85");
  EXPECT_EQ(dia.value.unit, "mm[Hg]");
  EXPECT_EQ(dia.time, "");
  EXPECT_EQ(dia.parent, 0);
  EXPECT_EQ(sys.value.type, "PQ");
  EXPECT_EQ(sys.value.unit, "mm[Hg]");
  for (const CdaEntry* e : {&weight, &sys, &dia}) {
    ASSERT_LT(e->section, d.sections.size());
    EXPECT_EQ(d.sections[e->section].code.code, "8716-3") << e->code.code;
    ASSERT_GE(e->parent, 0);
    const CdaEntry& up = d.entries[static_cast<std::size_t>(e->parent)];
    EXPECT_EQ(up.kind, "organizer");
    EXPECT_EQ(up.time, "20240112090000+0100");
  }
}

// --- FR-Problemes-actifs / FR-Allergies-et-hypersensibilites ------------------------------------

TEST(CdaEntries, ProblemConcernAndAllergies) {
  const std::string problems = section("11450-4", R"(<title>Problèmes actifs</title>
<text><list><item ID="pb-1">Diabète de type 2</item></list></text>
<entry>
  <act classCode="ACT" moodCode="EVN">
    <templateId root="1.2.250.1.213.1.1.3.77"/>
    <id root="1.2.250.1.999.4.1"/>
    <code nullFlavor="NA"/>
    <statusCode code="active"/>
    <effectiveTime><low value="20190301"/></effectiveTime>
    <entryRelationship typeCode="SUBJ" inversionInd="false">
      <observation classCode="OBS" moodCode="EVN">
        <templateId root="1.2.250.1.213.1.1.3.37"/>
        <id nullFlavor="UNK"/>
        <id root="1.2.250.1.999.4.2"/>
        <code code="55607006" codeSystem="2.16.840.1.113883.6.96" displayName="Problème"/>
        <text><reference value="#pb-1"/></text>
        <statusCode code="completed"/>
        <effectiveTime><low value="20190301"/><high nullFlavor="UNK"/></effectiveTime>
        <value xsi:type="CD" code="E11" codeSystem="2.16.840.1.113883.6.3" displayName="Diabète sucré de type 2">
          <originalText><reference value="#pb-1"/></originalText>
        </value>
      </observation>
    </entryRelationship>
  </act>
</entry>)");
  const std::string allergies = section("48765-2", R"(<title>Allergies</title>
<text><list>
  <item ID="all-1">Allergie à la pénicilline : urticaire</item>
  <item ID="all-2">Fruits à coque</item>
</list></text>
<entry>
  <act classCode="ACT" moodCode="EVN">
    <templateId root="1.2.250.1.213.1.1.3.40"/>
    <code nullFlavor="NA"/>
    <statusCode code="active"/>
    <entryRelationship typeCode="SUBJ" inversionInd="false">
      <observation classCode="OBS" moodCode="EVN">
        <templateId root="1.2.250.1.213.1.1.3.41"/>
        <code code="DALG" codeSystem="2.16.840.1.113883.5.4" displayName="Allergie médicamenteuse"/>
        <text><reference value="#all-1"/></text>
        <statusCode code="completed"/>
        <effectiveTime><low value="2020"/></effectiveTime>
        <value xsi:type="CD" code="91936005" codeSystem="2.16.840.1.113883.6.96" displayName="Allergie à la pénicilline"/>
        <participant typeCode="CSM">
          <participantRole classCode="MANU">
            <playingEntity classCode="MMAT">
              <code code="764146007" codeSystem="2.16.840.1.113883.6.96" displayName="Pénicilline"/>
              <name>Pénicilline  G</name>
            </playingEntity>
          </participantRole>
        </participant>
        <entryRelationship typeCode="MFST" inversionInd="true">
          <observation classCode="OBS" moodCode="EVN">
            <code code="75321-0" codeSystem="2.16.840.1.113883.6.1"/>
            <value xsi:type="CD" code="126485001" codeSystem="2.16.840.1.113883.6.96" displayName="Urticaire"/>
            <targetSiteCode code="39937001" codeSystem="2.16.840.1.113883.6.96" displayName="Peau"/>
          </observation>
        </entryRelationship>
      </observation>
    </entryRelationship>
    <entryRelationship typeCode="SUBJ">
      <observation classCode="OBS" moodCode="EVN" negationInd="true">
        <code code="FALG" codeSystem="2.16.840.1.113883.5.4"/>
        <value xsi:type="CD" nullFlavor="OTH"><originalText><reference value="all-2"/></originalText></value>
        <participant typeCode="CSM">
          <participantRole>
            <playingEntity>
              <code nullFlavor="OTH"><originalText><reference value="#all-2"/></originalText></code>
            </playingEntity>
          </participantRole>
        </participant>
      </observation>
    </entryRelationship>
  </act>
</entry>)");
  const CdaDocument d = parseBody(problems + allergies);
  EXPECT_TRUE(d.issues.empty()) << d.issues.items().front().message;
  ASSERT_EQ(d.entries.size(), 6u);

  const CdaEntry& concern = d.entries[0];
  EXPECT_EQ(concern.kind, "act");
  EXPECT_EQ(concern.parent, -1);
  EXPECT_EQ(concern.section, 0u);
  expectCode(concern.code, "", "", "");
  EXPECT_EQ(concern.status, "active");
  EXPECT_EQ(concern.time, "20190301");
  EXPECT_EQ(concern.time_low, "20190301");
  const CdaEntry& problem = d.entries[1];
  EXPECT_EQ(problem.parent, 0);
  EXPECT_EQ(problem.id.root, "1.2.250.1.999.4.2");  // the first id with a root
  EXPECT_EQ(problem.text, "Diabète de type 2");
  EXPECT_EQ(problem.time_low, "20190301");
  EXPECT_EQ(problem.time_high, "");
  EXPECT_EQ(problem.value.type, "CD");
  expectCode(problem.value.code, "E11", "2.16.840.1.113883.6.3", "Diabète sucré de type 2");
  EXPECT_EQ(problem.value.text, "Diabète de type 2");  // originalText's reference

  const CdaEntry& allergy = d.entries[3];
  EXPECT_EQ(d.entries[2].section, 1u);
  EXPECT_EQ(allergy.section, 1u);
  EXPECT_EQ(allergy.parent, 2);
  EXPECT_EQ(allergy.template_ids, (std::vector<std::string>{"1.2.250.1.213.1.1.3.41"}));
  EXPECT_EQ(allergy.text, "Allergie à la pénicilline : urticaire");
  EXPECT_EQ(allergy.time, "2020");
  expectCode(allergy.participant, "764146007", kSnomed, "Pénicilline");
  EXPECT_EQ(allergy.participant_name, "Pénicilline G");
  EXPECT_FALSE(allergy.negated);
  const CdaEntry& reaction = d.entries[4];
  EXPECT_EQ(reaction.parent, 3);
  expectCode(reaction.value.code, "126485001", kSnomed, "Urticaire");
  expectCode(reaction.target_site, "39937001", kSnomed, "Peau");
  const CdaEntry& refuted = d.entries[5];
  EXPECT_EQ(refuted.parent, 2);
  EXPECT_TRUE(refuted.negated);
  EXPECT_TRUE(refuted.value.null);
  EXPECT_EQ(refuted.value.code.code, "");
  EXPECT_EQ(refuted.value.text, "Fruits à coque");  // "all-2" without '#' is understood
  EXPECT_EQ(refuted.participant.code, "");
  EXPECT_EQ(refuted.participant_name, "Fruits à coque");  // from the code's originalText
  EXPECT_EQ(refuted.text, "");
  // The one LOINC-coded observation has a coded value, not a quantity.
  expectCode(reaction.code, "75321-0", kLoinc, "");
  EXPECT_EQ(reaction.value.type, "CD");
}

// --- FR-Traitements ----------------------------------------------------------------------------

TEST(CdaEntries, Treatments) {
  const CdaDocument d = parseBody(section("10160-0", R"(<title>Traitements</title>
<text><table><tbody>
  <tr><td><content ID="med-1">AMLODIPINE 5 mg</content></td><td>1 gélule le matin</td></tr>
</tbody></table></text>
<entry>
  <substanceAdministration classCode="SBADM" moodCode="EVN">
    <templateId root="1.2.250.1.213.1.1.3.42"/>
    <id root="1.2.250.1.999.5.1"/>
    <code code="DRUG" codeSystem="2.16.840.1.113883.5.4" displayName="Médicament"/>
    <text><reference value="#med-1"></reference></text>
    <statusCode code="active"/>
    <effectiveTime xsi:type="IVL_TS"><low value="20240101"/><high value="20240630"/></effectiveTime>
    <effectiveTime xsi:type="PIVL_TS" operator="A"><period value="1" unit="d"/></effectiveTime>
    <routeCode code="20053000" codeSystem="0.4.0.127.0.16.1.1.2.1" displayName="Voie orale"/>
    <doseQuantity><low value="1" unit="{gélule}"/><high value="1" unit="{gélule}"/></doseQuantity>
    <consumable>
      <manufacturedProduct>
        <templateId root="1.2.250.1.213.1.1.3.43"/>
        <manufacturedMaterial>
          <code code="60234100" codeSystem="1.2.250.1.213.2.3.1" displayName="AMLODIPINE 5 mg, gélule">
            <originalText><reference value="#med-1"/></originalText>
            <translation code="C08CA01" codeSystem="2.16.840.1.113883.6.73" displayName="Amlodipine"/>
          </code>
          <name>AMLODIPINE 5 mg</name>
        </manufacturedMaterial>
      </manufacturedProduct>
    </consumable>
  </substanceAdministration>
</entry>
<entry>
  <substanceAdministration classCode="SBADM" moodCode="INT">
    <doseQuantity value="2.5" unit="mg"/>
    <consumable><manufacturedProduct><manufacturedMaterial>
      <code nullFlavor="NA"><originalText>Préparation magistrale</originalText></code>
    </manufacturedMaterial></manufacturedProduct></consumable>
  </substanceAdministration>
</entry>)"));
  EXPECT_TRUE(d.issues.empty()) << d.issues.items().front().message;
  ASSERT_EQ(d.entries.size(), 2u);  // manufacturedProduct is read into the statement
  const CdaEntry& m = d.entries[0];
  EXPECT_EQ(m.kind, "substanceAdministration");
  EXPECT_EQ(m.class_code, "SBADM");
  EXPECT_EQ(m.text, "AMLODIPINE 5 mg");
  EXPECT_EQ(m.time, "20240101");  // the first effectiveTime
  EXPECT_EQ(m.time_low, "20240101");
  EXPECT_EQ(m.time_high, "20240630");
  expectCode(m.route, "20053000", "0.4.0.127.0.16.1.1.2.1", "Voie orale");
  EXPECT_EQ(m.dose.type, "IVL_PQ");
  EXPECT_EQ(m.dose.low, "1");
  EXPECT_EQ(m.dose.high, "1");
  EXPECT_EQ(m.dose.unit, "{gélule}");
  EXPECT_EQ(m.dose.value, "");
  expectCode(m.material, "60234100", "1.2.250.1.213.2.3.1", "AMLODIPINE 5 mg, gélule");
  EXPECT_EQ(m.material_name, "AMLODIPINE 5 mg");
  EXPECT_EQ(m.value.type, "");

  const CdaEntry& planned = d.entries[1];
  EXPECT_EQ(planned.mood, "INT");
  EXPECT_EQ(planned.dose.type, "PQ");
  EXPECT_EQ(planned.dose.value, "2.5");
  EXPECT_EQ(planned.dose.unit, "mg");
  EXPECT_EQ(planned.material.code, "");
  EXPECT_EQ(planned.material_name, "");
}

// --- FR-Resultats-examens-de-biologie-medicale -------------------------------------------------

TEST(CdaEntries, LaboratoryResultsAndValueTypes) {
  const std::string xml = cdaWithBody(section("18719-5", R"(<title>Chimie</title>
<text>Voir le tableau.</text>
<entry>
  <act classCode="ACT" moodCode="EVN">
    <templateId root="1.3.6.1.4.1.19376.1.3.1"/>
    <code code="18719-5" codeSystem="2.16.840.1.113883.6.1"/>
    <statusCode code="completed"/>
    <entryRelationship typeCode="COMP">
      <organizer classCode="BATTERY" moodCode="EVN">
        <code code="24326-1" codeSystem="2.16.840.1.113883.6.1"/>
        <statusCode code="completed"/>
        <effectiveTime value="20240110083000+0100"/>
        <component>
          <observation classCode="OBS" moodCode="EVN">
            <code code="2823-3" codeSystem="2.16.840.1.113883.6.1" displayName="Potassium"/>
            <statusCode code="completed"/>
            <value xsi:type="PQ" value="5.9" unit="mmol/L"/>
            <interpretationCode code="H" codeSystem="2.16.840.1.113883.5.83"/>
            <referenceRange>
              <observationRange>
                <value xsi:type="IVL_PQ"><low value="3.5" unit="mmol/L"/><high value="5.1" unit="mmol/L"/></value>
              </observationRange>
            </referenceRange>
            <referenceRange><observationRange><value xsi:type="IVL_PQ" unit="mmol/l"><low value="0"/></value></observationRange></referenceRange>
          </observation>
        </component>
        <component><observation classCode="OBS" moodCode="EVN"><code code="2951-2" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="PQ" nullFlavor="NA"/></observation></component>
        <component><observation classCode="OBS" moodCode="EVN"><code code="X-ST"/><value xsi:type="ST">  négatif
            (contrôlé)  </value><value xsi:type="ST">second</value></observation></component>
        <component><observation classCode="OBS" moodCode="EVN"><code code="X-IVL"/><value xsi:type="IVL_PQ"><low value="10" unit="%"/><high value="20" unit="%"/></value></observation></component>
        <component><observation classCode="OBS" moodCode="EVN"><code code="X-INT"/><value xsi:type="INT" value="3"/></observation></component>
        <component><observation classCode="OBS" moodCode="EVN"><code code="X-BL"/><value xsi:type="BL" value="true"/></observation></component>
        <component><observation classCode="OBS" moodCode="EVN"><code code="X-TS"/><value xsi:type="TS" value="20240101"/></observation></component>
        <component><observation classCode="OBS" moodCode="EVN"><code code="X-CO"/><value xsi:type="CO" code="2" codeSystem="1.2.3" displayName="Modéré"><originalText>modéré</originalText></value></observation></component>
        <component><observation classCode="OBS" moodCode="EVN"><code code="X-ED"/><value xsi:type="ED"><reference value="#lab-note"/></value></observation></component>
        <component><observation classCode="OBS" moodCode="EVN"><code code="X-MO"/><value xsi:type="MO" value="12.50" currency="EUR"/></observation></component>
      </organizer>
    </entryRelationship>
  </act>
</entry>
<component><section><code code="X"/><text><paragraph ID="lab-note">Prélèvement hémolysé</paragraph></text></section></component>)"));
  const CdaDocument d = parseOk(xml);
  EXPECT_TRUE(d.issues.empty()) << d.issues.items().front().message;
  ASSERT_EQ(d.entries.size(), 12u);
  EXPECT_EQ(d.entries[0].kind, "act");
  EXPECT_EQ(d.entries[1].kind, "organizer");
  EXPECT_EQ(d.entries[1].class_code, "BATTERY");
  EXPECT_EQ(d.entries[1].parent, 0);
  for (std::size_t i = 2; i < 12; ++i) {
    EXPECT_EQ(d.entries[i].parent, 1) << i;
    EXPECT_EQ(d.entries[i].section, 0u) << i;  // not the subsection that follows
  }

  const CdaEntry& k = d.entries[2];
  EXPECT_EQ(k.value.type, "PQ");
  EXPECT_EQ(k.value.value, "5.9");
  EXPECT_EQ(k.value.unit, "mmol/L");
  EXPECT_EQ(k.interpretation.code, "H");
  EXPECT_EQ(k.reference_range_low, "3.5");  // the first referenceRange
  EXPECT_EQ(k.reference_range_high, "5.1");
  EXPECT_EQ(k.reference_range_unit, "mmol/L");

  const CdaEntry& missing = d.entries[3];
  EXPECT_TRUE(missing.value.null);
  EXPECT_EQ(missing.value.type, "PQ");
  EXPECT_EQ(missing.value.value, "");

  EXPECT_EQ(d.entries[4].value.type, "ST");
  EXPECT_EQ(d.entries[4].value.value, "négatif (contrôlé)");  // the first value only
  const CdaValue& ivl = d.entries[5].value;
  EXPECT_EQ(ivl.type, "IVL_PQ");
  EXPECT_EQ(ivl.low, "10");
  EXPECT_EQ(ivl.high, "20");
  EXPECT_EQ(ivl.unit, "%");
  EXPECT_EQ(ivl.value, "");
  EXPECT_EQ(d.entries[6].value.type, "INT");
  EXPECT_EQ(d.entries[6].value.value, "3");
  EXPECT_EQ(d.entries[7].value.value, "true");
  EXPECT_EQ(d.entries[8].value.value, "20240101");
  const CdaValue& co = d.entries[9].value;
  expectCode(co.code, "2", "1.2.3", "Modéré");
  EXPECT_EQ(co.text, "modéré");
  EXPECT_EQ(d.entries[10].value.type, "ED");
  EXPECT_EQ(d.entries[10].value.value, "Prélèvement hémolysé");  // forward, other section
  EXPECT_EQ(d.entries[11].value.value, "12.50");
  EXPECT_EQ(d.entries[11].value.unit, "EUR");

  // The potassium (LOINC, PQ) has no time of its own: the intake takes the organizer's, its
  // parent. The other LOINC observation (2951-2) measured nothing.
  expectCode(k.code, "2823-3", kLoinc, "Potassium");
  EXPECT_EQ(k.time, "");
  EXPECT_EQ(d.entries[1].time, "20240110083000+0100");
  EXPECT_EQ(d.sections[k.section].code.code, "18719-5");
  EXPECT_EQ(missing.code.system, kLoinc);
}

TEST(CdaEntries, UnreadableNumbersAreWarnings) {
  const CdaDocument d = parseBody(section("18719-5", R"(<text>x</text>
<entry><observation classCode="OBS" moodCode="EVN"><code code="2823-3" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="REAL" value="1,5"/></observation></entry>
<entry><observation classCode="OBS" moodCode="EVN"><code code="X-INT"/><value xsi:type="INT" value="2.5"/></observation></entry>
<entry><observation classCode="OBS" moodCode="EVN"><code code="X-BL"/><value xsi:type="BL" value="oui"/></observation></entry>
<entry><substanceAdministration classCode="SBADM" moodCode="EVN"><doseQuantity value="un" unit="mg"/></substanceAdministration></entry>
<entry><observation classCode="OBS" moodCode="EVN"><code code="X-RR"/><value xsi:type="PQ" value="1" unit="g"/>
  <referenceRange><observationRange><value xsi:type="IVL_PQ"><low value="&lt;1"/></value></observationRange></referenceRange></observation></entry>
<entry><observation classCode="OBS" moodCode="EVN"><code code="29463-7" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="PQ" value="72,5" unit="kg"/></observation></entry>)"));
  ASSERT_EQ(d.entries.size(), 6u);
  ASSERT_EQ(d.issues.size(), 6u);
  for (const Issue& i : d.issues.items()) {
    EXPECT_EQ(i.code, Errc::CdaValueInvalid);
    EXPECT_EQ(i.severity, Severity::Warning);
    EXPECT_TRUE(i.location.starts_with("line ")) << i.location;
  }
  EXPECT_NE(d.issues.items()[0].message.find("2823-3"), std::string::npos);
  EXPECT_NE(d.issues.items()[3].message.find("dose"), std::string::npos);
  EXPECT_NE(d.issues.items()[4].message.find("intervalle"), std::string::npos);
  // Kept as written, each with its warning (the weight's names its code).
  EXPECT_EQ(d.entries[0].value.value, "1,5");
  EXPECT_EQ(d.entries[3].dose.value, "un");
  EXPECT_EQ(d.entries[4].reference_range_low, "<1");
  EXPECT_EQ(d.entries[5].value.type, "PQ");
  EXPECT_EQ(d.entries[5].value.value, "72,5");
  EXPECT_NE(d.issues.items()[5].message.find("29463-7"), std::string::npos);
}

// --- PPS: planned acts --------------------------------------------------------------------------

TEST(CdaEntries, PlannedActs) {
  const CdaDocument d = parseBody(section("18776-5", R"(<title>Plan d'actions</title>
<text><paragraph ID="p-echo">Échocardiographie de contrôle</paragraph></text>
<entry>
  <procedure classCode="PROC" moodCode="INT">
    <templateId root="1.2.250.1.213.1.1.3.62"/>
    <id root="1.2.250.1.999.6.1"/>
    <code code="DZQM006" codeSystem="1.2.250.1.213.2.5" displayName="Échographie-doppler transthoracique du cœur">
      <originalText>Écho   cœur</originalText>
    </code>
    <text><reference value="#p-echo"/></text>
    <statusCode code="active"/>
    <effectiveTime value="20240415"/>
    <targetSiteCode code="80891009" codeSystem="2.16.840.1.113883.6.96" displayName="Cœur"/>
  </procedure>
</entry>
<entry>
  <encounter classCode="ENC" moodCode="APT">
    <code code="AMB" codeSystem="2.16.840.1.113883.5.4" displayName="Ambulatoire"/>
    <text>Consultation de suivi
      en cardiologie</text>
    <effectiveTime><low value="20240601"/><high value="20240601103000"/></effectiveTime>
  </encounter>
</entry>
<entry>
  <observation classCode="OBS" moodCode="RQO">
    <code code="2093-3" codeSystem="2.16.840.1.113883.6.1" displayName="Cholestérol">
      <originalText><reference value="#p-echo"/></originalText>
    </code>
    <effectiveTime><center value="20240615"/></effectiveTime>
    <precondition><criterion><code code="X"/><value xsi:type="ST">si symptômes</value></criterion></precondition>
  </observation>
</entry>)"));
  EXPECT_TRUE(d.issues.empty()) << d.issues.items().front().message;
  ASSERT_EQ(d.entries.size(), 4u);
  const CdaEntry& echo = d.entries[0];
  EXPECT_EQ(echo.kind, "procedure");
  EXPECT_EQ(echo.mood, "INT");
  EXPECT_EQ(echo.code.code, "DZQM006");
  EXPECT_EQ(echo.code_text, "Écho cœur");
  EXPECT_EQ(echo.text, "Échocardiographie de contrôle");
  EXPECT_EQ(echo.status, "active");
  EXPECT_EQ(echo.time, "20240415");
  expectCode(echo.target_site, "80891009", kSnomed, "Cœur");
  const CdaEntry& visit = d.entries[1];
  EXPECT_EQ(visit.kind, "encounter");
  EXPECT_EQ(visit.mood, "APT");
  EXPECT_EQ(visit.text, "Consultation de suivi en cardiologie");
  EXPECT_EQ(visit.time, "20240601");
  EXPECT_EQ(visit.time_low, "20240601");
  EXPECT_EQ(visit.time_high, "20240601103000");
  const CdaEntry& request = d.entries[2];
  EXPECT_EQ(request.mood, "RQO");
  EXPECT_EQ(request.time, "20240615");
  EXPECT_EQ(request.code_text, "");
  EXPECT_EQ(request.text, "Échocardiographie de contrôle");  // code/originalText's reference
  const CdaEntry& criterion = d.entries[3];
  EXPECT_EQ(criterion.kind, "criterion");
  EXPECT_EQ(criterion.parent, 2);
  EXPECT_EQ(criterion.value.value, "si symptômes");
}

// --- narrative references ----------------------------------------------------------------------

TEST(CdaEntries, ReferencesBackwardForwardAndMissing) {
  const std::string xml = cdaWithBody(
      section("A-1", R"(<text><paragraph ID="dup">dans la première section</paragraph></text>)") +
      section(
          "A-2",
          R"(<entry><observation classCode="OBS" moodCode="EVN"><text><reference value="#late"/></text></observation></entry>
<text><paragraph ID="back">Texte
   avant</paragraph><paragraph ID="dup">dans cette section</paragraph><paragraph ID="late">écrit après l'entrée</paragraph></text>
<entry><observation classCode="OBS" moodCode="EVN"><text><reference value="#back"/></text></observation></entry>
<entry><observation classCode="OBS" moodCode="EVN"><text><reference value="#fwd"/></text></observation></entry>
<entry><observation classCode="OBS" moodCode="EVN"><text><reference value="#nulle-part"/></text></observation></entry>
<entry><observation classCode="OBS" moodCode="EVN"><text>texte propre <reference value="#ailleurs"/></text></observation></entry>
<entry><observation classCode="OBS" moodCode="EVN"><text><reference value="#"/></text></observation></entry>
<entry><observation classCode="OBS" moodCode="EVN"><text><reference value="#dup"/></text></observation></entry>
<component><section><code code="A-3"/><text><table><tbody><tr><td ID="fwd">Texte <content>après</content></td></tr></tbody></table></text></section></component>)"));
  const CdaDocument d = parseOk(xml);
  ASSERT_EQ(d.entries.size(), 7u);
  EXPECT_EQ(d.entries[0].text, "écrit après l'entrée");  // entry before the narrative
  EXPECT_EQ(d.entries[1].text, "Texte avant");
  EXPECT_EQ(d.entries[2].text, "Texte après");  // forward, into the subsection
  EXPECT_EQ(d.entries[3].text, "");
  EXPECT_EQ(d.entries[4].text, "texte propre");  // unresolved: its own text stays
  EXPECT_EQ(d.entries[5].text, "");
  EXPECT_EQ(d.entries[6].text, "dans cette section");  // its own section first
  // The section texts are unchanged by the anchors.
  EXPECT_EQ(d.sections[1].text, "Texte avant\ndans cette section\nécrit après l'entrée");
  // One warning for the two unresolved references, at the first one.
  ASSERT_EQ(d.issues.size(), 1u);
  const Issue& i = d.issues.items()[0];
  EXPECT_EQ(i.code, Errc::CdaValueInvalid);
  EXPECT_EQ(i.severity, Severity::Warning);
  EXPECT_TRUE(i.message.starts_with("2 ")) << i.message;
  EXPECT_EQ(i.location, "line " + std::to_string(lineOf(xml, "#nulle-part")));
}

// --- nesting and limits -------------------------------------------------------------------------

std::string nested(int levels) {
  std::string open, close;
  for (int i = 0; i < levels; ++i) {
    open += "<entryRelationship typeCode=\"COMP\"><observation classCode=\"OBS\" moodCode=\"EVN\">";
    close += "</observation></entryRelationship>";
  }
  return "<entry><act classCode=\"ACT\" moodCode=\"EVN\">" + open + close + "</act></entry>";
}

TEST(CdaEntries, DeepNestingKeepsParentsAndIsBounded) {
  const CdaDocument d = parseBody(section("X", "<text>x</text>" + nested(100)));
  ASSERT_EQ(d.entries.size(), 101u);
  for (std::size_t i = 0; i < d.entries.size(); ++i) {
    EXPECT_EQ(d.entries[i].parent, static_cast<int>(i) - 1);
  }
  // Deeper than the XML reader allows: an error, not a crash.
  CdaParts p;
  p.body = section("X", nested(200));
  auto r = parseCda(buildCda(p));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::XmlTooComplex);
}

TEST(CdaEntries, AtMostMaxEntries) {
  std::string entries;
  for (std::size_t i = 0; i < kMaxCdaEntries + 5; ++i) {
    entries +=
        "<entry><observation classCode=\"OBS\" moodCode=\"EVN\"><entryRelationship>"
        "<act classCode=\"ACT\" moodCode=\"EVN\"/></entryRelationship></observation>"
        "</entry>\n";
  }
  const CdaDocument d = parseBody(section("X", entries));
  EXPECT_EQ(d.entries.size(), kMaxCdaEntries);
  for (std::size_t i = 0; i < d.entries.size(); ++i) {
    ASSERT_EQ(d.entries[i].parent, i % 2 == 0 ? -1 : static_cast<int>(i) - 1);
  }
  ASSERT_EQ(d.issues.size(), 1u);
  EXPECT_EQ(d.issues.items()[0].severity, Severity::Warning);
  EXPECT_NE(d.issues.items()[0].message.find(std::to_string(kMaxCdaEntries)), std::string::npos);
}

TEST(CdaEntries, TextsAreBounded) {
  std::string big;
  while (big.size() < 3 * kMaxEntryText)
    big += "é€ ";
  std::string entries;
  for (int i = 0; i < 1100; ++i) {
    entries +=
        "<entry><observation classCode=\"OBS\" moodCode=\"EVN\"><text><reference "
        "value=\"#big\"/></text></observation></entry>\n";
  }
  const CdaDocument d = parseBody(section(
      "X",
      "<text><paragraph ID=\"big\">" + big + "</paragraph></text>\n" +
          "<entry><observation classCode=\"OBS\" moodCode=\"EVN\"><code code=\"C\"><originalText>" +
          big + "</originalText></code><text>" + big + "</text><value xsi:type=\"ST\">" + big +
          "</value></observation></entry>\n" + entries));
  ASSERT_EQ(d.entries.size(), 1101u);
  const CdaEntry& first = d.entries[0];
  for (const std::string* t : {&first.text, &first.code_text, &first.value.value}) {
    EXPECT_LE(t->size(), kMaxEntryText);
    EXPECT_GT(t->size(), kMaxEntryText - 8);
    EXPECT_TRUE(t->ends_with("é") || t->ends_with("€")) << "cut inside a character";
  }
  // The references copy the narrative element until the document's budget is spent.
  std::size_t filled = 0;
  bool ended = false;
  for (std::size_t i = 1; i < d.entries.size(); ++i) {
    const std::string& t = d.entries[i].text;
    EXPECT_LE(t.size(), kMaxEntryText);
    if (t.empty()) {
      ended = true;
    } else {
      EXPECT_FALSE(ended) << "a text after the budget was spent";
      ++filled;
    }
  }
  EXPECT_GT(filled, 900u);
  EXPECT_LT(filled, 1100u);
  ASSERT_EQ(d.issues.size(), 1u);
  EXPECT_EQ(d.issues.items()[0].severity, Severity::Warning);
}

TEST(CdaEntries, NoEntriesOutsideSectionEntries) {
  // Statements of the header (serviceEvent …) and of the narrative are not entries; an element
  // under entry that is not a clinical statement is skipped.
  const CdaDocument d = parseBody(section("X", R"(<text><content ID="a">a</content></text>
<entry><templateId root="1.2.3"/><foo><observation/></foo></entry>
<entry typeCode="DRIV"><observationMedia classCode="OBS" moodCode="EVN" ID="img"><value mediaType="image/png" representation="B64">iVBO</value></observationMedia></entry>
<entry><regionOfInterest classCode="ROIOVL" moodCode="EVN"/></entry>)"));
  ASSERT_EQ(d.entries.size(), 2u);
  EXPECT_EQ(d.entries[0].kind, "observationMedia");
  EXPECT_EQ(d.entries[1].kind, "regionOfInterest");
}

// --- the issue 12 fixtures (tests/data/cda, generated by tests/mssante/make_messages.py) --------

TEST(CdaEntries, ConsultationReportFixture) {
  const CdaDocument d = parseOk(readData("cda/cr_consultation.xml"));
  EXPECT_TRUE(d.issues.empty()) << d.issues.items().front().message;
  ASSERT_EQ(d.entries.size(), 21u);
  std::string kinds;
  for (const CdaEntry& e : d.entries)
    kinds += e.kind.substr(0, 3) + std::to_string(e.parent) + " ";
  EXPECT_EQ(kinds,
            "org-1 obs0 obs0 obs0 obs0 obs0 act-1 obs6 act-1 obs8 sub-1 sub-1 act-1 obs12 act-1 "
            "org14 obs15 org14 obs17 obs17 obs-1 ");
  EXPECT_EQ(d.entries[1].value.value, "68.4");
  EXPECT_EQ(d.entries[1].text, "68,4 kg");
  EXPECT_EQ(d.entries[7].value.code.code, "I10");
  EXPECT_EQ(d.entries[7].time_low, "20150610");
  const CdaEntry& amlodipine = d.entries[10];
  EXPECT_EQ(amlodipine.dose.type, "PQ");
  EXPECT_EQ(amlodipine.dose.value, "1");
  EXPECT_EQ(amlodipine.route.code, "20053000");
  EXPECT_EQ(amlodipine.material.code, "C08CA01");
  EXPECT_EQ(amlodipine.material_name, "AMLODIPINE 5 mg, comprimé");
  EXPECT_EQ(d.entries[13].participant.code, "J01C");
  EXPECT_EQ(d.entries[13].participant_name, "Pénicillines");
  EXPECT_EQ(d.entries[16].interpretation.code, "H");
  EXPECT_EQ(d.entries[16].reference_range_high, "1.60");
  EXPECT_EQ(d.entries[18].reference_range_low, "45");
  EXPECT_EQ(d.entries[18].reference_range_high, "90");
  EXPECT_EQ(d.entries[18].reference_range_unit, "umol/L");
  EXPECT_EQ(d.entries[19].reference_range_low, "60");
  EXPECT_EQ(d.entries[19].reference_range_high, "");
  // The LOINC observations with a quantity: five vital signs and three lab results, with their
  // section and their own time.
  std::string quantities;
  for (const CdaEntry& e : d.entries) {
    if (e.kind != "observation" || e.code.system != kLoinc || e.value.type != "PQ") continue;
    quantities += e.code.code + "=" + e.value.value + " " + e.value.unit + " in " +
                  d.sections[e.section].code.code + " at " + e.time + "\n";
  }
  EXPECT_EQ(quantities,
            "29463-7=68.4 kg in 8716-3 at 20240205163500+0100\n"
            "8302-2=158 cm in 8716-3 at 20240205163500+0100\n"
            "8480-6=148 mm[Hg] in 8716-3 at 20240205164000+0100\n"
            "8462-4=86 mm[Hg] in 8716-3 at 20240205164000+0100\n"
            "8867-4=78 /min in 8716-3 at 20240205164000+0100\n"
            "13457-7=1.62 g/L in 30954-2 at 20240130083000+0100\n"
            "14682-9=84 umol/L in 30954-2 at 20240130083000+0100\n"
            "62238-1=58 mL/min/{1.73_m2} in 30954-2 at 20240130083000+0100\n");
}

TEST(CdaEntries, CarePlanFixture) {
  const CdaDocument d = parseOk(readData("cda/pps_activities.xml"));
  EXPECT_TRUE(d.issues.empty()) << d.issues.items().front().message;
  ASSERT_EQ(d.entries.size(), 5u);
  EXPECT_EQ(d.entries[1].kind + "/" + d.entries[1].mood, "procedure/INT");
  EXPECT_EQ(d.entries[1].time, "20240205");
  EXPECT_FALSE(d.entries[1].text.empty());
  EXPECT_EQ(d.entries[2].kind + "/" + d.entries[2].mood, "encounter/APT");
  EXPECT_EQ(d.entries[2].text, "Consultation de cardiologie de suivi");
  EXPECT_EQ(d.entries[3].kind + "/" + d.entries[3].mood, "act/INT");
  EXPECT_EQ(d.entries[4].mood, "RQO");
  EXPECT_EQ(d.entries[4].time, "");
  EXPECT_EQ(d.entries[4].time_high, "20240401");
  EXPECT_EQ(d.entries[4].text, "Contrôle du LDL-cholestérol");
}

TEST(CdaEntries, NamesAndReplacementFixtures) {
  const CdaDocument chloe = parseOk(readData("cda/names_chloe.xml"));
  const CdaPatient& p = *chloe.patient;
  ASSERT_EQ(p.givens.size(), 3u);
  EXPECT_EQ(p.givens[0].text, "CHLOE EMMA");
  EXPECT_EQ(p.givens[0].qualifier, "");
  EXPECT_EQ(p.givens[1].qualifier, "BR");
  EXPECT_EQ(p.givens[2].qualifier, "CL");
  ASSERT_EQ(p.families.size(), 2u);
  EXPECT_EQ(p.families[1].qualifier, "CL");
  EXPECT_EQ(p.multiple_birth, true);
  EXPECT_EQ(p.multiple_birth_order, 2);
  EXPECT_EQ(p.birth_place_code, "2A004");
  EXPECT_EQ(p.birth_place_name, "AJACCIO");

  const CdaDocument v2 = parseOk(readData("cda/ldl_ses_v2.xml"));
  EXPECT_EQ(v2.version, "2");
  ASSERT_EQ(v2.related_documents.size(), 1u);
  EXPECT_EQ(v2.related_documents[0].type_code, "RPLC");
  EXPECT_EQ(v2.related_documents[0].id.extension, "LDL-2024-0001");
  EXPECT_EQ(v2.related_documents[0].set_id.extension, v2.set_id.extension);
  EXPECT_EQ(v2.related_documents[0].version, "1");
}

}  // namespace
}  // namespace liaison::parse
