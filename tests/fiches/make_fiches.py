#!/usr/bin/env python3
"""The same fiche de demande written the ways people write it (issue 13).

Usage: make_fiches.py OUTDIR

Writes, for each request below, one file per layout:
  ours          our sample's layout and wording (samples/fiches/fiche-complete.txt)
  paper         the printed form's wording (../shared/spec/cardio-plus-fiche.md): two columns
                separated by a tab, boxes after the options (Oui ☐ Non ☒ Inconnu ☐), rows of
                motifs with their box, "Fourni : Oui ☒ Non ☐" after each document
  marks-before  the same wording, boxes before the options ([X] Oui [ ] Non), the columns
                padded with spaces
  one-per-line  the same wording, one field per line, "Oui: X" marks, bare answers, motifs one
                per line
  wrapped-72    the paper layout re-wrapped at 72 columns by a mail client (RFC 3676
                format=flowed: a soft break leaves a space at the end of the line)
  cp1252        the paper layout with [X] / [ ] boxes, windows-1252 bytes and CRLF line ends
  variant       what a hurried sender writes: accents lost in the labels, abbreviations (Tél,
                DDN, Pds, CP…), the sections in another order, marks "X Oui", "(x)", "Oui ■",
                "NSP", a greeting and a signature
and manifest.json: per file its request, layout, encoding, the items whose value is derived
(form-value-derived), the lines that are not part of the form (the only ones the reader may leave
unrecognised) and the request date the file states.

Every layout of a request must give the same QuestionnaireResponse answers and the same
eligibility (tests/fiches/fiche_layouts_test.cpp). Standard library only; deterministic.
Synthetic data: invented names (FICTIF-…), NIRs built from the INSEE rules for nobody.
"""

import json
import os
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BOX_ON, BOX_OFF = "\u2612", "\u2610"  # ☒ ☐

YES, NO, UNKNOWN = "Y", "N", "U"


def nir_key(first13):
    return "%02d" % (97 - int(first13) % 97)


# --- the requests ----------------------------------------------------------------------------
# The sample's request (samples/fiches/fiche-complete.txt), and issue 13's example: a 71-year-old
# woman from Voiron (38500, Isère, in the territory), eligible, complete, her NIR read.

DURAND = {
    "date": None,
    "demandeur": {
        "nom": "MARTIN", "prenom": "Claire", "fonction": "medecin", "rpps": "10101010101",
        "structure": "msp", "structure_nom": "MSP du Vercors",
        "adresse": "12 rue des Alpes, 38250 Villard-de-Lans", "telephone": "04 76 00 00 01",
        "mail": "claire.martin@medecin.mssante.example",
    },
    "patient": {
        "nom": "DURAND", "nom_naissance": "LEGRAND", "prenoms": "Jeanne Marie",
        "nir": "2 52 03 38 185 123 13", "naissance": "14/03/1952", "lieu_naissance": "38185",
        "rang": "1", "sexe": "F", "residence": "domicile", "telephone": "06 00 00 00 02",
        "rue": "3 place Victor Hugo", "cp": "38000", "commune": "Grenoble",
        "medecin_traitant": "Dr Claire MARTIN", "cardiologue": "",
        "poids": "68,5", "taille_cm": "162", "taille_ours": "1,62 m",
    },
    "situation": {"precarite": NO, "perte_autonomie": NO, "dependance": NO, "urgence": NO},
    "fdr": {
        "tabac": NO, "paquets": "", "arret": YES, "annee_arret": "2009", "dyslipidemie": YES,
        "diabete": YES, "type": "2", "duree": "12", "hta": YES, "heredite": UNKNOWN,
        "sedentarite": YES,
    },
    "atcd": {
        "angor": NO, "angioplastie": NO, "pontage": NO, "rythme": YES, "sas": NO, "ic": NO,
        "mte": NO, "anticoagulant": YES, "stimulateur": NO, "valvulopathie": NO,
        "autres": "fibrillation atriale paroxystique découverte en 2021",
    },
    "non_cv": ["hypothyroïdie substituée,", "arthrose des genoux"],
    "motifs": ["dyspnee", "palpitations", "suivi-trouble-rythme"],
    "symptomes": ["essoufflement à l'effort depuis 3 mois (2 étages),", "palpitations nocturnes."],
    "documents": {"ordonnances": True, "lettre": True, "crh": True, "biologie": True, "ecg": True,
                  "autres": "Holter ECG de 2021"},
}

