#!/usr/bin/env python3
"""Writes the Cardio+ request form ("fiche de demande", ../shared/spec/cardio-plus-fiche.md) of one
synthetic request as the documents GPs attach to MSSanté mails, and hostile variants.

Usage: make_form_documents.py OUT_DIR

Generated rather than committed: PDFs and .docx would be binary blobs, and this script says what
each one holds. Debian packages only (python3-reportlab, python3-docx, python3-pil, fonts-dejavu-core,
all in scripts/setup); deterministic: two runs write identical bytes (reportlab's invariant mode,
zip entries re-stamped). Expected outcomes are asserted by
tests/unit/parse/document/form_document_test.cpp.

The request: Dr Paul FICTIF-BERNARD (GP, Voiron) for Jeanne FICTIF-DURAND, née FICTIF-MARTIN, a
woman born 21/08/1953 in Voiron (INSEE 38563, postal code 38500), 71 on the form's date
(14/03/2025), NIR 2 53 08 38 563 047 32 (key 97 - 2530838563047 mod 97 = 32), an ex-smoker with
hypertension, dyslipidaemia, paroxysmal atrial fibrillation under anticoagulants; motifs Dyspnée,
Palpitation, Suivi trouble du rythme; ordonnances, biologie and EKG provided.

  fiche.txt               the request as text in the paper form's words, two-column rows joined by a
                          tab, marks after the options ("Oui [X] Non [ ] Inconnu [ ]"): what a
                          copy-paste of the filled form gives
  fiche-formulaire.pdf    the fillable PDF form (AcroForm) filled in: text fields whose tooltips are
                          the paper labels, radio groups Oui/Non/Inconnu for the risk factors and the
                          documents, one checkbox per answer for the cardiovascular history (tooltip
                          "Angor : Oui"), checkboxes for the motifs, the consent and "Pas de médecin
                          traitant"; headings and labels printed around them
  fiche-texte.pdf         the same request printed flat (text layer only, DejaVu Sans, ☒/☐ glyphs)
  fiche.docx              the same as a Word document: paragraphs, tables for the two-column rows
                          (one row in label | value cells), tabs, ☒/☐ glyphs
  fiche-scan.pdf          a "scanned" page: one image, no text, no field
  docx-features.docx      what Word puts in forms: a checkbox content control (w14:checkbox), legacy
                          form checkboxes (FORMCHECKBOX, w:default / w:checked), Wingdings w:sym
                          boxes, a line break, a nested table, a text box with its VML fallback
                          (mc:AlternateContent), field instructions, tracked deletions
  pdf-owner-password.pdf  fiche-texte.pdf's content encrypted with an owner password only (readable)
  hostile/
    pdf-user-password.pdf pdf-encrypted       a user password is required
    pdf-many-pages.pdf    pdf-too-complex     5,000 pages
    pdf-count-lies.pdf    read (1 page)       /Count 1000000000 on a one-page tree
    pdf-page-loop.pdf     pdf-unreadable      a page tree whose Kids point back at the root
    pdf-broken-xref.pdf   read, repaired      every xref offset wrong
    pdf-truncated.pdf     pdf-unreadable      fiche-texte.pdf cut after its first 600 bytes
    pdf-flate-bomb.pdf    pdf-too-complex     a content stream inflating to 256 MiB
    pdf-many-fields.pdf   pdf-too-complex     an AcroForm of 3,000 text fields
    not-a-pdf.pdf         pdf-unreadable      text
    docx-bomb.docx        xdm-compression-ratio  word/document.xml inflating to 64 MiB
    docx-xxe.docx         xml-doctype-forbidden  document.xml with an external entity
    docx-traversal.docx   xdm-unsafe-path     an entry named ../../evil.xml
    docx-no-document.docx docx-invalid        a zip without word/document.xml
    docx-not-word.docx    docx-invalid        document.xml whose root is not w:document
    docx-not-zip.docx     docx-invalid        an old binary .doc header (OLE compound file)
    docx-deep.docx        xml-too-complex     5,000 nested elements
    docx-malformed.docx   xml-malformed       an unclosed element
    docx-much-text.docx   docx-too-complex    3 MiB of (incompressible) text
  mails/                  each document as the attachment of an MSSanté mail from Dr FICTIF-BERNARD
                          ("Veuillez trouver ci-joint la fiche de demande."), for the message intake
                          (tests/fiches/form_document_intake_test.cpp)
    fiche-formulaire.eml, fiche-texte.eml, fiche-docx.eml    the form → a QuestionnaireResponse
    fiche-scan.eml        the scan → a request to qualify, the PDF kept
    fiche-chiffree.eml    pdf-user-password.pdf → a warning (pdf-encrypted), a request to qualify
    lettre.eml            a PDF letter that is not the form → a request to qualify
"""

import io
import os
import random
import sys
import zipfile
import zlib

