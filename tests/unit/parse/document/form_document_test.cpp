// The request form read out of PDF forms, PDF text layers and Word documents (src/parse/document):
// the documents tests/fiches/make_form_documents.py generates (directory in
// LIAISON_FORM_DOCUMENTS_DIR: a missing one fails, it never skips), Word constructs built here,
// hostile inputs, limits, and random mutations that must never crash.

#include "parse/document/form_document.hpp"

#include <gtest/gtest.h>
#include <zip.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "parse/document/form_lines.hpp"
#include "parse/form/form_parser.hpp"

namespace liaison::parse {
namespace {

// ---- helpers -----------------------------------------------------------------------------------

void load(const std::string& name, std::string& out) {
  const char* dir = std::getenv("LIAISON_FORM_DOCUMENTS_DIR");
  ASSERT_NE(dir, nullptr) << "LIAISON_FORM_DOCUMENTS_DIR is not set: run through ctest (fixture "
                             "form_documents, tests/fiches/make_form_documents.py)";
  std::ifstream in(std::string(dir) + "/" + name, std::ios::binary);
  ASSERT_TRUE(in) << name << " was not generated in " << dir;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  out = std::move(bytes).str();
}

#define LOAD(var, name) \
  std::string var;      \
  ASSERT_NO_FATAL_FAILURE(load(name, var))

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

std::vector<std::string> textsOf(const FormDocument& doc) {
  std::vector<std::string> texts;
  for (const FormLine& l : doc.lines)
    texts.push_back(l.text);
  return texts;
}

// The document as "origin | text" lines, for failure messages.
std::string dump(const FormDocument& doc) {
  std::string out;
  for (const FormLine& l : doc.lines)
    out += l.origin + " | " + l.text + "\n";
  return out;
}

// The position of the line with this text (and this origin, when given), or -1.
long indexOf(const FormDocument& doc, std::string_view text, std::string_view origin = {}) {
  for (std::size_t i = 0; i < doc.lines.size(); ++i) {
    if (doc.lines[i].text == text && (origin.empty() || doc.lines[i].origin == origin)) {
      return static_cast<long>(i);
    }
  }
  return -1;
}

#define EXPECT_LINE(doc, text, origin)                                                          \
  EXPECT_GE(indexOf(doc, text, origin), 0) << "no line " << (origin) << " | " << (text) << "\n" \
                                           << dump(doc)

#define EXPECT_NO_LINE(doc, text) \
  EXPECT_LT(indexOf(doc, text), 0) << "unexpected line " << (text) << "\n" << dump(doc)

Errc errorOf(const Result<FormDocument>& r) {
  EXPECT_FALSE(r.has_value()) << "expected an error, read:\n" << (r ? dump(*r) : "");
  return r ? Errc::Internal : r.error().code;
}

// A zip written by libzip in memory.
std::string zipOf(const std::vector<std::pair<std::string, std::string>>& files) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  EXPECT_NE(archive, nullptr);
  zip_source_keep(buffer);
  for (const auto& [name, data] : files) {
    zip_source_t* source = zip_source_buffer(archive, data.data(), data.size(), 0);
    EXPECT_GE(zip_file_add(archive, name.c_str(), source, ZIP_FL_ENC_UTF_8), 0) << name;
  }
  EXPECT_EQ(zip_close(archive), 0);
  zip_source_open(buffer);
  zip_source_seek(buffer, 0, SEEK_END);
  const zip_int64_t size = zip_source_tell(buffer);
  zip_source_seek(buffer, 0, SEEK_SET);
  std::string out(static_cast<std::size_t>(size), '\0');
  zip_source_read(buffer, out.data(), out.size());
  zip_source_close(buffer);
  zip_source_free(buffer);
  zip_error_fini(&error);
  return out;
}

constexpr std::string_view kW = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
constexpr std::string_view kW14 = "http://schemas.microsoft.com/office/word/2010/wordml";

const std::string kRels =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships "
    "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship "
    "Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
    "officeDocument\" Target=\"word/document.xml\"/></Relationships>";

// A .docx whose body is `body` (WordprocessingML, prefixes w and w14).
std::string docxOf(const std::string& body, std::string_view ns = kW) {
  const std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"" +
                          std::string(ns) + "\" xmlns:w14=\"" + std::string(kW14) + "\"><w:body>" +
                          body + "</w:body></w:document>";
  return zipOf({{"_rels/.rels", kRels}, {"word/document.xml", xml}});
}

std::string p(const std::string& runs) {
  return "<w:p>" + runs + "</w:p>";
}
std::string r(const std::string& text) {
  return "<w:r><w:t xml:space=\"preserve\">" + text + "</w:t></w:r>";
}

// ---- the PDF of a typed form: its text layer ---------------------------------------------------

TEST(PdfText, EveryPrintedLineAsTheTextVersionHasIt) {
  LOAD(pdf, "fiche-texte.pdf");
  LOAD(txt, "fiche.txt");
  const auto doc = formLinesOfPdf(pdf);
  ASSERT_TRUE(doc) << doc.error().detail;
  EXPECT_EQ(doc->source, FormSource::PdfText);
  EXPECT_EQ(doc->pages, 1u);
  EXPECT_TRUE(doc->issues.empty());
  // Row by row, columns joined by a tab, ☒/☐ as [X]/[ ]: what a copy-paste of the form gives.
  EXPECT_EQ(textsOf(*doc), splitLines(txt)) << dump(*doc);
  for (std::size_t i = 0; i < doc->lines.size(); ++i) {
    EXPECT_EQ(doc->lines[i].origin, "page 1, ligne " + std::to_string(i + 1));
  }
  EXPECT_LINE(*doc, "Prénom : Jeanne\tNIR (15 chiffres) : 2 53 08 38 563 047 32",
              "page 1, ligne 13");
  EXPECT_LINE(*doc,
              "Tabac : Oui [X] Non [ ] Inconnu [ ]\tPaquets / an : 20\tHTA : Oui [X] Non [ ] "
              "Inconnu [ ]",
              "page 1, ligne 23");
  EXPECT_LINE(*doc, "Douleur thoracique [ ]\tDyspnée [X]\tPalpitation [X]", "page 1, ligne 37");
  EXPECT_LINE(*doc, "Ordonnances en cours\tFourni : Oui [X] Non [ ]", "page 1, ligne 43");
}

TEST(PdfText, AnOwnerPasswordOnlyDoesNotStopReading) {
  LOAD(pdf, "pdf-owner-password.pdf");
  LOAD(txt, "fiche.txt");
  const auto doc = formLinesOfPdf(pdf);
  ASSERT_TRUE(doc) << doc.error().detail;
  EXPECT_EQ(doc->source, FormSource::PdfText);
  EXPECT_EQ(textsOf(*doc), splitLines(txt)) << dump(*doc);
}

TEST(PdfText, AScanGivesNothingAndSaysWhy) {
  LOAD(pdf, "fiche-scan.pdf");
  const auto doc = formLinesOfPdf(pdf);
  ASSERT_TRUE(doc) << doc.error().detail;
  EXPECT_EQ(doc->source, FormSource::Nothing);
  EXPECT_EQ(doc->pages, 1u);
  EXPECT_TRUE(doc->lines.empty()) << dump(*doc);
  ASSERT_EQ(doc->issues.size(), 1u);
  EXPECT_EQ(doc->issues.items()[0].code, Errc::DocumentNoText);
  EXPECT_EQ(doc->issues.items()[0].severity, Severity::Warning);
  EXPECT_NE(doc->issues.items()[0].message.find("numérisé"), std::string::npos);
  EXPECT_FALSE(doc->issues.hasErrors());
}

// ---- the filled PDF form: its fields -----------------------------------------------------------

TEST(PdfForm, OneLinePerFilledFieldLabelledByItsTooltip) {
  LOAD(pdf, "fiche-formulaire.pdf");
  const auto doc = formLinesOfPdf(pdf);
  ASSERT_TRUE(doc) << doc.error().detail;
  EXPECT_EQ(doc->source, FormSource::PdfFields);
  const FormDocument& d = *doc;
  // Text fields: "<tooltip> : <value>", origin the field's name.
  EXPECT_LINE(d, "Date : 14/03/2025", "champ PDF date");
  EXPECT_LINE(d, "Nom : FICTIF-BERNARD", "champ PDF requerant_nom");
  EXPECT_LINE(d, "Le requérant intervient en tant que : Médecin généraliste",
              "champ PDF requerant_qualite");
  EXPECT_LINE(d, "Nom : FICTIF-DURAND", "champ PDF patient_nom");
  EXPECT_LINE(d, "Prénom : Jeanne", "champ PDF patient_prenom");
  EXPECT_LINE(d, "NIR (15 chiffres) : 2 53 08 38 563 047 32", "champ PDF patient_nir");
  EXPECT_LINE(d, "Date de naissance : 21/08/1953", "champ PDF patient_date_naissance");
  EXPECT_LINE(d, "Code postal de naissance : 38500", "champ PDF patient_cp_naissance");
  EXPECT_LINE(d, "Rang (si jumeauté. A défaut, renseigner 1) : 1", "champ PDF patient_rang");
  EXPECT_LINE(d, "Sexe : Féminin", "champ PDF patient_sexe");
  EXPECT_LINE(d, "Adresse : 12 rue des Tilleuls, 38500 Voiron", "champ PDF patient_adresse");
  EXPECT_LINE(d, "Poids : 64", "champ PDF patient_poids");
  EXPECT_LINE(d, "Paquets / an : 20", "champ PDF fdr_paquets");
  // A multi-line field whose label is printed above it: the field's line, not the caption.
  EXPECT_LINE(d,
              "Symptomatologie actuelle (à préciser) Veuillez préciser ici le motif de votre "
              "demande : Dyspnée d'effort et palpitations.",
              "champ PDF symptomatologie");
  // Radio groups: the export value of the ticked button.
  EXPECT_LINE(d, "Tabac : Oui [X]", "champ PDF fdr_tabac");
  EXPECT_LINE(d, "Hérédité CV : Non [X]", "champ PDF fdr_heredite");
  EXPECT_LINE(d, "Sédentarité : Inconnu [X]", "champ PDF fdr_sedentarite");
  EXPECT_LINE(d, "Diabète : Non [X]", "champ PDF fdr_diabete");
  EXPECT_LINE(d, "Ordonnances en cours Fourni : Oui [X]", "champ PDF doc_ordonnances");
  EXPECT_LINE(d, "Dernière lettre cardiologique Fourni : Non [X]", "champ PDF doc_lettre");
  EXPECT_LINE(d, "EKG Fourni : Oui [X]", "champ PDF doc_ekg");
  // One checkbox per answer (export value "Yes"): the tooltip names the answer.
  EXPECT_LINE(d, "Angor : Non [X]", "champ PDF atcd_angor_non");
  EXPECT_LINE(d, "Traitement anticoagulant au long cours : Oui [X]",
              "champ PDF atcd_anticoagulant_oui");
  EXPECT_LINE(d, "Valvulopathie : Inconnu [X]", "champ PDF atcd_valvulopathie_inconnu");
  EXPECT_NO_LINE(d, "Angor : Oui [X]");
  // Motifs and consent: ticked boxes only, the mark after the label.
  EXPECT_LINE(d, "Dyspnée [X]", "champ PDF motif_dyspnee");
  EXPECT_LINE(d, "Palpitation [X]", "champ PDF motif_palpitation");
  EXPECT_LINE(d, "Suivi trouble du rythme [X]", "champ PDF motif_suivi_rythme");
  EXPECT_LINE(d,
              "J'atteste avoir recueilli le consentement du patient pour une prise en charge par "
              "l'E.S.S. Cardio+. [X]",
              "champ PDF consentement");
  EXPECT_NO_LINE(d, "Syncope [X]");
  EXPECT_NO_LINE(d, "Pas de médecin traitant [X]");
  // Empty fields give nothing; neither do printed captions beside or above fields.
  for (const FormLine& l : d.lines) {
    EXPECT_NE(l.text.rfind("Cardiologue traitant", 0), 0u) << l.text;
    EXPECT_NE(l.text.rfind("Le cas échéant", 0), 0u) << l.text;
    EXPECT_NE(l.text, "Nom :");
    EXPECT_NE(l.text, "Antécédents non cardio-vasculaires :");
    EXPECT_NE(l.text.find("Oui [ ]"), 0u);
    EXPECT_EQ(l.text.find('\t'), std::string::npos) << l.text;
  }
  // 55 filled fields, one line each, and the 8 headings printed on rows of their own.
  std::size_t fields = 0;
  for (const FormLine& l : d.lines)
    fields += l.origin.rfind("champ PDF ", 0) == 0 ? 1 : 0;
  EXPECT_EQ(fields, 55u) << dump(d);
  EXPECT_EQ(d.lines.size() - fields, 8u) << dump(d);
}

TEST(PdfForm, HeadingsKeepEachFieldInItsSection) {
  LOAD(pdf, "fiche-formulaire.pdf");
  const auto doc = formLinesOfPdf(pdf);
  ASSERT_TRUE(doc) << doc.error().detail;
  const long requester = indexOf(*doc, "Information requérant", "page 1, ligne 4");
  const long patient = indexOf(*doc, "Information patient", "page 1, ligne 11");
  const long risks =
      indexOf(*doc, "Facteurs de risques cardiovasculaires (réponses obligatoires) :");
  const long motifs = indexOf(*doc, "Motif de consultation E.S.S. (au moins une réponse) :");
  const long documents = indexOf(*doc, "Documents à joindre obligatoirement :");
  ASSERT_GE(requester, 0) << dump(*doc);
  EXPECT_EQ(indexOf(*doc, "Fiche de demande E.S.S. Cardio+", "page 1, ligne 1"), 0);
  EXPECT_LT(requester, indexOf(*doc, "Nom : FICTIF-BERNARD"));
  EXPECT_LT(indexOf(*doc, "Nom : FICTIF-BERNARD"), patient);
  EXPECT_LT(indexOf(*doc, "Téléphone : 04 76 00 00 11"), patient);
  EXPECT_LT(patient, indexOf(*doc, "Nom : FICTIF-DURAND"));
  EXPECT_LT(indexOf(*doc, "Téléphone : 06 00 00 00 12"), risks);
  EXPECT_LT(patient, indexOf(*doc, "Téléphone : 06 00 00 00 12"));
  EXPECT_LT(risks, indexOf(*doc, "Tabac : Oui [X]"));
  EXPECT_LT(motifs, indexOf(*doc, "Dyspnée [X]"));
  EXPECT_LT(indexOf(*doc, "Dyspnée [X]"), documents);
  EXPECT_LT(documents, indexOf(*doc, "Ordonnances en cours Fourni : Oui [X]"));
  // Within a row, left to right.
  EXPECT_EQ(indexOf(*doc, "Tabac : Oui [X]") + 1, indexOf(*doc, "Paquets / an : 20"));
  EXPECT_EQ(indexOf(*doc, "Paquets / an : 20") + 1, indexOf(*doc, "HTA : Oui [X]"));
}

// ---- hostile and damaged PDFs -------------------------------------------------------------------

TEST(PdfHostile, RefusedWithTheirCodes) {
  const std::vector<std::pair<std::string, Errc>> cases = {
      {"hostile/pdf-user-password.pdf", Errc::PdfEncrypted},
      {"hostile/pdf-many-pages.pdf", Errc::PdfTooComplex},
      {"hostile/pdf-page-loop.pdf", Errc::PdfUnreadable},
      {"hostile/pdf-truncated.pdf", Errc::PdfUnreadable},
      {"hostile/pdf-flate-bomb.pdf", Errc::PdfTooComplex},
      {"hostile/pdf-many-fields.pdf", Errc::PdfTooComplex},
      {"hostile/not-a-pdf.pdf", Errc::PdfUnreadable},
  };
  for (const auto& [name, code] : cases) {
    SCOPED_TRACE(name);
    LOAD(bytes, name);
    const auto doc = formLinesOfPdf(bytes);
    EXPECT_EQ(errorOf(doc), code) << (doc ? "" : doc.error().detail);
    if (!doc) {
      EXPECT_EQ(doc.error().detail.rfind("PDF : ", 0), 0u) << doc.error().detail;
    }
  }
}

TEST(PdfHostile, RepairedWhenReadersRepairThem) {
  // Every xref offset wrong, and a /Count of a billion on a one-page tree: qpdf rebuilds the
  // xref and walks the real tree; poppler, which trusts /Count, reads qpdf's rewrite.
  for (const std::string name : {"hostile/pdf-broken-xref.pdf", "hostile/pdf-count-lies.pdf"}) {
    SCOPED_TRACE(name);
    LOAD(bytes, name);
    const auto doc = formLinesOfPdf(bytes);
    ASSERT_TRUE(doc) << doc.error().detail;
    EXPECT_EQ(doc->pages, 1u);
    ASSERT_EQ(doc->lines.size(), 1u) << dump(*doc);
    EXPECT_EQ(doc->lines[0].text, "Nom : FICTIF-DURAND");
    EXPECT_EQ(doc->lines[0].origin, "page 1, ligne 1");
  }
}

TEST(PdfLimits, EachOneRefuses) {
  LOAD(pdf, "fiche-texte.pdf");
  LOAD(form, "fiche-formulaire.pdf");
  FormDocumentLimits limits;
  limits.max_input_bytes = pdf.size() - 1;
  EXPECT_EQ(errorOf(formLinesOfPdf(pdf, limits)), Errc::PdfTooComplex);
  limits = {};
  limits.max_pages = 0;
  EXPECT_EQ(errorOf(formLinesOfPdf(pdf, limits)), Errc::PdfTooComplex);
  limits = {};
  limits.max_lines = 48;  // the form prints 49
  EXPECT_EQ(errorOf(formLinesOfPdf(pdf, limits)), Errc::PdfTooComplex);
  limits.max_lines = 49;
  EXPECT_TRUE(formLinesOfPdf(pdf, limits));
  limits = {};
  limits.max_text_bytes = 1000;
  EXPECT_EQ(errorOf(formLinesOfPdf(pdf, limits)), Errc::PdfTooComplex);
  limits = {};
  limits.max_stream_bytes = 1000;  // its content stream alone is larger
  EXPECT_EQ(errorOf(formLinesOfPdf(pdf, limits)), Errc::PdfTooComplex);
  limits = {};
  // The form has 109 terminal fields, filled or not: 33 text fields, 45 checkboxes and 31 radio
  // buttons (qpdf counts each button of a group).
  limits.max_fields = 108;
  EXPECT_EQ(errorOf(formLinesOfPdf(form, limits)), Errc::PdfTooComplex);
  limits.max_fields = 109;
  EXPECT_TRUE(formLinesOfPdf(form, limits));
}

TEST(PdfHostile, LooksLikePdf) {
  EXPECT_TRUE(looksLikePdf("%PDF-1.7\n"));
  EXPECT_TRUE(looksLikePdf(std::string(100, ' ') + "%PDF-1.4"));
  EXPECT_FALSE(looksLikePdf(std::string(1100, ' ') + "%PDF-1.4"));
  EXPECT_FALSE(looksLikePdf("PK\x03\x04"));
  EXPECT_EQ(errorOf(formLinesOfPdf("")), Errc::PdfUnreadable);
  EXPECT_EQ(errorOf(formLinesOfPdf("%PDF-1.7\n")), Errc::PdfUnreadable);
}

// Flipped bytes, cut files, spliced garbage: an error value or lines, never a crash (run under
// AddressSanitizer by scripts/test), and only the catalogue's codes.
TEST(PdfHostile, MutationsNeverCrash) {
  LOAD(text, "fiche-texte.pdf");
  LOAD(form, "fiche-formulaire.pdf");
  std::mt19937 rng(13);
  const std::set<Errc> allowed = {Errc::PdfUnreadable, Errc::PdfEncrypted, Errc::PdfTooComplex};
  for (const std::string* original : {&text, &form}) {
    for (int round = 0; round < 60; ++round) {
      std::string bytes = *original;
      const int edits = 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = rng() % bytes.size();
        switch (rng() % 3) {
          case 0:
            bytes[at] = static_cast<char>(rng());
            break;
          case 1:
            bytes.resize(std::max<std::size_t>(at, 16));
            break;
          default:
            bytes.insert(at, std::string(1 + rng() % 64, static_cast<char>(rng())));
        }
      }
      const auto doc = formLinesOfPdf(bytes);
      if (!doc) {
        EXPECT_TRUE(allowed.count(doc.error().code)) << doc.error().detail;
        continue;
      }
      for (const FormLine& l : doc->lines) {
        EXPECT_FALSE(l.text.empty());
        EXPECT_EQ(l.text.find('\n'), std::string::npos);
      }
    }
  }
}