VOIRON = {
    "date": "20/11/2026",
    "demandeur": {
        "nom": "FICTIF-ARNAUD", "prenom": "Paul", "fonction": "medecin", "rpps": "10101010102",
        "structure": "cabinet", "structure_nom": "Cabinet médical du Parc",
        "adresse": "8 avenue Fictive, 38500 Voiron", "telephone": "04 76 00 00 03",
        "mail": "paul.fictif-arnaud@medecin.mssante.example",
    },
    "patient": {
        "nom": "FICTIF-ROCHE", "nom_naissance": "FICTIF-BLANC", "prenoms": "Monique Andrée",
        "nir": "2 55 06 38 563 042 " + nir_key("2550638563042"), "naissance": "12/06/1955",
        "lieu_naissance": "38500", "rang": "1", "sexe": "F", "residence": "domicile",
        "telephone": "06 00 00 00 04", "rue": "5 rue Fictive", "cp": "38500",
        "commune": "Voiron", "medecin_traitant": "Dr Paul FICTIF-ARNAUD", "cardiologue": "",
        "poids": "72", "taille_cm": "165", "taille_ours": "165",
    },
    "situation": {"precarite": NO, "perte_autonomie": NO, "dependance": NO, "urgence": NO},
    "fdr": {
        "tabac": NO, "paquets": "", "arret": NO, "annee_arret": "", "dyslipidemie": YES,
        "diabete": NO, "type": "", "duree": "", "hta": YES, "heredite": NO,
        "sedentarite": UNKNOWN,
    },
    "atcd": {
        "angor": NO, "angioplastie": NO, "pontage": NO, "rythme": NO, "sas": NO, "ic": NO,
        "mte": NO, "anticoagulant": NO, "stimulateur": NO, "valvulopathie": YES, "autres": "",
    },
    "non_cv": ["arthrose,", "glaucome"],
    "motifs": ["depistage-ic", "dyspnee"],
    "symptomes": ["dyspnée d'effort (NYHA II) depuis 2 mois,", "oedèmes des chevilles le soir."],
    "documents": {"ordonnances": True, "lettre": True, "crh": True, "biologie": True, "ecg": True,
                  "autres": "Échographie cardiaque de 2024"},
}

REQUESTS = {"durand": DURAND, "voiron": VOIRON}

# --- the form's words --------------------------------------------------------------------------

# Our sample's motif labels (the Questionnaire's displays) and the printed form's.
MOTIFS = [
    ("depistage-ic", "Dépistage d'insuffisance cardiaque", "Dépistage IC"),
    ("depistage-hta", "Dépistage d'HTA", "Dépistage HTA"),
    ("somnolence-ronflement", "Somnolence diurne / ronflement",
     "Somnolence diurne - ronflement important"),
    ("douleur-thoracique", "Douleur thoracique", "Douleur thoracique"),
    ("dyspnee", "Dyspnée", "Dyspnée"),
    ("palpitations", "Palpitations", "Palpitation"),
    ("syncope", "Syncope", "Syncope"),
    ("suivi-cardiopathie-ischemique", "Suivi de cardiopathie ischémique",
     "Suivi cardiopathie ischémique"),
    ("suivi-insuffisance-cardiaque", "Suivi d'insuffisance cardiaque",
     "Suivi insuffisance cardiaque"),
    ("suivi-trouble-rythme", "Suivi de trouble du rythme", "Suivi trouble du rythme"),
    ("suivi-stimulateur", "Suivi de stimulateur cardiaque", "Suivi stimulateur cardiaque"),
    ("avis-ponctuel", "Avis cardiologique ponctuel", "Avis cardiologique ponctuel"),
    ("suivi-valvulopathie", "Suivi de valvulopathie", "Suivi valvulopathie"),
]