from reportlab import rl_config

rl_config.invariant = 1  # before any other reportlab import: fixed dates, IDs and "random" bytes

from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.pdfencrypt import StandardEncryption  # noqa: E402
from reportlab.lib.utils import ImageReader  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

import docx  # noqa: E402
from docx.oxml import parse_xml  # noqa: E402
from docx.shared import Pt  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FIXED_TIME = (2025, 3, 14, 9, 30, 0)
MIB = 1024 * 1024
CHECKED, UNCHECKED = "☒", "☐"

# ---- the request, row by row as the paper form lays it out ------------------------------------
# A cell is (kind, label, value, field name):
#   text    "Label : value"                          value "" = left empty
#   tri     "Label : Oui [X] Non [ ] Inconnu [ ]"     value: the ticked option
#   fourni  "Document<TAB>Fourni : Oui [X] Non [ ]"   value: True / False
#   box     "Label [X]"  (box after the label)        value: ticked
#   lead    "[X] Label"  (box before the label)       value: ticked
# A row of one str is a heading.

CONSENT = ("J'atteste avoir recueilli le consentement du patient pour une prise en charge par "
           "l'E.S.S. Cardio+.")
SYMPTOMS_LABEL = ("Symptomatologie actuelle (à préciser) Veuillez préciser ici le motif de votre "
                  "demande")

FORM = [
    "Fiche de demande E.S.S. Cardio+",
    [("text", "Date", "14/03/2025", "date")],
    [("lead", CONSENT, True, "consentement")],
    "Information requérant",
    [("text", "Nom", "FICTIF-BERNARD", "requerant_nom"),
     ("text", "Prénom", "Paul", "requerant_prenom")],
    [("text", "Adresse professionnelle", "4 place du Parvis, 38500 Voiron", "requerant_adresse")],
    [("text", "Structure d'appartenance", "Cabinet libéral", "requerant_structure")],
    [("text", "Préciser le nom", "Cabinet médical du Parvis", "requerant_structure_nom")],
    [("text", "Téléphone", "04 76 00 00 11", "requerant_telephone"),
     ("text", "Mail", "paul.fictif-bernard@medecin.mssante.example", "requerant_mail")],
    [("text", "Le requérant intervient en tant que", "Médecin généraliste", "requerant_qualite")],
    "Information patient",
    [("text", "Nom", "FICTIF-DURAND", "patient_nom"),
     ("text", "Nom de naissance", "FICTIF-MARTIN", "patient_nom_naissance")],
    [("text", "Prénom", "Jeanne", "patient_prenom"),
     ("text", "NIR (15 chiffres)", "2 53 08 38 563 047 32", "patient_nir")],
    [("text", "Date de naissance", "21/08/1953", "patient_date_naissance"),
     ("text", "Code postal de naissance", "38500", "patient_cp_naissance")],
    [("text", "Rang (si jumeauté. A défaut, renseigner 1)", "1", "patient_rang"),
     ("text", "Sexe", "Féminin", "patient_sexe")],
    [("text", "Lieu de résidence actuel du patient", "Domicile", "patient_residence")],
    [("text", "Le cas échéant préciser le nom de l'établissement", "", "patient_etablissement")],
    [("text", "Téléphone", "06 00 00 00 12", "patient_telephone"),
     ("text", "Adresse", "12 rue des Tilleuls, 38500 Voiron", "patient_adresse")],
    [("text", "Médecin traitant", "Dr Paul FICTIF-BERNARD", "patient_medecin_traitant"),
     ("text", "Cardiologue traitant", "", "patient_cardiologue")],
    [("lead", "Pas de médecin traitant", False, "patient_sans_medecin")],
    [("text", "Poids", "64 kgs", "patient_poids"), ("text", "Taille", "158 cms", "patient_taille")],
    "Facteurs de risques cardiovasculaires (réponses obligatoires) :",
    [("tri", "Tabac", "Oui", "fdr_tabac"), ("text", "Paquets / an", "20", "fdr_paquets"),
     ("tri", "HTA", "Oui", "fdr_hta")],
    [("tri", "Stop tabac", "Oui", "fdr_stop_tabac"), ("text", "Année arrêt", "2008", "fdr_annee_arret"),
     ("tri", "Hérédité CV", "Non", "fdr_heredite")],
    [("tri", "Dyslipidémie", "Oui", "fdr_dyslipidemie"),
     ("tri", "Sédentarité", "Inconnu", "fdr_sedentarite")],
    [("tri", "Diabète", "Non", "fdr_diabete"), ("text", "Type", "", "fdr_diabete_type"),
     ("text", "Durée", "", "fdr_diabete_duree")],
    "Antécédents cardiovasculaires (réponses obligatoires) :",
    [("tri", "Angor", "Non", "atcd_angor"),
     ("tri", "Insuffisance cardiaque", "Non", "atcd_ic")],
    [("tri", "Angioplastie coronaire", "Non", "atcd_angioplastie"),
     ("tri", "Maladie Thrombo-embolique", "Non", "atcd_mte")],
    [("tri", "Pontage coronaire", "Non", "atcd_pontage"),
     ("tri", "Traitement anticoagulant au long cours", "Oui", "atcd_anticoagulant")],
    [("tri", "Trouble du rythme", "Oui", "atcd_rythme"),
     ("tri", "Stimulateur cardiaque", "Non", "atcd_stimulateur")],
    [("tri", "SAS appareillé", "Non", "atcd_sas"),
     ("tri", "Valvulopathie", "Inconnu", "atcd_valvulopathie")],
    [("text", "Autres à préciser", "fibrillation atriale paroxystique (2022)", "atcd_autres")],
    [("text", "Antécédents non cardio-vasculaires", "hypothyroïdie substituée, arthrose des genoux",
      "atcd_non_cv")],
    "Motif de consultation E.S.S. (au moins une réponse) :",
    [("box", "Dépistage IC", False, "motif_depistage_ic"),
     ("box", "Dépistage HTA", False, "motif_depistage_hta"),
     ("box", "Somnolence diurne - ronflement important", False, "motif_somnolence")],
    [("box", "Douleur thoracique", False, "motif_douleur"),
     ("box", "Dyspnée", True, "motif_dyspnee"),
     ("box", "Palpitation", True, "motif_palpitation")],
    [("box", "Syncope", False, "motif_syncope"),
     ("box", "Suivi cardiopathie ischémique", False, "motif_suivi_ischemique"),
     ("box", "Suivi insuffisance cardiaque", False, "motif_suivi_ic")],
    [("box", "Suivi trouble du rythme", True, "motif_suivi_rythme"),
     ("box", "Suivi stimulateur cardiaque", False, "motif_suivi_stimulateur"),
     ("box", "Avis cardiologique ponctuel", False, "motif_avis")],
    [("box", "Suivi valvulopathie", False, "motif_suivi_valvulopathie")],
    [("text", SYMPTOMS_LABEL, "Dyspnée d'effort et palpitations.", "symptomatologie")],
    "Documents à joindre obligatoirement :",
    [("fourni", "Ordonnances en cours", True, "doc_ordonnances")],
    [("fourni", "Dernière lettre cardiologique", False, "doc_lettre")],
    [("fourni", "Compte-rendu d'hospitalisation", False, "doc_crh")],
    [("fourni", "Dernière biologie", True, "doc_biologie")],
    "Autres documents joints :",
    [("fourni", "EKG", True, "doc_ekg")],
    [("text", "Autres (à préciser)", "Holter ECG de 2022", "doc_autres")],
]
TRI = ("Oui", "Non", "Inconnu")
FOURNI = ("Oui", "Non")


