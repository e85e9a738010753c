#include "core/error/error.hpp"

#include <algorithm>
#include <array>

namespace liaison {
namespace {

constexpr std::array kCatalogue = {
#define LIAISON_ERRC(name, code, http, issue_type, severity, retry) \
  ErrcInfo{Errc::name, code, http, issue_type, Severity::severity, Retry::retry},
#include "core/error/errc.def"
#undef LIAISON_ERRC
};

}  // namespace

const ErrcInfo& info(Errc errc) {
  return kCatalogue[static_cast<std::size_t>(errc)];
}

std::span<const ErrcInfo> catalogue() {
  return kCatalogue;
}

std::string_view toString(Severity severity) {
  switch (severity) {
    case Severity::Fatal:
      return "fatal";
    case Severity::Error:
      return "error";
    case Severity::Warning:
      return "warning";
    case Severity::Information:
      return "information";
  }
  return "error";
}

Issue makeIssue(Errc code, std::string message, std::string expression, std::string location) {
  return Issue{code, info(code).severity, std::move(message), std::move(expression),
               std::move(location)};
}

void IssueList::append(const IssueList& other) {
  issues_.insert(issues_.end(), other.issues_.begin(), other.issues_.end());
}

bool IssueList::hasErrors() const {
  return std::any_of(issues_.begin(), issues_.end(), [](const Issue& i) {
    return i.severity == Severity::Error || i.severity == Severity::Fatal;
  });
}

bool IssueList::contains(Errc code) const {
  return std::any_of(issues_.begin(), issues_.end(),
                     [code](const Issue& i) { return i.code == code; });
}

}  // namespace liaison
