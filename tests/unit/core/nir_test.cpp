#include "core/nir/nir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace liaison::nir {
namespace {

constexpr std::string_view kLocation = "patient-nir";

// --- building NIRs from the rules --------------------------------------------------------------

// "07" for 7 (0..99).
std::string twoDigits(int value) {
  return {static_cast<char>('0' + value / 10), static_cast<char>('0' + value % 10)};
}

// The key, computed here independently of the library (digit-by-digit remainder) from the 13
// first characters, with the Corsican departments read as 19 (2A) and 18 (2B).
std::string keyOf(std::string_view body) {
  std::string digits(body.substr(0, 13));
  if (digits[5] == '2' && (digits[6] == 'A' || digits[6] == 'a')) digits.replace(5, 2, "19");
  if (digits[5] == '2' && (digits[6] == 'B' || digits[6] == 'b')) digits.replace(5, 2, "18");
  int remainder = 0;
  for (char c : digits) {
    remainder = (remainder * 10 + (c - '0')) % 97;
  }
  return twoDigits(97 - remainder);
}

// sex (1 char) + year (2) + month (2) + birth place (5: department + commune / country) + order (3)
std::string body(std::string_view sex, std::string_view year, std::string_view month,
                 std::string_view place, std::string_view order) {
  std::string b;
  b.append(sex).append(year).append(month).append(place).append(order);
  EXPECT_EQ(b.size(), 13u) << b;
  return b;
}

std::string withKey(const std::string& b) {
  return b + keyOf(b);
}

std::string nir(std::string_view sex, std::string_view year, std::string_view month,
                std::string_view place, std::string_view order) {
  return withKey(body(sex, year, month, place, order));
}

// A key in 01..97 that is not the right one.
std::string withWrongKey(const std::string& b) {
  const int right = std::stoi(keyOf(b));
  return b + twoDigits(right % 97 + 1);
}

// "2 79 03 51 215 189 89": the usual presentation on a carte Vitale.
std::string spaced(std::string_view n, std::string_view sep = " ") {
  std::string out;
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (i == 1 || i == 3 || i == 5 || i == 7 || i == 10 || i == 13) out.append(sep);
    out.push_back(n[i]);
  }
  return out;
}

std::vector<std::string> codesOf(const IssueList& issues) {
  std::vector<std::string> codes;
  for (const Issue& issue : issues.items()) {
    codes.emplace_back(info(issue.code).code);
  }
  std::sort(codes.begin(), codes.end());
  return codes;
}

std::vector<std::string> codesOf(std::vector<Errc> errcs) {
  std::vector<std::string> codes;
  for (Errc e : errcs) {
    codes.emplace_back(info(e).code);
  }
  std::sort(codes.begin(), codes.end());
  return codes;
}

// Messages go to a secretariat and into logs: no NIR, nor any part of it. They hold no digit at
// all, which proves it whatever the NIR.
void expectMessagesFree(const IssueList& issues, std::string_view normalized) {
  for (const Issue& issue : issues.items()) {
    EXPECT_FALSE(issue.message.empty()) << info(issue.code).code;
    EXPECT_EQ(issue.message.find_first_of("0123456789"), std::string::npos)
        << info(issue.code).code << ": " << issue.message;
    if (!normalized.empty()) {
      EXPECT_EQ(issue.message.find(normalized), std::string::npos);
    }
  }
}

// --- check(): structure and key ----------------------------------------------------------------

struct CheckCase {
  std::string name;
  std::string input;
  std::string normalized;   // expected CheckResult::normalized
  std::vector<Errc> codes;  // expected issues, in any order
};

void PrintTo(const CheckCase& c, std::ostream* os) {
  *os << c.name;
}

