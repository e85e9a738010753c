#!/usr/bin/env python3
"""Writes hostile and invalid XML test cases for the CDA / METADATA.XML reader into a directory.

Usage: make_xml_cases.py OUT_DIR

Generated rather than committed: a script says what each case is, and the big ones would be blobs.
Standard library only, deterministic. Expected outcomes (tests/unit/parse/cda/xml_test.cpp):

  xxe.xml                       xml-doctype-forbidden   external entity SYSTEM "file:///etc/passwd"
  external_parameter_entity.xml xml-doctype-forbidden   %ext; SYSTEM "http://127.0.0.1:9/evil.dtd"
  billion_laughs.xml            xml-doctype-forbidden   10 levels of 10 entity references
  doctype_after_comment.xml     xml-doctype-forbidden   DOCTYPE after a comment and a PI
  doctype_utf16.xml             xml-doctype-forbidden   UTF-16 with BOM (the lexical handler's case)
  deep_nesting.xml              xml-too-complex         10,000 nested elements
  many_elements.xml             xml-too-complex         1,000,001 empty elements
  huge_attribute.xml            xml-too-complex         one 2 MiB attribute value
  huge_text.xml                 xml-too-complex         one 50 MB text node (written in chunks)
  malformed.xml                 xml-malformed           mismatched end tag on line 3
  non_cda_root.xml              cda-invalid             a FHIR Bundle in XML
  cda_no_record_target.xml      cda-record-target-missing
  cda_null_flavor_id.xml        cda-patient-id-missing  recordTarget ids with nullFlavor only
"""

import os
import sys

CDA_NS = "urn:hl7-org:v3"


def write(out_dir, name, data):
    path = os.path.join(out_dir, name)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def cda(record_target):
    """A small header-complete CDA around the given recordTarget XML (may be empty)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="{CDA_NS}">
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="1.2.250.1.213.1.1.1.1"/>
  <id root="1.2.250.1.999.1.1.1" extension="HOSTILE-1"/>
  <code code="11490-0" codeSystem="2.16.840.1.113883.6.1"/>
  <title>Cas de test</title>
  <effectiveTime value="20240101"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  {record_target}
  <author><time value="20240101"/><assignedAuthor><id root="1.2.250.1.71.4.2.1" extension="810001234567"/></assignedAuthor></author>
  <custodian><assignedCustodian><representedCustodianOrganization><id root="1.2.250.1.71.4.2.2" extension="1990000017"/></representedCustodianOrganization></assignedCustodian></custodian>
  <component><structuredBody><component><section><title>S</title><text>T</text></section></component></structuredBody></component>
</ClinicalDocument>
"""


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_xml_cases.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    write(out, "xxe.xml", f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE ClinicalDocument [
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<ClinicalDocument xmlns="{CDA_NS}"><title>&xxe;</title></ClinicalDocument>
""")

    write(out, "external_parameter_entity.xml", f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE ClinicalDocument [
  <!ENTITY % ext SYSTEM "http://127.0.0.1:9/evil.dtd">
  %ext;
]>
<ClinicalDocument xmlns="{CDA_NS}"><title>&exfil;</title></ClinicalDocument>
""")

    lol = ['<!ENTITY lol0 "lol">']
    for i in range(1, 10):
        lol.append(f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">')
    write(out, "billion_laughs.xml", '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n  ' +
          "\n  ".join(lol) + f'\n]>\n<ClinicalDocument xmlns="{CDA_NS}"><title>&lol9;</title>'
          "</ClinicalDocument>\n")

    write(out, "doctype_after_comment.xml", f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- a harmless-looking comment -->
<?xml-stylesheet type="text/xsl" href="cda.xsl"?>
<!DOCTYPE ClinicalDocument SYSTEM "http://127.0.0.1:9/cda.dtd">
<ClinicalDocument xmlns="{CDA_NS}"/>
""")

    utf16 = f"""<?xml version="1.0" encoding="UTF-16"?>
<!DOCTYPE ClinicalDocument [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ClinicalDocument xmlns="{CDA_NS}"><title>&xxe;</title></ClinicalDocument>
"""
    write(out, "doctype_utf16.xml", utf16.encode("utf-16"))  # with BOM

    depth = 10_000
    write(out, "deep_nesting.xml", f'<ClinicalDocument xmlns="{CDA_NS}">' + "<a>" * depth +
          "</a>" * depth + "</ClinicalDocument>\n")

    with open(os.path.join(out, "many_elements.xml"), "w", encoding="ascii") as f:
        f.write(f'<ClinicalDocument xmlns="{CDA_NS}">')
        chunk = "<a/>" * 10_000
        for _ in range(100):
            f.write(chunk)
        f.write("<a/></ClinicalDocument>\n")  # 1,000,001 + root

    write(out, "huge_attribute.xml",
          f'<ClinicalDocument xmlns="{CDA_NS}" a="' + "x" * (2 << 20) + '"/>\n')

    with open(os.path.join(out, "huge_text.xml"), "w", encoding="ascii") as f:
        f.write(f'<ClinicalDocument xmlns="{CDA_NS}"><title>')
        chunk = "A" * (1 << 20)
        for _ in range(50):
            f.write(chunk)
        f.write("</title></ClinicalDocument>\n")

    write(out, "malformed.xml", f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="{CDA_NS}">
  <title>Titre</titel>
</ClinicalDocument>
""")

    write(out, "non_cda_root.xml", """<?xml version="1.0" encoding="UTF-8"?>
<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/></Bundle>
""")

    write(out, "cda_no_record_target.xml", cda(""))
    write(out, "cda_null_flavor_id.xml", cda("""<recordTarget><patientRole>
    <id nullFlavor="UNK"/>
    <id root="1.2.250.1.213.1.4.10" nullFlavor="MSK"/>
    <patient><name><family qualifier="BR">FICTIF</family></name></patient>
  </patientRole></recordTarget>"""))

    print(f"make_xml_cases: wrote {len(os.listdir(out))} files to {out}")


if __name__ == "__main__":
    main()
