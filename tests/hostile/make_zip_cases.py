#!/usr/bin/env python3
"""Writes the IHE_XDM.ZIP test cases (one valid archive and hostile ones) into a directory.

Usage: make_zip_cases.py OUT_DIR

Generated rather than committed: the bombs would be binary blobs, and a script says what each case
is. Standard library only, deterministic (fixed timestamps, attributes and compression level), so
that two runs write identical bytes. Expected outcomes (tests/unit/parse/xdm/xdm_archive_test.cpp):

  valid.zip                 accepted: INDEX.HTM, README.TXT, IHE_XDM/SUBSET01/{METADATA.XML,DOC0001.XML}
  bomb.zip                  xdm-compression-ratio   200 MB of zeros, deflated, honest sizes
  lying_bomb.zip            xdm-declared-size-mismatch  same, headers patched to claim 1 KiB
  lying_short.zip           xdm-declared-size-mismatch  headers claim 100 MB, data is 100 bytes
  many_entries.zip          xdm-too-many-entries    5,000 tiny entries
  unsafe_*.zip              xdm-unsafe-path         traversal, absolute, drive, backslash, NUL, control
  symlink.zip               xdm-symlink             Unix symlink entry (S_IFLNK in external attributes)
  encrypted.zip             xdm-encrypted           general purpose bit 0 set, garbage data
  truncated.zip             xdm-corrupt             valid.zip cut in half
  crc.zip                   xdm-corrupt             valid.zip with DOC0001.XML's CRC-32 flipped
  bad_method.zip            xdm-corrupt             valid.zip with DOC0001.XML's method set to 77
  not_zip/IHE_XDM.ZIP       xdm-not-zip             a PDF header and text
"""

import io
import os
import random
import struct
import sys
import zipfile

FIXED_TIME = (2024, 1, 16, 15, 11, 12)
MIB = 1024 * 1024

METADATA_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
    xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
  <rim:RegistryObjectList>
    <!-- placeholder: synthetic test content, no patient data -->
    <rim:ExtrinsicObject id="Document01" mimeType="text/xml"
        objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">
      <rim:Slot name="URI"><rim:ValueList><rim:Value>DOC0001.XML</rim:Value></rim:ValueList></rim:Slot>
    </rim:ExtrinsicObject>
    <rim:RegistryPackage id="SubmissionSet01"/>
  </rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
"""

DOC_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<ClinicalDocument xmlns="urn:hl7-org:v3">\n'
    b'  <!-- placeholder CDA R2 document, synthetic -->\n'
    b'  <title>Compte rendu de test</title>\n'
    + b"".join(b"  <component><section><text>Ligne %04d du document de test.</text></section></component>\n"
               % i for i in range(200))
    + b"</ClinicalDocument>\n"
)

INDEX_HTM = b"<html><body><p>IHE_XDM/SUBSET01: 1 document (DOC0001.XML)</p></body></html>\n"
README_TXT = b"liaison test fixture: synthetic IHE XDM archive, no patient data.\n"


def info(name, *, method=zipfile.ZIP_DEFLATED, mode=0o100644):
    zi = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    zi.compress_type = method
    zi.create_system = 3
    zi.external_attr = mode << 16
    return zi


def archive(entries, *, level=9):
    """entries: (ZipInfo or name, bytes). Returns the archive bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compresslevel=level) as zf:
        for name, data in entries:
            zf.writestr(name if isinstance(name, zipfile.ZipInfo) else info(name), data)
    return bytearray(buf.getvalue())


def valid_entries():
    return [
        ("INDEX.HTM", INDEX_HTM),
        ("README.TXT", README_TXT),
        (info("IHE_XDM/", method=zipfile.ZIP_STORED, mode=0o040755), b""),
        (info("IHE_XDM/SUBSET01/", method=zipfile.ZIP_STORED, mode=0o040755), b""),
        ("IHE_XDM/SUBSET01/METADATA.XML", METADATA_XML),
        ("IHE_XDM/SUBSET01/DOC0001.XML", DOC_XML),
    ]


# --- patching helpers: offsets per APPNOTE 4.3.7 (local header) and 4.3.12 (central header) ----