std::vector<CheckCase> checkCases() {
  std::vector<CheckCase> cases;
  const auto valid = [&](std::string name, const std::string& n) {
    cases.push_back({std::move(name), n, n, {}});
  };
  const auto expect = [&](std::string name, const std::string& n, std::vector<Errc> codes) {
    cases.push_back({std::move(name), n, n, std::move(codes)});
  };

  // The test vectors of the spec (§2.3).
  valid("SpecAnsLdlSes", "279035121518989");
  valid("SpecDrimbox", "162018885045327");
  valid("SpecCorsica2B", "253072B07300470");
  valid("SpecCorsica2A", "253072A07300443");
  valid("SpecBornAbroad", "295109912611193");
  expect("SpecFrCoreDummy", "123456789012244", {Errc::NirMonthInvalid, Errc::NirKeyMismatch});

  // Valid NIRs built from the rules.
  valid("Male", nir("1", "85", "05", "38185", "123"));
  valid("Female", nir("2", "79", "12", "75056", "001"));
  valid("OrderAndCommuneMax", nir("1", "00", "01", "95999", "999"));
  valid("Department01", nir("2", "99", "06", "01053", "042"));
  valid("LegacyCorsica20", nir("1", "45", "03", "20004", "012"));
  valid("Algeria91", nir("1", "55", "01", "91352", "100"));
  valid("Morocco95", nir("2", "52", "09", "95120", "003"));
  valid("Tunisia96", nir("2", "50", "06", "96001", "007"));
  valid("Corsica2A", nir("1", "80", "02", "2A004", "045"));
  valid("Corsica2B", nir("2", "81", "10", "2B033", "312"));
  valid("Guadeloupe971", nir("1", "88", "04", "97101", "061"));
  valid("Reunion974", nir("2", "90", "07", "97411", "233"));
  valid("Mayotte976", nir("1", "02", "08", "97611", "005"));
  valid("SaintMartin978", nir("2", "10", "03", "97801", "002"));
  valid("Taaf984", nir("1", "60", "01", "98401", "001"));
  valid("Polynesia987", nir("2", "75", "11", "98736", "450"));
  valid("Clipperton989", nir("1", "70", "05", "98999", "001"));
  valid("AbroadAlgeria", nir("1", "70", "11", "99352", "012"));
  valid("AbroadCountry001", nir("2", "01", "01", "99001", "998"));
  valid("AbroadCountry999", nir("2", "01", "01", "99999", "998"));
  valid("KeyIs97", "100010100100697");  // N mod 97 == 0

  // Pseudo-months: accepted, with an information issue (still valid).
  for (std::string_view month : {"20", "31", "42", "50", "99"}) {
    expect("PseudoMonth" + std::string(month), nir("1", "62", month, "75056", "010"),
           {Errc::NirPseudoMonth});
  }

  // Presentation variants.
  const std::string vector1 = "279035121518989";
  const std::string corsica = "253072A07300443";
  const auto presented = [&](std::string name, std::string input, const std::string& n) {
    cases.push_back({std::move(name), std::move(input), n, {}});
  };
  presented("Spaces", spaced(vector1), vector1);
  presented("Dots", spaced(vector1, "."), vector1);
  presented("Hyphens", spaced(vector1, "-"), vector1);
  presented("Slashes", spaced(vector1, "/"), vector1);
  presented("Underscores", spaced(vector1, "_"), vector1);
  presented("Tabs", spaced(vector1, "\t"), vector1);
  presented("NoBreakSpace", spaced(vector1, "\xC2\xA0"), vector1);
  presented("NarrowNoBreakSpace", spaced(vector1, "\xE2\x80\xAF"), vector1);
  presented("MixedSeparators",
            " \t2 79.03-51/215_189\xC2\xA0"
            "89\xE2\x80\xAF  ",
            vector1);
  presented("LowerCase2a", spaced("253072a07300443"), corsica);
  presented("LowerCase2b", "2 53 07 2b 073 004 70", "253072B07300470");
  presented("SeparatorsInsideFields", "2 7 9 0 3 5 1 2 1 5 1 8 9 8 9", vector1);

  // Provisional numbers (3/4/7/8) are not INS: their own code, not nir-sex-invalid.
  for (std::string_view sex : {"3", "4", "7", "8"}) {
    expect("Provisional" + std::string(sex), nir(sex, "91", "02", "13055", "123"),
           {Errc::NirProvisional});
  }
  for (std::string_view sex : {"0", "5", "6", "9"}) {
    expect("SexInvalid" + std::string(sex), nir(sex, "91", "02", "13055", "123"),
           {Errc::NirSexInvalid});
  }

  for (std::string_view month : {"00", "13", "19", "43", "49"}) {
    expect("MonthInvalid" + std::string(month), nir("1", "91", month, "13055", "123"),
           {Errc::NirMonthInvalid});
  }

  // Departments.
  expect("Department00", nir("1", "91", "02", "00123", "123"), {Errc::NirDepartmentInvalid});
  for (std::string_view place : {"97012", "97912", "98012", "98112", "98312"}) {
    expect("Overseas" + std::string(place.substr(0, 3)), nir("2", "91", "02", place, "123"),
           {Errc::NirDepartmentInvalid});
  }
  // A letter in the department other than 2A/2B: the key cannot be computed, so only the
  // department is reported (the key written here is wrong for any reading).
  for (std::string_view dept : {"3A", "1B", "A2", "BB", "AB"}) {
    expect("DepartmentLetter" + std::string(dept), "19102" + std::string(dept) + "05512301",
           {Errc::NirDepartmentInvalid});
  }

  // Communes, countries, orders.
  expect("CommuneMainland000", nir("1", "91", "02", "38000", "123"), {Errc::NirCommuneInvalid});
  expect("CommuneCorsica000", nir("1", "91", "02", "2A000", "123"), {Errc::NirCommuneInvalid});
  expect("CommuneOverseas00", nir("2", "91", "02", "97400", "123"), {Errc::NirCommuneInvalid});
  expect("Country000", nir("2", "91", "02", "99000", "123"), {Errc::NirCountryInvalid});
  expect("Order000", nir("1", "91", "02", "38185", "000"), {Errc::NirOrderInvalid});

  // Keys.
  for (std::string_view key : {"00", "98", "99"}) {
    expect("KeyInvalid" + std::string(key),
           body("1", "91", "02", "38185", "123") + std::string(key), {Errc::NirKeyInvalid});
  }
  expect("KeyMismatch", withWrongKey(body("1", "91", "02", "38185", "123")),
         {Errc::NirKeyMismatch});
  expect("KeyMismatchTransposedDigits", "279035121581989", {Errc::NirKeyMismatch});
  // 2A and 2B give different keys: swapping them is detected.
  expect("KeyOf2BWith2A", "253072A07300470", {Errc::NirKeyMismatch});
  expect("KeyOf2AWith2B", "253072B07300443", {Errc::NirKeyMismatch});
  // 2A is read as 19 for the key: the same key is right for department 19 (Corrèze).
  valid("Department19SameKeyAs2A", "253071907300443");

  // Letters elsewhere than the department: nir-invalid-character, once, and no key issue.
  expect("LetterInSex", "A79035121518989", {Errc::NirInvalidCharacter});
  expect("LetterInYear", "2B9035121518989", {Errc::NirInvalidCharacter});
  expect("LetterInMonth", "2790A5121518989", {Errc::NirInvalidCharacter});
  expect("LetterInCommune", "27903512A518989", {Errc::NirInvalidCharacter});
  expect("LetterInOverseasDepartment", "2790397A1518989", {Errc::NirInvalidCharacter});
  expect("LetterInOrder", "2790351215B8989", {Errc::NirInvalidCharacter});
  expect("LetterInKey", "2790351215189A9", {Errc::NirInvalidCharacter});
  expect("SeveralLetters", "A7903512151898B", {Errc::NirInvalidCharacter});
  // The other fields are still judged.
  expect("LetterAndBadMonth", "19A135121518900",
         {Errc::NirInvalidCharacter, Errc::NirMonthInvalid, Errc::NirKeyInvalid});

  // Several failures are collected in one pass.
  expect("AllFieldsInvalid", "900000000000099",
         {Errc::NirSexInvalid, Errc::NirMonthInvalid, Errc::NirDepartmentInvalid,
          Errc::NirCommuneInvalid, Errc::NirOrderInvalid, Errc::NirKeyInvalid});
  expect("SexMonthAndKey", withWrongKey(body("5", "91", "13", "38185", "123")),
         {Errc::NirSexInvalid, Errc::NirMonthInvalid, Errc::NirKeyMismatch});
  expect("ProvisionalAbroadNoCountryNoOrder", nir("3", "90", "45", "99000", "000"),
         {Errc::NirProvisional, Errc::NirMonthInvalid, Errc::NirCountryInvalid,
          Errc::NirOrderInvalid});
  expect("OverseasDepartmentAndCommune", withWrongKey(body("2", "91", "02", "98000", "123")),
         {Errc::NirDepartmentInvalid, Errc::NirCommuneInvalid, Errc::NirKeyMismatch});
  expect("PseudoMonthAndKeyMismatch", withWrongKey(body("1", "62", "50", "75056", "010")),
         {Errc::NirPseudoMonth, Errc::NirKeyMismatch});

  // Empty, bad characters, length: these stop the check.
  const auto stop = [&](std::string name, std::string input, std::string n, Errc code) {
    cases.push_back({std::move(name), std::move(input), std::move(n), {code}});
  };
  stop("Empty", "", "", Errc::NirEmpty);
  stop("OnlySeparators", " .-/_\t\xC2\xA0\xE2\x80\xAF ", "", Errc::NirEmpty);
  // normalized stays empty when a character is not accepted.
  stop("LetterX", "27903512151898X", "", Errc::NirInvalidCharacter);
  stop("LetterC", "253072C07300443", "", Errc::NirInvalidCharacter);
  stop("LetterO", "2790351215189O9", "", Errc::NirInvalidCharacter);
  stop("Comma", "2,79,03,51,215,189,89", "", Errc::NirInvalidCharacter);
  stop("Plus", "+279035121518989", "", Errc::NirInvalidCharacter);
  stop("Accent", "279035121518989\xC3\xA9", "", Errc::NirInvalidCharacter);
  stop("LoneC2", "27903512151898\xC2", "", Errc::NirInvalidCharacter);
  stop("OtherC2",
       "2790351215189\xC2\xA1"
       "89",
       "", Errc::NirInvalidCharacter);
  stop("OtherE280",
       "2790351215189\xE2\x80\xA0"
       "89",
       "", Errc::NirInvalidCharacter);
  stop("TruncatedE2", "2790351215189\xE2\x80", "", Errc::NirInvalidCharacter);
  stop("Nul", std::string("27903512151") + '\0' + "8989", "", Errc::NirInvalidCharacter);
  stop("Length14", "27903512151898", "27903512151898", Errc::NirLength);
  stop("Length13Spaced", "2 79 03 51 215 189", "2790351215189", Errc::NirLength);
  stop("Length16", "2790351215189890", "2790351215189890", Errc::NirLength);
  stop("Length1", "7", "7", Errc::NirLength);
  stop("Length30", "279035121518989 279035121518989", "279035121518989279035121518989",
       Errc::NirLength);
  return cases;
}

