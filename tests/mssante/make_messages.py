#!/usr/bin/env python3
"""Writes MSSanté test messages (.eml) — well-formed ones and hostile ones — into a directory.

Usage: make_messages.py OUT_DIR

Generated rather than committed: each case says what it is, the hostile archives would be blobs,
and the XDM hashes and sizes follow the documents when these change. Standard library only,
deterministic (fixed boundaries, dates and Message-IDs): two runs write identical bytes. The
documents come from tests/data (synthetic patients, ANS test INS); the hostile archives and XML
from tests/hostile/make_zip_cases.py and make_xml_cases.py. Expected outcomes are asserted by
tests/unit/pipeline/message_intake_test.cpp:

  well-formed, accepted or incomplete
    ldl_ses.eml              LDL-SES in IHE_XDM.ZIP (vital signs) + PDF rendition, X-MSS-* headers
    signed.eml               the same inside multipart/signed (S/MIME signature not verified here)
    tlm_da.eml               TLM-DA request for advice → ServiceRequest
    pps.eml                  PPS → CarePlan
    n1_pdf.eml               unstructured CDA (nonXMLBody PDF)
    qr_attachment.eml        QuestionnaireResponse JSON attachment (the foundation's form path)
    bundle_attachment.eml    FHIR Bundle attachment: its entries join the transaction
    fiche_body.eml           the text fiche in an ISO-8859-15 quoted-printable body
    fiche_incomplete.eml     an incomplete fiche, UTF-8 base64 body
    pdf_only.eml             a PDF and an empty body → ServiceRequest "to qualify"
    free_text.eml            windows-1252 free text, RFC 2047 subject → "to qualify"
  issue 12: what an ESS receives (patient C = FICTIF-BERTRAND / used name FICTIF-GIRAUD, INS
  248073818504263, F, 1948-07-22, born 38185, Isère, 75; GP Dr DUBOSC-FICTIF, RPPS 99700234562)
    referral_note.eml        GP referral letter (LOINC 57133-1), CDA N1 with the letter as PDF
                             (referral_pdf), XDM, PDF rendition, ISO-8859-1 QP body "Cher confrère …",
                             DDM subject → Patient C, ServiceRequest (requester: the GP's
                             PractitionerRole), DocumentReference, Communication with the body text
    referral_html.eml        the same referral as an HTML-only body (style, script, list, entities) and
                             a PDF, no XDM → "to qualify" ServiceRequest, Communication with the text of
                             REFERRAL_HTML (REFERRAL_HTML_TEXT)
    pps_activities.eml       PPS-PAERPA for C: FR-Plan-de-soins with an echocardiography (FR-Acte, INT,
                             CCAM DZQM006, 2024-02-05), a follow-up consultation (FR-Rencontre, APT,
                             2024-04-15 14:30), an IPA follow-up (act INT without code, 2024-03-01), an
                             LDL check (observation RQO, before 2024-04-01) → CarePlan with 4 activities
    cr_consultation.eml      consultation report N3 (11488-4) for C: vital signs (weight 68.4 kg,
                             height 158 cm, 148/86 mm[Hg], 78 /min) → Observations; problems I10, I35.0
                             → Conditions; amlodipine, atorvastatin (ATC) → MedicationStatements;
                             penicillin allergy → AllergyIntolerance; LDL-c (H), creatinine (N), eGFR
                             (L) → laboratory Observations; FR-Habitus-mode-de-vie and Conclusion kept
                             as text
    names_chloe.eml          patient D: family BR FICTIF-PETIT, family CL FICTIF-ROUSSEAU, given
                             "CHLOE EMMA" / BR CHLOE / CL CHLOE, twin 2, born 2A004 AJACCIO, INS
                             290112A00401760; METADATA PID-5 with two repetitions and PID-11
    ldl_ses_again.eml        ldl_ses.xml again (same bytes, same uniqueId), forwarded by another sender
                             through another relay, another Message-ID and body → no second document
    ldl_ses_v2.eml           version 2 of ldl_ses.xml (same setId, versionNumber 2, relatedDocument
                             RPLC, corrected vital signs, XDS RPLC association), "[Annule et remplace]"
                             → supersedes version 1
    ldl_ses_redelivered.eml  ldl_ses.eml's exact bytes under relay trace headers (Return-Path,
                             Delivered-To, X-Original-To, Received) → the first outcome, a duplicate
    ldl_ses_reused_id.eml    ldl_ses.eml's Message-ID on a different message → processed, flagged
    ldl_ses_patient_c.eml    LDL-SES discharge letter for C (CH Fictif de Grenoble) → joins C's open
                             request
  entry shapes of the ANS examples (ansforge/TestContenuCDA-3-0), with our own data
    fiche_avk.eml            CARD-F-PRC-AVK fiche for C: a problem and two allergies whose status,
                             reaction and severity are nested statements (one Condition, two
                             AllergyIntolerances, nothing for the nested ones), an intolerance whose
                             value is its effect, INR as FR-Simple-Observation under a chapter section,
                             a warfarin treatment (ATC, EDQM route) and a planned one (INT) → intended
  patient identity (incomplete)
    no_ins.eml               no INS anywhere (903)
    ins_mismatch.eml         METADATA patientId ≠ CDA recordTarget (904)
    traits_mismatch.eml      METADATA sourcePatientInfo birth date ≠ CDA
    header_mismatch.eml      X-MSS-INS: N and X-MSS-CODECDA without the document's code
  hostile or broken (quarantined)
    empty.eml                headers only                                message-empty
    xdm_bomb.eml             200 MB of zeros, honest sizes               xdm-compression-ratio
    xdm_lying_bomb.eml       the same, headers claim 1 KiB               xdm-declared-size-mismatch
    xdm_traversal.eml        entry ../../etc/passwd                      xdm-unsafe-path
    xdm_symlink.eml          symlink entry                               xdm-symlink
    xdm_not_zip.eml          a PDF named IHE_XDM.ZIP                     xdm-not-zip
    xdm_hash_mismatch.eml    METADATA hash ≠ document                    xdm-hash-mismatch
    xdm_size_mismatch.eml    METADATA size ≠ document                    xdm-size-mismatch
    xdm_no_metadata.eml      IHE_XDM.ZIP without METADATA.XML            xdm-no-metadata
    xdm_document_missing.eml METADATA names a document not in the zip    xdm-document-missing
    cda_xxe.eml              external entity in the CDA                  xml-doctype-forbidden
    cda_parameter_entity.eml external parameter entity in the CDA        xml-doctype-forbidden
    cda_billion_laughs.eml   nested entities in the CDA                  xml-doctype-forbidden
    metadata_xxe.eml         external entity in METADATA.XML             xml-doctype-forbidden
    cda_no_record_target.eml CDA without recordTarget                    cda-record-target-missing
    cda_no_patient_id.eml    recordTarget ids all nullFlavor             cda-patient-id-missing
    mime_unterminated.eml    multipart cut inside a base64 part          mime-malformed
    mime_truncated_base64.eml  IHE_XDM.ZIP's base64 cut mid-quantum      mime-encoding-invalid
    mime_huge_header.eml     one 300 KB Subject line                     mime-header-too-long
    mime_deep_nesting.eml    200 nested multiparts                       mime-nesting-too-deep
    mime_many_parts.eml      2,000 parts                                 mime-too-many-parts
"""

