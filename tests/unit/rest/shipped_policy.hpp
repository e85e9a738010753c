#pragma once
// The policy liaison ships (profiles/policy.json), parsed once, for the API tests that run FhirApi
// over the in-memory store.

#include <gtest/gtest.h>

#include "core/auth/authorize.hpp"
#include "rest/access.hpp"
#include "support/test_support.hpp"

namespace liaison::test {

inline const auth::Policy& shippedPolicy() {
  static const auth::Policy p = [] {
    auto parsed = rest::parsePolicy(readRepoFile("profiles/policy.json"));
    if (!parsed) ADD_FAILURE() << parsed.error().detail;
    return parsed ? *parsed : auth::Policy{};
  }();
  return p;
}

}  // namespace liaison::test