class NirCheck : public ::testing::TestWithParam<CheckCase> {};

TEST_P(NirCheck, ReportsExactlyTheExpectedIssues) {
  const CheckCase& c = GetParam();
  const CheckResult result = check(c.input, kLocation);
  EXPECT_EQ(result.normalized, c.normalized);
  EXPECT_EQ(codesOf(result.issues), codesOf(c.codes));
  const bool expect_valid = std::none_of(c.codes.begin(), c.codes.end(), [](Errc e) {
    return info(e).severity == Severity::Error || info(e).severity == Severity::Fatal;
  });
  EXPECT_EQ(result.valid(), expect_valid);
  for (const Issue& issue : result.issues.items()) {
    EXPECT_EQ(issue.location, kLocation);
    EXPECT_EQ(issue.severity, info(issue.code).severity);
  }
  expectMessagesFree(result.issues, result.normalized);
}

INSTANTIATE_TEST_SUITE_P(Table, NirCheck, ::testing::ValuesIn(checkCases()),
                         [](const ::testing::TestParamInfo<CheckCase>& param_info) {
                           return param_info.param.name;
                         });

TEST(NirCheckTable, EveryStructureCodeIsCovered) {
  std::vector<Errc> seen;
  for (const CheckCase& c : checkCases()) {
    seen.insert(seen.end(), c.codes.begin(), c.codes.end());
  }
  for (Errc e : {Errc::NirEmpty, Errc::NirInvalidCharacter, Errc::NirLength, Errc::NirSexInvalid,
                 Errc::NirProvisional, Errc::NirMonthInvalid, Errc::NirDepartmentInvalid,
                 Errc::NirCommuneInvalid, Errc::NirCountryInvalid, Errc::NirOrderInvalid,
                 Errc::NirKeyInvalid, Errc::NirKeyMismatch, Errc::NirPseudoMonth}) {
    EXPECT_NE(std::find(seen.begin(), seen.end(), e), seen.end()) << info(e).code;
  }
}

