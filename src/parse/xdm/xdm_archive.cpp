// IHE XDM archives with libzip. The rules are listed in xdm_archive.hpp; this file says how.
//
// Two readers look at each archive, and they must agree:
//  1. A scan of our own reads the end-of-central-directory record (zip64 too) and walks the
//     central directory, before libzip allocates anything. It refuses too many entries at once,
//     and keeps two things libzip hides: the raw names (libzip turns a NUL into a space) and the
//     local header offsets (needed to refuse overlapping entries, the "better zip bomb").
//  2. libzip opens the archive with ZIP_CHECKCONS (each local header must agree with its central
//     directory record) and inflates.
// Then every entry is checked (names, symlink, encryption, method, layout) before any byte is
// inflated, and entries are inflated in chunks with the limits applied to what zip_fread returns.
//
// libzip 1.7.3 and lying headers (tests/hostile/make_zip_cases.py): it neither stops at the
// declared uncompressed size nor fails on it. A deflated entry declaring 1 KiB whose stream holds
// 200 MB inflates to 200 MB without error (the CRC-32 is checked, not the size); a deflated entry
// declaring more than it holds ends early, also without error; only for a stored entry does its
// CRC layer report ZIP_ER_INCONS at the end (libzip 1.8+ does so for every method). So the reader
// never asks for more than the declared size: once it has it, a one-byte probe read must hit the
// end of the entry, or the header lied; and an entry that ends short of its declared size is a lie
// too. Both are xdm-declared-size-mismatch, whatever the method and the libzip version. Neither
// costs memory: the declared size is one bound among the limits, never a budget.

#include "parse/xdm/xdm_archive.hpp"

#include <zip.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