import base64
import datetime
import hashlib
import io
import os
import quopri
import re
import subprocess
import sys
import tempfile
import uuid
import xml.etree.ElementTree as ET
import zipfile
from email.header import Header
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "tests", "data")
FIXED_TIME = (2024, 1, 12, 14, 5, 0)
DATE = "Fri, 12 Jan 2024 14:05:00 +0100"
ESS = "secretariat@cardio-plus.ess.mssante.fr"


def read(*path):
    with open(os.path.join(*path), "rb") as f:
        return f.read()


def fake_pdf(size):
    """A small, well-formed-looking PDF padded to `size` bytes (deterministic)."""
    head = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
    tail = b"\n%%EOF\n"
    filler = bytes((i * 31 + 7) % 251 for i in range(max(0, size - len(head) - len(tail))))
    return head + filler + tail


# ---------------------------------------------------------------------------------------------
# MIME, written by hand so that boundaries and encodings are fixed and broken ones are possible.

def b64(data):
    return base64.encodebytes(data).decode("ascii")


def part(content_type, body, *, encoding="base64", disposition=None):
    headers = [f"Content-Type: {content_type}"]
    if disposition:
        headers.append(f"Content-Disposition: {disposition}")
    if encoding == "base64":
        text = b64(body)
    elif encoding == "quoted-printable":
        text = quopri.encodestring(body).decode("ascii")
    else:
        text = body.decode("utf-8")
    headers.append(f"Content-Transfer-Encoding: {encoding}")
    return "\r\n".join(headers) + "\r\n\r\n" + text.replace("\r\n", "\n").replace("\n", "\r\n")


def text_part(text, charset="utf-8", encoding="quoted-printable"):
    return part(f"text/plain; charset={charset}", text.encode(charset), encoding=encoding)


def attachment(name, content_type, data):
    return part(f'{content_type}; name="{name}"', data,
                disposition=f'attachment; filename="{name}"')


def multipart(subtype, parts, boundary, extra=""):
    body = "".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + f"--{boundary}--\r\n"
    return f'Content-Type: multipart/{subtype}; boundary="{boundary}"{extra}\r\n\r\n' + body