TEST(NirCheckMessages, PseudoMonthIsInformationOnly) {
  const CheckResult result = check(nir("1", "62", "50", "75056", "010"));
  ASSERT_EQ(result.issues.size(), 1u);
  EXPECT_EQ(result.issues.items()[0].severity, Severity::Information);
  EXPECT_TRUE(result.valid());
}

TEST(NirCheckMessages, LocationDefaultsToEmpty) {
  const CheckResult result = check("279035121518988");
  ASSERT_EQ(result.issues.size(), 1u);
  EXPECT_EQ(result.issues.items()[0].code, Errc::NirKeyMismatch);
  EXPECT_EQ(result.issues.items()[0].location, "");
  EXPECT_EQ(result.issues.items()[0].message,
            "La clé de contrôle du NIR ne correspond pas aux treize premiers caractères.");
}

// Every key of a fixed body: exactly one is accepted.
TEST(NirCheckKey, OnlyTheComputedKeyIsAccepted) {
  for (const std::string& b :
       {body("1", "85", "05", "38185", "123"), body("2", "53", "07", "2A073", "004"),
        body("2", "53", "07", "2B073", "004"), body("1", "88", "04", "97101", "061")}) {
    SCOPED_TRACE(b);
    int accepted = 0;
    for (int key = 1; key <= 97; ++key) {
      const std::string text = twoDigits(key);
      const CheckResult result = check(b + text);
      if (result.valid()) {
        ++accepted;
        EXPECT_EQ(text, keyOf(b));
      } else {
        EXPECT_EQ(codesOf(result.issues), codesOf({Errc::NirKeyMismatch}));
      }
    }
    EXPECT_EQ(accepted, 1);
  }
}

// --- normalize(), expectedKey(), decode() ------------------------------------------------------

TEST(NirNormalize, RemovesPresentationAndUpperCases) {
  EXPECT_EQ(normalize("2 79 03 51 215 189 89"), "279035121518989");
  EXPECT_EQ(normalize("2.53.07.2a.073.004-43"), "253072A07300443");
  EXPECT_EQ(normalize("\xC2\xA0"
                      "1\xE2\x80\xAF"
                      "2\t"),
            "12");
  EXPECT_EQ(normalize("ab"), "AB");
  EXPECT_EQ(normalize(""), "");
  EXPECT_EQ(normalize(" - "), "");
  EXPECT_EQ(normalize("12 34 56 78 90 12 34 56"), "1234567890123456");
}

TEST(NirNormalize, RejectsAnyOtherByte) {
  for (std::string_view input : {"12c", "x", "1;2", "1\n2", "\xC2", "\xC2\xA1", "\xE2\x80",
                                 "\xE2\x81\xAF", "\xEF\xBC\x91" /* full-width 1 */}) {
    SCOPED_TRACE(input);
    EXPECT_EQ(normalize(input), std::nullopt);
  }
}

TEST(NirExpectedKey, SpecVectors) {
  EXPECT_EQ(expectedKey("279035121518989"), 89);
  EXPECT_EQ(expectedKey("162018885045327"), 27);
  EXPECT_EQ(expectedKey("253072B07300470"), 70);
  EXPECT_EQ(expectedKey("253072A07300443"), 43);
  EXPECT_EQ(expectedKey("295109912611193"), 93);
  EXPECT_EQ(expectedKey("123456789012244"), 12);
  EXPECT_EQ(expectedKey("2790351215189"), 89);  // 13 characters are enough
}

