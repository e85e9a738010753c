// IHE_XDM.ZIP reading: the generated hostile cases (tests/hostile/make_zip_cases.py, directory in
// LIAISON_HOSTILE_DIR), limits, names, layout, and random mutations that must never crash.

#include "parse/xdm/xdm_archive.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zip.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace liaison::parse {
namespace {

// ---- helpers -----------------------------------------------------------------------------------

// The generated cases, or nothing when the test runs outside ctest (the test then skips).
std::optional<std::string> hostileCase(const std::string& name) {
  const char* dir = std::getenv("LIAISON_HOSTILE_DIR");
  if (dir == nullptr) return std::nullopt;
  std::ifstream in(std::string(dir) + "/" + name, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return std::move(bytes).str();
}

#define LOAD_CASE(var, name)                                                                \
  const std::optional<std::string> var##_file = hostileCase(name);                          \
  if (!var##_file) GTEST_SKIP() << "LIAISON_HOSTILE_DIR not set or " << name << " missing"; \
  const std::string& var = *var##_file

std::uint32_t crc32(std::string_view data) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (const char ch : data)
    c = table[(c ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void putLe(std::string& out, std::uint64_t value, int width) {
  for (int i = 0; i < width; ++i)
    out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

// One entry of a hand-made archive: every header field the tests want to lie about.
struct RawEntry {
  std::string name;
  std::string data;  // written as is, after the local header
  std::uint16_t method = 0;
  std::uint16_t flags = 0;
  std::optional<std::uint32_t> crc = std::nullopt;            // default: CRC-32 of data
  std::optional<std::uint64_t> declared_size = std::nullopt;  // default: data.size()
  std::uint8_t host = 3;                                      // Unix
  std::uint32_t external = 0100644u << 16;
  bool descriptor = false;  // sizes and CRC in a data descriptor (flag bit 3)
};

// Stored-entry zip writer, for what libzip refuses to write.
class RawZip {
 public:
  explicit RawZip(bool zip64 = false) : zip64_(zip64) {}

  static std::string localHeader(const RawEntry& e) {
    std::string h;
    putLe(h, 0x04034b50, 4);
    putLe(h, 20, 2);
    putLe(h, e.flags | (e.descriptor ? 8 : 0), 2);
    putLe(h, e.method, 2);
    putLe(h, 0, 4);  // time, date
    putLe(h, e.descriptor ? 0 : crcOf(e), 4);
    putLe(h, e.descriptor ? 0 : e.data.size(), 4);
    putLe(h, e.descriptor ? 0 : declaredOf(e), 4);
    putLe(h, e.name.size(), 2);
    putLe(h, 0, 2);
    return h + e.name;
  }

  // Writes the local header, the data (and descriptor); returns the header's offset.
  std::uint64_t addLocal(const RawEntry& e) {
    const std::uint64_t offset = body_.size();
    body_ += localHeader(e) + e.data;
    if (e.descriptor) {
      putLe(body_, 0x08074b50, 4);
      putLe(body_, crcOf(e), 4);
      putLe(body_, e.data.size(), 4);
      putLe(body_, declaredOf(e), 4);
    }
    return offset;
  }

  void addCentral(const RawEntry& e, std::uint64_t local_offset) {
    std::string& c = central_;
    putLe(c, 0x02014b50, 4);
    putLe(c, (e.host << 8) | (zip64_ ? 45 : 20), 2);
    putLe(c, 20, 2);
    putLe(c, e.flags | (e.descriptor ? 8 : 0), 2);
    putLe(c, e.method, 2);
    putLe(c, 0, 4);
    putLe(c, crcOf(e), 4);
    putLe(c, zip64_ ? 0xFFFFFFFF : e.data.size(), 4);
    putLe(c, zip64_ ? 0xFFFFFFFF : declaredOf(e), 4);
    putLe(c, e.name.size(), 2);
    putLe(c, zip64_ ? 28 : 0, 2);  // extra
    putLe(c, 0, 2);                // comment
    putLe(c, 0, 2);                // disk
    putLe(c, 0, 2);                // internal attributes
    putLe(c, e.external, 4);
    putLe(c, zip64_ ? 0xFFFFFFFF : local_offset, 4);
    c += e.name;
    if (zip64_) {
      putLe(c, 0x0001, 2);
      putLe(c, 24, 2);
      putLe(c, declaredOf(e), 8);
      putLe(c, e.data.size(), 8);
      putLe(c, local_offset, 8);
    }
    ++count_;
  }

  // The central directory and the end records; `declared_count` lies about the count if given.
  std::string finish(std::optional<std::uint64_t> declared_count = std::nullopt) const {
    const std::uint64_t count = declared_count.value_or(count_);
    std::string out = body_;
    const std::uint64_t cd_offset = out.size();
    out += central_;
    if (zip64_) {
      const std::uint64_t record = out.size();
      putLe(out, 0x06064b50, 4);
      putLe(out, 44, 8);
      putLe(out, 45, 2);
      putLe(out, 45, 2);
      putLe(out, 0, 4);
      putLe(out, 0, 4);
      putLe(out, count, 8);
      putLe(out, count, 8);
      putLe(out, central_.size(), 8);
      putLe(out, cd_offset, 8);
      putLe(out, 0x07064b50, 4);
      putLe(out, 0, 4);
      putLe(out, record, 8);
      putLe(out, 1, 4);
    }
    putLe(out, 0x06054b50, 4);
    putLe(out, 0, 4);
    putLe(out, zip64_ ? 0xFFFF : count, 2);
    putLe(out, zip64_ ? 0xFFFF : count, 2);
    putLe(out, zip64_ ? 0xFFFFFFFF : central_.size(), 4);
    putLe(out, zip64_ ? 0xFFFFFFFF : cd_offset, 4);
    putLe(out, 0, 2);
    return out;
  }

 private:
  static std::uint32_t crcOf(const RawEntry& e) { return e.crc.value_or(crc32(e.data)); }
  static std::uint64_t declaredOf(const RawEntry& e) {
    return e.declared_size.value_or(e.data.size());
  }

  bool zip64_;
  std::string body_;
  std::string central_;
  std::uint64_t count_ = 0;
};

std::string rawZip(const std::vector<RawEntry>& entries, bool zip64 = false) {
  RawZip zip(zip64);
  std::vector<std::uint64_t> offsets;
  for (const RawEntry& e : entries)
    offsets.push_back(zip.addLocal(e));
  for (std::size_t i = 0; i < entries.size(); ++i)
    zip.addCentral(entries[i], offsets[i]);
  return zip.finish();
}

// A well-formed archive written by libzip itself, in memory (deflate unless told otherwise).
std::string libzipArchive(const std::vector<std::pair<std::string, std::string>>& files,
                          zip_int32_t method = ZIP_CM_DEFLATE) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  EXPECT_NE(archive, nullptr);
  zip_source_keep(buffer);
  for (const auto& [name, data] : files) {
    zip_int64_t index = -1;
    if (!name.empty() && name.back() == '/') {
      index = zip_dir_add(archive, name.c_str(), ZIP_FL_ENC_RAW);
    } else {
      zip_source_t* source = zip_source_buffer(archive, data.data(), data.size(), 0);
      index = zip_file_add(archive, name.c_str(), source, ZIP_FL_ENC_RAW);
      zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), method, 9);
    }
    EXPECT_GE(index, 0) << name;
  }
  EXPECT_EQ(zip_close(archive), 0);
  zip_source_open(buffer);
  zip_source_seek(buffer, 0, SEEK_END);
  const zip_int64_t size = zip_source_tell(buffer);
  zip_source_seek(buffer, 0, SEEK_SET);
  std::string out(static_cast<std::size_t>(size), '\0');
  zip_source_read(buffer, out.data(), out.size());
  zip_source_close(buffer);
  zip_source_free(buffer);
  zip_error_fini(&error);
  return out;
}

Errc codeOf(const Result<XdmArchive>& r) {
  EXPECT_FALSE(r.has_value()) << "expected an error";
  return r.has_value() ? Errc::InputUnreadable : r.error().code;
}

std::string deterministicText(std::size_t bytes, std::uint32_t seed) {
  static constexpr std::string_view kWords[] = {
      "patient",    "examen", "compte",     "rendu",   "biologie", "résultat",
      "normal",     "valeur", "<item>",     "</item>", "mmol/L",   "g/dL",
      "2024",       "code",   "LOINC",      "section", "cardio",   "dermato",
      "antécédent", "aucun",  "traitement", "dose",    "mg",       "observation"};
  std::mt19937 rng(seed);
  std::string out;
  out.reserve(bytes + 16);
  while (out.size() < bytes) {
    out += kWords[rng() % std::size(kWords)];
    out += (rng() % 8 == 0) ? '\n' : ' ';
    if (rng() % 5 == 0) out += std::to_string(rng() % 100000);
  }
  out.resize(bytes);
  return out;
}

long peakRssKiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// ---- the generated cases -----------------------------------------------------------------------

TEST(XdmFixtures, ValidArchive) {
  LOAD_CASE(zip, "valid.zip");
  EXPECT_TRUE(looksLikeZip(zip));
  auto archive = readXdm(zip);
  ASSERT_TRUE(archive.has_value()) << archive.error().detail;
  ASSERT_EQ(archive->entries.size(), 4u);  // the two directory entries are dropped
  EXPECT_EQ(archive->entries[0].path, "INDEX.HTM");
  EXPECT_EQ(archive->entries[1].path, "README.TXT");
  EXPECT_EQ(archive->entries[2].path, "IHE_XDM/SUBSET01/METADATA.XML");
  EXPECT_EQ(archive->entries[3].path, "IHE_XDM/SUBSET01/DOC0001.XML");
  EXPECT_EQ(archive->entries[3].bytes.rfind("<?xml", 0), 0u);
  EXPECT_NE(archive->entries[3].bytes.find("</ClinicalDocument>"), std::string::npos);
  EXPECT_NE(archive->entries[2].bytes.find("SubmitObjectsRequest"), std::string::npos);

  const XdmEntry* doc = archive->find("ihe_xdm/subset01/doc0001.xml");
  ASSERT_NE(doc, nullptr);
  EXPECT_EQ(doc, &archive->entries[3]);
  EXPECT_EQ(archive->find("IHE_XDM/SUBSET01/DOC0001.XML"), doc);
  EXPECT_EQ(archive->find("IHE_XDM/SUBSET01/DOC0002.XML"), nullptr);
  EXPECT_EQ(archive->find("IHE_XDM/SUBSET01"), nullptr);  // a folder is no entry

  EXPECT_EQ(archive->submissionSets(), std::vector<std::string>{"IHE_XDM/SUBSET01"});
  EXPECT_EQ(archive->resolve("IHE_XDM/SUBSET01", "DOC0001.XML"), doc);
  EXPECT_EQ(archive->resolve("IHE_XDM/SUBSET01", "SUBSET01/DOC0001.XML"), doc);
  EXPECT_EQ(archive->resolve("IHE_XDM/SUBSET01", "subset01/doc0001.xml"), doc);
  EXPECT_EQ(archive->resolve("ihe_xdm/subset01", "./DOC0001.XML"), doc);
  EXPECT_EQ(archive->resolve("IHE_XDM/SUBSET01/", "DOC0001.XML"), doc);
  EXPECT_EQ(archive->resolve("IHE_XDM/SUBSET01", "DOC0002.XML"), nullptr);
  EXPECT_EQ(archive->resolve("IHE_XDM/SUBSET01", ""), nullptr);
  // Never out of the folder.
  EXPECT_EQ(archive->resolve("IHE_XDM/SUBSET01", "../../README.TXT"), nullptr);
  EXPECT_EQ(archive->resolve("IHE_XDM/SUBSET01", "../SUBSET01/DOC0001.XML"), nullptr);
  EXPECT_EQ(archive->resolve("IHE_XDM/SUBSET01", "/IHE_XDM/SUBSET01/DOC0001.XML"), nullptr);
  EXPECT_EQ(archive->resolve("IHE_XDM/SUBSET01", "SUBSET01\\DOC0001.XML"), nullptr);
  EXPECT_EQ(archive->resolve("IHE_XDM/SUBSET01", "METADATA.XML"), &archive->entries[2]);
}

TEST(XdmFixtures, ValidArchiveIsDeterministic) {
  LOAD_CASE(zip, "valid.zip");
  auto a = readXdm(zip);
  auto b = readXdm(zip);
  ASSERT_TRUE(a.has_value() && b.has_value());
  ASSERT_EQ(a->entries.size(), b->entries.size());
  for (std::size_t i = 0; i < a->entries.size(); ++i) {
    EXPECT_EQ(a->entries[i].path, b->entries[i].path);
    EXPECT_EQ(a->entries[i].bytes, b->entries[i].bytes);
  }
}

struct HostileCase {
  const char* file;
  Errc code;
};

class XdmHostile : public ::testing::TestWithParam<HostileCase> {};

TEST_P(XdmHostile, RefusedWithItsCode) {
  LOAD_CASE(zip, GetParam().file);
  auto result = readXdm(zip);
  ASSERT_FALSE(result.has_value()) << GetParam().file << " was accepted";
  EXPECT_EQ(result.error().code, GetParam().code)
      << GetParam().file << ": " << result.error().detail;
  EXPECT_FALSE(result.error().detail.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Generated, XdmHostile,
    ::testing::Values(HostileCase{"bomb.zip", Errc::XdmCompressionRatio},
                      HostileCase{"lying_bomb.zip", Errc::XdmDeclaredSizeMismatch},
                      HostileCase{"lying_short.zip", Errc::XdmDeclaredSizeMismatch},
                      HostileCase{"many_entries.zip", Errc::XdmTooManyEntries},
                      HostileCase{"unsafe_parent.zip", Errc::XdmUnsafePath},
                      HostileCase{"unsafe_absolute.zip", Errc::XdmUnsafePath},
                      HostileCase{"unsafe_inner_parent.zip", Errc::XdmUnsafePath},
                      HostileCase{"unsafe_drive.zip", Errc::XdmUnsafePath},
                      HostileCase{"unsafe_backslash.zip", Errc::XdmUnsafePath},
                      HostileCase{"unsafe_control.zip", Errc::XdmUnsafePath},
                      HostileCase{"unsafe_nul.zip", Errc::XdmUnsafePath},
                      HostileCase{"symlink.zip", Errc::XdmSymlink},
                      HostileCase{"encrypted.zip", Errc::XdmEncrypted},
                      HostileCase{"truncated.zip", Errc::XdmCorrupt},
                      HostileCase{"crc.zip", Errc::XdmCorrupt},
                      HostileCase{"bad_method.zip", Errc::XdmCorrupt},
                      HostileCase{"not_zip/IHE_XDM.ZIP", Errc::XdmNotZip}),
    [](const ::testing::TestParamInfo<HostileCase>& param) {
      std::string name = param.param.file;
      for (char& c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) c = '_';
      }
      return name;
    });

TEST(XdmFixtures, NotZipIsNotAZip) {
  LOAD_CASE(pdf, "not_zip/IHE_XDM.ZIP");
  EXPECT_FALSE(looksLikeZip(pdf));
}

// The bombs end with their error after a bounded amount of memory and time.
TEST(XdmFixtures, BombsStayBounded) {
  LOAD_CASE(bomb, "bomb.zip");
  LOAD_CASE(lying, "lying_bomb.zip");
  const long before = peakRssKiB();
  EXPECT_EQ(codeOf(readXdm(bomb)), Errc::XdmCompressionRatio);
  EXPECT_EQ(codeOf(readXdm(lying)), Errc::XdmDeclaredSizeMismatch);
  const long growth_mib = (peakRssKiB() - before) / 1024;
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(growth_mib, 150);  // ASan's allocator and shadow memory
#else
  EXPECT_LT(growth_mib, 50);
#endif
  std::printf("[ bombs    ] peak RSS +%ld MiB\n", growth_mib);
}

// With tiny limits, the valid archive trips each of them.
TEST(XdmFixtures, LimitsAreConfigurable) {
  LOAD_CASE(zip, "valid.zip");
  auto full = readXdm(zip);
  ASSERT_TRUE(full.has_value()) << full.error().detail;
  const std::size_t doc_bytes = full->find("IHE_XDM/SUBSET01/DOC0001.XML")->bytes.size();
  std::size_t all_bytes = 0;
  for (const XdmEntry& e : full->entries)
    all_bytes += e.bytes.size();
  ASSERT_GT(doc_bytes, 10000u);  // the largest entry, and compressible (see make_zip_cases.py)
  {
    ZipLimits l;
    l.max_entries = 5;  // six entries, directories included
    EXPECT_EQ(codeOf(readXdm(zip, l)), Errc::XdmTooManyEntries);
    l.max_entries = 6;
    EXPECT_TRUE(readXdm(zip, l).has_value());
  }
  {
    ZipLimits l;
    l.max_entry_bytes = doc_bytes - 1;
    EXPECT_EQ(codeOf(readXdm(zip, l)), Errc::XdmEntryTooLarge);
    l.max_entry_bytes = doc_bytes;
    EXPECT_TRUE(readXdm(zip, l).has_value());
  }
  {
    ZipLimits l;
    l.max_total_bytes = all_bytes - 1;
    EXPECT_EQ(codeOf(readXdm(zip, l)), Errc::XdmTotalTooLarge);
    l.max_total_bytes = all_bytes;
    EXPECT_TRUE(readXdm(zip, l).has_value());
  }
  {
    ZipLimits l;
    l.ratio_floor_bytes = 0;
    l.max_ratio = 2;  // DOC0001.XML compresses about 23:1
    EXPECT_EQ(codeOf(readXdm(zip, l)), Errc::XdmCompressionRatio);
    l.ratio_floor_bytes = doc_bytes;  // not checked until an entry passes the floor
    EXPECT_TRUE(readXdm(zip, l).has_value());
    l.ratio_floor_bytes = 0;
    l.max_ratio = 100;
    EXPECT_TRUE(readXdm(zip, l).has_value());
  }
  {
    ZipLimits l;
    l.max_name_bytes = 10;
    EXPECT_EQ(codeOf(readXdm(zip, l)), Errc::XdmUnsafePath);
    l.max_name_bytes = std::string("IHE_XDM/SUBSET01/METADATA.XML").size();
    EXPECT_TRUE(readXdm(zip, l).has_value());
  }
}

// Random damage to the valid archive: any outcome but a crash, a throw or a foreign code.
TEST(XdmFixtures, MutationsNeverCrash) {
  LOAD_CASE(zip, "valid.zip");
  std::mt19937 rng(20240116);
  int accepted = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string mutated = zip;
    const int kind = static_cast<int>(rng() % 10);
    if (kind == 0) {
      mutated.resize(rng() % mutated.size());
    } else if (kind == 1) {
      mutated.insert(rng() % mutated.size(), std::string(1 + rng() % 64, static_cast<char>(rng())));
    } else {
      const int flips = 1 + static_cast<int>(rng() % 8);
      for (int f = 0; f < flips; ++f) {
        // Headers are where the damage is interesting: aim there half of the time.
        const std::size_t at =
            (rng() % 2 == 0)
                ? mutated.size() - 1 - rng() % std::min<std::size_t>(400, mutated.size())
                : rng() % mutated.size();
        mutated[at] = (rng() % 2 == 0) ? static_cast<char>(rng())
                                       : static_cast<char>(mutated[at] ^ (1 << (rng() % 8)));
      }
    }
    ZipLimits small;  // keep a lucky mutation from inflating much
    small.max_total_bytes = 1024 * 1024;
    small.max_entry_bytes = 512 * 1024;
    Result<XdmArchive> r = [&] {
      try {
        return readXdm(mutated, small);
      } catch (...) {
        ADD_FAILURE() << "readXdm threw on round " << round;
        return Result<XdmArchive>(Error{Errc::InputUnreadable, ""});
      }
    }();
    if (r.has_value()) {
      ++accepted;
      for (const XdmEntry& e : r->entries)
        EXPECT_FALSE(e.path.empty());
      continue;
    }
    const Errc c = r.error().code;
    EXPECT_TRUE(c == Errc::XdmNotZip || c == Errc::XdmCorrupt || c == Errc::XdmEncrypted ||
                c == Errc::XdmTooManyEntries || c == Errc::XdmEntryTooLarge ||
                c == Errc::XdmTotalTooLarge || c == Errc::XdmCompressionRatio ||
                c == Errc::XdmDeclaredSizeMismatch || c == Errc::XdmUnsafePath ||
                c == Errc::XdmSymlink)
        << "round " << round << ": " << r.error().detail;
  }
  std::printf("[ mutations] %d of 4000 still accepted\n", accepted);
}

// ---- archives made here ------------------------------------------------------------------------

TEST(Xdm, LooksLikeZip) {
  EXPECT_FALSE(looksLikeZip(""));
  EXPECT_FALSE(looksLikeZip("PK"));
  EXPECT_FALSE(looksLikeZip("PK\x03"));
  EXPECT_FALSE(looksLikeZip("%PDF-1.4\n"));
  EXPECT_FALSE(looksLikeZip(std::string("PK\x01\x02", 4)));
  EXPECT_TRUE(looksLikeZip(std::string("PK\x03\x04", 4)));
  EXPECT_TRUE(looksLikeZip(std::string("PK\x05\x06", 4)));
}

TEST(Xdm, NotZipInputs) {
  EXPECT_EQ(codeOf(readXdm("")), Errc::XdmNotZip);
  EXPECT_EQ(codeOf(readXdm("hello")), Errc::XdmNotZip);
  EXPECT_EQ(codeOf(readXdm(std::string("PK\x03\x04", 4))), Errc::XdmCorrupt);
  EXPECT_EQ(codeOf(readXdm(std::string("PK\x05\x06", 4))), Errc::XdmCorrupt);
}

TEST(Xdm, EmptyArchive) {
  const std::string empty = RawZip().finish();
  ASSERT_EQ(empty.size(), 22u);
  EXPECT_TRUE(looksLikeZip(empty));
  auto archive = readXdm(empty);
  ASSERT_TRUE(archive.has_value()) << archive.error().detail;
  EXPECT_TRUE(archive->entries.empty());
  EXPECT_TRUE(archive->submissionSets().empty());
  EXPECT_EQ(archive->find(""), nullptr);
}

TEST(Xdm, LibzipWrittenArchive) {
  const std::string doc = deterministicText(50000, 1);
  const std::string zip = libzipArchive({{"IHE_XDM/", ""},
                                         {"IHE_XDM/SS000001/", ""},
                                         {"IHE_XDM/SS000001/METADATA.XML", "<m/>"},
                                         {"IHE_XDM/SS000001/KOS_1_1.DCM", doc},
                                         {"IHE_XDM/SUBSET02/metadata.xml", "<m2/>"},
                                         {"IHE_XDM/SUBSET02/DOC0001.XML", "<d/>"},
                                         {"IHE_XDM/SUBSET02/DEEP/METADATA.XML", "<no/>"},
                                         {"OTHER/SUBSET09/METADATA.XML", "<no/>"}});
  auto archive = readXdm(zip);
  ASSERT_TRUE(archive.has_value()) << archive.error().detail;
  EXPECT_EQ(archive->entries.size(), 6u);
  // Only folders directly under IHE_XDM/, in archive order, case as in the archive.
  EXPECT_EQ(archive->submissionSets(),
            (std::vector<std::string>{"IHE_XDM/SS000001", "IHE_XDM/SUBSET02"}));
  // The ANS DRIMbox form: the URI repeats the submission set's folder.
  const XdmEntry* kos = archive->resolve("IHE_XDM/SS000001", "SS000001/KOS_1_1.DCM");
  ASSERT_NE(kos, nullptr);
  EXPECT_EQ(kos->bytes, doc);
  EXPECT_EQ(archive->resolve("IHE_XDM/SS000001", "KOS_1_1.DCM"), kos);
  // A document of another submission set is not reachable from this one.
  EXPECT_EQ(archive->resolve("IHE_XDM/SS000001", "DOC0001.XML"), nullptr);
  EXPECT_EQ(archive->resolve("IHE_XDM/SS000001", "SUBSET02/DOC0001.XML"), nullptr);
  EXPECT_NE(archive->resolve("IHE_XDM/SUBSET02", "DOC0001.XML"), nullptr);
}

TEST(Xdm, StoredEntries) {
  const std::string pdf = "%PDF-1.4\n" + deterministicText(20000, 2);
  auto archive = readXdm(libzipArchive({{"IHE_XDM/SUBSET01/DOC0001.PDF", pdf}}, ZIP_CM_STORE));
  ASSERT_TRUE(archive.has_value()) << archive.error().detail;
  ASSERT_EQ(archive->entries.size(), 1u);
  EXPECT_EQ(archive->entries[0].bytes, pdf);
}

TEST(Xdm, RawWriterIsReadable) {
  auto archive = readXdm(rawZip({{.name = "A.TXT", .data = "alpha"},
                                 {.name = "DIR/", .data = ""},
                                 {.name = "DIR/B.TXT", .data = "beta", .descriptor = true}}));
  ASSERT_TRUE(archive.has_value()) << archive.error().detail;
  ASSERT_EQ(archive->entries.size(), 2u);
  EXPECT_EQ(archive->entries[0].bytes, "alpha");
  EXPECT_EQ(archive->entries[1].path, "DIR/B.TXT");
  EXPECT_EQ(archive->entries[1].bytes, "beta");
}

TEST(Xdm, Zip64Layout) {
  auto archive = readXdm(rawZip({{.name = "IHE_XDM/SUBSET01/METADATA.XML", .data = "<m/>"},
                                 {.name = "IHE_XDM/SUBSET01/DOC0001.XML", .data = "<d/>"}},
                                /*zip64=*/true));
  ASSERT_TRUE(archive.has_value()) << archive.error().detail;
  ASSERT_EQ(archive->entries.size(), 2u);
  EXPECT_EQ(archive->entries[1].bytes, "<d/>");
}

TEST(Xdm, NamesAreNormalised) {
  auto archive = readXdm(rawZip({{.name = "./INDEX.HTM", .data = "i"},
                                 {.name = "IHE_XDM//SUBSET01/./METADATA.XML", .data = "m"},
                                 {.name = "./", .data = ""},
                                 {.name = "IHE_XDM/SUBSET01/DOC 0001 é.XML", .data = "d"}}));
  ASSERT_TRUE(archive.has_value()) << archive.error().detail;
  ASSERT_EQ(archive->entries.size(), 3u);
  EXPECT_EQ(archive->entries[0].path, "INDEX.HTM");
  EXPECT_EQ(archive->entries[1].path, "IHE_XDM/SUBSET01/METADATA.XML");
  EXPECT_EQ(archive->entries[2].path, "IHE_XDM/SUBSET01/DOC 0001 é.XML");
  EXPECT_EQ(archive->submissionSets(), std::vector<std::string>{"IHE_XDM/SUBSET01"});
}

TEST(Xdm, UnsafeNames) {
  const std::vector<std::string> unsafe = {
      "../x",     "a/../b",
      "a/b/..",   "./../x",
      "/x",       "//server/share",
      "\\x",      "a\\b",
      "C:/x",     "c:x",
      "./D:/x",   std::string("a\0b", 3),
      "a\tb",     "a\x7f",
      "a\nb",     std::string(513, 'a'),
      "",         ".",
      "a/./../b",
  };
  for (const std::string& name : unsafe) {
    auto r = readXdm(rawZip({{.name = "INDEX.HTM", .data = "i"}, {.name = name, .data = "x"}}));
    ASSERT_FALSE(r.has_value()) << "accepted: " << name;
    EXPECT_EQ(r.error().code, Errc::XdmUnsafePath) << name << ": " << r.error().detail;
    // Details never repeat the hostile name.
    if (name.size() > 2) {
      EXPECT_EQ(r.error().detail.find(name), std::string::npos);
    }
  }
  // Safe look-alikes.
  for (const std::string& name : {std::string(512, 'a'), std::string("a..b"), std::string("...x"),
                                  std::string("DOC:1.XML"), std::string("x/C:")}) {
    auto r = readXdm(rawZip({{.name = name, .data = "x"}}));
    EXPECT_TRUE(r.has_value()) << name << ": " << (r ? "" : r.error().detail);
  }
}

TEST(Xdm, UnsafeDirectoryNamesToo) {
  EXPECT_EQ(codeOf(readXdm(rawZip({{.name = "../", .data = ""}, {.name = "A", .data = "a"}}))),
            Errc::XdmUnsafePath);
}

TEST(Xdm, DuplicatePaths) {
  EXPECT_EQ(
      codeOf(readXdm(rawZip({{.name = "DOC.XML", .data = "1"}, {.name = "doc.xml", .data = "2"}}))),
      Errc::XdmUnsafePath);
  EXPECT_EQ(codeOf(readXdm(
                rawZip({{.name = "A/DOC.XML", .data = "1"}, {.name = "A//DOC.XML", .data = "2"}}))),
            Errc::XdmUnsafePath);
  EXPECT_EQ(
      codeOf(readXdm(rawZip({{.name = "DOC.XML", .data = "1"}, {.name = "DOC.XML", .data = "2"}}))),
      Errc::XdmUnsafePath);
}

TEST(Xdm, Symlinks) {
  const std::uint32_t link = 0120777u << 16;
  EXPECT_EQ(codeOf(readXdm(rawZip({{.name = "L", .data = "/etc/passwd", .external = link}}))),
            Errc::XdmSymlink);
  EXPECT_EQ(codeOf(readXdm(rawZip({{.name = "L/", .data = "", .external = link}}))),
            Errc::XdmSymlink);
  // Only Unix-like hosts give the upper 16 bits a meaning.
  EXPECT_TRUE(
      readXdm(rawZip({{.name = "L", .data = "x", .host = 0, .external = link}})).has_value());
  // A directory or a regular file is fine.
  EXPECT_TRUE(readXdm(rawZip({{.name = "D/", .data = "", .external = 040755u << 16},
                              {.name = "D/F", .data = "f"}}))
                  .has_value());
}

TEST(Xdm, Encryption) {
  EXPECT_EQ(codeOf(readXdm(rawZip({{.name = "E", .data = std::string(40, 'z'), .flags = 1}}))),
            Errc::XdmEncrypted);
  // Strong encryption flag (bit 6) with bit 0.
  EXPECT_EQ(codeOf(readXdm(rawZip({{.name = "E", .data = std::string(40, 'z'), .flags = 0x41}}))),
            Errc::XdmEncrypted);
}

TEST(Xdm, CompressionMethods) {
  // bzip2 (12) and LZMA (14) may be built into libzip: XDM uses stored and deflate only.
  for (const std::uint16_t method : {1, 6, 9, 12, 14, 93, 95, 99, 77}) {
    EXPECT_EQ(codeOf(readXdm(rawZip({{.name = "X", .data = "data", .method = method}}))),
              Errc::XdmCorrupt)
        << method;
  }
  // A deflate entry whose data is no deflate stream.
  EXPECT_EQ(
      codeOf(readXdm(rawZip({{.name = "X", .data = "\xff\xff\xff\xff garbage", .method = 8}}))),
      Errc::XdmCorrupt);
}

TEST(Xdm, Crc) {
  EXPECT_EQ(codeOf(readXdm(rawZip({{.name = "X", .data = "data", .crc = 1234}}))),
            Errc::XdmCorrupt);
}

TEST(Xdm, DeclaredSizes) {
  // Stored: the data runs past the declared size.
  EXPECT_EQ(codeOf(readXdm(rawZip({{.name = "X", .data = "0123456789", .declared_size = 3}}))),
            Errc::XdmDeclaredSizeMismatch);
  EXPECT_EQ(codeOf(readXdm(rawZip({{.name = "X", .data = "0123456789", .declared_size = 0}}))),
            Errc::XdmDeclaredSizeMismatch);
  // Declared larger than the data (libzip 1.7.3 reports it for stored entries only).
  EXPECT_EQ(codeOf(readXdm(rawZip({{.name = "X", .data = "0123456789", .declared_size = 11}}))),
            Errc::XdmDeclaredSizeMismatch);
  EXPECT_EQ(
      codeOf(readXdm(rawZip({{.name = "X", .data = "0123456789", .declared_size = 0xFFFFFFF0}}))),
      Errc::XdmDeclaredSizeMismatch);
}

// Fifield's overlapping-entry zip bomb, quoted form: entry A's data holds entry B's local header.
TEST(Xdm, OverlappingEntries) {
  const RawEntry b{.name = "B.TXT", .data = "bbbb"};
  const RawEntry a{.name = "A.TXT", .data = RawZip::localHeader(b) + b.data};
  RawZip zip;
  const std::uint64_t at = zip.addLocal(a);
  zip.addCentral(a, at);
  zip.addCentral(b, at + 30 + a.name.size());
  EXPECT_EQ(codeOf(readXdm(zip.finish())), Errc::XdmCorrupt);

  // Two central records, one local header.
  RawZip twice;
  const RawEntry c{.name = "C.TXT", .data = "c"};
  const std::uint64_t c_at = twice.addLocal(c);
  twice.addCentral(c, c_at);
  twice.addCentral(c, c_at);
  const Errc code = codeOf(readXdm(twice.finish()));
  EXPECT_TRUE(code == Errc::XdmCorrupt || code == Errc::XdmUnsafePath);
}

TEST(Xdm, LocalOffsetOutOfRange) {
  const RawEntry a{.name = "A", .data = "a"};
  RawZip zip;
  zip.addLocal(a);
  zip.addCentral(a, 1000000);
  EXPECT_EQ(codeOf(readXdm(zip.finish())), Errc::XdmCorrupt);
}

TEST(Xdm, EntryCountCheckedBeforeLibzip) {
  // The end record claims 5,000 entries: refused from the count alone.
  RawZip zip;
  const RawEntry a{.name = "A", .data = "a"};
  zip.addCentral(a, zip.addLocal(a));
  EXPECT_EQ(codeOf(readXdm(zip.finish(5000))), Errc::XdmTooManyEntries);
  // zip64 end record claiming 2^40 entries.
  RawZip zip64(true);
  zip64.addCentral(a, zip64.addLocal(a));
  EXPECT_EQ(codeOf(readXdm(zip64.finish(1ull << 40))), Errc::XdmTooManyEntries);
  // The count says 1, the directory holds 5 (Info-ZIP's count modulo 65536): the walk counts.
  RawZip more;
  std::vector<std::pair<RawEntry, std::uint64_t>> written;
  for (int i = 0; i < 5; ++i) {
    RawEntry e{.name = "F" + std::to_string(i), .data = "x"};
    const std::uint64_t off = more.addLocal(e);
    written.emplace_back(e, off);
  }
  for (const auto& [e, off] : written)
    more.addCentral(e, off);
  ZipLimits l;
  l.max_entries = 3;
  EXPECT_EQ(codeOf(readXdm(more.finish(1), l)), Errc::XdmTooManyEntries);
}

TEST(Xdm, ManyEntriesWithinTheLimit) {
  std::vector<RawEntry> entries;
  for (int i = 0; i < 1000; ++i)
    entries.push_back({.name = "F" + std::to_string(i), .data = "x"});
  auto r = readXdm(rawZip(entries));
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(r->entries.size(), 1000u);
  entries.push_back({.name = "ONE_MORE", .data = "x"});
  EXPECT_EQ(codeOf(readXdm(rawZip(entries))), Errc::XdmTooManyEntries);
}

TEST(Xdm, TotalLimitAcrossEntries) {
  const std::string chunk(300 * 1024, 'a');
  const std::string zip = libzipArchive({{"A", chunk}, {"B", chunk}, {"C", chunk}});
  ZipLimits l;
  l.max_total_bytes = 2 * chunk.size() + 10;
  EXPECT_EQ(codeOf(readXdm(zip, l)), Errc::XdmTotalTooLarge);
  l.max_total_bytes = 3 * chunk.size();
  auto r = readXdm(zip, l);
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(r->entries[2].bytes, chunk);
}

TEST(Xdm, RatioFloor) {
  // 900 KiB of one letter: above 100:1, but under the 1 MiB floor.
  const std::string zeros(900 * 1024, 'z');
  EXPECT_TRUE(readXdm(libzipArchive({{"Z", zeros}})).has_value());
  // 3 MiB of it: past the floor, refused.
  EXPECT_EQ(codeOf(readXdm(libzipArchive({{"Z", std::string(3 * 1024 * 1024, 'z')}}))),
            Errc::XdmCompressionRatio);
}

TEST(Xdm, TrailingCommentAndGarbage) {
  std::string zip = rawZip({{.name = "A", .data = "a"}});
  zip[zip.size() - 2] = 5;  // comment length
  zip += "hello";
  auto r = readXdm(zip);
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(r->entries[0].bytes, "a");
}

}  // namespace
}  // namespace liaison::parse