// ---- Word --------------------------------------------------------------------------------------

TEST(Docx, ParagraphsAndTableRowsAsTheTextVersionHasThem) {
  LOAD(docx, "fiche.docx");
  LOAD(txt, "fiche.txt");
  const auto doc = formLinesOfDocx(docx);
  ASSERT_TRUE(doc) << doc.error().detail;
  EXPECT_EQ(doc->source, FormSource::Word);
  EXPECT_EQ(doc->pages, 0u);
  EXPECT_TRUE(doc->issues.empty());
  EXPECT_EQ(textsOf(*doc), splitLines(txt)) << dump(*doc);
  EXPECT_LINE(*doc, "Fiche de demande E.S.S. Cardio+", "paragraphe 1");
  EXPECT_LINE(*doc,
              "[X] J'atteste avoir recueilli le consentement du patient pour une prise en charge "
              "par l'E.S.S. Cardio+.",
              "paragraphe 3");
  EXPECT_LINE(*doc, "Nom : FICTIF-BERNARD\tPrénom : Paul", "tableau 1, ligne 1");
  EXPECT_LINE(*doc, "Nom : FICTIF-DURAND\tNom de naissance : FICTIF-MARTIN", "tableau 3, ligne 1");
  EXPECT_LINE(*doc, "Prénom : Jeanne\tNIR (15 chiffres) : 2 53 08 38 563 047 32",
              "tableau 3, ligne 2");
  // Label cells and value cells: "Date de naissance :" | "21/08/1953" | …
  EXPECT_LINE(*doc, "Date de naissance : 21/08/1953\tCode postal de naissance : 38500",
              "tableau 4, ligne 1");
  EXPECT_LINE(*doc,
              "Tabac : Oui [X] Non [ ] Inconnu [ ]\tPaquets / an : 20\tHTA : Oui [X] Non [ ] "
              "Inconnu [ ]",
              "paragraphe 14");
  EXPECT_LINE(*doc, "Douleur thoracique [ ]\tDyspnée [X]\tPalpitation [X]", "paragraphe 22");
  EXPECT_LINE(*doc, "Ordonnances en cours\tFourni : Oui [X] Non [ ]", "tableau 10, ligne 1");
  EXPECT_LINE(*doc, "EKG\tFourni : Oui [X] Non [ ]", "tableau 11, ligne 1");
}