def mail(name, entity, *, subject="Lettre de liaison", headers=()):
    lines = [
        "Return-Path: <dr.testeur@ch-fictif.mssante.fr>",
        "From: =?utf-8?q?Dr_Jean_TESTEUR?= <dr.testeur@ch-fictif.mssante.fr>",
        f"To: {ESS}",
        "Subject: " + (subject if subject.isascii() else Header(subject, "utf-8").encode(linesep="\r\n")),
        f"Date: {DATE}",
        f"Message-ID: <{name}@ch-fictif.mssante.fr>",
        "MIME-Version: 1.0",
        "X-MSS-NIL: NIL-TEST-0001",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n" + entity).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# IHE XDM

METADATA = read(DATA, "xds", "METADATA.XML").decode("utf-8")
INS_A = "279035121518989"  # FICTIF-DUPONT Camille, F, 1979-03, born 51215 (ldl_ses, pps)
INS_B = "162018885045327"  # FICTIF-MARTIN Paul, M, 1962-01 (tlm_da, n1_pdf)


def metadata_for(doc, *, code="11490-0", display=None, format_code=None, ins=INS_A,
                 pid5="FICTIF-DUPONT^Camille^^^^^L", pid7="19790314", pid8="F",
                 mime_type="text/xml", hash_=None, size=None, uri="DOC0001.XML"):
    m = METADATA
    m = re.sub(r'(<rim:Slot name="hash"><rim:ValueList><rim:Value>)[0-9a-f]+',
               lambda g: g.group(1) + (hash_ or hashlib.sha1(doc).hexdigest()), m)
    m = re.sub(r'(<rim:Slot name="size"><rim:ValueList><rim:Value>)[0-9]+',
               lambda g: g.group(1) + str(size if size is not None else len(doc)), m)
    m = m.replace(f"{INS_A}^^^", f"{ins}^^^")
    m = m.replace("PID-5|FICTIF-DUPONT^Camille^^^^^L", f"PID-5|{pid5}")
    m = m.replace("PID-7|19790314", f"PID-7|{pid7}").replace("PID-8|F", f"PID-8|{pid8}")
    m = m.replace('nodeRepresentation="11490-0"', f'nodeRepresentation="{code}"')
    if display:
        m = m.replace("Lettre de liaison à la sortie d'un établissement de soins", display)
    if format_code:
        m = m.replace('nodeRepresentation="urn:asip:ci-sis:ldl-ses:2017"',
                      f'nodeRepresentation="{format_code}"')
        m = m.replace("Lettre de liaison à la sortie d'un établissement de santé", format_code)
    m = m.replace('mimeType="text/xml"', f'mimeType="{mime_type}"')
    m = m.replace("<rim:Value>DOC0001.XML</rim:Value>", f"<rim:Value>{uri}</rim:Value>")
    # XDSDocumentEntry.uniqueId is the CDA's id (root^extension), as the ANS XSL writes it.
    document_id = re.search(rb'<id root="([0-9.]+)"(?: extension="([^"]*)")?/>', doc)
    if document_id:
        unique_id = document_id.group(1).decode() + (
            "^" + document_id.group(2).decode() if document_id.group(2) else "")
        m = m.replace('value="1.2.250.1.999.1.1.1^LDL-2024-0001"', f'value="{unique_id}"')
    assert (code == "11490-0") or f'nodeRepresentation="{code}"' in m
    return m.encode("utf-8")


def zip_of(entries):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            z.writestr(info, data, compresslevel=9)
    return out.getvalue()


def xdm(doc, metadata, *, with_metadata=True, with_document=True):
    entries = [("INDEX.HTM", b"<html><body><a href=\"IHE_XDM/SUBSET01/\">SUBSET01</a></body></html>"),
               ("README.TXT", b"liaison test archive (synthetic)\r\n")]
    if with_metadata:
        entries.append(("IHE_XDM/SUBSET01/METADATA.XML", metadata))
    if with_document:
        entries.append(("IHE_XDM/SUBSET01/DOC0001.XML", doc))
    return zip_of(entries)


def xdm_mail(name, zip_bytes, *, subject="Lettre de liaison à la sortie", code="11490-0",
             ins_header="O", extra_parts=(), headers=None):
    parts = [text_part("Bonjour,\nVeuillez trouver ci-joint le document.\nCordialement,\n"),
             attachment("IHE_XDM.ZIP", "application/zip", zip_bytes), *extra_parts]
    if headers is None:
        headers = [f"X-MSS-CODECDA: {code}", f"X-MSS-INS: {ins_header}",
                   "Disposition-Notification-To: <dr.testeur@ch-fictif.mssante.fr>"]
    return mail(name, multipart("mixed", parts, f"=_{name}_"), subject=subject, headers=headers)


def cda_mail(name, doc, **meta):
    return xdm_mail(name, xdm(doc, metadata_for(doc, **meta)), code=meta.get("code", "11490-0"))


# ---------------------------------------------------------------------------------------------
# Issue 12: real-looking mails. Synthetic people (ANS test INS OID 1.2.250.1.213.1.4.10; RPPS
# under the ANS test prefix 997; FINESS 99…, which no département uses).

INS_C = "248073818504263"  # FICTIF-BERTRAND (used FICTIF-GIRAUD) HELENE MARIE, F, 1948-07-22, 38185
INS_D = "290112A00401760"  # FICTIF-PETIT (used FICTIF-ROUSSEAU) CHLOE EMMA, F, 1990-11-05, 2A004, twin 2


def nir_key(nir13):
    """The NIR key: 97 - (N mod 97), with 2A read as 19 and 2B as 18."""
    return 97 - int(nir13.upper().replace("2A", "19").replace("2B", "18")) % 97


def check_nir(nir, *, sex, birth_date, birth_place):
    """Asserts that an invented NIR has a valid key and agrees with the traits it goes with."""
    assert len(nir) == 15 and int(nir[13:]) == nir_key(nir[:13]), f"{nir}: bad key"
    assert nir[0] == {"M": "1", "F": "2"}[sex], f"{nir}: sex"
    assert nir[1:3] == birth_date[2:4] and nir[3:5] == birth_date[5:7], f"{nir}: birth year/month"
    assert nir[5:10] == birth_place, f"{nir}: birth place"


check_nir(INS_C, sex="F", birth_date="1948-07-22", birth_place="38185")
check_nir(INS_D, sex="F", birth_date="1990-11-05", birth_place="2A004")

TESTEUR = ("Dr Jean TESTEUR", "dr.testeur@ch-fictif.mssante.fr")
GP_A = ("Dr Anne GENERALISTE-FICTIVE", "anne.generaliste-fictive@medecin.mssante.fr")
GP_C = ("Dr Marc DUBOSC-FICTIF", "marc.dubosc-fictif@medecin.mssante.fr")
CARDIO = ("Dr Hugo CARDIO-FICTIF", "hugo.cardio-fictif@medecin.mssante.fr")
CH_GRENOBLE = ("CH Fictif de Grenoble – Cardiologie", "cardiologie@ch-fictif-grenoble.mssante.fr")


def message(message_id, entity, *, sender, subject, date, headers=(), trace=()):
    """A mail from `sender` (display name, address) to the ESS; `trace` lines come first, as a relay
    puts them."""
    name, address = sender
    lines = [
        *trace,
        f"Return-Path: <{address}>",
        f"From: {name if name.isascii() else Header(name, 'utf-8').encode()} <{address}>",
        f"To: {ESS}",
        "Subject: " + (subject if subject.isascii() else Header(subject, "utf-8").encode(linesep="\r\n")),
        f"Date: {date}",
        f"Message-ID: <{message_id}>",
        "MIME-Version: 1.0",
        "X-MSS-NIL: NIL-TEST-0001",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n" + entity).encode("utf-8")


def mss_headers(code, sender):
    return [f"X-MSS-CODECDA: {code}", "X-MSS-INS: O", f"Disposition-Notification-To: <{sender[1]}>"]


def text_pdf(lines, *, title, date):
    """A one-page PDF 1.4 (Helvetica, WinAnsi) showing `lines`, with a valid xref. Deterministic."""
    def literal(text):
        raw = text.encode("cp1252")
        return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"
    content = b"BT /F1 11 Tf 56 786 Td 15 TL\n" + b"".join(literal(l) + b" Tj T*\n" for l in lines) + b"ET\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >>"
        b" /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
        b"<< /Title " + literal(title) + b" /Producer (liaison tests) /CreationDate (D:" +
        date.encode("ascii") + b") >>",
    ]
    out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return out


REFERRAL_LETTER = [
    "Dr Marc DUBOSC-FICTIF - Médecine générale",
    "12 cours de la Fiction, 38000 GRENOBLE - RPPS 99700234562",
    "",
    "Grenoble, le 15/01/2024",
    "",
    "ESS Cardio+ Isère",
    "",
    "Objet : demande d'avis cardiologique",
    "Patiente : Mme Hélène FICTIF-GIRAUD, née FICTIF-BERTRAND le 22/07/1948",
    "INS : 248073818504263",
    "",
    "Cher confrère,",
    "",
    "Je vous adresse Mme FICTIF-GIRAUD, 75 ans, hypertendue depuis 2015, pour une",
    "dyspnée d'effort (NYHA II) apparue il y a trois mois et un souffle systolique",
    "râpeux au foyer aortique. Une échocardiographie me semble nécessaire.",
    "",
    "Traitement : amlodipine 5 mg le matin, atorvastatine 20 mg le soir.",
    "Allergie : pénicilline. Dernier LDL-c : 1,58 g/L (décembre 2023).",
    "",
    "Bien confraternellement,",
    "Dr Marc DUBOSC-FICTIF",
]


def referral_pdf():
    return text_pdf(REFERRAL_LETTER, title="Lettre d'adressage - FICTIF-GIRAUD Hélène",
                    date="20240115093000+01'00'")


def referral_note_document():
    """tests/data/cda/referral_note.xml, checked against the PDF this script makes."""
    doc = read(DATA, "cda", "referral_note.xml")
    match = re.search(rb'representation="B64">\s*([A-Za-z0-9+/=\s]+?)\s*</text>', doc)
    assert match and base64.b64decode(b"".join(match.group(1).split())) == referral_pdf(), (
        "referral_note.xml does not carry referral_pdf(): paste "
        "base64.encodebytes(referral_pdf()) into its nonXMLBody")
    return doc


# METADATA.XML from the CDA header, as the ANS XSL CDAHeaderToXDM does: one DocumentEntry, its
# submission set. Starts from ../data/xds/METADATA.XML (metadata_for) and rewrites what differs.

HL7 = {"h": "urn:hl7-org:v3"}


def hl7_time_utc(value):
    """'20240115093000+0100' → '20240115083000' (XDS times are UTC); a date stays a date."""
    if len(value) <= 8:
        return value
    stamp = datetime.datetime.strptime(value, "%Y%m%d%H%M%S%z")
    return stamp.astimezone(datetime.timezone.utc).strftime("%Y%m%d%H%M%S")


def cda_header(doc):
    root = ET.fromstring(doc)
    f = lambda path: root.find(path, HL7)
    patient = f("h:recordTarget/h:patientRole/h:patient")
    name = patient.find("h:name", HL7)

    def part(tag, qualifier):
        for element in name.findall(f"h:{tag}", HL7):
            if element.get("qualifier") == qualifier:
                return element.text
        return None

    pid5 = f"{part('family', 'BR')}^{part('given', 'BR')}^{part('given', None) or ''}^^^^L"
    if part("family", "CL"):
        pid5 += f"~{part('family', 'CL')}^{part('given', 'CL') or ''}^^^^^D"
    author = f("h:author/h:assignedAuthor")
    person = author.find("h:assignedPerson/h:name", HL7)
    organization = author.find("h:representedOrganization", HL7)
    legal = f("h:legalAuthenticator/h:assignedEntity")
    service = f("h:documentationOf/h:serviceEvent/h:effectiveTime")
    document_id = f("h:id")
    county = patient.find("h:birthplace/h:place/h:addr/h:county", HL7)

    def xcn(entity):
        n = entity.find("h:assignedPerson/h:name", HL7)
        return (f"{entity.find('h:id', HL7).get('extension')}^{n.find('h:family', HL7).text}^"
                f"{n.find('h:given', HL7).text}^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS")

    return {
        "unique_id": f"{document_id.get('root')}^{document_id.get('extension')}",
        "title": f("h:title").text,
        "code": f("h:code").get("code"),
        "display": f("h:code").get("displayName"),
        "creation": hl7_time_utc(f("h:effectiveTime").get("value")),
        "service": (hl7_time_utc(service.find("h:low", HL7).get("value")),
                    hl7_time_utc(service.find("h:high", HL7).get("value"))),
        "ins": f("h:recordTarget/h:patientRole/h:id").get("extension"),
        "pid5": pid5,
        "pid7": patient.find("h:birthTime", HL7).get("value"),
        "pid8": patient.find("h:administrativeGenderCode", HL7).get("code"),
        "pid11": county.text if county is not None else None,
        "author": xcn(author),
        "given": person.find("h:given", HL7).text,
        "institution": (f"{organization.find('h:name', HL7).text}^^^^^&amp;1.2.250.1.71.4.2.2&amp;ISO"
                        f"^IDNST^^^{organization.find('h:id', HL7).get('extension')}"),
        "specialty": "^".join(author.find("h:code", HL7).get(a)
                              for a in ("code", "displayName", "codeSystem")),
        "legal": xcn(legal) if legal is not None else None,
    }


def swap(text, old, new, count=1):
    assert text.count(old) == count, f"{old!r}: {text.count(old)} occurrences, {count} expected"
    return text.replace(old, new)


def set_classification(m, cid, code, display, scheme):
    m, n = re.subn(
        rf'(<rim:Classification id="{cid}"[^>]*nodeRepresentation=")[^"]*(".*?<rim:Value>)[^<]*'
        rf'(</rim:Value>.*?<rim:LocalizedString value=")[^"]*("/>)',
        lambda g: g.group(1) + code + g.group(2) + scheme + g.group(3) + escape(display) + g.group(4),
        m, count=1, flags=re.S)
    assert n == 1, cid
    return m


def entry_uuid(label):
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'https://liaison.test/xdm/' + label)}"