namespace liaison::parse {
namespace {

constexpr std::size_t kChunkBytes = 64 * 1024;

constexpr std::string_view kLocalSignature{"PK\x03\x04", 4};
constexpr std::string_view kCentralSignature{"PK\x01\x02", 4};
constexpr std::string_view kEndSignature{"PK\x05\x06", 4};
constexpr std::string_view kZip64EndSignature{"PK\x06\x06", 4};
constexpr std::string_view kZip64LocatorSignature{"PK\x06\x07", 4};
constexpr std::uint64_t kLocalHeaderBytes = 30;
constexpr std::uint64_t kCentralHeaderBytes = 46;
constexpr std::uint64_t kEndBytes = 22;
constexpr std::uint64_t kZip64EndBytes = 56;
constexpr std::uint64_t kZip64LocatorBytes = 20;
constexpr std::uint64_t kMaxCommentBytes = 0xFFFF;
constexpr std::uint64_t kZip64Marker32 = 0xFFFFFFFF;
constexpr std::uint16_t kZip64ExtraId = 0x0001;

constexpr std::uint32_t kUnixFileTypeMask = 0170000;
constexpr std::uint32_t kUnixSymlink = 0120000;

// ---- bytes -------------------------------------------------------------------------------------

bool fits(std::string_view bytes, std::uint64_t at, std::uint64_t length) {
  return at <= bytes.size() && length <= bytes.size() - at;
}

bool hasSignature(std::string_view bytes, std::uint64_t at, std::string_view signature) {
  return fits(bytes, at, signature.size()) && bytes.substr(at, signature.size()) == signature;
}

// Little-endian unsigned integer of `width` bytes; the caller has checked fits().
std::uint64_t readLe(std::string_view bytes, std::uint64_t at, unsigned width) {
  std::uint64_t value = 0;
  for (unsigned i = width; i-- > 0;) {
    value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  }
  return value;
}

char lowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

std::string lowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = lowerAscii(c);
  return out;
}

// ---- our own scan of the central directory -----------------------------------------------------

struct CentralRecord {
  std::string_view raw_name;  // as stored in the central directory, NUL bytes included
  std::uint64_t local_offset;
};

struct CentralDirectory {
  std::uint64_t offset = 0;  // entry data must end before it
  std::vector<CentralRecord> records;
};

enum class Scan { Ok, TooManyEntries, Unreadable };

struct EndRecord {
  std::uint64_t entries;
  std::uint64_t size;
  std::uint64_t offset;
};

// The end record at `at` (signature already matched), followed to its zip64 record when a
// locator precedes it, if it points at a central directory that lies inside the archive.
std::optional<EndRecord> readEndRecord(std::string_view zip, std::uint64_t at) {
  EndRecord end{readLe(zip, at + 10, 2), readLe(zip, at + 12, 4), readLe(zip, at + 16, 4)};
  std::uint64_t limit = at;  // the central directory ends where the end records begin
  if (at >= kZip64LocatorBytes &&
      hasSignature(zip, at - kZip64LocatorBytes, kZip64LocatorSignature)) {
    const std::uint64_t locator = at - kZip64LocatorBytes;
    const std::uint64_t record = readLe(zip, locator + 8, 8);
    if (record > locator || kZip64EndBytes > locator - record ||
        !hasSignature(zip, record, kZip64EndSignature)) {
      return std::nullopt;
    }
    end = {readLe(zip, record + 32, 8), readLe(zip, record + 40, 8), readLe(zip, record + 48, 8)};
    limit = record;
  }
  if (end.offset > limit || end.size > limit - end.offset) return std::nullopt;
  if (end.entries != 0 && !hasSignature(zip, end.offset, kCentralSignature)) return std::nullopt;
  return end;
}

// The last usable end record: it lies in the last 22 + 65535 bytes (the comment is at most 64 KiB).
std::optional<EndRecord> findEndRecord(std::string_view zip) {
  if (zip.size() < kEndBytes) return std::nullopt;
  const std::uint64_t last = zip.size() - kEndBytes;
  const std::uint64_t first = last > kMaxCommentBytes ? last - kMaxCommentBytes : 0;
  for (std::uint64_t at = last + 1; at-- > first;) {
    if (zip[at] != 'P' || !hasSignature(zip, at, kEndSignature)) continue;
    if (auto end = readEndRecord(zip, at)) return end;
  }
  return std::nullopt;
}

// The local header offset of a central record whose 32-bit field holds the zip64 marker: it sits
// in the zip64 extra field, after the sizes that also hold the marker (APPNOTE 4.5.3).
std::optional<std::uint64_t> zip64LocalOffset(std::string_view extra, bool size_in_extra,
                                              bool compressed_size_in_extra) {
  std::uint64_t at = 0;
  while (extra.size() - at >= 4) {
    const std::uint64_t id = readLe(extra, at, 2);
    const std::uint64_t length = readLe(extra, at + 2, 2);
    at += 4;
    if (length > extra.size() - at) return std::nullopt;
    if (id == kZip64ExtraId) {
      const std::uint64_t skip = (size_in_extra ? 8 : 0) + (compressed_size_in_extra ? 8 : 0);
      if (length < skip + 8) return std::nullopt;
      return readLe(extra, at + skip, 8);
    }
    at += length;
  }
  return std::nullopt;
}

Scan scanCentralDirectory(std::string_view zip, std::size_t max_entries, CentralDirectory& cd) {
  const std::optional<EndRecord> end = findEndRecord(zip);
  if (!end) return Scan::Unreadable;
  if (end->entries > max_entries) return Scan::TooManyEntries;
  cd.offset = end->offset;
  cd.records.reserve(end->entries);
  const std::uint64_t stop = end->offset + end->size;  // inside zip: readEndRecord checked it
  std::uint64_t at = end->offset;
  while (at < stop) {
    if (stop - at < kCentralHeaderBytes || !hasSignature(zip, at, kCentralSignature)) {
      return Scan::Unreadable;
    }
    const std::uint64_t name_bytes = readLe(zip, at + 28, 2);
    const std::uint64_t extra_bytes = readLe(zip, at + 30, 2);
    const std::uint64_t comment_bytes = readLe(zip, at + 32, 2);
    const std::uint64_t record_bytes =
        kCentralHeaderBytes + name_bytes + extra_bytes + comment_bytes;
    if (record_bytes > stop - at) return Scan::Unreadable;
    // More records than the count said (Info-ZIP stores the count modulo 65536): still bounded.
    if (cd.records.size() == max_entries) return Scan::TooManyEntries;
    CentralRecord record{zip.substr(at + kCentralHeaderBytes, name_bytes), readLe(zip, at + 42, 4)};
    if (record.local_offset == kZip64Marker32) {
      const auto offset = zip64LocalOffset(
          zip.substr(at + kCentralHeaderBytes + name_bytes, extra_bytes),
          readLe(zip, at + 24, 4) == kZip64Marker32, readLe(zip, at + 20, 4) == kZip64Marker32);
      if (!offset) return Scan::Unreadable;
      record.local_offset = *offset;
    }
    cd.records.push_back(record);
    at += record_bytes;
  }
  return Scan::Ok;
}

// ---- names -------------------------------------------------------------------------------------

bool isAsciiLetter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// Why an entry name (or a URI) is refused; nullptr when it is safe. Empty and "." components
// (duplicate slashes, "./") are tolerated: normalisePath() drops them.
const char* unsafeNameReason(std::string_view name, std::size_t max_name_bytes) {
  if (name.size() > max_name_bytes) return "nom trop long";
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) return "caractère NUL ou de contrôle dans le nom";
    if (c == '\\') return "barre oblique inverse dans le nom";
  }
  if (!name.empty() && name.front() == '/') return "chemin absolu";
  bool first = true;
  std::size_t begin = 0;
  while (begin <= name.size()) {
    const std::size_t slash = std::min(name.find('/', begin), name.size());
    const std::string_view part = name.substr(begin, slash - begin);
    if (part == "..") return "composant « .. » dans le chemin";
    if (!part.empty() && part != ".") {
      if (first && part.size() >= 2 && part[1] == ':' && isAsciiLetter(part[0])) {
        return "lettre de lecteur dans le chemin";
      }
      first = false;
    }
    begin = slash + 1;
  }
  return nullptr;
}