TEST(Docx, WhatWordPutsInForms) {
  LOAD(docx, "docx-features.docx");
  const auto doc = formLinesOfDocx(docx);
  ASSERT_TRUE(doc) << doc.error().detail;
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"paragraphe 1", "Fonctionnalités Word"},
      {"paragraphe 2", "Consentement [X]"},  // content control, w14:checked 1
      {"paragraphe 3", "Urgence [ ]"},       // w14:checked 0 wins over the glyph it shows
      // Legacy checkboxes: default 1; default 1 but checked 0; checked without a value.
      {"paragraphe 4", "Tabac : Oui [X] Non [ ] Inconnu [X]"},
      {"paragraphe 5", "HTA : Oui [X] Non [ ]"},                // Wingdings F0FD, F0A8
      {"paragraphe 6", "Symptomatologie : dyspnée d'effort,"},  // w:br
      {"paragraphe 6", "palpitations nocturnes."},
      {"paragraphe 7", "Date : 14/03/2025"},  // field result, no instruction, no deletion
      {"paragraphe 8", "Encadré :\tAvis cardiologique ponctuel [X]"},  // text box read once
      {"tableau 1, ligne 1", "Nom : FICTIF-DURAND\tNote"},
      {"tableau 1, ligne 2", "Sexe : F [X] M [ ]"},  // nested table, merged cell
      {"paragraphe 10", "Fin"},                      // paragraph 9 is empty
  };
  ASSERT_EQ(doc->lines.size(), expected.size()) << dump(*doc);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(doc->lines[i].origin, expected[i].first);
    EXPECT_EQ(doc->lines[i].text, expected[i].second);
  }
}