def metadata_from_cda(doc, label, *, format_, facility, practice, event=None, content_type=None,
                      submitted, source_id="1.2.250.1.999.1.9", replaces=None, class_=None):
    """METADATA.XML for `doc`: hash and size, every header value taken from the CDA. `format_`,
    `facility` (healthcareFacilityTypeCode), `practice`, `event`, `content_type`: (code, display,
    scheme); `submitted`: submission time (UTC); `replaces`: the entryUUID of the DocumentEntry a
    new version replaces (an RPLC association); `class_`: classCode (TRE_A03), 11 Synthèse if None."""
    h = cda_header(doc)
    m = metadata_for(doc, ins=h["ins"], pid5=h["pid5"], pid7=h["pid7"], pid8=h["pid8"]).decode("utf-8")
    m = swap(m, "Describes DOC0001.XML, which is\n  tests/data/cda/ldl_ses.xml: hash and size below are "
             "those of that file.",
             f"Written by tests/mssante/make_messages.py\n  for {label}: DOC0001.XML is {h['unique_id']}.")
    if class_:
        m = set_classification(m, "cl02", *class_)
    entry, package = entry_uuid(label + "/entry"), entry_uuid(label + "/submission")
    for old, new in (("urn:uuid:0f3c1a52-7d4e-4a8b-9c61-2b5e8d9f1a01", entry),
                     ("urn:uuid:5e1d2c3b-4a59-4c7d-8e9f-0a1b2c3d4e02", package)):
        m = swap(m, old, new, count=METADATA.count(old))
    if h["pid11"]:
        m = swap(m, f"<rim:Value>PID-8|{h['pid8']}</rim:Value>",
                 f"<rim:Value>PID-8|{h['pid8']}</rim:Value>\n"
                 f"          <rim:Value>PID-11|^^^^^^BDL^^{h['pid11']}</rim:Value>")
    m = swap(m, "<rim:Value>20240112133000</rim:Value>", f"<rim:Value>{h['creation']}</rim:Value>")
    m = swap(m, "<rim:Value>20240108083000</rim:Value>", f"<rim:Value>{h['service'][0]}</rim:Value>")
    m = swap(m, "<rim:Value>20240112130000</rim:Value>", f"<rim:Value>{h['service'][1]}</rim:Value>")
    legal = "810007777777^CHEFFE-FICTIVE^Claire^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS"
    if h["legal"]:
        m = swap(m, legal, h["legal"])
    else:
        m = re.sub(r'\s*<rim:Slot name="legalAuthenticator">.*?</rim:Slot>', "", m, count=1, flags=re.S)
    m = swap(m, "810001234567^TESTEUR^Jean^^^^^^&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS",
             h["author"], count=2)
    m = swap(m, "Centre Hospitalier Fictif^^^^^&amp;1.2.250.1.71.4.2.2&amp;ISO^IDNST^^^1990000017",
             h["institution"], count=2)
    m = swap(m, "G15_10/SM04^Médecin - Cardiologie et maladies vasculaires (SM)^1.2.250.1.213.1.1.4.5",
             h["specialty"])
    m = swap(m, 'value="Lettre de liaison à la sortie – Cardiologie"/>', f'value="{escape(h["title"])}"/>')
    assert f'value="{h["unique_id"]}"' in m  # metadata_for took it from the CDA's id
    m = set_classification(m, "cl09", h["code"], h["display"], "2.16.840.1.113883.6.1")
    m = set_classification(m, "cl06", *format_)
    m = set_classification(m, "cl07", *facility)
    m = set_classification(m, "cl08", *practice)
    if event:
        m = set_classification(m, "cl05", *event)
    else:
        m, n = re.subn(r'\s*<rim:Classification id="cl05".*?</rim:Classification>', "", m, count=1,
                       flags=re.S)
        assert n == 1
    if content_type:
        m = set_classification(m, "cl11", *content_type)
    day = submitted[:8]
    m = swap(m, "<rim:Value>20240112140500</rim:Value>", f"<rim:Value>{submitted}</rim:Value>")
    m = swap(m, 'value="Envoi de la lettre de liaison"', f'value="Envoi : {escape(h["display"])}"')
    m = swap(m, 'value="1.2.250.1.999.1.9"', f'value="{source_id}"')
    serial = int(hashlib.sha1(label.encode()).hexdigest()[:6], 16)  # an OID arc, stable per case
    m = swap(m, 'value="1.2.250.1.999.1.9.20240112.1"', f'value="{source_id}.{day}.{serial}"')
    if replaces:
        m = swap(m, "  </rim:RegistryObjectList>",
                 f'    <rim:Association id="as02" associationType="urn:ihe:iti:2007:AssociationType:RPLC"\n'
                 f'        sourceObject="{entry}" targetObject="{replaces}"/>\n'
                 "  </rim:RegistryObjectList>")
    return m.encode("utf-8")


def ddm_subject(doc):
    """The MSSanté subject (ECO.2.1.3): XDM/1.0/DDM+<libellé> <NOM> <prénom> <JJ/MM/AAAA>."""
    h = cda_header(doc)
    family, given = h["pid5"].split("^")[:2]
    born = h["pid7"]
    return f"XDM/1.0/DDM+{h['display']} {family} {given} {born[6:8]}/{born[4:6]}/{born[:4]}"