FONCTION_OURS = [("medecin", "Médecin"), ("ipa", "IPA"), ("infirmier", "Infirmier(e)"),
                 ("pharmacien", "Pharmacien(ne)")]
FONCTION_PAPER = {"medecin": "Médecin généraliste", "ipa": "IPA", "infirmier": "IDE",
                  "pharmacien": "Pharmacien(ne)"}
STRUCTURE_OURS = {"msp": "Maison de santé pluriprofessionnelle", "cabinet": "Cabinet libéral"}
STRUCTURE_PAPER = {"msp": "MSP", "cabinet": "Cabinet médical"}
YN_WORD = {YES: "Oui", NO: "Non", UNKNOWN: "Inconnu"}

PAPER_TITLE = "FICHE DE DEMANDE DE PRISE EN CHARGE - E.S.S. CARDIO+ AURA"
OURS_TITLE = "FICHE DE DEMANDE \u2014 ESS CARDIO+"
CONSENT_PAPER = ("J'atteste avoir recueilli le consentement du patient pour une prise en charge "
                 "par l'E.S.S. Cardio+.")
CONSENT_OURS = ("J'atteste avoir informé le patient et recueilli son consentement à la prise en "
                "charge par l'ESS")


def boxes(options, chosen, style):
    """The options of a question with their boxes, in a layout's style."""
    out = []
    for label, value in options:
        on = value == chosen
        if style == "after":
            out.append("%s %s" % (label, BOX_ON if on else BOX_OFF))
        elif style == "after-ascii":
            out.append("%s %s" % (label, "[X]" if on else "[ ]"))
        elif style == "before":
            out.append("%s %s" % ("[X]" if on else "[ ]", label))
        elif style == "colon":
            out.append("%s: %s" % (label, "X" if on else ""))
        else:
            raise ValueError(style)
    return ("  " if style != "colon" else "  ").join(out).rstrip()


def yni(value, style):
    return boxes([("Oui", YES), ("Non", NO), ("Inconnu", UNKNOWN)], value, style)


def provided(value, style):
    return boxes([("Oui", True), ("Non", False)], value, style)


# --- our sample's layout -------------------------------------------------------------------------


