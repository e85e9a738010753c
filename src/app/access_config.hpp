#pragma once
// The serve configuration's `access` object: who the machine clients are (client certificates by
// subject DN or subjectAltName, bearer tokens by their SHA-256), their roles and ESS, and which
// policy file gives the roles their permissions. Read here; enforced by rest::ClientAccess and
// auth::authorize.

#include <filesystem>
#include <optional>
#include <ostream>
#include <string_view>

#include <rapidjson/document.h>

#include "rest/access.hpp"

namespace liaison::app {

// `access` checked setting by setting, every error printed with its path ("liaison serve: FILE:
// access.clients[0].roles: ..."); nullopt when any. A relative policy path is relative to `base`.
std::optional<rest::AccessSettings> readAccessConfig(const rapidjson::Value& access,
                                                     const std::filesystem::path& base,
                                                     std::string_view where, std::ostream& err);

}  // namespace liaison::app
