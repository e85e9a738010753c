#pragma once
// Error codes, issues and the catalogue they come from (errc.def).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace liaison {

enum class Errc : std::uint16_t {
#define LIAISON_ERRC(name, code, http, issue_type, severity, retry) name,
#include "core/error/errc.def"
#undef LIAISON_ERRC
};

// FHIR OperationOutcome.issue.severity.
enum class Severity : std::uint8_t { Fatal, Error, Warning, Information };
enum class Retry : std::uint8_t { Transient, Permanent };

struct ErrcInfo {
  Errc errc;
  std::string_view code;        // stable, e.g. "nir-key-mismatch"
  int http_status;              // status when this error ends a request
  std::string_view issue_type;  // FHIR IssueType, e.g. "value"
  Severity severity;            // default severity
  Retry retry;
};

const ErrcInfo& info(Errc errc);
std::span<const ErrcInfo> catalogue();
std::string_view toString(Severity severity);

// One problem found in the input: maps one-to-one onto an OperationOutcome.issue.
// `message` is French text the secretariat reads; it never contains a NIR or a name.
struct Issue {
  Errc code;
  Severity severity;
  std::string message;
  std::string expression;  // FHIRPath to the element, when the input was FHIR
  std::string location;    // other position: "line 12", a form linkId, a file path
};

Issue makeIssue(Errc code, std::string message, std::string expression = {},
                std::string location = {});

// A single failure at a parse or I/O boundary.
struct Error {
  Errc code;
  std::string detail;
};

// Collects every issue instead of stopping at the first one.
class IssueList {
 public:
  void add(Issue issue) { issues_.push_back(std::move(issue)); }
  void add(Errc code, std::string message, std::string expression = {}, std::string location = {}) {
    issues_.push_back(
        makeIssue(code, std::move(message), std::move(expression), std::move(location)));
  }
  void append(const IssueList& other);
  bool hasErrors() const;  // any issue of severity error or fatal
  bool empty() const { return issues_.empty(); }
  std::size_t size() const { return issues_.size(); }
  const std::vector<Issue>& items() const { return issues_; }
  bool contains(Errc code) const;

 private:
  std::vector<Issue> issues_;
};

}  // namespace liaison