def ours(r):
    d, p, s, f, a, docs = (r["demandeur"], r["patient"], r["situation"], r["fdr"], r["atcd"],
                           r["documents"])
    mark = lambda on: "[x]" if on else "[ ]"
    ynu = lambda v: "%s Oui %s Non %s Inconnu" % (mark(v == YES), mark(v == NO),
                                                  mark(v == UNKNOWN))
    L = [OURS_TITLE, "=" * 30, ""]
    if r["date"]:
        L += ["Date : " + r["date"], ""]
    L += ["CONSENTEMENT", "[x] " + CONSENT_OURS, "", "DEMANDEUR",
          "Nom : " + d["nom"], "Prénom : " + d["prenom"],
          "Fonction : " + " ".join("%s %s" % (mark(c == d["fonction"]), label)
                                   for c, label in FONCTION_OURS),
          "N° RPPS : " + d["rpps"], "Type de structure : " + STRUCTURE_OURS[d["structure"]],
          "Nom de la structure : " + d["structure_nom"],
          "Adresse professionnelle : " + d["adresse"], "Téléphone : " + d["telephone"],
          "Mail : " + d["mail"], "", "PATIENT",
          "Nom : " + p["nom"], "Nom de naissance : " + p["nom_naissance"],
          "Prénom(s) : " + p["prenoms"], "NIR (15 caractères) : " + p["nir"],
          "Date de naissance : " + p["naissance"],
          "Code postal ou INSEE du lieu de naissance : " + p["lieu_naissance"],
          "Rang de naissance : " + p["rang"],
          "Sexe : %s Masculin %s Féminin" % ("\u2612" if p["sexe"] == "M" else "\u2610",
                                             "\u2612" if p["sexe"] == "F" else "\u2610"),
          "Lieu de résidence : %s Domicile %s Établissement" % (
              "\u2612" if p["residence"] == "domicile" else "\u2610",
              "\u2612" if p["residence"] != "domicile" else "\u2610"),
          "Téléphone : " + p["telephone"], "Adresse : " + p["rue"], "Code postal : " + p["cp"],
          "Commune : " + p["commune"], "Médecin traitant : " + p["medecin_traitant"],
          ("Cardiologue traitant : " + p["cardiologue"]).rstrip(),
          "Poids (kg) : %s kg" % p["poids"], "Taille (cm) : " + p["taille_ours"], "",
          "SITUATION DU PATIENT",
          "Situation de précarité : " + YN_WORD[s["precarite"]],
          "Perte d'autonomie : " + YN_WORD[s["perte_autonomie"]],
          "Patient dépendant : " + YN_WORD[s["dependance"]],
          "Situation d'urgence : " + YN_WORD[s["urgence"]], "",
          "FACTEURS DE RISQUE CARDIOVASCULAIRE", "Tabac : " + ynu(f["tabac"])]
    if f["paquets"]:
        L.append("Paquets-années : " + f["paquets"])
    L.append("Arrêt du tabac : " + ynu(f["arret"]))
    if f["annee_arret"]:
        L.append("Année d'arrêt : " + f["annee_arret"])
    L += ["Dyslipidémie : " + ynu(f["dyslipidemie"]), "Diabète : " + ynu(f["diabete"])]
    if f["type"]:
        L.append("Type de diabète : Type " + f["type"])
    if f["duree"]:
        L.append("Durée du diabète (années) : " + f["duree"])
    L += ["HTA : " + YN_WORD[f["hta"]], "Hérédité cardiovasculaire : " + YN_WORD[f["heredite"]],
          "Sédentarité : " + YN_WORD[f["sedentarite"]], "", "ANTÉCÉDENTS CARDIOVASCULAIRES"]
    for label, key in [("Angor", "angor"), ("Angioplastie coronaire", "angioplastie"),
                       ("Pontage coronaire", "pontage"), ("Trouble du rythme", "rythme"),
                       ("SAS appareillé", "sas"), ("Insuffisance cardiaque", "ic"),
                       ("Maladie thrombo-embolique", "mte"),
                       ("Anticoagulant au long cours", "anticoagulant"),
                       ("Stimulateur cardiaque", "stimulateur"),
                       ("Valvulopathie", "valvulopathie")]:
        L.append("%s : %s" % (label, YN_WORD[a[key]]))
    if a["autres"]:
        L.append("Autres antécédents cardiovasculaires : " + a["autres"])
    L += ["", "ANTÉCÉDENTS NON CARDIOVASCULAIRES",
          "Antécédents non cardiovasculaires : " + r["non_cv"][0]] + r["non_cv"][1:]
    L += ["", "MOTIF DE LA DEMANDE"]
    for code, label, _ in MOTIFS:
        L.append("%s %s" % ("\u2612" if code in r["motifs"] else "\u2610", label))
    L += ["Symptomatologie actuelle : " + r["symptomes"][0]] + r["symptomes"][1:]
    L += ["", "DOCUMENTS"]
    for label, key in [("Ordonnances en cours", "ordonnances"),
                       ("Dernière lettre cardiologique", "lettre"),
                       ("Compte-rendu d'hospitalisation", "crh"), ("Dernière biologie", "biologie"),
                       ("ECG", "ecg")]:
        L.append("%s : %s Oui %s Non" % (label, mark(docs[key]), mark(not docs[key])))
    L.append("Autres documents : " + docs["autres"])
    return L


