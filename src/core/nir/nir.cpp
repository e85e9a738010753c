#include "core/nir/nir.hpp"

#include <array>
#include <initializer_list>
#include <utility>

namespace liaison::nir {
namespace {

// --- normalisation -----------------------------------------------------------------------------

// What each byte becomes: the normalised character (digits; A/B upper-cased), kSkip for a
// separator, kLook for a byte that needs a closer look (the lead byte of U+00A0 / U+202F) or is
// not accepted. A table rather than a chain of comparisons: this loop runs for every character
// of every NIR of a bulk intake.
constexpr unsigned char kSkip = 0;
constexpr unsigned char kLook = 0xFF;

constexpr std::array<unsigned char, 256> kByteMap = [] {
  std::array<unsigned char, 256> t{};
  t.fill(kLook);
  for (int c = '0'; c <= '9'; ++c) {
    t[static_cast<std::size_t>(c)] = static_cast<unsigned char>(c);
  }
  t['A'] = t['a'] = 'A';
  t['B'] = t['b'] = 'B';
  for (char c : {' ', '\t', '.', '-', '/', '_'}) {
    t[static_cast<unsigned char>(c)] = kSkip;
  }
  return t;
}();

struct Normalized {
  std::size_t length;  // characters kept, including those beyond the capacity of the buffer
  bool ok;             // false: a byte is not part of the accepted presentation
  bool has_letter;     // an A or B was kept
};

// Writes at most `capacity` normalised characters into `out` but counts them all, so that the
// caller can tell a 15-character NIR (the hot path, no allocation) from a longer text.
// `out` must have capacity + 1 slots: the last one absorbs the stores past the end and those of
// separators, which keeps the loop free of branches but the rare one for multi-byte characters.
Normalized normalizeInto(std::string_view input, char* out, std::size_t capacity) {
  std::size_t n = 0;
  unsigned seen = 0;  // OR of the kept characters: bit 0x40 is set by 'A'/'B', never by a digit
  const auto* p = reinterpret_cast<const unsigned char*>(input.data());
  const auto* const end = p + input.size();
  while (p != end) {
    const unsigned char mapped = kByteMap[*p];
    if (mapped == kLook) {
      if (*p == 0xC2 && end - p >= 2 && p[1] == 0xA0) {  // U+00A0 NO-BREAK SPACE
        p += 2;
        continue;
      }
      if (*p == 0xE2 && end - p >= 3 && p[1] == 0x80 && p[2] == 0xAF) {  // U+202F NARROW NBSP
        p += 3;
        continue;
      }
      return {n, false, false};
    }
    out[n < capacity ? n : capacity] = static_cast<char>(mapped);
    n += mapped != kSkip ? 1 : 0;
    seen |= mapped;
    ++p;
  }
  return {n, true, (seen & 0x40) != 0};
}

// --- small helpers on a normalised text ------------------------------------------------------

constexpr bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

constexpr int digit(char c) {
  return c - '0';
}

constexpr int twoDigits(const char* s) {
  return digit(s[0]) * 10 + digit(s[1]);
}

constexpr int threeDigits(const char* s) {
  return digit(s[0]) * 100 + twoDigits(s + 1);
}

bool allDigits(const char* s, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    if (!isDigit(s[i])) return false;
  }
  return true;
}

constexpr char upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

// Positions (0-based) of the fields in a 15-character NIR.
constexpr std::size_t kSex = 0, kYear = 1, kMonth = 3, kDepartment = 5, kCommune = 7, kOrder = 10,
                      kKey = 13;

// Only these two department codes contain a letter, and only at position 6 (1-based 7).
bool isCorsica(const char* s) {
  return s[kDepartment] == '2' && (s[6] == 'A' || s[6] == 'B');
}

// The place layout follows from the first two characters of the department: 97x/98x use a
// three-character department and a two-digit commune, 99 is followed by a country code.
enum class PlaceLayout : std::uint8_t { Mainland, Overseas, Abroad };

PlaceLayout placeLayout(const char* s) {
  if (s[kDepartment] == '9') {
    if (s[6] == '7' || s[6] == '8') return PlaceLayout::Overseas;
    if (s[6] == '9') return PlaceLayout::Abroad;
  }
  return PlaceLayout::Mainland;
}

// Overseas departments and collectivities in use: 971-978 and 984-989.
bool isOverseasDepartment(int third_digit, char second) {
  if (second == '7') return third_digit >= 1 && third_digit <= 8;
  return third_digit >= 4;  // 98x
}

// Key over the first 13 characters, Corsica mapped to its historical numeric department
// (2A -> 19, 2B -> 18). -1 when a character other than that letter is not a digit.
int computeKey(const char* s) {
  std::uint64_t n = 0;
  const auto append = [&n](const char* from, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      if (!isDigit(from[i])) return false;
      n = n * 10 + static_cast<std::uint64_t>(digit(from[i]));
    }
    return true;
  };
  if (!append(s, kDepartment)) return -1;
  const char letter = upper(s[6]);
  if (s[kDepartment] == '2' && (letter == 'A' || letter == 'B')) {
    n = n * 100 + (letter == 'A' ? 19 : 18);
  } else if (!append(s + kDepartment, 2)) {
    return -1;
  }
  if (!append(s + kCommune, 13 - kCommune)) return -1;
  return static_cast<int>(97 - n % 97);
}