TEST(Docx, PlaceholdersHiddenTextAndTabStopsAreNotText) {
  const std::string body =
      // A content control still showing its placeholder.
      p(r("Nom : ") + "<w:sdt><w:sdtPr><w:showingPlcHdr/></w:sdtPr><w:sdtContent>" +
        r("Cliquez ou appuyez ici pour entrer du texte.") + "</w:sdtContent></w:sdt>") +
      // Hidden text, and a paragraph's tab stops (w:pPr/w:tabs/w:tab).
      p("<w:pPr><w:tabs><w:tab w:val=\"left\" w:pos=\"4000\"/></w:tabs></w:pPr>" + r("Prénom :") +
        "<w:r><w:rPr><w:vanish/></w:rPr><w:t>caché</w:t></w:r>" + r(" Jeanne")) +
      // A content control with an answer.
      p(r("Sexe : ") + "<w:sdt><w:sdtPr><w:alias w:val=\"Sexe\"/></w:sdtPr><w:sdtContent>" +
        r("Féminin") + "</w:sdtContent></w:sdt>") +
      // A symbol written without the U+F000 offset, and a Unicode ballot box in w:sym.
      p(r("Dyspnée") + "<w:r><w:sym w:font=\"Wingdings\" w:char=\"FE\"/></w:r>" + r(" Syncope") +
        "<w:r><w:sym w:font=\"Segoe UI Symbol\" w:char=\"2610\"/></w:r>") +
      // No-break spaces and a no-break hyphen.
      p(r("Nom de naissance\xC2\xA0: FICTIF") + "<w:r><w:noBreakHyphen/></w:r>" + r("MARTIN"));
  const auto doc = formLinesOfDocx(docxOf(body));
  ASSERT_TRUE(doc) << doc.error().detail;
  EXPECT_EQ(textsOf(*doc), (std::vector<std::string>{"Nom :", "Prénom : Jeanne", "Sexe : Féminin",
                                                     "Dyspnée [X] Syncope [ ]",
                                                     "Nom de naissance : FICTIF-MARTIN"}))
      << dump(*doc);
}