# --- the printed form --------------------------------------------------------------------------


def paper_rows(r, style):
    """The printed form's rows, each a list of cells (label and value); a row of one cell that
    holds no colon is a heading or a line of its own."""
    d, p, s, f, a, docs = (r["demandeur"], r["patient"], r["situation"], r["fdr"], r["atcd"],
                           r["documents"])
    on, off = (BOX_ON, BOX_OFF) if style == "after" else ("[X]", "[ ]")
    rows = [[PAPER_TITLE]]
    if r["date"]:
        rows.append(["Date : " + r["date"]])
    rows += [["%s %s" % (on, CONSENT_PAPER)], ["Information requérant"],
             ["Nom : " + d["nom"], "Prénom : " + d["prenom"]],
             ["Adresse professionnelle : " + d["adresse"]],
             ["Structure d'appartenance : " + STRUCTURE_PAPER[d["structure"]]],
             ["Préciser le nom : " + d["structure_nom"]],
             ["Téléphone : " + d["telephone"], "Mail : " + d["mail"]],
             ["Le requérant intervient en tant que : " + FONCTION_PAPER[d["fonction"]]],
             # Not on the printed form: what the ESS also asks, added by the sender.
             ["N° RPPS : " + d["rpps"]],
             ["Information patient"],
             ["Nom : " + p["nom"], "Nom de naissance : " + p["nom_naissance"]],
             ["Prénom : " + p["prenoms"], "NIR (15 chiffres) : " + p["nir"]],
             ["Date de naissance : " + p["naissance"],
              "Code postal de naissance : " + p["lieu_naissance"]],
             ["Rang (si jumeauté. A défaut, renseigner 1) : " + p["rang"], "Sexe : " + p["sexe"]],
             ["Lieu de résidence actuel du patient : " +
              ("Domicile" if p["residence"] == "domicile" else "EHPAD")],
             ["Le cas échéant préciser le nom de l'établissement : "],
             ["Téléphone : " + p["telephone"],
              "Adresse : %s %s %s" % (p["rue"], p["cp"], p["commune"])],
             ["Médecin traitant : " + p["medecin_traitant"],
              "Cardiologue traitant : " + p["cardiologue"]],
             ["%s Pas de médecin traitant" % (on if not p["medecin_traitant"] else off)],
             ["Poids : %s kgs" % p["poids"], "Taille : %s cms" % p["taille_cm"]],
             # Not on the printed form either: the ESS's inclusion and exclusion rules.
             ["Précarité : " + YN_WORD[s["precarite"]],
              "Perte d'autonomie : " + YN_WORD[s["perte_autonomie"]]],
             ["Patient dépendant : " + YN_WORD[s["dependance"]],
              "Urgence : " + YN_WORD[s["urgence"]]],
             ["Facteurs de risques cardiovasculaires (réponses obligatoires) :"],
             ["Tabac : " + yni(f["tabac"], style), "Paquets / an : " + f["paquets"],
              "HTA : " + yni(f["hta"], style)],
             ["Stop tabac : " + yni(f["arret"], style), "Année arrêt : " + f["annee_arret"],
              "Hérédité CV : " + yni(f["heredite"], style)],
             ["Dyslipidémie : " + yni(f["dyslipidemie"], style), "",
              "Sédentarité : " + yni(f["sedentarite"], style)],
             ["Diabète : " + yni(f["diabete"], style), "Type : " + f["type"],
              "Durée : " + (f["duree"] + " ans" if f["duree"] else "")],
             ["Antécédents cardiovasculaires (réponses obligatoires) :"],
             ["Angor : " + yni(a["angor"], style),
              "Insuffisance cardiaque : " + yni(a["ic"], style)],
             ["Angioplastie coronaire : " + yni(a["angioplastie"], style),
              "Maladie Thrombo-embolique : " + yni(a["mte"], style)],
             ["Pontage coronaire : " + yni(a["pontage"], style),
              "Traitement anticoagulant au long cours : " + yni(a["anticoagulant"], style)],
             ["Trouble du rythme : " + yni(a["rythme"], style),
              "Stimulateur cardiaque : " + yni(a["stimulateur"], style)],
             ["SAS appareillé : " + yni(a["sas"], style),
              "Valvulopathie : " + yni(a["valvulopathie"], style)],
             ["Autres à préciser : " + a["autres"]],
             ["Antécédents non cardio-vasculaires :"]]
    rows += [[line] for line in r["non_cv"]]
    rows.append(["Motif de consultation E.S.S. (au moins une réponse) :"])
    for k in range(0, len(MOTIFS), 3):
        rows.append(["  \u00b7  ".join("%s %s" % (label, on if code in r["motifs"] else off)
                                       for code, _, label in MOTIFS[k:k + 3])])
    rows.append(["Symptomatologie actuelle (à préciser) Veuillez préciser ici le motif de votre "
                 "demande : " + r["symptomes"][0]])
    rows += [[line] for line in r["symptomes"][1:]]
    rows.append(["Documents à joindre obligatoirement :"])
    for label, key in [("Ordonnances en cours", "ordonnances"),
                       ("Dernière lettre cardiologique", "lettre"),
                       ("Compte-rendu d'hospitalisation", "crh"), ("Dernière biologie", "biologie")]:
        rows.append([label, "Fourni : " + provided(docs[key], style)])
    rows += [["Autres documents joints :"], ["EKG", "Fourni : " + provided(docs["ecg"], style)],
             ["Autres (à préciser) : " + docs["autres"]]]
    return rows