FORMAT_PDF = ("urn:ihe:iti:xds-sd:pdf:2008", "Document à corps non structuré en Pdf/A-1",
              "1.3.6.1.4.1.19376.1.2.3")
FORMAT_PPS = ("urn:asip:ci-sis:pps-paerpa:2017", "Plan Personnalisé de Santé - PAERPA",
              "1.2.250.1.213.1.1.4.2.282")
FORMAT_LDL = ("urn:asip:ci-sis:ldl-ses:2017", "Lettre de liaison à la sortie d'un établissement de santé",
              "1.2.250.1.213.1.1.4.2.282")
FORMAT_HORS_PROFIL = ("urn:asipSante:modelesHorsProfils:2011", "Modèles hors profils",
                      "1.2.250.1.213.1.1.4.2.282")
CABINET = ("SA07", "Cabinet individuel", "1.2.250.1.71.4.2.4")
HOSPITAL = ("SA01", "Etablissement public de santé", "1.2.250.1.71.4.2.4")
AMBULATOIRE = ("AMBULATOIRE", "Ambulatoire", "1.2.250.1.213.1.1.4.9")
ETABLISSEMENT = ("ETABLISSEMENT", "Etablissement de santé", "1.2.250.1.213.1.1.4.9")
COMPTE_RENDU = ("10", "Compte rendu", "1.2.250.1.213.1.1.4.1")

REFERRAL_BODY = """Cher confrère,

Je vous adresse Mme Hélène FICTIF-GIRAUD (née FICTIF-BERTRAND le 22/07/1948) pour avis cardiologique : dyspnée d'effort depuis trois mois, souffle systolique « râpeux » au foyer aortique.
Échographie cardiaque souhaitée ; la lettre d'adressage et le dossier sont joints.

Bien confraternellement,
Dr Marc DUBOSC-FICTIF
Médecin généraliste à Grenoble
"""

REFERRAL_HTML = """<!DOCTYPE html>
<html lang="fr"><head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>Demande d'avis</title>
<style type="text/css">p { margin: 0 0 8px 0; } .signature { color: #555555; }</style>
<script type="text/javascript">var suivi = "ce script ne doit pas apparaître";</script>
</head>
<body>
<p>Cher confr&egrave;re,</p>
<p>Suite &agrave; ma lettre d'adressage du 15/01, je vous adresse &agrave; nouveau Mme Hélène FICTIF-GIRAUD
(n&eacute;e FICTIF-BERTRAND le 22/07/1948) pour un avis cardiologique&nbsp;:</p>
<ul>
  <li>dyspn&eacute;e d'effort stade II depuis trois mois&nbsp;;</li>
  <li>souffle systolique au foyer aortique&nbsp;;</li>
  <li>HTA trait&eacute;e, LDL-c &agrave; 1,58&nbsp;g/L.</li>
</ul>
<p>&Eacute;chocardiographie &amp; consultation souhait&eacute;es.<br>Le courrier et l'ECG sont joints (PDF).</p>
<p class="signature">Bien confraternellement,<br>
Dr Marc DUBOSC-FICTIF<br>
M&eacute;decin g&eacute;n&eacute;raliste &ndash; Grenoble</p>
</body></html>
"""

# What htmlToText (src/parse/text/html_text.hpp) makes of REFERRAL_HTML: the intake keeps this.
REFERRAL_HTML_TEXT = """Cher confrère,

Suite à ma lettre d'adressage du 15/01, je vous adresse à nouveau Mme Hélène FICTIF-GIRAUD (née FICTIF-BERTRAND le 22/07/1948) pour un avis cardiologique\u00a0:

- dyspnée d'effort stade II depuis trois mois\u00a0;
- souffle systolique au foyer aortique\u00a0;
- HTA traitée, LDL-c à 1,58\u00a0g/L.

Échocardiographie & consultation souhaitées.
Le courrier et l'ECG sont joints (PDF).

Bien confraternellement,
Dr Marc DUBOSC-FICTIF
Médecin généraliste – Grenoble"""