// --- messages (French, for a secretariat) ------------------------------------------------------
// They never quote the NIR nor any part of it (patient data); they contain no digit at all, so
// that a test can prove it whatever the NIR.

constexpr std::string_view kMsgEmpty = "Le NIR (matricule INS) est vide.";
constexpr std::string_view kMsgInvalidCharacter =
    "Le NIR contient un caractère non admis : seuls les chiffres, les lettres A ou B du "
    "département corse et les séparateurs usuels (espace, point, tiret) sont acceptés.";
constexpr std::string_view kMsgMisplacedLetter =
    "Le NIR contient une lettre ailleurs que dans le département corse : la clé de contrôle ne "
    "peut pas être vérifiée.";
constexpr std::string_view kMsgLength =
    "Le NIR doit comporter quinze caractères (treize caractères suivis d'une clé de deux "
    "chiffres).";
constexpr std::string_view kMsgSexInvalid =
    "Le premier chiffre du NIR, qui indique le sexe, n'a pas une valeur possible.";
constexpr std::string_view kMsgProvisional =
    "Le NIR est un numéro provisoire : il ne peut pas servir de matricule INS.";
constexpr std::string_view kMsgMonthInvalid =
    "Le mois de naissance indiqué dans le NIR n'a pas une valeur possible.";
constexpr std::string_view kMsgPseudoMonth =
    "Le mois de naissance du NIR est conventionnel (état civil incomplet) ; il n'est pas contrôlé.";
constexpr std::string_view kMsgDepartmentInvalid =
    "Le département de naissance indiqué dans le NIR n'existe pas.";
constexpr std::string_view kMsgDepartmentLetter =
    "Le département de naissance indiqué dans le NIR n'existe pas : seuls les deux départements "
    "corses comportent une lettre.";
constexpr std::string_view kMsgCommuneInvalid =
    "Le code de la commune de naissance indiqué dans le NIR n'est pas valide.";
constexpr std::string_view kMsgCountryInvalid =
    "Le code du pays de naissance indiqué dans le NIR n'est pas valide.";
constexpr std::string_view kMsgOrderInvalid =
    "Le numéro d'ordre indiqué dans le NIR n'est pas valide.";
constexpr std::string_view kMsgKeyInvalid =
    "La clé de contrôle du NIR n'a pas une valeur possible.";
constexpr std::string_view kMsgKeyMismatch =
    "La clé de contrôle du NIR ne correspond pas aux treize premiers caractères.";

constexpr std::string_view kMsgTraitSex =
    "Le sexe indiqué par le NIR ne correspond pas au sexe du patient.";
constexpr std::string_view kMsgTraitYear =
    "L'année de naissance indiquée par le NIR ne correspond pas à celle du patient.";
constexpr std::string_view kMsgTraitMonth =
    "Le mois de naissance indiqué par le NIR ne correspond pas à celui du patient.";
constexpr std::string_view kMsgTraitPlace =
    "Le lieu de naissance indiqué par le NIR ne correspond pas au code INSEE du lieu de naissance "
    "du patient.";
