#pragma once
// Internal to liaison_parse_mime: a raw pre-scan of the message structure, run before GMime.
//
// GMime builds the whole tree at once and is tolerant: it accepts a million empty parts (about
// 1.3 KB of memory each, from 6 bytes of input), header blocks of any size, and multiparts whose
// closing boundary never comes. This scan follows the same rules as GMime's parser (header block
// up to the first empty line, boundary lines "--b" / "--b--" with trailing blanks, innermost
// boundary first, boundary parameter parsed by GMime itself) and stops at the first limit, so
// GMime only ever sees a message of bounded shape.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error/result.hpp"
#include "parse/mime/mime_message.hpp"

namespace liaison::parse::mime_detail {

enum class EntityKind : std::uint8_t { Leaf, Multipart, Message };

// One MIME entity, in tree pre-order (the order GMime's tree is walked in).
struct ScanEntity {
  std::size_t header_begin = 0;
  std::size_t body_begin = 0;
  std::size_t end = 0;  // end of the body: before the line break that precedes the next delimiter
  int depth = 0;
  int parent_frame = -1;  // multipart (index in the open-multipart stack) this entity is a child of
  EntityKind kind = EntityKind::Leaf;
};

struct ScanResult {
  std::vector<ScanEntity> entities;  // [0] is the top-level entity
  std::size_t parts = 0;             // entities below the top level
  bool inner_unterminated = false;   // a multipart was closed by an outer boundary only
};

// `message` starts with the top-level header block (any mbox "From " line already skipped).
Result<ScanResult> scanStructure(std::string_view message, const MimeLimits& limits);

}  // namespace liaison::parse::mime_detail