def add_issue12_cases(cases, ldl, ldl_zip):
    ldl_c_pdf = text_pdf(["Lettre de liaison à la sortie - Cardiologie, CH Fictif de Grenoble",
                          "Mme Hélène FICTIF-GIRAUD, née FICTIF-BERTRAND le 22/07/1948",
                          "Séjour du 25/01/2024 au 29/01/2024 : insuffisance cardiaque décompensée."],
                         title="Lettre de liaison FICTIF-GIRAUD", date="20240129160000+01'00'")

    # 1. GP referral letter, N1 PDF, ISO-8859-1 quoted-printable body (no œ in Latin-1).
    referral = referral_note_document()
    letter = referral_pdf()
    cases["referral_note.eml"] = message("referral_note.20240115093512@medecin.mssante.fr", multipart(
        "mixed", [text_part(REFERRAL_BODY, "iso-8859-1"),
                  attachment("IHE_XDM.ZIP", "application/zip", xdm(referral, metadata_from_cda(
                      referral, "referral_note", format_=FORMAT_PDF, facility=CABINET,
                      practice=AMBULATOIRE, content_type=CABINET, submitted="20240115083512",
                      source_id="1.2.250.1.999.3.9"))),
                  attachment("20240115_Lettre d'adressage_FICTIF-BERTRAND_HELENE.pdf",
                             "application/pdf", letter)],
        "=_referral_note_"), sender=GP_C, subject=ddm_subject(referral),
        date="Mon, 15 Jan 2024 09:35:12 +0100", headers=mss_headers("57133-1", GP_C))

    # 2. The same kind of referral, HTML only (no text/plain), a PDF, no XDM.
    cases["referral_html.eml"] = message("referral_html.20240116181003@medecin.mssante.fr", multipart(
        "mixed", [part("text/html; charset=utf-8", REFERRAL_HTML.encode("utf-8")),
                  attachment("courrier_ECG.pdf", "application/pdf", letter)], "=_referral_html_"),
        sender=GP_C, subject="Demande d'avis cardiologique – Mme FICTIF-GIRAUD",
        date="Tue, 16 Jan 2024 18:10:03 +0100",
        headers=[f"Disposition-Notification-To: <{GP_C[1]}>"])

    # 3. PPS with planned activities.
    pps = read(DATA, "cda", "pps_activities.xml")
    cases["pps_activities.eml"] = message("pps_activities.20240120110512@medecin.mssante.fr", multipart(
        "mixed", [text_part("Bonjour,\nVeuillez trouver le plan personnalisé de santé de Mme "
                            "FICTIF-GIRAUD.\nCordialement,\nDr DUBOSC-FICTIF\n"),
                  attachment("IHE_XDM.ZIP", "application/zip", xdm(pps, metadata_from_cda(
                      pps, "pps_activities", format_=FORMAT_PPS, facility=CABINET, practice=AMBULATOIRE,
                      content_type=CABINET, submitted="20240120100512", source_id="1.2.250.1.999.3.9")))],
        "=_pps_activities_"), sender=GP_C, subject=ddm_subject(pps),
        date="Sat, 20 Jan 2024 11:05:12 +0100", headers=mss_headers("18776-5", GP_C))

    # 4. Consultation report with structured sections.
    crc = read(DATA, "cda", "cr_consultation.xml")
    crc_pdf = text_pdf(["Compte rendu de consultation de cardiologie - 05/02/2024",
                        "Mme Hélène FICTIF-GIRAUD, née FICTIF-BERTRAND le 22/07/1948",
                        "Rétrécissement aortique modéré, FEVG 60 %. HTA insuffisamment contrôlée."],
                       title="CR consultation FICTIF-GIRAUD", date="20240205173000+01'00'")
    cases["cr_consultation.eml"] = message("cr_consultation.20240205174501@medecin.mssante.fr", multipart(
        "mixed", [text_part("Cher confrère,\nVoici le compte rendu de la consultation de ce jour.\n"
                            "Bien à vous,\nDr CARDIO-FICTIF\n"),
                  attachment("IHE_XDM.ZIP", "application/zip", xdm(crc, metadata_from_cda(
                      crc, "cr_consultation", format_=FORMAT_HORS_PROFIL, facility=CABINET,
                      class_=COMPTE_RENDU,
                      practice=AMBULATOIRE, content_type=CABINET, submitted="20240205164501",
                      event=("I35.0", "Sténose (de la valvule) aortique", "2.16.840.1.113883.6.3"),
                      source_id="1.2.250.1.999.4.9"))),
                  attachment("20240205_CR de consultation_FICTIF-BERTRAND_HELENE.pdf", "application/pdf",
                             crc_pdf)],
        "=_cr_consultation_"), sender=CARDIO, subject=ddm_subject(crc),
        date="Mon, 05 Feb 2024 17:45:01 +0100", headers=mss_headers("11488-4", CARDIO))

    # 5. Names: birth and used names, the given-name list, a twin, a birth place in Corsica.
    chloe = read(DATA, "cda", "names_chloe.xml")
    chloe_metadata = metadata_from_cda(chloe, "names_chloe", format_=FORMAT_HORS_PROFIL, facility=CABINET,
                                       class_=COMPTE_RENDU,
                                       practice=AMBULATOIRE, content_type=CABINET,
                                       submitted="20240212092000", source_id="1.2.250.1.999.4.9")
    assert (b"PID-5|FICTIF-PETIT^CHLOE^CHLOE EMMA^^^^L~FICTIF-ROUSSEAU^CHLOE^^^^^D" in chloe_metadata
            and b"PID-11|^^^^^^BDL^^2A004" in chloe_metadata)
    cases["names_chloe.eml"] = message("names_chloe.20240212102000@medecin.mssante.fr", multipart(
        "mixed", [text_part("Cher confrère,\nCompte rendu de consultation de Mme FICTIF-ROUSSEAU.\n"),
                  attachment("IHE_XDM.ZIP", "application/zip", xdm(chloe, chloe_metadata))],
        "=_names_chloe_"), sender=CARDIO, subject=ddm_subject(chloe),
        date="Mon, 12 Feb 2024 10:20:00 +0100", headers=mss_headers("11488-4", CARDIO))

    # 6. The same document in another mail (forwarded by the médecin traitant, another relay) …
    forwarded = metadata_for(ldl)
    forwarded = swap(forwarded.decode("utf-8"), "<rim:Value>20240112140500</rim:Value>",
                     "<rim:Value>20240115071200</rim:Value>")
    forwarded = swap(forwarded, 'value="1.2.250.1.999.1.9.20240112.1"',
                     'value="1.2.250.1.999.2.9.20240115.7"')
    forwarded = swap(forwarded, 'value="1.2.250.1.999.1.9"', 'value="1.2.250.1.999.2.9"')
    forwarded = forwarded.encode("utf-8")
    cases["ldl_ses_again.eml"] = message("3f2a9c1e.20240115081244@medecin.mssante.fr", multipart(
        "mixed", [text_part("Bonjour,\nJe vous transmets la lettre de liaison de Mme FICTIF-DUPONT reçue ce "
                            "jour, pour son dossier à l'ESS.\nCordialement,\nDr Anne GENERALISTE-FICTIVE\n"),
                  attachment("IHE_XDM.ZIP", "application/zip", xdm(ldl, forwarded))], "=_ldl_ses_again_"),
        sender=GP_A, subject="Tr: Lettre de liaison à la sortie", date="Mon, 15 Jan 2024 08:12:44 +0100",
        headers=mss_headers("11490-0", GP_A), trace=[
            "Received: from mx2.medecin.mssante.fr (mx2.medecin.mssante.fr [192.0.2.41])\r\n"
            "\tby mx.ess.mssante.fr (Postfix) with ESMTPS id 4TDx1k0Q5Wz9sWq\r\n"
            f"\tfor <{ESS}>; Mon, 15 Jan 2024 08:12:46 +0100 (CET)"])

    # … and a new version of it (same setId, versionNumber 2, relatedDocument RPLC).
    v2 = read(DATA, "cda", "ldl_ses_v2.xml")
    assert b'<setId root="1.2.250.1.999.1.1.2" extension="SET-0001"/>' in v2 and b"SET-0001" in ldl
    v2_metadata = metadata_from_cda(v2, "ldl_ses_v2", format_=FORMAT_LDL, facility=HOSPITAL,
                                    practice=ETABLISSEMENT, submitted="20240113094500",
                                    event=("I25.1", "Cardiopathie athéroscléreuse",
                                           "2.16.840.1.113883.6.3"),
                                    replaces="urn:uuid:0f3c1a52-7d4e-4a8b-9c61-2b5e8d9f1a01")
    cases["ldl_ses_v2.eml"] = message("ldl_ses_v2@ch-fictif.mssante.fr", multipart(
        "mixed", [text_part("Bonjour,\nCette version annule et remplace la lettre de liaison du 12/01/2024 "
                            "(constantes corrigées).\nCordialement,\n"),
                  attachment("IHE_XDM.ZIP", "application/zip", xdm(v2, v2_metadata)),
                  attachment("lettre-de-liaison-v2.pdf", "application/pdf", fake_pdf(20500))],
        "=_ldl_ses_v2_"), sender=TESTEUR,
        subject="[Annule et remplace] Lettre de liaison à la sortie", date="Sat, 13 Jan 2024 10:45:00 +0100",
        headers=mss_headers("11490-0", TESTEUR))

    # 7. ldl_ses.eml delivered again by a relay: its exact bytes under the trace headers it adds.
    original = cases["ldl_ses.eml"]
    first, rest = original.split(b"\r\n", 1)
    assert first == b"Return-Path: <dr.testeur@ch-fictif.mssante.fr>"
    trace = (b"Return-Path: <dr.testeur@ch-fictif.mssante.fr>\r\n"
             b"Delivered-To: cardio-plus-archive@ess.mssante.fr\r\n"
             b"X-Original-To: secretariat@cardio-plus.ess.mssante.fr\r\n"
             b"Received: from relay2.ch-fictif.mssante.fr (relay2.ch-fictif.mssante.fr [192.0.2.17])\r\n"
             b"\tby mx.ess.mssante.fr (Postfix) with ESMTPS id 4TCq7m1Xk3z9sVb\r\n"
             b"\tfor <secretariat@cardio-plus.ess.mssante.fr>; Fri, 12 Jan 2024 14:21:07 +0100 (CET)\r\n")
    cases["ldl_ses_redelivered.eml"] = trace + rest
    # The same Message-ID on a different message (an LPS that reuses its ids).
    cases["ldl_ses_reused_id.eml"] = message("ldl_ses@ch-fictif.mssante.fr", multipart(
        "mixed", [text_part("Bonjour,\nComplément : la patiente sera revue en consultation le 20/02/2024 ; "
                            "la lettre de liaison est jointe à nouveau.\nCordialement,\n"),
                  attachment("IHE_XDM.ZIP", "application/zip", ldl_zip)], "=_ldl_ses_"),
        sender=TESTEUR, subject="Lettre de liaison à la sortie – complément",
        date="Fri, 12 Jan 2024 16:40:00 +0100", headers=mss_headers("11490-0", TESTEUR))
    assert cases["ldl_ses_reused_id.eml"] != original
    assert b"Message-ID: <ldl_ses@ch-fictif.mssante.fr>" in cases["ldl_ses_reused_id.eml"]

    # 8. The discharge letter of patient C (joins C's open request).
    ldl_c = read(DATA, "cda", "ldl_ses_patient_c.xml")
    cases["ldl_ses_patient_c.eml"] = message("ldl_ses_patient_c.20240129163512@ch-fictif-grenoble.mssante.fr",
                                             multipart("mixed", [
        text_part("Bonjour,\nLettre de liaison de sortie de Mme FICTIF-GIRAUD (hospitalisée du 25 au "
                  "29/01/2024).\nCordialement,\nService de cardiologie\n"),
        attachment("IHE_XDM.ZIP", "application/zip", xdm(ldl_c, metadata_from_cda(
            ldl_c, "ldl_ses_patient_c", format_=FORMAT_LDL, facility=HOSPITAL, practice=ETABLISSEMENT,
            submitted="20240129153512", source_id="1.2.250.1.999.5.9",
            event=("I50.9", "Insuffisance cardiaque, sans précision", "2.16.840.1.113883.6.3")))),
        attachment("20240129_Lettre de liaison_FICTIF-BERTRAND_HELENE.pdf", "application/pdf", ldl_c_pdf)],
        "=_ldl_ses_patient_c_"), sender=CH_GRENOBLE, subject=ddm_subject(ldl_c),
        date="Mon, 29 Jan 2024 16:35:12 +0100", headers=mss_headers("11490-0", CH_GRENOBLE))

    check_issue12_cases(cases)
    add_ans_shape_cases(cases)


