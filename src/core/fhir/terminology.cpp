#include "core/fhir/terminology.hpp"

#include <array>
#include <chrono>

namespace liaison::fhir {
namespace {

struct OidUri {
  std::string_view oid;
  std::string_view uri;
};

// Code systems of CI-SIS headers and entries. French ones follow the MOS pattern
// https://mos.esante.gouv.fr/NOS/<TRE>/FHIR/<TRE with '-'> (spec digest §5.5); the others are
// the canonical URLs HL7 Terminology (THO) gives for those OIDs. CIS and CIP have no canonical
// URL (the ANS names them by their OID): they stay urn:oid.
constexpr std::array<OidUri, 25> kSystems = {{
    {"2.16.840.1.113883.6.1", "http://loinc.org"},
    {"2.16.840.1.113883.6.96", "http://snomed.info/sct"},
    {"2.16.840.1.113883.6.8", "http://unitsofmeasure.org"},
    {"2.16.840.1.113883.6.3", "https://smt.esante.gouv.fr/terminologie-cim-10"},
    {"2.16.840.1.113883.5.1", "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender"},
    {"2.16.840.1.113883.5.25", "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"},
    {"2.16.840.1.113883.5.4", "http://terminology.hl7.org/CodeSystem/v3-ActCode"},
    {"2.16.840.1.113883.5.88", "http://terminology.hl7.org/CodeSystem/v3-ParticipationFunction"},
    {"2.16.840.1.113883.5.111", "http://terminology.hl7.org/CodeSystem/v3-RoleCode"},
    {"1.2.250.1.213.1.1.4.5",
     "https://mos.esante.gouv.fr/NOS/TRE_A02-ProfessionSavFaire-CISIS/FHIR/"
     "TRE-A02-ProfessionSavFaire-CISIS"},
    {"1.2.250.1.213.1.1.4.1",
     "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument-CISIS/FHIR/"
     "TRE-A03-ClasseDocument-CISIS"},
    {"1.2.250.1.213.1.1.4.12",
     "https://mos.esante.gouv.fr/NOS/TRE_A05-TypeDocComplementaireCISIS/FHIR/"
     "TRE-A05-TypeDocComplementaireCISIS"},
    {"1.2.250.1.213.1.1.4.2.282",
     "https://mos.esante.gouv.fr/NOS/TRE_A06-FormatCodeComplementaire/FHIR/"
     "TRE-A06-FormatCodeComplementaire"},
    {"1.2.250.1.213.1.1.4.9",
     "https://mos.esante.gouv.fr/NOS/TRE_A01-CadreExercice/FHIR/TRE-A01-CadreExercice"},
    {"1.2.250.1.71.4.2.4",
     "https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite/FHIR/TRE-R02-SecteurActivite"},
    {"1.3.6.1.4.1.19376.1.2.3", "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"},
    // Entries: interpretation, route, priority, medicines (ATC, EDQM), reactions (MedDRA), acts
    // (CCAM, as the ANS terminology server names it), FR-Statut-du-probleme values.
    {"2.16.840.1.113883.5.83",
     "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"},
    {"2.16.840.1.113883.5.112", "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"},
    {"2.16.840.1.113883.5.7", "http://terminology.hl7.org/CodeSystem/v3-ActPriority"},
    {"2.16.840.1.113883.6.73", "http://www.whocc.no/atc"},
    {"0.4.0.127.0.16.1.1.2.1", "http://standardterms.edqm.eu"},
    {"2.16.840.1.113883.6.163", "https://www.meddra.org"},
    {"1.2.250.1.213.2.5", "https://smt.esante.gouv.fr/terminologie-ccam"},
    {"2.16.840.1.113883.4.642.4.1074", "http://terminology.hl7.org/CodeSystem/condition-clinical"},
    {"2.16.840.1.113883.4.642.4.1373",
     "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"},
}};

bool digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

int number(std::string_view s) {
  int v = 0;
  for (char c : s)
    v = v * 10 + (c - '0');
  return v;
}

struct Ts {
  std::string date;  // YYYY, YYYY-MM or YYYY-MM-DD
  std::string time;  // hh:mm:ss[.fff] or empty
  std::string zone;  // +hh:mm / Z or empty
};

std::optional<Ts> parseTs(std::string_view ts) {
  std::string_view zone;
  std::size_t z = ts.find_first_of("+-");
  if (z != std::string_view::npos) {
    zone = ts.substr(z);
    ts = ts.substr(0, z);
    if (zone.size() != 5 || !digits(zone.substr(1)) || number(zone.substr(1, 2)) > 14 ||
        number(zone.substr(3, 2)) > 59) {
      return std::nullopt;
    }
  }
  std::string_view fraction;
  if (std::size_t dot = ts.find('.'); dot != std::string_view::npos) {
    fraction = ts.substr(dot + 1);
    ts = ts.substr(0, dot);
    if (!digits(fraction) || ts.size() != 14) return std::nullopt;
  }
  if (!digits(ts) || (ts.size() != 4 && ts.size() != 6 && ts.size() != 8 && ts.size() != 10 &&
                      ts.size() != 12 && ts.size() != 14)) {
    return std::nullopt;
  }
  Ts out;
  const int year = number(ts.substr(0, 4));
  out.date = std::string(ts.substr(0, 4));
  if (ts.size() >= 6) {
    const int month = number(ts.substr(4, 2));
    if (month < 1 || month > 12) return std::nullopt;
    out.date += "-" + std::string(ts.substr(4, 2));
    if (ts.size() >= 8) {
      using namespace std::chrono;
      const year_month_day ymd{std::chrono::year{year},
                               std::chrono::month{static_cast<unsigned>(month)},
                               std::chrono::day{static_cast<unsigned>(number(ts.substr(6, 2)))}};
      if (!ymd.ok()) return std::nullopt;
      out.date += "-" + std::string(ts.substr(6, 2));
    }
  }
  if (ts.size() >= 10) {
    const std::string_view hh = ts.substr(8, 2);
    const std::string_view mm = ts.size() >= 12 ? ts.substr(10, 2) : std::string_view("00");
    const std::string_view ss = ts.size() >= 14 ? ts.substr(12, 2) : std::string_view("00");
    if (number(hh) > 23 || number(mm) > 59 || number(ss) > 60) return std::nullopt;
    out.time = std::string(hh) + ":" + std::string(mm) + ":" + std::string(ss);
    if (!fraction.empty()) out.time += "." + std::string(fraction);
  }
  if (!zone.empty())
    out.zone = std::string(zone.substr(0, 3)) + ":" + std::string(zone.substr(3, 2));
  return out;
}

}  // namespace

std::string systemOfOid(std::string_view oid) {
  for (const OidUri& row : kSystems) {
    if (row.oid == oid) return std::string(row.uri);
  }
  return "urn:oid:" + std::string(oid);
}

std::optional<std::string> dateTimeOfTs(std::string_view ts) {
  auto t = parseTs(ts);
  if (!t) return std::nullopt;
  if (t->time.empty() || t->zone.empty()) return t->date;
  return t->date + "T" + t->time + t->zone;
}

std::optional<std::string> dateOfTs(std::string_view ts) {
  auto t = parseTs(ts);
  if (!t) return std::nullopt;
  return t->date;
}

namespace {

std::string utcText(std::chrono::system_clock::time_point t, bool milliseconds) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{floor<std::chrono::milliseconds>(t - day)};
  char buf[40];
  const int n =
      std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                    static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                    static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                    static_cast<int>(hms.seconds().count()));
  std::string out(buf, static_cast<std::size_t>(n));
  if (milliseconds) {
    std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(hms.subseconds().count()));
    out += buf;
  }
  return out + "Z";
}

}  // namespace

std::string dateTimeOf(std::chrono::system_clock::time_point t) {
  return utcText(t, false);
}

std::string instantOf(std::chrono::system_clock::time_point t) {
  return utcText(t, true);
}

std::optional<std::string> instantOfTs(std::string_view ts) {
  auto t = parseTs(ts);
  if (!t || t->date.size() != 10 || t->time.empty() || t->zone.empty()) return std::nullopt;
  return t->date + "T" + t->time + t->zone;
}

}  // namespace liaison::fhir
