#pragma once
// IHE XDM archives (IHE_XDM.ZIP, IHE ITI-32 zip option) read from memory, with every limit enforced
// on the bytes actually inflated, never on the sizes the archive claims. Pure: bytes in, values
// out.
//
// The archive is hostile until proven otherwise. readXdm() refuses, with the code in brackets:
//   not a zip [xdm-not-zip]; truncated or inconsistent structure, CRC mismatch, compression other
//   than stored/deflate, overlapping entries [xdm-corrupt]; encrypted entries [xdm-encrypted];
//   more than max_entries entries, checked on the central directory before anything is inflated
//   [xdm-too-many-entries]; an entry or the total inflating past the limits [xdm-entry-too-large,
//   xdm-total-too-large]; inflated/compressed beyond max_ratio [xdm-compression-ratio]; an entry
//   inflating to more, or fewer, bytes than its header declares [xdm-declared-size-mismatch];
//   absolute, drive-letter, "..", backslash, NUL or control-character names, names over
//   max_name_bytes, two entries with the same path (ignoring case) [xdm-unsafe-path]; Unix symlinks
//   [xdm-symlink].
// Error details are French, for the quarantine screen, and never repeat an entry name (hostile
// names may carry anything): entries are designated by their position in the archive.
// METADATA.XML is not required here: the intake decides (xdm-no-metadata).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error/result.hpp"

namespace liaison::parse {

struct ZipLimits {
  std::size_t max_entries = 1000;
  std::size_t max_entry_bytes = 32 * 1024 * 1024;   // inflated, per entry
  std::size_t max_total_bytes = 128 * 1024 * 1024;  // inflated, all entries
  std::uint64_t max_ratio = 100;  // inflated / compressed, per entry, checked once an entry passes
                                  // ratio_floor_bytes
  std::size_t ratio_floor_bytes = 1024 * 1024;
  std::size_t max_name_bytes = 512;
};

struct XdmEntry {
  std::string path;   // sanitised, '/'-separated, relative, as in the archive (case kept)
  std::string bytes;  // inflated content
};

struct XdmArchive {
  std::vector<XdmEntry> entries;  // files only (directory entries dropped), in archive order

  // Case-insensitive exact path lookup ("IHE_XDM/SUBSET01/DOC0001.XML").
  const XdmEntry* find(std::string_view path) const;
  // The folders holding a METADATA.XML directly under IHE_XDM/ (case-insensitive), e.g.
  // "IHE_XDM/SUBSET01", in archive order.
  std::vector<std::string> submissionSets() const;
  // Resolves a DocumentEntry URI slot relative to a submission set folder (case-insensitive;
  // tolerates URIs that repeat the subset name, as the ANS DRIMbox example does:
  // "SS000001/KOS_1_1.DCM"). A URI that would leave the folder ("..", absolute) resolves to null.
  const XdmEntry* resolve(std::string_view submission_set, std::string_view uri) const;
};

Result<XdmArchive> readXdm(std::string_view zip_bytes, const ZipLimits& limits = {});

// True when the bytes look like a zip (local file header or empty-archive signature).
bool looksLikeZip(std::string_view bytes);

}  // namespace liaison::parse