TEST(Docx, StrictNamespaceAndAnotherMainPart) {
  const std::string strict = "http://purl.oclc.org/ooxml/wordprocessingml/main";
  auto doc = formLinesOfDocx(docxOf(p(r("Nom : FICTIF-DURAND")), strict));
  ASSERT_TRUE(doc) << doc.error().detail;
  EXPECT_EQ(textsOf(*doc), std::vector<std::string>{"Nom : FICTIF-DURAND"});

  // The main part is the one _rels/.rels names, not a fixed path.
  const std::string rels =
      "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
      "<Relationship Id=\"r1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/"
      "relationships/officeDocument\" Target=\"/word/document2.xml\"/></Relationships>";
  const std::string main = "<w:document xmlns:w=\"" + std::string(kW) + "\"><w:body>" +
                           p(r("Prénom : Jeanne")) + "</w:body></w:document>";
  const std::string decoy = "<w:document xmlns:w=\"" + std::string(kW) + "\"><w:body>" +
                            p(r("Leurre")) + "</w:body></w:document>";
  doc = formLinesOfDocx(
      zipOf({{"_rels/.rels", rels}, {"word/document.xml", decoy}, {"word/document2.xml", main}}));
  ASSERT_TRUE(doc) << doc.error().detail;
  EXPECT_EQ(textsOf(*doc), std::vector<std::string>{"Prénom : Jeanne"});
}