TEST(NirExpectedKey, CorsicaReadAs19And18) {
  EXPECT_EQ(expectedKey("253072A073004"), expectedKey("2530719073004"));
  EXPECT_EQ(expectedKey("253072B073004"), expectedKey("2530718073004"));
  EXPECT_NE(expectedKey("253072A073004"), expectedKey("253072B073004"));
}

TEST(NirExpectedKey, NotComputable) {
  EXPECT_EQ(expectedKey(""), -1);
  EXPECT_EQ(expectedKey("279035121518"), -1);
  EXPECT_EQ(expectedKey("2790351215A89"), -1);
  EXPECT_EQ(expectedKey("25307A2073004"), -1);   // a letter, but not after the 2 of the department
  EXPECT_EQ(expectedKey("2 790351215189"), -1);  // not normalised
}

TEST(NirExpectedKey, MatchesIndependentComputation) {
  // Pseudo-random bodies (fixed seed): the library agrees with the digit-by-digit remainder.
  std::uint32_t state = 12345;
  const auto next = [&] { return state = state * 1103515245u + 12345u; };
  for (int i = 0; i < 2000; ++i) {
    std::string b;
    for (int j = 0; j < 13; ++j) {
      b.push_back(static_cast<char>('0' + (next() >> 16) % 10));
    }
    SCOPED_TRACE(b);
    EXPECT_EQ(expectedKey(b), std::stoi(keyOf(b)));
  }
}

TEST(NirDecode, MainlandFields) {
  const std::optional<Parts> p = decode("279035121518989");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->sex, '2');
  EXPECT_EQ(p->year, 79);
  EXPECT_EQ(p->month, 3);
  EXPECT_EQ(p->department, "51");
  EXPECT_EQ(p->commune, "215");
  EXPECT_EQ(p->birth_place, "51215");
  EXPECT_EQ(p->order, 189);
  EXPECT_EQ(p->key, 89);
  EXPECT_FALSE(p->born_abroad);
  EXPECT_FALSE(p->overseas);
}

TEST(NirDecode, CorsicaOverseasAbroad) {
  const std::optional<Parts> corsica = decode("253072B07300470");
  ASSERT_TRUE(corsica.has_value());
  EXPECT_EQ(corsica->department, "2B");
  EXPECT_EQ(corsica->commune, "073");
  EXPECT_EQ(corsica->birth_place, "2B073");

  const std::string reunion = nir("2", "90", "07", "97411", "233");
  const std::optional<Parts> overseas = decode(reunion);
  ASSERT_TRUE(overseas.has_value());
  EXPECT_EQ(overseas->department, "974");
  EXPECT_EQ(overseas->commune, "11");
  EXPECT_EQ(overseas->birth_place, "97411");
  EXPECT_EQ(overseas->order, 233);
  EXPECT_TRUE(overseas->overseas);
  EXPECT_FALSE(overseas->born_abroad);

  const std::optional<Parts> abroad = decode("295109912611193");
  ASSERT_TRUE(abroad.has_value());
  EXPECT_EQ(abroad->department, "99");
  EXPECT_EQ(abroad->commune, "126");
  EXPECT_EQ(abroad->birth_place, "99126");
  EXPECT_EQ(abroad->month, 10);
  EXPECT_TRUE(abroad->born_abroad);
  EXPECT_FALSE(abroad->overseas);
}

TEST(NirDecode, ValuesAreNotJudgedOnlyCharacterPlaces) {
  // decode() reads fields; check() judges them (a pseudo-month, a wrong key still decode).
  const std::optional<Parts> p = decode("162508885045300");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->month, 50);
  EXPECT_EQ(p->key, 0);
}

TEST(NirDecode, RejectsMisplacedCharacters) {
  for (std::string_view n :
       {"27903512151898", "2790351215189890", "253072a07300443", "2530A2B07300470",
        "25307A207300443", "2 79035121518989", "A79035121518989", "2790351215189A9", ""}) {
    SCOPED_TRACE(n);
    EXPECT_EQ(decode(n), std::nullopt);
  }
}

// --- traits ------------------------------------------------------------------------------------

struct TraitsCase {
  std::string name;
  std::string nir;  // normalised
  Traits traits;
  std::vector<Errc> codes;
};

void PrintTo(const TraitsCase& c, std::ostream* os) {
  *os << c.name;
}

Traits sexTrait(char s) {
  Traits t;
  t.sex = s;
  return t;
}
Traits yearTrait(int y) {
  Traits t;
  t.birth_year = y;
  return t;
}
Traits monthTrait(int m) {
  Traits t;
  t.birth_month = m;
  return t;
}
Traits inseeTrait(std::string code) {
  Traits t;
  t.birth_place_insee = std::move(code);
  return t;
}
Traits departmentTrait(std::string code) {
  Traits t;
  t.birth_department = std::move(code);
  return t;
}

