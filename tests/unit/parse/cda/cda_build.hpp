#pragma once
// Minimal synthetic CDA R2 documents for the entry and patient tests: a header with one
// recordTarget (ANS test INS) and a structuredBody holding the given sections. The shapes of
// the sections follow the CI-SIS examples (ansforge/TestContenuCDA-3-0), the values are made up.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "parse/cda/cda_document.hpp"

namespace liaison::parse::test {

struct CdaParts {
  std::string header;        // after the document code (relatedDocument …)
  std::string patient_role;  // after the patient's id (addr, telecom)
  std::string patient =      // inside patient
      R"(<name><family qualifier="BR">FICTIF-TEST</family><given>Alix</given></name>)";
  std::string body;  // inside structuredBody: <component><section>…</section></component>…
};

inline std::string buildCda(const CdaParts& p) {
  return R"(<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:sdtc="urn:hl7-org:sdtc">
  <templateId root="1.2.250.1.213.1.1.1.1"/>
  <id root="1.2.250.1.999.1.1.1" extension="TEST-0001"/>
  <code code="11488-4" codeSystem="2.16.840.1.113883.6.1" displayName="Compte rendu de consultation"/>
  <effectiveTime value="20240112143000+0100"/>
)" + p.header +
         R"(
  <recordTarget>
    <patientRole>
      <id root="1.2.250.1.213.1.4.10" extension="279035121518989"/>
)" + p.patient_role +
         R"(
      <patient>
)" + p.patient +
         R"(
      </patient>
    </patientRole>
  </recordTarget>
  <component>
    <structuredBody>
)" + p.body +
         R"(
    </structuredBody>
  </component>
</ClinicalDocument>
)";
}

inline std::string cdaWithBody(std::string body) {
  CdaParts p;
  p.body = std::move(body);
  return buildCda(p);
}

// One section around `inside` (code, title, text, entries, subsections).
inline std::string section(std::string_view code, std::string_view inside) {
  return "<component><section><code code=\"" + std::string(code) +
         "\" codeSystem=\"2.16.840.1.113883.6.1\"/>\n" + std::string(inside) +
         "\n</section></component>\n";
}

inline CdaDocument parseOk(const std::string& xml) {
  auto r = parseCda(xml);
  EXPECT_TRUE(r.has_value()) << r.error().detail;
  return r.has_value() ? std::move(r).value() : CdaDocument{};
}

// 1-based line of the first occurrence of `needle` (which must exist).
inline std::uint64_t lineOf(std::string_view xml, std::string_view needle) {
  const std::size_t at = xml.find(needle);
  EXPECT_NE(at, std::string_view::npos) << needle;
  if (at == std::string_view::npos) return 0;
  return 1 + static_cast<std::uint64_t>(std::count(xml.begin(), xml.begin() + at, '\n'));
}

}  // namespace liaison::parse::test