constexpr std::string_view kMsgTraitDepartment =
    "Le département de naissance indiqué par le NIR ne correspond pas à celui du patient.";

void report(IssueList& out, Errc code, std::string_view message, std::string_view location) {
  out.add(code, std::string(message), {}, std::string(location));
}

// Field checks of a normalised text of exactly 15 characters (digits and upper-case A/B).
//
// Misplaced letters: a letter in the department field (positions 6-7, 1-based) that does not
// form 2A/2B is reported as nir-department-invalid; a letter anywhere else as
// nir-invalid-character (once). Either way the key is not computable and no key issue is added,
// and a field holding a letter is not judged further (its value is unknown).
void checkFields(const char* s, bool has_letter, IssueList& out, std::string_view location) {
  const bool corsica = isCorsica(s);
  bool letter_elsewhere = false;
  bool letter_in_department = false;
  if (has_letter) {  // rare: the loop is skipped for the usual all-digit NIR
    for (std::size_t i = 0; i < kLength; ++i) {
      if (!isDigit(s[i]) && i != kDepartment && i != 6) letter_elsewhere = true;
    }
    letter_in_department = !corsica && (!isDigit(s[kDepartment]) || !isDigit(s[kDepartment + 1]));
  }

  if (letter_elsewhere) report(out, Errc::NirInvalidCharacter, kMsgMisplacedLetter, location);

  switch (s[kSex]) {
    case '1':
    case '2':
      break;
    case '3':
    case '4':
    case '7':
    case '8':
      report(out, Errc::NirProvisional, kMsgProvisional, location);
      break;
    default:
      if (isDigit(s[kSex])) report(out, Errc::NirSexInvalid, kMsgSexInvalid, location);
      break;
  }

  if (allDigits(s + kMonth, 2)) {
    const int month = twoDigits(s + kMonth);
    if (month >= 1 && month <= 12) {
      // the common case
    } else if ((month >= 20 && month <= 42) || month >= 50) {
      report(out, Errc::NirPseudoMonth, kMsgPseudoMonth, location);
    } else {
      report(out, Errc::NirMonthInvalid, kMsgMonthInvalid, location);
    }
  }

  if (letter_in_department) {
    report(out, Errc::NirDepartmentInvalid, kMsgDepartmentLetter, location);
  } else {
    switch (placeLayout(s)) {
      case PlaceLayout::Mainland:
        // 01-96 (20 before 1976, 91-96 for Algeria, Morocco, Tunisia before independence), 2A/2B.
        if (!corsica && twoDigits(s + kDepartment) == 0) {
          report(out, Errc::NirDepartmentInvalid, kMsgDepartmentInvalid, location);
        }
        if (allDigits(s + kCommune, 3) && threeDigits(s + kCommune) == 0) {
          report(out, Errc::NirCommuneInvalid, kMsgCommuneInvalid, location);
        }
        break;
      case PlaceLayout::Overseas:
        if (isDigit(s[kCommune]) && !isOverseasDepartment(digit(s[kCommune]), s[6])) {
          report(out, Errc::NirDepartmentInvalid, kMsgDepartmentInvalid, location);
        }
        if (allDigits(s + kCommune + 1, 2) && twoDigits(s + kCommune + 1) == 0) {
          report(out, Errc::NirCommuneInvalid, kMsgCommuneInvalid, location);
        }
        break;
      case PlaceLayout::Abroad:
        if (allDigits(s + kCommune, 3) && threeDigits(s + kCommune) == 0) {
          report(out, Errc::NirCountryInvalid, kMsgCountryInvalid, location);
        }
        break;
    }
  }

  if (allDigits(s + kOrder, 3) && threeDigits(s + kOrder) == 0) {
    report(out, Errc::NirOrderInvalid, kMsgOrderInvalid, location);
  }

  if (allDigits(s + kKey, 2)) {
    const int key = twoDigits(s + kKey);
    if (key < 1 || key > 97) {
      report(out, Errc::NirKeyInvalid, kMsgKeyInvalid, location);
    } else if (!letter_elsewhere && !letter_in_department && computeKey(s) != key) {
      report(out, Errc::NirKeyMismatch, kMsgKeyMismatch, location);
    }
  }
}

