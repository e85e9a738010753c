#include "pipeline/bundle_writer.hpp"

namespace liaison::pipeline {

BundleWriter::BundleWriter() : w_(out_) {
  out_.reserve(64 * 1024);
  w_.StartObject();
  w_.Key("resourceType");
  w_.String("Bundle");
  w_.Key("type");
  w_.String("transaction");
  before_entry_ = w_.checkpoint();
  w_.Key("entry");
  w_.StartArray();
}

void BundleWriter::append(const map::Mapping& mapping, const map::Source& source,
                          std::uint64_t seed) {
  mapping.writeEntries(source, seed, w_, true, emitted_);
}

std::string BundleWriter::fullUrlOf(std::string_view key) const {
  for (auto it = emitted_.rbegin(); it != emitted_.rend(); ++it) {
    if (it->key == key) return it->full_url;
  }
  return {};
}

std::string BundleWriter::finish() {
  w_.EndArray();
  if (emitted_.empty()) w_.rollback(before_entry_);  // FHIR has no empty arrays
  w_.EndObject();
  return std::move(out_);
}

}  // namespace liaison::pipeline