std::vector<TraitsCase> traitsCases() {
  const std::string woman = "279035121518989";  // F, 1979, March, 51215
  const std::string man = nir("1", "85", "05", "38185", "123");
  const std::string corsica = "253072A07300443";
  const std::string abroad = "295109912611193";
  const std::string reunion = nir("2", "90", "07", "97411", "233");
  const auto month = [](std::string_view mm) { return nir("1", "62", mm, "75056", "010"); };

  Traits all;
  all.sex = 'F';
  all.birth_year = 1979;
  all.birth_month = 3;
  all.birth_place_insee = "51215";
  Traits all_wrong;
  all_wrong.sex = 'M';
  all_wrong.birth_year = 1980;
  all_wrong.birth_month = 4;
  all_wrong.birth_place_insee = "51216";
  Traits insee_wins = inseeTrait("51215");
  insee_wins.birth_department = "52";

  return {
      {"NoTraits", woman, Traits{}, {}},
      {"AllMatch", woman, all, {}},
      {"AllMismatch",
       woman,
       all_wrong,
       {Errc::NirTraitSexMismatch, Errc::NirTraitYearMismatch, Errc::NirTraitMonthMismatch,
        Errc::NirTraitPlaceMismatch}},
      // sex
      {"SexFemale", woman, sexTrait('F'), {}},
      {"SexFemaleLowerCase", woman, sexTrait('f'), {}},
      {"SexMaleOnFemaleNir", woman, sexTrait('M'), {Errc::NirTraitSexMismatch}},
      {"SexMale", man, sexTrait('M'), {}},
      {"SexFemaleOnMaleNir", man, sexTrait('F'), {Errc::NirTraitSexMismatch}},
      {"SexUnknownTrait", man, sexTrait('U'), {Errc::NirTraitSexMismatch}},
      {"Sex3Male", nir("3", "91", "02", "13055", "123"), sexTrait('M'), {}},
      {"Sex3Female",
       nir("3", "91", "02", "13055", "123"),
       sexTrait('F'),
       {Errc::NirTraitSexMismatch}},
      {"Sex4Female", nir("4", "91", "02", "13055", "123"), sexTrait('F'), {}},
      {"Sex7Male", nir("7", "91", "02", "13055", "123"), sexTrait('M'), {}},
      {"Sex7Female",
       nir("7", "91", "02", "13055", "123"),
       sexTrait('F'),
       {Errc::NirTraitSexMismatch}},
      {"Sex8Female", nir("8", "91", "02", "13055", "123"), sexTrait('F'), {}},
      {"Sex8Male",
       nir("8", "91", "02", "13055", "123"),
       sexTrait('M'),
       {Errc::NirTraitSexMismatch}},
      // A sex digit that encodes no sex is a structure error; the trait is not compared.
      {"Sex9NotCompared", nir("9", "91", "02", "13055", "123"), sexTrait('M'), {}},
      // year
      {"Year", woman, yearTrait(1979), {}},
      {"YearOtherCentury", woman, yearTrait(2079), {}},
      {"YearMismatch", woman, yearTrait(1978), {Errc::NirTraitYearMismatch}},
      {"YearTwoDigitsMismatch", woman, yearTrait(1997), {Errc::NirTraitYearMismatch}},
      {"Year2000", nir("2", "00", "01", "75056", "001"), yearTrait(2000), {}},
      // month
      {"Month", woman, monthTrait(3), {}},
      {"MonthMismatch", woman, monthTrait(4), {Errc::NirTraitMonthMismatch}},
      {"Month31IsJanuary", month("31"), monthTrait(1), {}},
      {"Month42IsDecember", month("42"), monthTrait(12), {}},
      {"Month33Mismatch", month("33"), monthTrait(4), {Errc::NirTraitMonthMismatch}},
      {"Month33NotMarchLiteral", month("33"), monthTrait(33), {Errc::NirTraitMonthMismatch}},
      {"PseudoMonth20Skipped", month("20"), monthTrait(5), {}},
      {"PseudoMonth30Skipped", month("30"), monthTrait(5), {}},
      {"PseudoMonth50Skipped", month("50"), monthTrait(5), {}},
      {"PseudoMonth99Skipped", month("99"), monthTrait(5), {}},
      // birth place: INSEE code of positions 6-10
      {"Insee", woman, inseeTrait("51215"), {}},
      {"InseeMismatch", woman, inseeTrait("51216"), {Errc::NirTraitPlaceMismatch}},
      {"InseeOtherDepartment", woman, inseeTrait("52215"), {Errc::NirTraitPlaceMismatch}},
      {"InseeTooShort", woman, inseeTrait("5121"), {Errc::NirTraitPlaceMismatch}},
      {"InseeTooLong", woman, inseeTrait("512150"), {Errc::NirTraitPlaceMismatch}},
      {"InseeCorsica", corsica, inseeTrait("2A073"), {}},
      {"InseeCorsicaLowerCase", corsica, inseeTrait("2a073"), {}},
      {"InseeCorsicaOtherHalf", corsica, inseeTrait("2B073"), {Errc::NirTraitPlaceMismatch}},
      {"InseeCorsicaNumeric", corsica, inseeTrait("20073"), {Errc::NirTraitPlaceMismatch}},
      {"InseeAbroad", abroad, inseeTrait("99126"), {}},
      {"InseeAbroadOtherCountry", abroad, inseeTrait("99127"), {Errc::NirTraitPlaceMismatch}},
      {"InseeOverseas", reunion, inseeTrait("97411"), {}},
      {"InseeOverseasMismatch", reunion, inseeTrait("97412"), {Errc::NirTraitPlaceMismatch}},
      // birth place: department only
      {"Department", woman, departmentTrait("51"), {}},
      {"DepartmentMismatch", woman, departmentTrait("52"), {Errc::NirTraitPlaceMismatch}},
      {"DepartmentThreeCharacters", woman, departmentTrait("512"), {Errc::NirTraitPlaceMismatch}},
      {"DepartmentOverseas", reunion, departmentTrait("974"), {}},
      {"DepartmentOverseasTwoDigits",
       reunion,
       departmentTrait("97"),
       {Errc::NirTraitPlaceMismatch}},
      {"DepartmentCorsica", corsica, departmentTrait("2A"), {}},
      {"DepartmentCorsicaLowerCase", corsica, departmentTrait("2a"), {}},
      {"DepartmentCorsicaMismatch", corsica, departmentTrait("2B"), {Errc::NirTraitPlaceMismatch}},
      {"DepartmentAbroad", abroad, departmentTrait("99"), {}},
      {"DepartmentIgnoredWhenInseeGiven", woman, insee_wins, {}},
  };
}