def paper(r):
    return ["\t".join(cell.rstrip() for cell in row).rstrip() for row in paper_rows(r, "after")]


def marks_before(r):
    out = []
    for row in paper_rows(r, "before"):
        cells = [c.rstrip() for c in row]
        line = cells[0]
        for c in cells[1:]:
            line = line.ljust(max(len(line) + 3, 44)) + c  # columns padded with spaces
        out.append(line.rstrip())
    return out


def one_per_line(r):
    """One field per line: "Oui: X" boxes, bare answers, motifs one per line, documents with
    "Fourni : Oui" on the document's line."""
    out = []
    motif_header = False
    for row in paper_rows(r, "after"):
        cells = [c.rstrip() for c in row if c.strip()]
        if not cells:
            continue
        if row[0].startswith("Motif de consultation"):
            motif_header = True
            out.append(row[0])
            continue
        if motif_header and "\u00b7" in row[0]:
            for code, _, label in MOTIFS:
                if code in r["motifs"] and label in row[0]:
                    out.append("%s %s" % (BOX_ON, label))
            continue
        if row[0].startswith("Symptomatologie"):
            motif_header = False
        if len(row) == 2 and row[1].startswith("Fourni"):
            out.append("%s Fourni : %s" % (row[0], "Oui" if BOX_ON in row[1].split("Non")[0]
                                           else "Non"))
            continue
        for c in cells:
            if "Oui " + BOX_ON in c or "Oui " + BOX_OFF in c:
                label = c.split(" : ")[0]
                value = YES if "Oui " + BOX_ON in c else NO if "Non " + BOX_ON in c else UNKNOWN
                if label in ("Tabac", "HTA", "Angor", "Valvulopathie"):
                    out.append("%s : %s" % (label, yni(value, "colon")))  # "Oui: X  Non:  Inconnu:"
                else:
                    out.append("%s : %s" % (label, YN_WORD[value]))
            else:
                out.append(c)
    return out


