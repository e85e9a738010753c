#include "core/error/error.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace liaison {
namespace {

TEST(ErrorCatalogue, CodesAreUniqueAndIndexedByEnum) {
  std::set<std::string_view> codes;
  for (std::size_t i = 0; i < catalogue().size(); ++i) {
    const ErrcInfo& row = catalogue()[i];
    EXPECT_EQ(static_cast<std::size_t>(row.errc), i);
    EXPECT_TRUE(codes.insert(row.code).second) << "duplicate code " << row.code;
    EXPECT_GE(row.http_status, 200);
    EXPECT_LT(row.http_status, 600);
    EXPECT_FALSE(row.issue_type.empty());
  }
}

TEST(ErrorCatalogue, RowsCarryStatusIssueTypeAndSeverity) {
  EXPECT_EQ(info(Errc::NirKeyMismatch).code, "nir-key-mismatch");
  EXPECT_EQ(info(Errc::NirKeyMismatch).http_status, 422);
  EXPECT_EQ(info(Errc::NirKeyMismatch).issue_type, "value");
  EXPECT_EQ(info(Errc::FormRequiredMissing).issue_type, "required");
  EXPECT_EQ(info(Errc::JsonMalformed).http_status, 400);
  EXPECT_EQ(info(Errc::FormLineUnrecognised).severity, Severity::Warning);
}

TEST(IssueList, ErrorsAreCollectedNotStopped) {
  IssueList issues;
  issues.add(Errc::FormLineUnrecognised, "ligne ignorée");
  EXPECT_FALSE(issues.hasErrors());
  issues.add(Errc::FormRequiredMissing, "champ manquant", "", "patient-nom");
  issues.add(Errc::NirKeyMismatch, "clé", "", "patient-nir");
  EXPECT_TRUE(issues.hasErrors());
  EXPECT_EQ(issues.size(), 3u);
  EXPECT_TRUE(issues.contains(Errc::NirKeyMismatch));
  EXPECT_FALSE(issues.contains(Errc::NirLength));
  EXPECT_EQ(issues.items()[1].location, "patient-nom");
}

}  // namespace
}  // namespace liaison