def mark(ticked, glyphs=False):
    if glyphs:
        return CHECKED if ticked else UNCHECKED
    return "[X]" if ticked else "[ ]"


def options(choices, chosen, glyphs=False):
    return " ".join(f"{c} {mark(c == chosen, glyphs)}" for c in choices)


def cell_text(cell, glyphs=False):
    """One cell as the text of the paper form (a fourni cell is two columns: a list)."""
    kind, label, value, _ = cell
    if kind == "text":
        return f"{label} : {value}" if value else f"{label} :"
    if kind == "tri":
        return f"{label} : {options(TRI, value, glyphs)}"
    if kind == "fourni":
        return [label, "Fourni : " + options(FOURNI, "Oui" if value else "Non", glyphs)]
    if kind == "box":
        return f"{label} {mark(value, glyphs)}"
    if kind == "lead":
        return f"{mark(value, glyphs)} {label}"
    raise ValueError(kind)


def row_cells(row, glyphs=False):
    cells = []
    for cell in row:
        t = cell_text(cell, glyphs)
        cells.extend(t if isinstance(t, list) else [t])
    return cells


def text_version():
    lines = []
    for row in FORM:
        lines.append(row if isinstance(row, str) else "\t".join(row_cells(row)))
    return "\n".join(lines) + "\n"


# ---- PDFs ---------------------------------------------------------------------------------------