class NirTraits : public ::testing::TestWithParam<TraitsCase> {};

TEST_P(NirTraits, ReportsExactlyTheExpectedMismatches) {
  const TraitsCase& c = GetParam();
  IssueList issues;
  checkTraits(c.nir, c.traits, issues, kLocation);
  EXPECT_EQ(codesOf(issues), codesOf(c.codes));
  for (const Issue& issue : issues.items()) {
    EXPECT_EQ(issue.location, kLocation);
    EXPECT_EQ(issue.severity, Severity::Error);
  }
  expectMessagesFree(issues, c.nir);
}

INSTANTIATE_TEST_SUITE_P(Table, NirTraits, ::testing::ValuesIn(traitsCases()),
                         [](const ::testing::TestParamInfo<TraitsCase>& param_info) {
                           return param_info.param.name;
                         });

TEST(NirTraitsTable, EveryTraitCodeIsCovered) {
  std::vector<Errc> seen;
  for (const TraitsCase& c : traitsCases()) {
    seen.insert(seen.end(), c.codes.begin(), c.codes.end());
  }
  for (Errc e : {Errc::NirTraitSexMismatch, Errc::NirTraitYearMismatch, Errc::NirTraitMonthMismatch,
                 Errc::NirTraitPlaceMismatch}) {
    EXPECT_NE(std::find(seen.begin(), seen.end(), e), seen.end()) << info(e).code;
  }
}

TEST(NirTraitsAppend, KeepsExistingIssuesAndIgnoresUndecodableNir) {
  IssueList issues;
  issues.add(Errc::FormRequiredMissing, "champ manquant");
  checkTraits("279035121518989", sexTrait('M'), issues);
  EXPECT_EQ(codesOf(issues), codesOf({Errc::FormRequiredMissing, Errc::NirTraitSexMismatch}));
  checkTraits("2 79 03 51 215 189 89", sexTrait('M'), issues);  // not normalised: nothing read
  checkTraits("27903512151898", sexTrait('M'), issues);
  EXPECT_EQ(issues.size(), 2u);
}

TEST(NirCheckWithTraits, StructureThenTraits) {
  Traits traits;
  traits.sex = 'M';
  traits.birth_year = 1979;
  traits.birth_place_insee = "51215";
  const CheckResult result = check("2 79 03 51 215 189 89", traits, kLocation);
  EXPECT_EQ(result.normalized, "279035121518989");
  EXPECT_EQ(codesOf(result.issues), codesOf({Errc::NirTraitSexMismatch}));
  EXPECT_FALSE(result.valid());
  EXPECT_EQ(result.issues.items()[0].location, kLocation);
  expectMessagesFree(result.issues, result.normalized);
}

TEST(NirCheckWithTraits, MatchingTraitsAreValid) {
  Traits traits;
  traits.sex = 'F';
  traits.birth_year = 1953;
  traits.birth_month = 7;
  traits.birth_place_insee = "2a073";
  const CheckResult result = check("2 53 07 2a 073 004 43", traits);
  EXPECT_TRUE(result.issues.empty());
  EXPECT_TRUE(result.valid());
}

TEST(NirCheckWithTraits, DecodableNirWithWrongKeyStillGetsTraitsChecked) {
  const CheckResult result = check("279035121518988", yearTrait(1980), kLocation);
  EXPECT_EQ(codesOf(result.issues), codesOf({Errc::NirKeyMismatch, Errc::NirTraitYearMismatch}));
}

TEST(NirCheckWithTraits, UndecodableNirSkipsTraits) {
  Traits traits = sexTrait('M');
  traits.birth_year = 1900;
  EXPECT_EQ(codesOf(check("2790351215189", traits).issues), codesOf({Errc::NirLength}));
  EXPECT_EQ(codesOf(check("27903512151898X", traits).issues), codesOf({Errc::NirInvalidCharacter}));
  EXPECT_EQ(codesOf(check("", traits).issues), codesOf({Errc::NirEmpty}));
  EXPECT_EQ(codesOf(check("2790351215B8989", traits).issues), codesOf({Errc::NirInvalidCharacter}));
  EXPECT_EQ(codesOf(check("191023A05512301", traits).issues),
            codesOf({Errc::NirDepartmentInvalid}));
}