// --- traits ------------------------------------------------------------------------------------

// The comparisons of checkTraits(), on fields already decoded.
void compareTraits(const Parts& parts, const Traits& traits, IssueList& out,
                   std::string_view location) {
  if (traits.sex) {
    // A sex digit outside 1-4/7/8 tells nothing about the sex; check() already reports it.
    char expected = '\0';
    switch (parts.sex) {
      case '1':
      case '3':
      case '7':
        expected = 'M';
        break;
      case '2':
      case '4':
      case '8':
        expected = 'F';
        break;
      default:
        break;
    }
    if (expected != '\0' && upper(*traits.sex) != expected) {
      report(out, Errc::NirTraitSexMismatch, kMsgTraitSex, location);
    }
  }

  if (traits.birth_year && parts.year != *traits.birth_year % 100) {
    report(out, Errc::NirTraitYearMismatch, kMsgTraitYear, location);
  }

  if (traits.birth_month) {
    // 31-42 are read as month + 30 by some issuers; other pseudo-months mean "month unknown".
    int month = 0;
    if (parts.month >= 1 && parts.month <= 12) {
      month = parts.month;
    } else if (parts.month >= 31 && parts.month <= 42) {
      month = parts.month - 30;
    }
    if (month != 0 && month != *traits.birth_month) {
      report(out, Errc::NirTraitMonthMismatch, kMsgTraitMonth, location);
    }
  }

  const auto sameCode = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (upper(a[i]) != upper(b[i])) return false;
    }
    return true;
  };
  if (traits.birth_place_insee) {
    if (!sameCode(parts.birth_place, *traits.birth_place_insee)) {
      report(out, Errc::NirTraitPlaceMismatch, kMsgTraitPlace, location);
    }
  } else if (traits.birth_department) {
    if (!sameCode(parts.department, *traits.birth_department)) {
      report(out, Errc::NirTraitPlaceMismatch, kMsgTraitDepartment, location);
    }
  }
}

// --- identifier systems ------------------------------------------------------------------------

constexpr std::string_view kUrnOidPrefix = "urn:oid:";

// Indexed by IdentifierKind. The last row stands for Unknown so that a caller breaking the
// precondition of identifierSystem() gets empty strings rather than undefined behaviour.
constexpr std::array<IdentifierSystem, 5> kSystems = {{
    {IdentifierKind::InsNir, "1.2.250.1.213.1.4.8", "urn:oid:1.2.250.1.213.1.4.8", "INS-NIR",
     "official"},
    {IdentifierKind::InsNia, "1.2.250.1.213.1.4.9", "urn:oid:1.2.250.1.213.1.4.9", "INS-NIA",
     "temp"},
    {IdentifierKind::InsNirTest, "1.2.250.1.213.1.4.10", "urn:oid:1.2.250.1.213.1.4.10",
     "INS-NIR-TEST", "official"},
    {IdentifierKind::InsNirDemo, "1.2.250.1.213.1.4.11", "urn:oid:1.2.250.1.213.1.4.11",
     "INS-NIR-DEMO", "official"},
    {IdentifierKind::Unknown, "", "", "", ""},
}};

}  // namespace

IdentifierKind kindOfSystem(std::string_view system) {
  if (system.starts_with(kUrnOidPrefix)) system.remove_prefix(kUrnOidPrefix.size());
  for (const IdentifierSystem& row : kSystems) {
    if (row.kind != IdentifierKind::Unknown && row.oid == system) return row.kind;
  }
  return IdentifierKind::Unknown;
}

const IdentifierSystem& identifierSystem(IdentifierKind kind) {
  const auto index = static_cast<std::size_t>(kind);
  return kSystems[index < kSystems.size() ? index : kSystems.size() - 1];
}

IdentifierKind checkSystem(std::string_view system, IssueList& out, std::string_view location) {
  const IdentifierKind kind = kindOfSystem(system);
  if (kind == IdentifierKind::Unknown) {
    out.add(Errc::InsSystemUnknown,
            "Le système d'identifiant n'est pas celui d'un matricule INS (NIR, NIA, test ou "
            "démonstration).",
            {}, std::string(location));
  } else if (kind == IdentifierKind::InsNirTest || kind == IdentifierKind::InsNirDemo) {
    out.add(Errc::InsTestSystem,
            "INS de test ou de démonstration : à refuser pour un patient réel en production.", {},
            std::string(location));
  }
  return kind;
}

