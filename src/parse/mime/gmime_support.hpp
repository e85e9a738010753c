#pragma once
// Internal to liaison_parse_mime: GMime/GLib includes, RAII owners and type checks that avoid the
// GLib cast macros (G_OBJECT(), GMIME_IS_PART()…: C casts that -Wold-style-cast rejects).

#include <gmime/gmime.h>

#include <memory>

namespace liaison::parse::mime_detail {

// g_mime_init() once per process.
void ensureGMime();

struct GObjectUnref {
  void operator()(void* object) const {
    if (object != nullptr) g_object_unref(object);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
  void operator()(void* p) const { g_free(p); }
};
using GCharPtr = std::unique_ptr<char, GFree>;  // a string GMime allocated

struct ParserOptionsFree {
  void operator()(GMimeParserOptions* options) const { g_mime_parser_options_free(options); }
};
using ParserOptionsPtr = std::unique_ptr<GMimeParserOptions, ParserOptionsFree>;

// Pointer conversions between GObject classes: an instance begins with its parent's instance.
template <typename To>
To* as(void* instance) {
  return static_cast<To*>(instance);
}

inline bool isA(void* instance, GType type) {
  return instance != nullptr &&
         g_type_check_instance_is_a(static_cast<GTypeInstance*>(instance), type) != FALSE;
}

}  // namespace liaison::parse::mime_detail