// '/'-separated, without empty or "." components; case kept.
std::string normalisePath(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  std::size_t begin = 0;
  while (begin <= name.size()) {
    const std::size_t slash = std::min(name.find('/', begin), name.size());
    const std::string_view part = name.substr(begin, slash - begin);
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    begin = slash + 1;
  }
  return out;
}

// ---- libzip ------------------------------------------------------------------------------------

struct ZipDiscard {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
struct ZipFileClose {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};
using ZipArchivePtr = std::unique_ptr<zip_t, ZipDiscard>;
using ZipFilePtr = std::unique_ptr<zip_file_t, ZipFileClose>;

// zip_error_t owns a string once zip_error_strerror() has been called.
class ZipError {
 public:
  ZipError() { zip_error_init(&error_); }
  ~ZipError() { zip_error_fini(&error_); }
  ZipError(const ZipError&) = delete;
  ZipError& operator=(const ZipError&) = delete;
  zip_error_t* get() { return &error_; }

 private:
  zip_error_t error_;
};

std::string entryLabel(std::uint64_t index) {
  return "entrée n° " + std::to_string(index + 1);
}

Error archiveError(Errc code, const std::string& what) {
  return makeError(code, "IHE_XDM.ZIP : " + what + ".");
}

Error entryError(Errc code, std::uint64_t index, const std::string& what) {
  return archiveError(code, entryLabel(index) + " : " + what);
}

// libzip's own message (English, no content from the archive) in brackets.
Error libzipError(Errc code, std::uint64_t index, const std::string& what, zip_error_t* error) {
  return entryError(code, index, what + " (libzip : " + zip_error_strerror(error) + ")");
}

bool isUnixSymlink(zip_t* archive, std::uint64_t index) {
  zip_uint8_t system = 0;
  zip_uint32_t attributes = 0;
  if (zip_file_get_external_attributes(archive, index, 0, &system, &attributes) != 0) return false;
  return (system == ZIP_OPSYS_UNIX || system == ZIP_OPSYS_OS_X) &&
         ((attributes >> 16) & kUnixFileTypeMask) == kUnixSymlink;
}

// Inflated bytes an entry may reach before its ratio counts as a bomb: past the floor, at most
// max_ratio times its compressed size ("ratio beyond max_ratio once past the floor" is exactly
// "more than max(floor, compressed * max_ratio)").
std::uint64_t ratioBound(std::uint64_t compressed, const ZipLimits& limits) {
  const std::uint64_t floor = limits.ratio_floor_bytes;
  if (limits.max_ratio != 0 &&
      compressed > std::numeric_limits<std::uint64_t>::max() / limits.max_ratio) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  return std::max(floor, compressed * limits.max_ratio);
}

// What the directory says about one file entry, checked before anything is inflated.
struct PlannedEntry {
  std::uint64_t index;
  std::string path;
  std::uint64_t declared_size;
  std::uint64_t compressed_size;
};

// Inflates one entry into `out`, in chunks, never holding more than the limits allow.
std::optional<Error> inflateEntry(zip_t* archive, const PlannedEntry& entry,
                                  const ZipLimits& limits, std::uint64_t& total, std::string& out) {
  ZipFilePtr file(zip_fopen_index(archive, entry.index, 0));
  if (!file) {
    zip_error_t* error = zip_get_error(archive);
    const int code = zip_error_code_zip(error);
    if (code == ZIP_ER_NOPASSWD || code == ZIP_ER_WRONGPASSWD || code == ZIP_ER_ENCRNOTSUPP) {
      return libzipError(Errc::XdmEncrypted, entry.index, "entrée chiffrée", error);
    }
    return libzipError(Errc::XdmCorrupt, entry.index, "entrée illisible", error);
  }
  // Every bound on the bytes this entry may produce. The declared size is one of them (reading
  // past it is a lie), never a budget: reserving it is safe because the others cap it.
  const std::uint64_t declared = entry.declared_size;
  const std::uint64_t ratio_limit = ratioBound(entry.compressed_size, limits);
  const std::uint64_t entry_limit = limits.max_entry_bytes;
  const std::uint64_t total_left = limits.max_total_bytes - total;
  out.reserve(std::min({declared, ratio_limit, entry_limit, total_left}));

  std::uint64_t produced = 0;
  bool failed = false;
  for (;;) {
    const std::uint64_t allowed = std::min({declared - produced, ratio_limit - produced,
                                            entry_limit - produced, total_left - produced});
    if (allowed == 0) {
      // One more byte would break a bound: the entry must end here.
      char probe = 0;
      const zip_int64_t n = zip_fread(file.get(), &probe, 1);
      failed = n < 0;
      if (n <= 0) break;
      if (produced == declared) {
        return entryError(
            Errc::XdmDeclaredSizeMismatch, entry.index,
            "plus d'octets que la taille déclarée (" + std::to_string(declared) + ")");
      }
      if (produced == ratio_limit) {
        return entryError(Errc::XdmCompressionRatio, entry.index,
                          "taux de compression supérieur à " + std::to_string(limits.max_ratio) +
                              " (bombe de décompression)");
      }
      if (produced == entry_limit) {
        return entryError(Errc::XdmEntryTooLarge, entry.index,
                          "dépasse " + std::to_string(entry_limit) + " octets décompressés");
      }
      return archiveError(
          Errc::XdmTotalTooLarge,
          "le contenu décompressé dépasse " + std::to_string(limits.max_total_bytes) + " octets");
    }
    const std::uint64_t want = std::min<std::uint64_t>(kChunkBytes, allowed);
    out.resize(produced + want);
    const zip_int64_t n = zip_fread(file.get(), out.data() + produced, want);
    failed = n < 0;
    produced += failed ? 0 : static_cast<std::uint64_t>(n);
    out.resize(produced);
    if (n <= 0) break;
  }
  total += produced;
  if (!failed) {  // end of the entry, CRC-32 checked by libzip
    if (produced == declared) return std::nullopt;
    return entryError(Errc::XdmDeclaredSizeMismatch, entry.index,
                      "moins d'octets (" + std::to_string(produced) + ") que la taille déclarée (" +
                          std::to_string(declared) + ")");
  }
  zip_error_t* error = zip_file_get_error(file.get());
  switch (zip_error_code_zip(error)) {
    case ZIP_ER_CRC:
      return libzipError(Errc::XdmCorrupt, entry.index, "somme de contrôle CRC-32 fausse", error);
    case ZIP_ER_INCONS:  // libzip ≥ 1.8 compares the inflated size with the header at the end
      return libzipError(Errc::XdmDeclaredSizeMismatch, entry.index,
                         "taille différente de la taille déclarée", error);
    default:
      return libzipError(Errc::XdmCorrupt, entry.index, "données compressées invalides", error);
  }
}

}  // namespace