std::optional<std::string> normalize(std::string_view input) {
  std::string out(input.size() + 1, '\0');  // normalisation never lengthens the text
  const Normalized n = normalizeInto(input, out.data(), input.size());
  if (!n.ok) return std::nullopt;
  out.resize(n.length);
  return out;
}

int expectedKey(std::string_view normalized) {
  if (normalized.size() < 13) return -1;
  return computeKey(normalized.data());
}

std::optional<Parts> decode(std::string_view normalized) {
  if (normalized.size() != kLength) return std::nullopt;
  const char* s = normalized.data();
  const bool corsica = isCorsica(s);
  for (std::size_t i = 0; i < kLength; ++i) {
    if (!isDigit(s[i]) && !(i == 6 && corsica)) return std::nullopt;
  }
  const PlaceLayout layout = placeLayout(s);
  const std::size_t department_length = layout == PlaceLayout::Overseas ? 3 : 2;
  Parts parts{};
  parts.sex = s[kSex];
  parts.year = twoDigits(s + kYear);
  parts.month = twoDigits(s + kMonth);
  parts.department = normalized.substr(kDepartment, department_length);
  parts.commune =
      normalized.substr(kDepartment + department_length, kOrder - kDepartment - department_length);
  parts.birth_place = normalized.substr(kDepartment, kOrder - kDepartment);
  parts.order = threeDigits(s + kOrder);
  parts.key = twoDigits(s + kKey);
  parts.born_abroad = layout == PlaceLayout::Abroad;
  parts.overseas = layout == PlaceLayout::Overseas;
  return parts;
}

CheckResult check(std::string_view input, std::string_view location) {
  std::array<char, kLength + 1> buffer{};
  const Normalized n = normalizeInto(input, buffer.data(), kLength);
  if (n.ok && n.length == kLength) {
    IssueList issues;
    checkFields(buffer.data(), n.has_letter, issues, location);
    // Built in place in the caller's object: 15 characters fit the small-string buffer.
    return CheckResult{std::string(buffer.data(), kLength), std::move(issues)};
  }

  CheckResult result;
  if (!n.ok) {
    // `normalized` stays empty: the text is not a NIR in any presentation.
    report(result.issues, Errc::NirInvalidCharacter, kMsgInvalidCharacter, location);
  } else if (n.length == 0) {
    report(result.issues, Errc::NirEmpty, kMsgEmpty, location);
  } else {
    result.normalized = n.length < kLength ? std::string(buffer.data(), n.length)
                                           : *normalize(input);  // known to be accepted
    report(result.issues, Errc::NirLength, kMsgLength, location);
  }
  return result;
}

CheckResult check(std::string_view input, const Traits& traits, std::string_view location) {
  CheckResult result = check(input, location);
  // Traits are compared only when the fields can be read (structure errors are already there).
  if (const std::optional<Parts> parts = decode(result.normalized)) {
    compareTraits(*parts, traits, result.issues, location);
  }
  return result;
}

void checkTraits(std::string_view normalized, const Traits& traits, IssueList& out,
                 std::string_view location) {
  // Not a NIR whose fields can be read: nothing to compare, check() reports why.
  if (const std::optional<Parts> parts = decode(normalized)) {
    compareTraits(*parts, traits, out, location);
  }
}

std::optional<std::string> departmentOfPostalCode(std::string_view postal_code) {
  if (postal_code.size() != 5 || !allDigits(postal_code.data(), 5)) return std::nullopt;
  if (postal_code[0] == '2' && postal_code[1] == '0') {
    const int rest = threeDigits(postal_code.data() + 2);
    if (rest <= 199) return std::string("2A");
    if (rest <= 699) return std::string("2B");
  }
  if (postal_code[0] == '9' && (postal_code[1] == '7' || postal_code[1] == '8')) {
    return std::string(postal_code.substr(0, 3));
  }
  return std::string(postal_code.substr(0, 2));
}

}  // namespace liaison::nir
