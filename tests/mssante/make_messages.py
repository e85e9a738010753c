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
import hashlib
import io
import os
import quopri
import re
import subprocess
import sys
import tempfile
import zipfile
from email.header import Header

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
    no_ins_doc = ldl.replace(
        f'<id root="1.2.250.1.213.1.4.10" extension="{INS_A}"/>'.encode(), b"")
    assert no_ins_doc != ldl
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

    for name, data in cases.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
    print(f"{len(cases)} messages written to {out_dir}")


if __name__ == "__main__":
    main()