bool looksLikeZip(std::string_view bytes) {
  return hasSignature(bytes, 0, kLocalSignature) || hasSignature(bytes, 0, kEndSignature);
}

Result<XdmArchive> readXdm(std::string_view zip_bytes, const ZipLimits& limits) {
  if (!looksLikeZip(zip_bytes)) {
    return archiveError(Errc::XdmNotZip, "la pièce jointe n'est pas une archive zip");
  }

  CentralDirectory cd;
  switch (scanCentralDirectory(zip_bytes, limits.max_entries, cd)) {
    case Scan::Ok:
      break;
    case Scan::TooManyEntries:
      return archiveError(Errc::XdmTooManyEntries,
                          "plus de " + std::to_string(limits.max_entries) + " entrées");
    case Scan::Unreadable:
      return archiveError(Errc::XdmCorrupt,
                          "répertoire central introuvable ou illisible (archive tronquée ?)");
  }

  ZipError open_error;
  zip_source_t* source =
      zip_source_buffer_create(zip_bytes.data(), zip_bytes.size(), 0, open_error.get());
  if (source == nullptr) return archiveError(Errc::XdmCorrupt, "archive illisible");
  ZipArchivePtr archive(zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, open_error.get()));
  if (!archive) {
    zip_source_free(source);  // still ours when the open fails
    const Errc code = zip_error_code_zip(open_error.get()) == ZIP_ER_EXISTS ? Errc::XdmUnsafePath
                                                                            : Errc::XdmCorrupt;
    return archiveError(code, std::string("archive incohérente (libzip : ") +
                                  zip_error_strerror(open_error.get()) + ")");
  }
  const zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  if (count < 0) return archiveError(Errc::XdmCorrupt, "archive illisible");
  if (static_cast<std::uint64_t>(count) > limits.max_entries) {
    return archiveError(Errc::XdmTooManyEntries,
                        "plus de " + std::to_string(limits.max_entries) + " entrées");
  }
  if (static_cast<std::uint64_t>(count) != cd.records.size()) {
    return archiveError(Errc::XdmCorrupt, "répertoire central lu de deux façons différentes");
  }

  // ---- the directory, checked before any byte is inflated
  std::vector<PlannedEntry> plan;
  plan.reserve(cd.records.size());
  struct Span {
    std::uint64_t begin;
    std::uint64_t end;
  };
  std::vector<Span> spans;
  spans.reserve(cd.records.size());
  for (std::uint64_t i = 0; i < cd.records.size(); ++i) {
    const char* name = zip_get_name(archive.get(), i, ZIP_FL_ENC_RAW);
    zip_stat_t st;
    zip_stat_init(&st);
    const zip_uint64_t needed =
        ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD;
    if (name == nullptr || zip_stat_index(archive.get(), i, ZIP_FL_ENC_RAW, &st) != 0 ||
        (st.valid & needed) != needed) {
      return entryError(Errc::XdmCorrupt, i, "en-tête illisible");
    }
    // The raw name (NUL kept) and libzip's (NUL made a space, or the Info-ZIP Unicode path):
    // another unzip may use either, so both must be safe.
    const std::string_view raw_name = cd.records[i].raw_name;
    const std::string_view libzip_name = name;
    const char* why = unsafeNameReason(raw_name, limits.max_name_bytes);
    if (why == nullptr && libzip_name != raw_name) {
      why = unsafeNameReason(libzip_name, limits.max_name_bytes);
    }
    if (why != nullptr) return entryError(Errc::XdmUnsafePath, i, why);
    if (isUnixSymlink(archive.get(), i)) {
      return entryError(Errc::XdmSymlink, i, "lien symbolique");
    }

    // Where its data lies: between its local header and the central directory, overlapping no
    // other entry (libzip does not check this).
    const std::uint64_t local = cd.records[i].local_offset;
    if (local >= cd.offset || cd.offset - local < kLocalHeaderBytes ||
        !hasSignature(zip_bytes, local, kLocalSignature)) {
      return entryError(Errc::XdmCorrupt, i, "en-tête local introuvable");
    }
    const std::uint64_t data = local + kLocalHeaderBytes + readLe(zip_bytes, local + 26, 2) +
                               readLe(zip_bytes, local + 28, 2);
    if (data > cd.offset || st.comp_size > cd.offset - data) {
      return entryError(Errc::XdmCorrupt, i, "données hors de l'archive");
    }
    spans.push_back({local, data + st.comp_size});

    const bool directory = !libzip_name.empty() && libzip_name.back() == '/';
    if (directory) continue;
    std::string path = normalisePath(libzip_name);
    if (path.empty()) return entryError(Errc::XdmUnsafePath, i, "nom vide");
    if (st.encryption_method != ZIP_EM_NONE) {
      return entryError(Errc::XdmEncrypted, i, "entrée chiffrée");
    }
    if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE) {
      return entryError(Errc::XdmCorrupt, i,
                        "méthode de compression " + std::to_string(st.comp_method) +
                            " non prise en charge (seules stored et deflate le sont)");
    }
    plan.push_back({i, std::move(path), st.size, st.comp_size});
  }

  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (std::size_t k = 1; k < spans.size(); ++k) {
    if (spans[k].begin < spans[k - 1].end) {
      return archiveError(Errc::XdmCorrupt, "des entrées se chevauchent");
    }
  }

  // Two entries with one path (ignoring case): which one a reader sees would depend on the reader.
  {
    std::vector<std::string> keys;
    keys.reserve(plan.size());
    for (const PlannedEntry& p : plan) {
      keys.push_back(lowerCopy(p.path));
    }
    std::sort(keys.begin(), keys.end());
    if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) {
      return archiveError(Errc::XdmUnsafePath, "deux entrées portent le même chemin");
    }
  }

  // ---- inflate
  XdmArchive result;
  result.entries.reserve(plan.size());
  std::uint64_t total = 0;
  for (PlannedEntry& p : plan) {
    XdmEntry entry;
    if (auto error = inflateEntry(archive.get(), p, limits, total, entry.bytes)) {
      return std::move(*error);
    }
    entry.path = std::move(p.path);
    result.entries.push_back(std::move(entry));
  }
  return result;
}