def flowed(lines, width=72):
    """A mail client's re-wrapping (RFC 3676 format=flowed): a line over `width` columns is cut
    after a space, which stays at the end of the line (a soft break)."""
    out = []
    for line in lines:
        while len(line) > width:
            cut = line.rfind(" ", 0, width)
            if cut <= 0:
                break
            out.append(line[:cut + 1])
            line = line[cut + 1:]
        out.append(line)
    return out


def cp1252(r):
    return ["\t".join(c.rstrip() for c in row).rstrip() for row in paper_rows(r, "after-ascii")]


def strip_accents(s):
    return "".join(c for c in unicodedata.normalize("NFD", s)
                   if unicodedata.category(c) != "Mn")


VARIANT_GREETING = ["Bonjour cher confrère,", "",
                    "Je vous adresse ma patiente pour avis, ci-dessous la fiche.", ""]
VARIANT_SIGNATURE = ["", "Bien confraternellement,", "Dr FICTIF"]


def variant(r):
    """Labels without accents and abbreviated, the patient before the requester, marks of every
    kind, a greeting and a signature (the only lines not of the form)."""
    d, p, s, f, a, docs = (r["demandeur"], r["patient"], r["situation"], r["fdr"], r["atcd"],
                           r["documents"])
    L = list(VARIANT_GREETING)
    if r["date"]:
        L.append("Date de la demande : " + r["date"])
    L += ["(x) J'atteste avoir recueilli le consentement du patient", "",
          "=== PATIENT ===",
          "Nom : " + p["nom"], "Nom de naiss. : " + p["nom_naissance"],
          "Prenoms : " + p["prenoms"], "N° Secu : " + p["nir"],
          "DDN : " + p["naissance"], "CP de naissance : " + p["lieu_naissance"],
          "Rang : " + p["rang"], "Sexe : " + ("Femme" if p["sexe"] == "F" else "Homme"),
          "Lieu de vie actuel : " + ("A domicile" if p["residence"] == "domicile" else "EHPAD"),
          "Tel : " + p["telephone"],
          "Adresse : %s, %s %s" % (p["rue"], p["cp"], p["commune"]),
          "MT : " + p["medecin_traitant"],
          "Pds : %s kilos" % p["poids"],
          "Taille : %sm%s" % (p["taille_cm"][0], p["taille_cm"][1:]),
          "Precarite : " + YN_WORD[s["precarite"]],
          "Perte d'autonomie : " + YN_WORD[s["perte_autonomie"]],
          "Dependance : " + YN_WORD[s["dependance"]], "Urgence : " + YN_WORD[s["urgence"]], "",
          "=== DEMANDEUR ===",
          "Nom : " + d["nom"], "Prenom : " + d["prenom"],
          "Profession : " + {"medecin": "MG", "ipa": "IPA", "infirmier": "IDEL",
                             "pharmacien": "Pharmacien"}[d["fonction"]],
          "RPPS : " + d["rpps"], "Structure d'appartenance : " + STRUCTURE_OURS[d["structure"]],
          "Preciser le nom : " + d["structure_nom"], "Adresse pro : " + d["adresse"],
          "Tel : " + d["telephone"], "Mail : " + d["mail"], "",
          "MOTIF"]
    for code, _, label in MOTIFS:
        if code in r["motifs"]:
            L.append("X " + strip_accents(label))
    L += ["Symptomes : " + r["symptomes"][0]] + r["symptomes"][1:]
    L += ["", "FDRCV"]
    x = lambda v: {YES: "X Oui  Non  Inconnu", NO: "Oui  X Non  Inconnu",
                   UNKNOWN: "NSP"}[v]
    sq = lambda v: {YES: "Oui \u25a0  Non  NSP", NO: "Oui  Non \u25a0  NSP",
                    UNKNOWN: "Oui  Non  NSP \u25a0"}[v]
    L += ["Tabac : " + x(f["tabac"])]
    if f["paquets"]:
        L.append("PA : " + f["paquets"])
    L += ["Stop tabac : " + sq(f["arret"])]
    if f["annee_arret"]:
        L.append("Annee arret : " + f["annee_arret"])
    L += ["HTA : " + x(f["hta"]), "Dyslipidemie : " + sq(f["dyslipidemie"]),
          "Diabete : " + x(f["diabete"])]
    if f["type"]:
        L.append("Type : DT" + f["type"])
    if f["duree"]:
        L.append("Duree : %s ans" % f["duree"])
    L += ["Heredite CV : " + sq(f["heredite"]), "Sedentarite : " + x(f["sedentarite"]), "",
          "ATCD CV"]
    for label, key in [("Angor", "angor"), ("Angioplastie", "angioplastie"),
                       ("Pontage", "pontage"), ("Troubles du rythme", "rythme"),
                       ("SAS appareille", "sas"), ("IC", "ic"), ("MTEV", "mte"),
                       ("Anticoagulants au long cours", "anticoagulant"),
                       ("Pacemaker", "stimulateur"), ("Valvulopathie", "valvulopathie")]:
        L.append("%s : %s" % (label, "(x) oui ( ) non" if a[key] == YES else
                              "( ) oui (x) non" if a[key] == NO else "?"))
    if a["autres"]:
        L.append("Autres : " + a["autres"])
    L += ["ATCD non CV : " + r["non_cv"][0]] + r["non_cv"][1:]
    L += ["", "PIECES JOINTES"]
    for label, key in [("Ordonnances", "ordonnances"), ("Lettre cardiologique", "lettre"),
                       ("CRH", "crh"), ("Biologie", "biologie"), ("ECG", "ecg")]:
        L.append("%s : %s" % (label, "oui" if docs[key] else "non"))
    L.append("Autres : " + docs["autres"])
    L += VARIANT_SIGNATURE
    return L


