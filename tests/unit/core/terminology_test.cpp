#include "core/fhir/terminology.hpp"

#include <gtest/gtest.h>

namespace liaison::fhir {
namespace {

TEST(Terminology, SystemsOfOids) {
  EXPECT_EQ(systemOfOid("2.16.840.1.113883.6.1"), "http://loinc.org");
  EXPECT_EQ(systemOfOid("2.16.840.1.113883.6.96"), "http://snomed.info/sct");
  EXPECT_EQ(systemOfOid("2.16.840.1.113883.5.25"),
            "http://terminology.hl7.org/CodeSystem/v3-Confidentiality");
  EXPECT_EQ(systemOfOid("1.2.250.1.213.1.1.4.2.282"),
            "https://mos.esante.gouv.fr/NOS/TRE_A06-FormatCodeComplementaire/FHIR/"
            "TRE-A06-FormatCodeComplementaire");
  EXPECT_EQ(systemOfOid("1.2.3.4"), "urn:oid:1.2.3.4");
}

// The systems of the CI-SIS entries (ANS examples, ansforge/TestContenuCDA-3-0): their FHIR
// canonical URLs (HL7 THO, EDQM, WHO), so that a validator or a terminology server knows them.
TEST(Terminology, SystemsOfCisisEntries) {
  EXPECT_EQ(systemOfOid("2.16.840.1.113883.5.83"),
            "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation");
  EXPECT_EQ(systemOfOid("2.16.840.1.113883.5.112"),
            "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration");
  EXPECT_EQ(systemOfOid("2.16.840.1.113883.5.7"),
            "http://terminology.hl7.org/CodeSystem/v3-ActPriority");
  EXPECT_EQ(systemOfOid("2.16.840.1.113883.6.73"), "http://www.whocc.no/atc");
  EXPECT_EQ(systemOfOid("0.4.0.127.0.16.1.1.2.1"), "http://standardterms.edqm.eu");
  EXPECT_EQ(systemOfOid("2.16.840.1.113883.6.163"), "https://www.meddra.org");
  EXPECT_EQ(systemOfOid("1.2.250.1.213.2.5"), "https://smt.esante.gouv.fr/terminologie-ccam");
  EXPECT_EQ(systemOfOid("2.16.840.1.113883.4.642.4.1074"),
            "http://terminology.hl7.org/CodeSystem/condition-clinical");
  EXPECT_EQ(systemOfOid("2.16.840.1.113883.4.642.4.1373"),
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical");
  // The ANS publishes no canonical URL for CIS and CIP (its document-core IG names CIS by its
  // OID): they stay OIDs.
  EXPECT_EQ(systemOfOid("1.2.250.1.213.2.3.1"), "urn:oid:1.2.250.1.213.2.3.1");
  EXPECT_EQ(systemOfOid("1.2.250.1.213.2.3.2"), "urn:oid:1.2.250.1.213.2.3.2");
}

TEST(Terminology, HL7TimestampsToFhir) {
  struct Case {
    const char* ts;
    std::optional<std::string> date_time;
    std::optional<std::string> date;
    std::optional<std::string> instant;
  };
  for (const Case& c : {
           Case{"2024", "2024", "2024", std::nullopt},
           Case{"202401", "2024-01", "2024-01", std::nullopt},
           Case{"20240116", "2024-01-16", "2024-01-16", std::nullopt},
           Case{"20240116151112+0100", "2024-01-16T15:11:12+01:00", "2024-01-16",
                "2024-01-16T15:11:12+01:00"},
           Case{"202401161511-0330", "2024-01-16T15:11:00-03:30", "2024-01-16",
                "2024-01-16T15:11:00-03:30"},
           Case{"20240116151112.250+0000", "2024-01-16T15:11:12.250+00:00", "2024-01-16",
                "2024-01-16T15:11:12.250+00:00"},
           Case{"20240116151112", "2024-01-16", "2024-01-16", std::nullopt},  // a time needs a zone
           Case{"20240230", std::nullopt, std::nullopt, std::nullopt},
           Case{"20241301", std::nullopt, std::nullopt, std::nullopt},
           Case{"2024011625", std::nullopt, std::nullopt, std::nullopt},
           Case{"20240116+01", std::nullopt, std::nullopt, std::nullopt},
           Case{"2024-01-16", std::nullopt, std::nullopt, std::nullopt},
           Case{"", std::nullopt, std::nullopt, std::nullopt},
       }) {
    SCOPED_TRACE(c.ts);
    EXPECT_EQ(dateTimeOfTs(c.ts), c.date_time);
    EXPECT_EQ(dateOfTs(c.ts), c.date);
    EXPECT_EQ(instantOfTs(c.ts), c.instant);
  }
}

}  // namespace
}  // namespace liaison::fhir