def register_fonts():
    pdfmetrics.registerFont(TTFont("DejaVu", os.path.join(FONT_DIR, "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVu-Bold", os.path.join(FONT_DIR, "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFont(
        TTFont("DejaVuCond", os.path.join(FONT_DIR, "DejaVuSansCondensed.ttf")))


PAGE_W, PAGE_H = A4
MARGIN = 36
ROW = 15
SIZE = 8
FONT = "DejaVuCond"


def new_canvas(target, **kw):
    c = canvas.Canvas(target, pagesize=A4, invariant=1, **kw)
    c.setTitle("Fiche de demande E.S.S. Cardio+")
    c.setAuthor("FICTIF")
    c.setCreator("tests/fiches/make_form_documents.py")
    c.setProducer("reportlab")
    return c


def columns(n):
    width = (PAGE_W - 2 * MARGIN) / n
    return [MARGIN + i * width for i in range(n)], width


class Page:
    """Row cursor over A4 pages."""

    def __init__(self, c):
        self.c = c
        self.y = PAGE_H - MARGIN

    def next_row(self, height=ROW):
        if self.y - height < MARGIN:
            self.c.showPage()
            self.y = PAGE_H - MARGIN
        self.y -= height
        return self.y


def draw_flat(c, glyphs=True):
    page = Page(c)
    for row in FORM:
        y = page.next_row()
        if isinstance(row, str):
            c.setFont("DejaVu-Bold", 9)
            c.drawString(MARGIN, y, row)
            continue
        c.setFont(FONT, SIZE)
        cells = row_cells(row, glyphs)
        xs, width = columns(max(len(cells), 2) if len(row) < 3 else 3)
        for x, text in zip(xs, cells):
            if pdfmetrics.stringWidth(text, FONT, SIZE) > (PAGE_W - MARGIN - x):
                raise SystemExit(f"make_form_documents: {text!r} does not fit its row")
            c.drawString(x, y, text)


def write_flat_pdf(path, **kw):
    c = new_canvas(path, **kw)
    draw_flat(c)
    c.save()


def write_form_pdf(path):
    """The fillable form: printed labels, widgets for the answers."""
    c = new_canvas(path)
    form = c.acroForm
    page = Page(c)
    box = 8

    def text_field(name, tooltip, value, x, y, width, height=11, multiline=False):
        form.textfield(name=name, tooltip=tooltip, value=value, x=x, y=y - 2, width=width,
                       height=height, fontName="Helvetica", fontSize=7, borderWidth=0.5,
                       fieldFlags="multiline" if multiline else "")

    for row in FORM:
        if isinstance(row, str):
            y = page.next_row()
            c.setFont("DejaVu-Bold", 9)
            c.drawString(MARGIN, y, row)
            continue
        kind0, label0 = row[0][0], row[0][1]
        if kind0 == "text" and label0 in (SYMPTOMS_LABEL, "Antécédents non cardio-vasculaires"):
            # A free-text area under its label, as the paper form has it.
            y = page.next_row()
            c.setFont(FONT, SIZE)
            c.drawString(MARGIN, y, label0 + " :")
            y = page.next_row(26)
            text_field(row[0][3], label0, row[0][2], MARGIN, y, PAGE_W - 2 * MARGIN, 22, True)
            continue
        y = page.next_row()
        c.setFont(FONT, SIZE)
        n = 3 if len(row) == 3 else 2
        xs, width = columns(n)
        for x, (kind, label, value, name) in zip(xs, row):
            if kind == "text":
                unit = ""
                if label in ("Poids", "Taille"):
                    value, unit = value.split(" ")
                caption = label + " :"
                c.drawString(x, y, caption)
                fx = x + pdfmetrics.stringWidth(caption, FONT, SIZE) + 3
                fw = x + width - fx - 8 - (18 if unit else 0)
                text_field(name, label, value, fx, y, fw)
                if unit:
                    c.drawString(fx + fw + 2, y, unit)
            elif kind == "tri" and name.startswith("atcd_"):
                # One checkbox per answer, as forms made with a word processor have them.
                caption = label + " :"
                c.drawString(x, y, caption)
                ox = x + pdfmetrics.stringWidth(caption, FONT, SIZE) + 4
                for option in TRI:
                    c.drawString(ox, y, option)
                    ox += pdfmetrics.stringWidth(option, FONT, SIZE) + 2
                    form.checkbox(name=f"{name}_{option.lower()}", tooltip=f"{label} : {option}",
                                  checked=(option == value), x=ox, y=y - 1, size=box,
                                  buttonStyle="cross", borderWidth=0.5)
                    ox += box + 6
            elif kind in ("tri", "fourni"):
                # A radio group whose export values are the options.
                choices = TRI if kind == "tri" else FOURNI
                chosen = value if kind == "tri" else ("Oui" if value else "Non")
                caption = label + " :" if kind == "tri" else label
                c.drawString(x, y, caption)
                ox = x + pdfmetrics.stringWidth(caption, FONT, SIZE) + 4
                if kind == "fourni":
                    ox = xs[1]
                    c.drawString(ox, y, "Fourni :")
                    ox += pdfmetrics.stringWidth("Fourni :", FONT, SIZE) + 4
                for option in choices:
                    c.drawString(ox, y, option)
                    ox += pdfmetrics.stringWidth(option, FONT, SIZE) + 2
                    form.radio(name=name, value=option, selected=(option == chosen),
                               tooltip=label if kind == "tri" else f"{label} Fourni",
                               x=ox, y=y - 1, size=box, buttonStyle="circle", borderWidth=0.5)
                    ox += box + 6
            elif kind == "box":
                c.drawString(x, y, label)
                ox = x + pdfmetrics.stringWidth(label, FONT, SIZE) + 3
                form.checkbox(name=name, tooltip=label, checked=value, x=ox, y=y - 1, size=box,
                              buttonStyle="cross", borderWidth=0.5)
            elif kind == "lead":
                form.checkbox(name=name, tooltip=label, checked=value, x=x, y=y - 1, size=box,
                              buttonStyle="cross", borderWidth=0.5)
                c.drawString(x + box + 4, y, label)
            else:
                raise ValueError(kind)
    c.save()


def write_scan_pdf(path):
    """A page that is only an image: a grey "photocopy" with dark bars where the text would be."""
    image = Image.new("L", (620, 877), 236)
    draw = ImageDraw.Draw(image)
    y = 40
    for i, row in enumerate(FORM):
        length = 120 + (len(row) * 37 if isinstance(row, str) else 150 * len(row))
        draw.rectangle([40, y, 40 + min(length, 540), y + 6], fill=60 if isinstance(row, str) else 110)
        y += 15
        if y > 840:
            break
    c = new_canvas(path)
    c.drawImage(ImageReader(image), 0, 0, width=PAGE_W, height=PAGE_H)
    c.save()


# ---- raw PDFs for the hostile cases --------------------------------------------------------------

def raw_pdf(objects, root=1, trailer_extra=b"", xref_shift=0):
    """A PDF from numbered object bodies (bytes, objects 1..n), with a correct xref unless
    xref_shift moves every offset."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % (off + xref_shift)
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, root, trailer_extra, xref)
    return bytes(out)


def stream(data, extra=b""):
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


FONT_OBJ = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def one_page_pdf(text=b"Nom : FICTIF-DURAND", count=1, xref_shift=0):
    content = b"BT /F1 10 Tf 50 780 Td (" + text + b") Tj ET"
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % count,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        stream(content),
        FONT_OBJ,
    ], xref_shift=xref_shift)


def many_pages_pdf(pages):
    # Objects: 1 catalog, 2 pages, 3 content, 4 font, then one page object each.
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        stream(b"BT /F1 10 Tf 50 780 Td (page) Tj ET"),
        FONT_OBJ,
    ]
    for _ in range(pages):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R "
                       b"/Resources << /Font << /F1 4 0 R >> >> >>")
    return raw_pdf(objects)


def page_loop_pdf():
    # The root's second kid is an intermediate node whose Kids hold the root again.
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        stream(b"BT /F1 10 Tf 50 780 Td (boucle) Tj ET"),
        FONT_OBJ,
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
    ])


def flate_bomb_pdf():
    # 256 MiB of spaces (valid, if pointless, content) deflated to about 256 KiB.
    z = zlib.compressobj(9)
    chunk = b" " * MIB
    data = b"".join(z.compress(chunk) for _ in range(256)) + z.flush()
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        stream(data, b"/Filter /FlateDecode "),
    ])


def many_fields_pdf(fields):
    # 1 catalog, 2 pages, 3 page, 4 AcroForm, then the fields (widgets merged into them).
    first = 5
    refs = b" ".join(b"%d 0 R" % (first + i) for i in range(fields))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [" + refs + b"] >>",
        b"<< /Fields [" + refs + b"] >>",
    ]
    for i in range(fields):
        objects.append(b"<< /FT /Tx /T (champ%d) /V (valeur %d) /Type /Annot /Subtype /Widget "
                       b"/P 3 0 R /Rect [10 10 20 20] >>" % (i, i))
    return raw_pdf(objects)


# ---- Word ---------------------------------------------------------------------------------------

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14_NS = "http://schemas.microsoft.com/office/word/2010/wordml"


def fixed_zip(data):
    """The archive python-docx wrote, with fixed timestamps and entry order kept."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, src.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def new_document():
    d = docx.Document()
    cp = d.core_properties
    cp.author = "FICTIF"
    cp.last_modified_by = "FICTIF"
    cp.title = "Fiche de demande E.S.S. Cardio+"
    import datetime
    cp.created = cp.modified = datetime.datetime(*FIXED_TIME)
    cp.revision = 1
    style = d.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(9)
    return d


def save_docx(d, path):
    buf = io.BytesIO()
    d.save(buf)
    with open(path, "wb") as f:
        f.write(fixed_zip(buf.getvalue()))


def write_docx(path):
    d = new_document()
    table = None
    for row in FORM:
        if isinstance(row, str):
            d.add_paragraph(row, style="Heading 2")
            table = None
            continue
        if len(row) == 2 or row[0][0] == "fourni":
            # Two-column rows in a table, as the paper form is laid out.
            if row[0][3] == "patient_date_naissance":
                # This row the way many Word forms do it: label cells and value cells.
                cells = [row[0][1] + " :", row[0][2], row[1][1] + " :", row[1][2]]
            else:
                cells = row_cells(row, glyphs=True)
            if table is None or len(table.columns) != len(cells):
                table = d.add_table(rows=0, cols=len(cells))
            r = table.add_row()
            for i, text in enumerate(cells):
                r.cells[i].text = text
            continue
        table = None
        # Other rows are paragraphs, columns separated by tabs (python-docx writes w:tab).
        d.add_paragraph("\t".join(row_cells(row, glyphs=True)))
    save_docx(d, path)


def xml_element(xml):
    return parse_xml(xml.replace("W_NS", W_NS).replace("W14_NS", W14_NS))


def write_docx_features(path):
    """Word constructs the reader must understand, one per paragraph, numbered in the text."""
    d = new_document()
    body = d.element.body
    sect = body[-1]  # w:sectPr stays last

    def add(xml):
        sect.addprevious(xml_element(xml))

    d.add_paragraph("Fonctionnalités Word")  # paragraphe 1
    # 2: a checkbox content control, checked, whose displayed glyph Word keeps in w:t.
    add('<w:p xmlns:w="W_NS" xmlns:w14="W14_NS"><w:r><w:t xml:space="preserve">Consentement </w:t>'
        '</w:r><w:sdt><w:sdtPr><w14:checkbox><w14:checked w14:val="1"/>'
        '<w14:checkedState w14:val="2612" w14:font="MS Gothic"/>'
        '<w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/></w14:checkbox></w:sdtPr>'
        '<w:sdtContent><w:r><w:t>☒</w:t></w:r></w:sdtContent></w:sdt></w:p>')
    # 3: the same unchecked, with a stale glyph in its content (w14:checked decides).
    add('<w:p xmlns:w="W_NS" xmlns:w14="W14_NS"><w:r><w:t xml:space="preserve">Urgence </w:t>'
        '</w:r><w:sdt><w:sdtPr><w14:checkbox><w14:checked w14:val="0"/></w14:checkbox></w:sdtPr>'
        '<w:sdtContent><w:r><w:t>☒</w:t></w:r></w:sdtContent></w:sdt></w:p>')
    # 4: legacy form checkboxes: default on; default on but checked off; checked without val.
    legacy = ('<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:name w:val="{name}"/>'
              '<w:enabled/><w:checkBox><w:sizeAuto/>{state}</w:checkBox></w:ffData></w:fldChar>'
              '</w:r><w:r><w:instrText xml:space="preserve"> FORMCHECKBOX </w:instrText></w:r>'
              '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
              '<w:r><w:fldChar w:fldCharType="end"/></w:r>')
    add('<w:p xmlns:w="W_NS"><w:r><w:t xml:space="preserve">Tabac : Oui </w:t></w:r>'
        + legacy.format(name="Oui", state='<w:default w:val="1"/>')
        + '<w:r><w:t xml:space="preserve"> Non </w:t></w:r>'
        + legacy.format(name="Non", state='<w:default w:val="1"/><w:checked w:val="0"/>')
        + '<w:r><w:t xml:space="preserve"> Inconnu </w:t></w:r>'
        + legacy.format(name="Inconnu", state='<w:default w:val="0"/><w:checked/>')
        + '</w:p>')
    # 5: Wingdings symbols (ballot box with X, empty box).
    add('<w:p xmlns:w="W_NS"><w:r><w:t xml:space="preserve">HTA : Oui </w:t></w:r>'
        '<w:r><w:sym w:font="Wingdings" w:char="F0FD"/></w:r>'
        '<w:r><w:t xml:space="preserve"> Non </w:t></w:r>'
        '<w:r><w:sym w:font="Wingdings" w:char="F0A8"/></w:r></w:p>')
    # 6: a line break inside a paragraph → two lines.
    add('<w:p xmlns:w="W_NS"><w:r><w:t>Symptomatologie : dyspnée d\'effort,</w:t><w:br/>'
        '<w:t>palpitations nocturnes.</w:t></w:r></w:p>')
    # 7: a field (its instruction is not text, its result is) and a tracked deletion.
    add('<w:p xmlns:w="W_NS"><w:r><w:t xml:space="preserve">Date : </w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        '<w:r><w:instrText xml:space="preserve"> DATE \\@ "dd/MM/yyyy" </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>14/03/2025</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
        '<w:del w:id="1" w:author="FICTIF" w:date="2025-03-14T09:30:00Z"><w:r>'
        '<w:delText> (effacé)</w:delText></w:r></w:del></w:p>')
    # 8: a text box (DrawingML) with its VML fallback: its text once, in the paragraph.
    add('<w:p xmlns:w="W_NS" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
        'xmlns:v="urn:schemas-microsoft-com:vml"><w:r><w:t xml:space="preserve">Encadré :</w:t>'
        '</w:r><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:txbx>'
        '<w:txbxContent><w:p><w:r><w:t>Avis cardiologique ponctuel ☒</w:t></w:r></w:p>'
        '</w:txbxContent></wps:txbx></w:drawing></mc:Choice><mc:Fallback><w:pict><v:textbox>'
        '<w:txbxContent><w:p><w:r><w:t>Avis cardiologique ponctuel ☒</w:t></w:r></w:p>'
        '</w:txbxContent></v:textbox></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>')
    # 9: an empty paragraph (counted, no line).
    d.add_paragraph("")
    # tableau 1: a nested table in a cell, a merged (vMerge) continuation cell.
    add('<w:tbl xmlns:w="W_NS"><w:tr><w:tc><w:p><w:r><w:t>Nom :</w:t></w:r></w:p></w:tc>'
        '<w:tc><w:p><w:r><w:t>FICTIF-DURAND</w:t></w:r></w:p></w:tc>'
        '<w:tc><w:tcPr><w:vMerge w:val="restart"/></w:tcPr><w:p><w:r><w:t>Note</w:t></w:r>'
        '</w:p></w:tc></w:tr>'
        '<w:tr><w:tc><w:p><w:r><w:t>Sexe :</w:t></w:r></w:p></w:tc><w:tc>'
        '<w:tbl><w:tr><w:tc><w:p><w:r><w:t>F ☒</w:t></w:r></w:p></w:tc>'
        '<w:tc><w:p><w:r><w:t>M ☐</w:t></w:r></w:p></w:tc></w:tr></w:tbl><w:p/></w:tc>'
        '<w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc></w:tr></w:tbl>')
    # 10: after the table.
    d.add_paragraph("Fin")
    save_docx(d, path)


def docx_from_parts(parts):
    """A minimal .docx (or not) from (name, bytes) parts, fixed timestamps."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in parts:
            entry = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            entry.external_attr = 0o644 << 16
            z.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8"?>'
                 b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                 b'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
                 b'<Override PartName="/word/document.xml" ContentType="application/vnd.'
                 b'openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
RELS = (b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/officeDocument" Target="word/document.xml"/></Relationships>')


def word_document(body):
    return (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            b'<w:document xmlns:w="' + W_NS.encode() + b'"><w:body>' + body
            + b'</w:body></w:document>')


def minimal_docx(document_xml, extra=()):
    return docx_from_parts([("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", RELS),
                            ("word/document.xml", document_xml), *extra])


def paragraph(text):
    return b"<w:p><w:r><w:t>" + text + b"</w:t></w:r></w:p>"


def much_text_docx():
    rnd = random.Random(13)
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789"
    paragraphs = []
    for _ in range(3 * 1024):
        paragraphs.append(paragraph(bytes(rnd.choice(alphabet) for _ in range(1024))))
    return minimal_docx(word_document(b"".join(paragraphs)))


def docx_bomb():
    # 64 MiB of one paragraph's spaces: deflates about 1000:1.
    head = word_document(b"<w:p><w:r><w:t>")[:-len(b"</w:t></w:r></w:p></w:body></w:document>")]
    body = head + b" " * (64 * MIB) + b"</w:t></w:r></w:p></w:body></w:document>"
    return minimal_docx(body)


# ---- main ---------------------------------------------------------------------------------------

def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    if len(sys.argv) != 2:
        print("usage: make_form_documents.py OUT_DIR", file=sys.stderr)
        return 2
    out = sys.argv[1]
    hostile = os.path.join(out, "hostile")
    os.makedirs(hostile, exist_ok=True)
    register_fonts()

    write(os.path.join(out, "fiche.txt"), text_version().encode("utf-8"))
    write_form_pdf(os.path.join(out, "fiche-formulaire.pdf"))
    write_flat_pdf(os.path.join(out, "fiche-texte.pdf"))
    write_docx(os.path.join(out, "fiche.docx"))
    write_scan_pdf(os.path.join(out, "fiche-scan.pdf"))
    write_docx_features(os.path.join(out, "docx-features.docx"))
    write_flat_pdf(os.path.join(out, "pdf-owner-password.pdf"),
                   encrypt=StandardEncryption("", ownerPassword="proprietaire", canModify=0))

    write_flat_pdf(os.path.join(hostile, "pdf-user-password.pdf"),
                   encrypt=StandardEncryption("secret", ownerPassword="proprietaire"))
    write(os.path.join(hostile, "pdf-many-pages.pdf"), many_pages_pdf(5000))
    write(os.path.join(hostile, "pdf-count-lies.pdf"), one_page_pdf(count=1000000000))
    write(os.path.join(hostile, "pdf-page-loop.pdf"), page_loop_pdf())
    write(os.path.join(hostile, "pdf-broken-xref.pdf"), one_page_pdf(xref_shift=7))
    with open(os.path.join(out, "fiche-texte.pdf"), "rb") as f:
        write(os.path.join(hostile, "pdf-truncated.pdf"), f.read()[:600])
    write(os.path.join(hostile, "pdf-flate-bomb.pdf"), flate_bomb_pdf())
    write(os.path.join(hostile, "pdf-many-fields.pdf"), many_fields_pdf(3000))
    write(os.path.join(hostile, "not-a-pdf.pdf"), b"Nom : FICTIF-DURAND\nPas un PDF.\n")

    write(os.path.join(hostile, "docx-bomb.docx"), docx_bomb())
    write(os.path.join(hostile, "docx-xxe.docx"), minimal_docx(
        b'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<w:document xmlns:w="' + W_NS.encode() + b'"><w:body><w:p><w:r><w:t>&xxe;</w:t></w:r>'
        b'</w:p></w:body></w:document>'))
    write(os.path.join(hostile, "docx-traversal.docx"), minimal_docx(
        word_document(paragraph(b"Nom : FICTIF")), extra=[("../../evil.xml", b"<x/>")]))
    write(os.path.join(hostile, "docx-no-document.docx"),
          docx_from_parts([("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", RELS),
                           ("word/styles.xml", b"<styles/>")]))
    write(os.path.join(hostile, "docx-not-word.docx"), minimal_docx(
        b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main"><sheetData/></worksheet>'))
    write(os.path.join(hostile, "docx-not-zip.docx"),
          b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    write(os.path.join(hostile, "docx-deep.docx"), minimal_docx(word_document(
        b"<w:p>" + b"<w:r>" * 5000 + b"</w:r>" * 5000 + b"</w:p>")))
    write(os.path.join(hostile, "docx-malformed.docx"), minimal_docx(
        word_document(b"<w:p><w:r><w:t>Nom : FICTIF</w:r></w:p>")))
    write(os.path.join(hostile, "docx-much-text.docx"), much_text_docx())
    write_mails(out)
    return 0


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def mail_with(document, filename, maintype, subtype, when):
    """An MSSanté mail from the GP carrying one document (deterministic: fixed ids and dates)."""
    from email.message import EmailMessage
    from email import policy
    m = EmailMessage(policy=policy.SMTP)
    m["From"] = "Dr Paul FICTIF-BERNARD <paul.fictif-bernard@medecin.mssante.fr>"
    m["To"] = "secretariat@cardio-plus.ess.mssante.fr"
    m["Subject"] = "Demande d'avis Cardio+ - Mme FICTIF-DURAND"
    m["Date"] = when
    m["Message-ID"] = "<%s.20250314@medecin.mssante.fr>" % filename.replace(".", "-")
    m.set_content("Cher confrère,\n\nVeuillez trouver ci-joint la fiche de demande.\n\n"
                  "Bien confraternellement,\nDr Paul FICTIF-BERNARD\n")
    m.add_attachment(document, maintype=maintype, subtype=subtype, filename=filename)
    m.set_boundary("=_fiche_%s_" % filename.replace(".", "_"))
    return m.as_bytes()


def lettre_pdf():
    """A typed referral letter as a PDF: text, but not the form."""
    buf = io.BytesIO()
    c = new_canvas(buf)
    y = 800
    for line in ["Cabinet médical du Parvis - Voiron", "Cher confrère,",
                 "Je vous adresse Mme FICTIF-DURAND pour un avis concernant une dyspnée d'effort.",
                 "Bien confraternellement,", "Dr Paul FICTIF-BERNARD"]:
        c.drawString(60, y, line)
        y -= 20
    c.save()
    return buf.getvalue()


def write_mails(out):
    mails = os.path.join(out, "mails")
    os.makedirs(mails, exist_ok=True)

    def read(*path):
        with open(os.path.join(out, *path), "rb") as f:
            return f.read()
    cases = [
        ("fiche-formulaire.eml", read("fiche-formulaire.pdf"), "fiche-formulaire.pdf",
         "application", "pdf"),
        ("fiche-texte.eml", read("fiche-texte.pdf"), "fiche-texte.pdf", "application", "pdf"),
        ("fiche-docx.eml", read("fiche.docx"), "fiche.docx", "application", DOCX_TYPE.split("/")[1]),
        ("fiche-scan.eml", read("fiche-scan.pdf"), "fiche-scan.pdf", "application", "pdf"),
        ("fiche-chiffree.eml", read("hostile", "pdf-user-password.pdf"), "fiche-chiffree.pdf",
         "application", "pdf"),
        ("lettre.eml", lettre_pdf(), "lettre.pdf", "application", "pdf"),
    ]
    for i, (name, data, filename, maintype, subtype) in enumerate(cases):
        write(os.path.join(mails, name),
              mail_with(data, filename, maintype, subtype, "Fri, 14 Mar 2025 10:%02d:00 +0100" % i))


if __name__ == "__main__":
    sys.exit(main())