FORMAT_AVK = ("urn:asip:ci-sis:avk:2009", "Patient sous traitement AVK", "1.2.250.1.213.1.1.4.2.282")


def add_ans_shape_cases(cases):
    """Entry shapes seen in the ANS examples that liaison mapped wrongly, in documents of our own."""
    avk = read(DATA, "cda", "fiche_avk.xml")
    cases["fiche_avk.eml"] = message("fiche_avk.20240301111500@medecin.mssante.fr", multipart(
        "mixed", [text_part("Cher confrère,\nVoici la fiche AVK de Mme FICTIF-GIRAUD.\nBien à vous,\n"
                            "Dr CARDIO-FICTIF\n"),
                  attachment("IHE_XDM.ZIP", "application/zip", xdm(avk, metadata_from_cda(
                      avk, "fiche_avk", format_=FORMAT_AVK, facility=CABINET, practice=AMBULATOIRE,
                      content_type=CABINET, submitted="20240301101500",
                      source_id="1.2.250.1.999.4.9")))],
        "=_fiche_avk_"), sender=CARDIO, subject=ddm_subject(avk),
        date="Fri, 01 Mar 2024 11:15:00 +0100", headers=mss_headers("34133-9", CARDIO))


def check_issue12_cases(cases):
    """Every CDA of these cases is well-formed and its METADATA hash/size match; patient C's documents
    carry C's INS and traits."""
    for name in ("referral_note", "pps_activities", "cr_consultation", "names_chloe", "ldl_ses_again",
                 "ldl_ses_v2", "ldl_ses_patient_c"):
        raw = cases[name + ".eml"]
        encoded = re.search(rb'filename="IHE_XDM.ZIP"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
                            rb'([A-Za-z0-9+/=\r\n]+?)\r\n--', raw).group(1)
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(encoded))) as z:
            doc = z.read("IHE_XDM/SUBSET01/DOC0001.XML")
            metadata = z.read("IHE_XDM/SUBSET01/METADATA.XML").decode("utf-8")
        ET.fromstring(doc)
        ET.fromstring(metadata)
        slot = lambda n: re.search(rf'<rim:Slot name="{n}"><rim:ValueList><rim:Value>([^<]+)',
                                   metadata).group(1)
        assert slot("hash") == hashlib.sha1(doc).hexdigest() and slot("size") == str(len(doc)), name
        h = cda_header(doc)
        assert f'value="{h["unique_id"]}"' in metadata, name
        if h["ins"] == INS_C:
            assert (h["pid5"].startswith("FICTIF-BERTRAND^HELENE^HELENE MARIE^") and h["pid7"] == "19480722"
                    and h["pid8"] == "F" and h["pid11"] == "38185"), name


# ---------------------------------------------------------------------------------------------