# --- what each layout is expected to give ------------------------------------------------------

def derived(r, layout):
    """Items whose value the reader derives (form-value-derived): postal code and commune read
    in the address, a height in metres."""
    out = []
    if layout in ("paper", "marks-before", "one-per-line", "wrapped-72", "cp1252", "variant"):
        out += ["patient-code-postal", "patient-commune"]
    if layout == "ours" and "m" in r["patient"]["taille_ours"]:
        out.append("patient-taille")
    if layout == "variant":
        out.append("patient-taille")
    return sorted(out)


def not_of_the_form(layout):
    """Lines that are not the form's (its titles are: questionnaire-title-alias)."""
    if layout == "variant":
        return [l for l in VARIANT_GREETING + VARIANT_SIGNATURE if l]
    return []


LAYOUTS = [("ours", ours), ("paper", paper), ("marks-before", marks_before),
           ("one-per-line", one_per_line), ("wrapped-72", lambda r: flowed(paper(r))),
           ("cp1252", cp1252), ("variant", variant)]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    manifest = []
    for name, request in REQUESTS.items():
        for layout, render in LAYOUTS:
            lines = render(request)
            text = "\n".join(lines) + "\n"
            encoding = "utf-8"
            if layout == "cp1252":
                encoding = "windows-1252"
                data = text.replace("\n", "\r\n").encode("cp1252")
            else:
                data = text.encode("utf-8")
            filename = "%s-%s.txt" % (name, layout)
            with open(os.path.join(out, filename), "wb") as fh:
                fh.write(data)
            date = request["date"]
            manifest.append({
                "file": filename, "request": name, "layout": layout, "encoding": encoding,
                "derived": derived(request, layout), "notOfTheForm": not_of_the_form(layout),
                "authored": "-".join(reversed(date.split("/"))) if date else None,
            })
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump({"sample": "samples/fiches/fiche-complete.txt", "sampleRequest": "durand",
                   "files": manifest}, fh, ensure_ascii=False, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
