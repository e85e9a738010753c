#pragma once
// Intake of one MSSanté message (RFC 5322 MIME): the IHE_XDM.ZIP and its CDA documents, FHIR
// attachments, a form in the body, or whatever else came (PDF, free text) — into one FHIR
// transaction Bundle for the ESS. Hostile or unreadable input is quarantined with a stable
// reason; gaps (no INS, traits that disagree) make the message "incomplete"; nothing is dropped.

#include <memory>
#include <string_view>
#include <vector>

#include "core/ports/clock.hpp"
#include "parse/mime/mime_message.hpp"
#include "parse/xdm/xdm_archive.hpp"
#include "pipeline/ess_profile.hpp"
#include "pipeline/form_intake.hpp"
#include "pipeline/mss_profile.hpp"

namespace liaison::pipeline {

struct MessageLimits {
  parse::MimeLimits mime;
  parse::ZipLimits zip;
};

class MessageIntake {
 public:
  MessageIntake(std::shared_ptr<const MssProfile> mss, std::shared_ptr<const EssProfile> ess,
                const Clock& clock, MessageLimits limits = {});

  IngestResult ingest(std::string_view message) const;

  // What makes two copies of a mail the same message (the journal's exactly-once key): the
  // SHA-256 of its bytes without the trace header fields relays add (MssProfile::traceHeaders).
  std::string contentKey(std::string_view message) const;

  const std::string& canonicalBase() const { return mss_->canonicalBase(); }
  // The id of its ESS profile: the ESS what it stores belongs to (sql/V016__ess_isolation.sql).
  const std::string& essId() const { return ess_->id; }

  // The deployment's rules for Bundles from outside, with the identifiers this ESS adds.
  const IncomingRules& incoming() const { return incoming_; }

 private:
  std::shared_ptr<const MssProfile> mss_;
  std::shared_ptr<const EssProfile> ess_;
  const Clock* clock_;
  MessageLimits limits_;
  FormIntake forms_;
  IncomingRules incoming_;
};

// Whether bytes look like a mail rather than a form: a header block starting the text
// (From:, Received:, Message-ID:, MIME-Version:, Return-Path:, Subject: …, or an mbox "From ").
bool looksLikeMail(std::string_view bytes);

// The hex SHA-256 of a mail without the header fields named in `trace_fields` (lower case), its
// line ends normalised to LF and an mbox "From " line dropped.
std::string mailContentKey(std::string_view bytes, const std::vector<std::string>& trace_fields);

}  // namespace liaison::pipeline