TEST(Docx, AnEmptyDocumentGivesNothingAndSaysWhy) {
  const auto doc = formLinesOfDocx(docxOf(p("") + p(r("  \t "))));
  ASSERT_TRUE(doc) << doc.error().detail;
  EXPECT_EQ(doc->source, FormSource::Nothing);
  EXPECT_TRUE(doc->lines.empty());
  ASSERT_EQ(doc->issues.size(), 1u);
  EXPECT_EQ(doc->issues.items()[0].code, Errc::DocumentNoText);
}

TEST(DocxHostile, RefusedWithTheirCodes) {
  const std::vector<std::pair<std::string, Errc>> cases = {
      {"hostile/docx-bomb.docx", Errc::XdmCompressionRatio},
      {"hostile/docx-xxe.docx", Errc::XmlDoctypeForbidden},
      {"hostile/docx-traversal.docx", Errc::XdmUnsafePath},
      {"hostile/docx-no-document.docx", Errc::DocxInvalid},
      {"hostile/docx-not-word.docx", Errc::DocxInvalid},
      {"hostile/docx-not-zip.docx", Errc::DocxInvalid},
      {"hostile/docx-deep.docx", Errc::XmlTooComplex},
      {"hostile/docx-malformed.docx", Errc::XmlMalformed},
      {"hostile/docx-much-text.docx", Errc::DocxTooComplex},
  };
  for (const auto& [name, code] : cases) {
    SCOPED_TRACE(name);
    LOAD(bytes, name);
    const auto doc = formLinesOfDocx(bytes);
    EXPECT_EQ(errorOf(doc), code) << (doc ? "" : doc.error().detail);
    // Said of the Word document, never of an "IHE_XDM.ZIP".
    if (!doc) {
      EXPECT_EQ(doc.error().detail.rfind("Document Word", 0), 0u) << doc.error().detail;
      EXPECT_EQ(doc.error().detail.find("IHE_XDM"), std::string::npos) << doc.error().detail;
    }
  }
}

