#pragma once
// One transaction Bundle that several mappings (and copied foreign entries) fill: the message
// patient, each document of an IHE_XDM.ZIP, each attachment, a form in the mail body.

#include <string>
#include <vector>

#include "core/json/json_out.hpp"
#include "map/mapping.hpp"

namespace liaison::pipeline {

class BundleWriter {
 public:
  BundleWriter();

  // The open Bundle.entry array, for Mapping::writeEntries and for copied entries.
  json::JsonOut& entries() { return w_; }
  std::vector<map::EmittedResource>& emitted() { return emitted_; }
  const std::vector<map::EmittedResource>& emitted() const { return emitted_; }

  void append(const map::Mapping& mapping, const map::Source& source, std::uint64_t seed);

  // fullUrl of the last resource written under that mapping key ("" when none).
  std::string fullUrlOf(std::string_view key) const;

  // Closes the Bundle (no "entry" when nothing was written) and returns it.
  std::string finish();

 private:
  std::string out_;
  json::JsonOut w_;
  json::JsonOut::Checkpoint before_entry_;
  std::vector<map::EmittedResource> emitted_;
};

}  // namespace liaison::pipeline
