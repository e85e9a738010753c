// The fiche de demande attached to a mail as a document (issue 13): a filled PDF form, a PDF of
// the typed form and a Word .docx open the request as the form in a mail body does, with the same
// answers as the text version of that request; a scan, an encrypted PDF and a letter are kept
// and make a request to qualify. The documents and their mails are written at test time by
// tests/fiches/make_form_documents.py (fixture form_documents).

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fiches/fiche_answers.hpp"
#include "support/test_support.hpp"

namespace liaison::pipeline {
namespace {

using test::Answers;
using test::collect;
using test::readFile;

std::string documentsDir() {
  const char* dir = std::getenv("LIAISON_FORM_DOCUMENTS_DIR");
  EXPECT_NE(dir, nullptr) << "LIAISON_FORM_DOCUMENTS_DIR is not set (run through ctest)";
  return dir == nullptr ? "/nonexistent" : dir;
}

std::string str(const rapidjson::Value& v, const char* key) {
  return v.IsObject() && v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "";
}

struct Read {
  IngestResult result;
  test::Bundle bundle;
  Answers answers;
  std::vector<std::string> sources;
};

Read readMail(const std::string& file) {
  Read r;
  r.result =
      test::ingestMessage(readFile(documentsDir() + "/mails/" + file), "form-document-" + file);
  r.bundle = test::parseBundle(r.result);
  for (const rapidjson::Value* qr : r.bundle.of("QuestionnaireResponse"))
    if (qr->HasMember("item")) collect((*qr)["item"], r.answers, r.sources);
  return r;
}

Answers textAnswers() {
  Read r;
  r.result = test::ingestCardioPlus(readFile(documentsDir() + "/fiche.txt"), "form-document-text");
  r.bundle = test::parseBundle(r.result);
  const auto& qr = r.bundle.one("QuestionnaireResponse");
  if (qr.HasMember("item")) collect(qr["item"], r.answers, r.sources);
  return r.answers;
}

std::string insOf(const rapidjson::Value& patient) {
  if (!patient.HasMember("identifier")) return "";
  for (const auto& id : patient["identifier"].GetArray())
    if (str(id, "system") == "urn:oid:1.2.250.1.213.1.4.8") return str(id, "value");
  return "";
}

const rapidjson::Value* attachedPdfOrDocx(const test::Bundle& b, const std::string& filename) {
  for (const rapidjson::Value* d : b.of("DocumentReference")) {
    const auto& content = (*d)["content"];
    if (content.Size() > 0 && str(content[0]["attachment"], "title") == filename) return d;
  }
  return nullptr;
}

bool hasIssue(const IngestResult& r, Errc code, const std::string& location = {}) {
  for (const Issue& i : r.issues.items())
    if (i.code == code && (location.empty() || i.location == location)) return true;
  return false;
}

struct FormMail {
  const char* mail;
  const char* attachment;
  const char* origin;  // how the reader names where an answer was, after the file name
};

class FormDocumentMail : public ::testing::TestWithParam<FormMail> {};

TEST_P(FormDocumentMail, OpensTheRequestWithTheTextVersionsAnswers) {
  const FormMail& c = GetParam();
  const Read r = readMail(c.mail);
  ASSERT_NE(r.result.status, IngestStatus::Quarantined);
  EXPECT_FALSE(hasIssue(r.result, Errc::MessageToQualify));
  // The form says two required documents are not provided: incomplete, for those only.
  EXPECT_EQ(r.result.status, IngestStatus::Incomplete);
  for (const Issue& i : r.result.issues.items()) {
    if (i.severity == Severity::Error) {
      EXPECT_EQ(i.code, Errc::FormDocumentNotProvided) << i.message;
    }
  }

  EXPECT_EQ(r.answers, textAnswers());
  ASSERT_FALSE(r.sources.empty());
  for (const std::string& source : r.sources) {
    EXPECT_EQ(source.rfind(std::string(c.attachment) + ", " + c.origin, 0), 0u) << source;
  }

  const rapidjson::Value& patient = r.bundle.one("Patient");
  EXPECT_EQ(insOf(patient), "253083856304732");
  const rapidjson::Value& request = r.bundle.one("ServiceRequest");
  EXPECT_EQ(str(request, "authoredOn"), "2025-03-14");
  bool dyspnee = false;
  for (const auto& reason : request["reasonCode"].GetArray())
    dyspnee = dyspnee || str(reason, "text") == "Dyspnée";
  EXPECT_TRUE(dyspnee);

  // The file itself stays, as a document of the request.
  const rapidjson::Value* file = attachedPdfOrDocx(r.bundle, c.attachment);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(str((*file)["context"]["related"][0], "reference"), r.bundle.fullUrlOf(request));
  EXPECT_EQ(str((*file)["subject"], "reference"), r.bundle.fullUrlOf(patient));
  ASSERT_EQ(r.result.binaries.size(), 1u);

  // 71 years old on the form's date: an inclusion criterion read from the document.
  ASSERT_TRUE(r.result.eligibility);
  bool age = false;
  for (const auto& reason : r.result.eligibility->reasons)
    age = age || (reason.code == "age-65-ans" && reason.value == validate::Tri::True);
  EXPECT_TRUE(age);
}

INSTANTIATE_TEST_SUITE_P(
    Cardio, FormDocumentMail,
    ::testing::Values(FormMail{"fiche-formulaire.eml", "fiche-formulaire.pdf", "champ PDF "},
                      FormMail{"fiche-texte.eml", "fiche-texte.pdf", "page 1, ligne "},
                      FormMail{"fiche-docx.eml", "fiche.docx", ""}),
    [](const ::testing::TestParamInfo<FormMail>& p) {
      std::string name = p.param.attachment;
      for (char& ch : name)
        if (ch == '.' || ch == '-') ch = '_';
      return name;
    });

// What is not the form stays a document of a request the secretariat qualifies.
void expectToQualifyWithItsPdf(const Read& r, const std::string& filename) {
  EXPECT_EQ(r.result.status, IngestStatus::Incomplete);
  EXPECT_TRUE(hasIssue(r.result, Errc::MessageToQualify));
  EXPECT_TRUE(r.bundle.of("QuestionnaireResponse").empty());
  EXPECT_EQ(str(r.bundle.one("ServiceRequest"), "status"), "draft");
  const rapidjson::Value* file = attachedPdfOrDocx(r.bundle, filename);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(str((*file)["content"][0]["attachment"], "contentType"), "application/pdf");
  EXPECT_EQ(r.result.binaries.size(), 1u);
}

TEST(FormDocumentMail, AScanIsARequestToQualify) {
  const Read r = readMail("fiche-scan.eml");
  expectToQualifyWithItsPdf(r, "fiche-scan.pdf");
  EXPECT_FALSE(hasIssue(r.result, Errc::PdfUnreadable));
}

TEST(FormDocumentMail, AnEncryptedPdfIsKeptWithAWarning) {
  const Read r = readMail("fiche-chiffree.eml");
  expectToQualifyWithItsPdf(r, "fiche-chiffree.pdf");
  EXPECT_TRUE(hasIssue(r.result, Errc::PdfEncrypted, "fiche-chiffree.pdf"));
}

TEST(FormDocumentMail, ALetterIsNotTakenForTheForm) {
  const Read r = readMail("lettre.eml");
  expectToQualifyWithItsPdf(r, "lettre.pdf");
  EXPECT_FALSE(hasIssue(r.result, Errc::FormLineUnrecognised));
}

// The form as a file on its own (liaison ingest fiche.pdf, POST of a PDF): the same request.
TEST(FormDocument, IngestedOnItsOwn) {
  for (const char* file : {"fiche-formulaire.pdf", "fiche-texte.pdf", "fiche.docx"}) {
    const IngestResult r =
        test::ingestCardioPlus(readFile(documentsDir() + "/" + file), std::string("alone-") + file);
    ASSERT_NE(r.status, IngestStatus::Quarantined) << file;
    const test::Bundle b = test::parseBundle(r);
    Answers answers;
    std::vector<std::string> sources;
    collect(b.one("QuestionnaireResponse")["item"], answers, sources);
    EXPECT_EQ(answers, textAnswers()) << file;
  }
  const IngestResult scan =
      test::ingestCardioPlus(readFile(documentsDir() + "/fiche-scan.pdf"), "");
  EXPECT_EQ(scan.status, IngestStatus::Quarantined);
  ASSERT_TRUE(scan.quarantine);
  EXPECT_EQ(scan.quarantine->code, Errc::DocumentNoText);
  const IngestResult encrypted =
      test::ingestCardioPlus(readFile(documentsDir() + "/hostile/pdf-user-password.pdf"), "");
  ASSERT_TRUE(encrypted.quarantine);
  EXPECT_EQ(encrypted.quarantine->code, Errc::PdfEncrypted);
}

}  // namespace
}  // namespace liaison::pipeline