TEST(DocxLimits, EachOneRefuses) {
  LOAD(docx, "fiche.docx");
  FormDocumentLimits limits;
  limits.max_input_bytes = docx.size() - 1;
  EXPECT_EQ(errorOf(formLinesOfDocx(docx, limits)), Errc::DocxTooComplex);
  limits = {};
  limits.max_lines = 48;  // 49 lines
  EXPECT_EQ(errorOf(formLinesOfDocx(docx, limits)), Errc::DocxTooComplex);
  limits = {};
  limits.max_text_bytes = 1000;
  EXPECT_EQ(errorOf(formLinesOfDocx(docx, limits)), Errc::DocxTooComplex);
  limits = {};
  limits.zip.max_entries = 3;
  EXPECT_EQ(errorOf(formLinesOfDocx(docx, limits)), Errc::XdmTooManyEntries);
  limits = {};
  limits.xml.max_depth = 4;
  EXPECT_EQ(errorOf(formLinesOfDocx(docx, limits)), Errc::XmlTooComplex);
}

TEST(DocxHostile, MutationsNeverCrash) {
  LOAD(docx, "fiche.docx");
  LOAD(features, "docx-features.docx");
  std::mt19937 rng(12);
  for (const std::string* original : {&docx, &features}) {
    for (int round = 0; round < 200; ++round) {
      std::string bytes = *original;
      const int edits = 1 + static_cast<int>(rng() % 6);
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = rng() % bytes.size();
        if (rng() % 4 == 0) {
          bytes.resize(std::max<std::size_t>(at, 4));
        } else {
          bytes[at] = static_cast<char>(rng());
        }
      }
      const auto doc = formLinesOfDocx(bytes);
      if (!doc) {
        EXPECT_FALSE(doc.error().detail.empty());
        continue;
      }
      for (const FormLine& l : doc->lines) {
        EXPECT_FALSE(l.text.empty());
        EXPECT_EQ(l.text.find('\n'), std::string::npos);
      }
    }
  }
  // And XML mutations inside a valid zip: readXml's codes or lines.
  const std::string body =
      p(r("Nom : FICTIF")) + "<w:tbl><w:tr><w:tc>" + p(r("a")) + "</w:tc></w:tr></w:tbl>";
  for (int round = 0; round < 300; ++round) {
    std::string xml = body;
    const std::size_t at = rng() % xml.size();
    xml[at] = "<>/=\"w:p tr"[rng() % 11];
    const auto doc = formLinesOfDocx(docxOf(xml));
    if (!doc) {
      const Errc c = doc.error().code;
      EXPECT_TRUE(c == Errc::XmlMalformed || c == Errc::DocxInvalid || c == Errc::XmlTooComplex)
          << doc.error().detail;
    }
  }
}

// ---- one line's text ---------------------------------------------------------------------------