// ---- XdmArchive --------------------------------------------------------------------------------

const XdmEntry* XdmArchive::find(std::string_view path) const {
  for (const XdmEntry& e : entries) {
    if (equalsIgnoringCase(e.path, path)) return &e;
  }
  return nullptr;
}

std::vector<std::string> XdmArchive::submissionSets() const {
  constexpr std::string_view kRoot = "IHE_XDM/";
  constexpr std::string_view kMetadata = "/METADATA.XML";
  std::vector<std::string> sets;
  for (const XdmEntry& e : entries) {
    const std::string_view path = e.path;
    if (path.size() <= kRoot.size() + kMetadata.size()) continue;
    if (!equalsIgnoringCase(path.substr(0, kRoot.size()), kRoot)) continue;
    if (!equalsIgnoringCase(path.substr(path.size() - kMetadata.size()), kMetadata)) continue;
    const std::string_view folder = path.substr(0, path.size() - kMetadata.size());
    if (folder.find('/', kRoot.size()) != std::string_view::npos) continue;  // one level only
    sets.emplace_back(folder);
  }
  return sets;
}

const XdmEntry* XdmArchive::resolve(std::string_view submission_set, std::string_view uri) const {
  if (uri.empty() || unsafeNameReason(uri, std::numeric_limits<std::size_t>::max()) != nullptr) {
    return nullptr;
  }
  const std::string relative = normalisePath(uri);
  const std::string folder = normalisePath(submission_set);
  if (relative.empty()) return nullptr;
  const std::string prefix = folder.empty() ? std::string() : folder + '/';
  if (const XdmEntry* e = find(prefix + relative)) return e;
  // "SS000001/KOS_1_1.DCM" relative to IHE_XDM/SS000001: the URI repeats the folder's name.
  const std::size_t cut = folder.rfind('/');
  const std::string_view own_name =
      std::string_view(folder).substr(cut == std::string::npos ? 0 : cut + 1);
  if (!own_name.empty() && relative.size() > own_name.size() + 1 &&
      relative[own_name.size()] == '/' &&
      equalsIgnoringCase(std::string_view(relative).substr(0, own_name.size()), own_name)) {
    return find(prefix + relative.substr(own_name.size() + 1));
  }
  return nullptr;
}

}  // namespace liaison::parse