// --- identifier systems ------------------------------------------------------------------------

TEST(NirSystem, KindOfSystemWithAndWithoutPrefix) {
  struct Row {
    std::string_view oid;
    IdentifierKind kind;
  };
  for (const Row& row : {Row{"1.2.250.1.213.1.4.8", IdentifierKind::InsNir},
                         Row{"1.2.250.1.213.1.4.9", IdentifierKind::InsNia},
                         Row{"1.2.250.1.213.1.4.10", IdentifierKind::InsNirTest},
                         Row{"1.2.250.1.213.1.4.11", IdentifierKind::InsNirDemo}}) {
    SCOPED_TRACE(row.oid);
    EXPECT_EQ(kindOfSystem(row.oid), row.kind);
    EXPECT_EQ(kindOfSystem("urn:oid:" + std::string(row.oid)), row.kind);
  }
}

TEST(NirSystem, UnknownSystems) {
  for (std::string_view system :
       {"", "urn:oid:", "1.2.250.1.213.1.4.2", "urn:oid:1.2.250.1.213.1.4.13",
        "1.2.250.1.213.1.4.80", "1.2.250.1.213.1.4.", "1.2.250.1.213.1.4.8 ",
        " 1.2.250.1.213.1.4.8", "urn:oid:urn:oid:1.2.250.1.213.1.4.8",
        "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203", "1.2.250.1.213.1.4.8.1"}) {
    SCOPED_TRACE(system);
    EXPECT_EQ(kindOfSystem(system), IdentifierKind::Unknown);
  }
}

TEST(NirSystem, IdentifierSystemTable) {
  const IdentifierSystem& nir_system = identifierSystem(IdentifierKind::InsNir);
  EXPECT_EQ(nir_system.kind, IdentifierKind::InsNir);
  EXPECT_EQ(nir_system.oid, "1.2.250.1.213.1.4.8");
  EXPECT_EQ(nir_system.uri, "urn:oid:1.2.250.1.213.1.4.8");
  EXPECT_EQ(nir_system.fr_core_type, "INS-NIR");
  EXPECT_EQ(nir_system.use, "official");

  const IdentifierSystem& nia = identifierSystem(IdentifierKind::InsNia);
  EXPECT_EQ(nia.oid, "1.2.250.1.213.1.4.9");
  EXPECT_EQ(nia.uri, "urn:oid:1.2.250.1.213.1.4.9");
  EXPECT_EQ(nia.fr_core_type, "INS-NIA");
  EXPECT_EQ(nia.use, "temp");

  const IdentifierSystem& test = identifierSystem(IdentifierKind::InsNirTest);
  EXPECT_EQ(test.uri, "urn:oid:1.2.250.1.213.1.4.10");
  EXPECT_EQ(test.fr_core_type, "INS-NIR-TEST");
  EXPECT_EQ(test.use, "official");

  const IdentifierSystem& demo = identifierSystem(IdentifierKind::InsNirDemo);
  EXPECT_EQ(demo.uri, "urn:oid:1.2.250.1.213.1.4.11");
  EXPECT_EQ(demo.fr_core_type, "INS-NIR-DEMO");
  EXPECT_EQ(demo.use, "official");

  for (IdentifierKind kind : {IdentifierKind::InsNir, IdentifierKind::InsNia,
                              IdentifierKind::InsNirTest, IdentifierKind::InsNirDemo}) {
    EXPECT_EQ(identifierSystem(kind).kind, kind);
    EXPECT_EQ(kindOfSystem(identifierSystem(kind).uri), kind);
    EXPECT_EQ(kindOfSystem(identifierSystem(kind).oid), kind);
  }
}

// --- postal codes ------------------------------------------------------------------------------

TEST(NirPostalCode, DepartmentOfPostalCode) {
  struct Row {
    std::string_view postal_code;
    std::string_view department;
  };
  for (const Row& row :
       {Row{"38000", "38"}, Row{"75001", "75"}, Row{"01000", "01"}, Row{"95000", "95"},
        Row{"20000", "2A"}, Row{"20090", "2A"}, Row{"20199", "2A"}, Row{"20200", "2B"},
        Row{"20600", "2B"}, Row{"20699", "2B"}, Row{"20700", "20"}, Row{"97400", "974"},
        Row{"97133", "971"}, Row{"97600", "976"}, Row{"98800", "988"}, Row{"98000", "980"},
        Row{"96000", "96"}, Row{"99000", "99"}}) {
    SCOPED_TRACE(row.postal_code);
    EXPECT_EQ(departmentOfPostalCode(row.postal_code), std::string(row.department));
  }
}

TEST(NirPostalCode, NotAPostalCode) {
  for (std::string_view text :
       {"", "3800", "380000", "38 00", "2A004", "38-00", " 38000", "abcde", "９７４００"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(departmentOfPostalCode(text), std::nullopt);
  }
}

}  // namespace
}  // namespace liaison::nir