TEST(FormLines, CleanMakesOneTidyLine) {
  using form_lines::clean;
  EXPECT_EQ(clean("  Nom :   FICTIF  "), "Nom : FICTIF");
  EXPECT_EQ(clean("Nom : A \t  Prénom : B\t\t"), "Nom : A\tPrénom : B");
  EXPECT_EQ(clean("Oui ☒ Non ☐ Inconnu ☑"), "Oui [X] Non [ ] Inconnu [X]");
  EXPECT_EQ(clean("Oui☒Non☐"), "Oui [X] Non [ ]");
  EXPECT_EQ(clean("☒\tDyspnée"), "[X]\tDyspnée");
  EXPECT_EQ(clean("\xEF\x83\xBD Oui \xEF\x82\xA8 Non"), "[X] Oui [ ] Non");  // U+F0FD, U+F0A8
  EXPECT_EQ(clean("ligne 1\r\nligne 2"), "ligne 1 ligne 2");
  EXPECT_EQ(clean("NIR\xC2\xA0:\xE2\x80\xAF"
                  "2 53"),
            "NIR : 2 53");  // no-break spaces
  EXPECT_EQ(clean(std::string("a\0b\x07"
                              "c\xC2\xAD"
                              "d",
                              9)),
            "abcd");                                         // NUL, BEL, soft hyphen
  EXPECT_EQ(clean("Pr\xE9nom : Jos\xE9"), "Prénom : José");  // windows-1252
  EXPECT_EQ(clean(" \t \r\n"), "");
}

// ---- through the text form reader ---------------------------------------------------------------

std::string show(const form::AnswerValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return "\"" + v + "\"";
        } else if constexpr (std::is_same_v<T, form::Coding>) {
          return v.system + "|" + v.code;
        } else if constexpr (std::is_same_v<T, form::Date>) {
          return "date " + std::to_string(v.year) + "-" + std::to_string(v.month) + "-" +
                 std::to_string(v.day);
        } else {
          return "decimal " + std::to_string(v.value);
        }
      },
      value);
}

// linkId → the values read for it (locations left out: they differ by design).
std::map<std::string, std::vector<std::string>> answersOf(const ParsedForm& parsed) {
  std::map<std::string, std::vector<std::string>> out;
  const form::Questionnaire& q = parsed.response.questionnaire();
  for (std::size_t i = 0; i < q.items().size(); ++i) {
    for (const form::Answer& a : parsed.response.answers(i))
      out[q.items()[i].link_id].push_back(show(a.value));
  }
  return out;
}

std::string showAnswers(const std::map<std::string, std::vector<std::string>>& answers) {
  std::string out;
  for (const auto& [link_id, values] : answers) {
    out += link_id + " =";
    for (const std::string& v : values)
      out += " " + v;
    out += "\n";
  }
  return out;
}

// The PDF form, the PDF of the typed form and the .docx say what the text version says: the same
// answers through the same reader, whatever that reader recognises today.
TEST(ThroughTheTextReader, EveryDocumentGivesTheTextVersionsAnswers) {
  const char* source = std::getenv("LIAISON_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "LIAISON_SOURCE_DIR is not set: run through ctest";
  std::ifstream in(std::string(source) + "/profiles/cardio-plus/questionnaire-fiche-demande.json");
  ASSERT_TRUE(in);
  std::ostringstream json;
  json << in.rdbuf();
  const auto questionnaire = parseQuestionnaire(json.str());
  ASSERT_TRUE(questionnaire) << questionnaire.error().detail;
  const FormTextReader reader(*questionnaire);

  LOAD(txt, "fiche.txt");
  const ParsedForm expected = reader.read(txt);
  const auto expected_answers = answersOf(expected);
  // The comparison means something only if the text version is read at all.
  ASSERT_GE(expected.recognised, 20u) << showAnswers(expected_answers);
  ASSERT_TRUE(expected_answers.count("patient-nir")) << showAnswers(expected_answers);

  for (const std::string name :
       {"fiche-formulaire.pdf", "fiche-texte.pdf", "pdf-owner-password.pdf", "fiche.docx"}) {
    SCOPED_TRACE(name);
    LOAD(bytes, name);
    const auto doc = name.ends_with(".docx") ? formLinesOfDocx(bytes) : formLinesOfPdf(bytes);
    ASSERT_TRUE(doc) << doc.error().detail;
    const ParsedForm parsed = reader.readLines(doc->lines);
    const auto answers = answersOf(parsed);
    EXPECT_EQ(answers, expected_answers) << "read from the document:\n"
                                         << showAnswers(answers) << "from the text version:\n"
                                         << showAnswers(expected_answers) << "lines:\n"
                                         << dump(*doc);
    // Each answer says where it was read: a line or a field of this document.
    const form::Questionnaire& q = parsed.response.questionnaire();
    for (std::size_t i = 0; i < q.items().size(); ++i) {
      for (const form::Answer& a : parsed.response.answers(i)) {
        bool found = false;
        for (const FormLine& l : doc->lines)
          found = found || l.origin == a.location;
        EXPECT_TRUE(found) << q.items()[i].link_id << " read at " << a.location;
      }
    }
  }
}

}  // namespace
}  // namespace liaison::parse