def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    cases = {}

    ldl = read(DATA, "cda", "ldl_ses.xml")
    tlm = read(DATA, "cda", "tlm_da.xml")
    pps = read(DATA, "cda", "pps.xml")
    n1 = read(DATA, "cda", "n1_pdf.xml")
    pdf = fake_pdf(20000)
    ldl_zip = xdm(ldl, metadata_for(ldl))
    rendition = attachment("lettre-de-liaison.pdf", "application/pdf", pdf)

    # ---- well-formed
    cases["ldl_ses.eml"] = xdm_mail("ldl_ses", ldl_zip, extra_parts=[rendition])
    inner = multipart("mixed", [text_part("Lettre de liaison signée.\n"),
                                attachment("IHE_XDM.ZIP", "application/zip", ldl_zip)], "=_inner_")
    signature = attachment("smime.p7s", "application/pkcs7-signature", b"\x30\x82\x01\x00" * 16)
    cases["signed.eml"] = mail("signed", multipart(
        "signed", [inner, signature], "=_signed_",
        extra='; protocol="application/pkcs7-signature"; micalg=sha-256'),
        headers=["X-MSS-CODECDA: 11490-0", "X-MSS-INS: O"])
    b_traits = dict(ins=INS_B, pid5="FICTIF-MARTIN^Paul^^^^^L", pid7="19620115", pid8="M")
    cases["tlm_da.eml"] = cda_mail("tlm_da", tlm, code="75496-0", **b_traits,
                                   display="Demande d'acte de télémédecine",
                                   format_code="urn:asip:ci-sis:tlm-da:2019")
    cases["pps.eml"] = cda_mail("pps", pps, code="18776-5", display="Plan personnalisé de santé",
                                format_code="urn:asip:ci-sis:pps-paerpa:2015")
    cases["n1_pdf.eml"] = cda_mail("n1_pdf", n1, code="11488-4", **b_traits,
                                   display="Compte rendu de consultation",
                                   format_code="urn:ihe:iti:xds-sd:pdf:2008", mime_type="text/xml")

    qr = read(ROOT, "samples", "fiches", "questionnaire-response.json")
    cases["qr_attachment.eml"] = mail("qr_attachment", multipart("mixed", [
        text_part("Bonjour, la fiche de demande Cardio+ est jointe.\n"),
        attachment("fiche.json", "application/fhir+json", qr)], "=_qr_"),
        subject="Demande d'avis Cardio+")
    bundle = ('{"resourceType":"Bundle","type":"collection","entry":['
              '{"fullUrl":"urn:uuid:6f1c1e2a-3b4c-4d5e-8f60-718293a4b5c6","resource":'
              '{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.250.1.213.1.4.10",'
              f'"value":"{INS_B}"}}],"name":[{{"family":"FICTIF-MARTIN","given":["Paul"]}}],'
              '"gender":"male","birthDate":"1962-01-15"}},'
              '{"resource":{"resourceType":"Observation","status":"final","code":{"coding":'
              '[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}]},'
              '"subject":{"reference":"urn:uuid:6f1c1e2a-3b4c-4d5e-8f60-718293a4b5c6"},'
              '"valueQuantity":{"value":82,"unit":"kg","system":"http://unitsofmeasure.org",'
              '"code":"kg"}}}]}').encode("utf-8")
    cases["bundle_attachment.eml"] = mail("bundle_attachment", multipart("mixed", [
        text_part("Données FHIR jointes.\n"),
        attachment("bundle.json", "application/fhir+json", bundle)], "=_bundle_"),
        subject="Données patient")

    fiche = read(ROOT, "samples", "fiches", "fiche-complete.txt").decode("utf-8")
    fiche = fiche.replace("☒", "[x]").replace("☐", "[ ]").replace("—", "-")
    cases["fiche_body.eml"] = mail("fiche_body", part(
        "text/plain; charset=iso-8859-15", fiche.encode("iso-8859-15"),
        encoding="quoted-printable"), subject="Fiche de demande Cardio+")
    incomplete = read(ROOT, "samples", "fiches", "fiche-incomplete.txt")
    cases["fiche_incomplete.eml"] = mail("fiche_incomplete", part(
        "text/plain; charset=utf-8", incomplete), subject="Demande Cardio+")
    cases["pdf_only.eml"] = mail("pdf_only", multipart("mixed", [
        attachment("courrier.pdf", "application/pdf", fake_pdf(8000))], "=_pdf_"),
        subject="Courrier")
    free = ("Chère consœur, je vous adresse M. FICTIF pour un avis cardiologique : "
            "dyspnée d'effort récente, ECG « normal ». Merci – Dr TESTEUR\n")
    cases["free_text.eml"] = mail("free_text", text_part(free, "windows-1252"),
                                  subject="Demande d'avis – dyspnée")

    # ---- patient identity
    # Another letter (its own id and set): the same patient written without the INS.
    no_ins_doc = ldl.replace(
        f'<id root="1.2.250.1.213.1.4.10" extension="{INS_A}"/>'.encode(), b"").replace(
        b'extension="LDL-2024-0001"', b'extension="LDL-2024-0009"').replace(
        b'extension="SET-0001"', b'extension="SET-0009"')
    assert no_ins_doc.count(b"LDL-2024-0009") == 1 and b"SET-0009" in no_ins_doc
    cases["no_ins.eml"] = xdm_mail("no_ins", xdm(no_ins_doc, metadata_for(
        no_ins_doc, ins="IPP-0042").replace(b"&amp;1.2.250.1.213.1.4.10&amp;", b"&amp;1.2.250.1.999.1.1&amp;")),
        ins_header="N")
    cases["ins_mismatch.eml"] = xdm_mail("ins_mismatch", xdm(ldl, metadata_for(ldl, ins=INS_B)))
    cases["traits_mismatch.eml"] = xdm_mail("traits_mismatch",
                                            xdm(ldl, metadata_for(ldl, pid7="19790315")))
    cases["header_mismatch.eml"] = xdm_mail("header_mismatch", ldl_zip, headers=[
        "X-MSS-CODECDA: 34112-3", "X-MSS-INS: N"])

    # ---- hostile or broken
    cases["empty.eml"] = mail("empty", "\r\n", subject="(vide)")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "hostile", "make_zip_cases.py"),
                        os.path.join(tmp, "zip")], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "hostile", "make_xml_cases.py"),
                        os.path.join(tmp, "xml")], check=True, stdout=subprocess.DEVNULL)
        for name, file in [("xdm_bomb", "bomb.zip"), ("xdm_lying_bomb", "lying_bomb.zip"),
                           ("xdm_traversal", "unsafe_parent.zip"), ("xdm_symlink", "symlink.zip"),
                           ("xdm_not_zip", os.path.join("not_zip", "IHE_XDM.ZIP"))]:
            cases[name + ".eml"] = xdm_mail(name, read(tmp, "zip", file))
        for name, file in [("cda_xxe", "xxe.xml"), ("cda_parameter_entity", "external_parameter_entity.xml"),
                           ("cda_billion_laughs", "billion_laughs.xml"),
                           ("cda_no_record_target", "cda_no_record_target.xml"),
                           ("cda_no_patient_id", "cda_null_flavor_id.xml")]:
            doc = read(tmp, "xml", file)
            cases[name + ".eml"] = xdm_mail(name, xdm(doc, metadata_for(doc)))
        cases["metadata_xxe.eml"] = xdm_mail("metadata_xxe", xdm(ldl, read(tmp, "xml", "xxe.xml")))

    cases["xdm_hash_mismatch.eml"] = xdm_mail("xdm_hash_mismatch", xdm(ldl, metadata_for(
        ldl, hash_=hashlib.sha1(ldl + b" ").hexdigest())))
    cases["xdm_size_mismatch.eml"] = xdm_mail("xdm_size_mismatch", xdm(ldl, metadata_for(
        ldl, size=len(ldl) + 1)))
    cases["xdm_no_metadata.eml"] = xdm_mail("xdm_no_metadata", xdm(ldl, b"", with_metadata=False))
    cases["xdm_document_missing.eml"] = xdm_mail("xdm_document_missing", xdm(
        ldl, metadata_for(ldl), with_document=False))

    whole = cases["ldl_ses.eml"]
    at = whole.index(b"Content-Disposition: attachment; filename=\"IHE_XDM.ZIP\"")
    cut = whole.index(b"\r\n\r\n", at) + 4 + 2000 + 3  # inside the base64, mid-quantum
    cases["mime_unterminated.eml"] = whole[:cut]
    end = whole.index(b"\r\n--", cut)
    cases["mime_truncated_base64.eml"] = whole[:cut] + b"\r\n" + whole[end:]
    cases["mime_huge_header.eml"] = mail("mime_huge_header", text_part("x\n"),
                                         subject="A" * (300 * 1024))
    nested = text_part("profond\n")
    for depth in range(200):
        nested = multipart("mixed", [nested], f"=_d{depth}_")
    cases["mime_deep_nesting.eml"] = mail("mime_deep_nesting", nested)
    cases["mime_many_parts.eml"] = mail("mime_many_parts", multipart(
        "mixed", [text_part(f"partie {i}\n") for i in range(2000)], "=_many_"))

    add_issue12_cases(cases, ldl, ldl_zip)

    for name, data in cases.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
    print(f"{len(cases)} messages written to {out_dir}")


if __name__ == "__main__":
    main()