def central_records(data):
    """Yields (central_offset, local_offset, name) for each central directory record."""
    eocd = data.rindex(b"PK\x05\x06")
    count, _size, offset = struct.unpack_from("<HII", data, eocd + 10)
    pos = offset
    for _ in range(count):
        assert data[pos:pos + 4] == b"PK\x01\x02"
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        local = struct.unpack_from("<I", data, pos + 42)[0]
        yield pos, local, bytes(data[pos + 46:pos + 46 + name_len])
        pos += 46 + name_len + extra_len + comment_len


def record_of(data, name):
    for central, local, n in central_records(data):
        if n == name:
            return central, local
    raise KeyError(name)


def patch(data, name, *, local_off, central_off, fmt, value=None, xor=None):
    central, local = record_of(data, name)
    for pos in (local + local_off, central + central_off):
        if xor is not None:
            value = struct.unpack_from(fmt, data, pos)[0] ^ xor
        struct.pack_into(fmt, data, pos, value)


def set_uncompressed_size(data, name, size):
    patch(data, name, local_off=22, central_off=24, fmt="<I", value=size)


def replace_name_byte(data, name, old, new):
    central, local = record_of(data, name)
    i = name.index(old)
    data[local + 30 + i] = new
    data[central + 46 + i] = new


def zero_bomb(name, megabytes):
    """One deflated entry of `megabytes` MiB of zeros, written streaming (1 MiB at a time)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compresslevel=9) as zf:
        with zf.open(info(name), "w") as w:
            chunk = bytes(MIB)
            for _ in range(megabytes):
                w.write(chunk)
    return bytearray(buf.getvalue())


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "not_zip"), exist_ok=True)
    cases = {}

    valid = archive(valid_entries())
    cases["valid.zip"] = valid

    doc = b"IHE_XDM/SUBSET01/DOC0001.XML"
    cases["bomb.zip"] = zero_bomb(doc.decode(), 200)

    lying = zero_bomb(doc.decode(), 200)
    set_uncompressed_size(lying, doc, 1024)
    cases["lying_bomb.zip"] = lying

    short = archive([(doc.decode(), b"x" * 100)])
    set_uncompressed_size(short, doc, 100 * MIB)
    cases["lying_short.zip"] = short

    cases["many_entries.zip"] = archive(
        [(info("IHE_XDM/SUBSET01/F%05d.TXT" % i, method=zipfile.ZIP_STORED), b"x") for i in range(5000)])

    for case, name in [("unsafe_parent.zip", "../../etc/passwd"),
                       ("unsafe_absolute.zip", "/etc/passwd"),
                       ("unsafe_inner_parent.zip", "IHE_XDM/../../x"),
                       ("unsafe_drive.zip", "C:\\windows\\x"),
                       ("unsafe_backslash.zip", "a\\..\\b"),
                       ("unsafe_control.zip", "IHE_XDM/SUBSET01/DOC\x01.XML")]:
        cases[case] = archive([("INDEX.HTM", INDEX_HTM), (name, b"pwned\n")])

    # zipfile cuts names at NUL, so write a placeholder byte and patch it in both headers.
    nul = archive([("INDEX.HTM", INDEX_HTM), ("IHE_XDM/SUBSET01/DOC0001.XML#.PDF", b"%PDF-1.4\n")])
    replace_name_byte(nul, b"IHE_XDM/SUBSET01/DOC0001.XML#.PDF", b"#", 0)
    cases["unsafe_nul.zip"] = nul

    cases["symlink.zip"] = archive([
        ("INDEX.HTM", INDEX_HTM),
        (info(doc.decode(), method=zipfile.ZIP_STORED, mode=0o120777), b"/etc/passwd"),
    ])

    garbage = random.Random(1234).randbytes(64)
    encrypted = archive([(info(doc.decode(), method=zipfile.ZIP_STORED), garbage)])
    patch(encrypted, doc, local_off=6, central_off=8, fmt="<H", xor=0x0001)
    cases["encrypted.zip"] = encrypted

    cases["truncated.zip"] = valid[:len(valid) // 2]

    crc = bytearray(valid)
    patch(crc, doc, local_off=14, central_off=16, fmt="<I", xor=0xFFFFFFFF)
    cases["crc.zip"] = crc

    bad_method = bytearray(valid)
    patch(bad_method, doc, local_off=8, central_off=10, fmt="<H", value=77)
    cases["bad_method.zip"] = bad_method

    cases[os.path.join("not_zip", "IHE_XDM.ZIP")] = (
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"This is a PDF, not an IHE XDM zip archive, whatever its name says.\n")

    for name, data in cases.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
