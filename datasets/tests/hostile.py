"""A deterministic generator of hostile and malformed upload files (SECURITY.md §3.7).

Each function writes one file into ``directory`` and returns its path. Nothing is random except
through a fixed seed, so every run produces the same bytes.
"""

from __future__ import annotations

import gzip
import io
import random
import struct
import zipfile
import zlib
from pathlib import Path
from xml.sax.saxutils import escape

from datasets.ingest import errors as E

PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SIMPLE_CSV = b"name,amount,signup\nAlice,10,2024-01-05\nBob,20,2024-02-06\nCarol,30,2024-03-07\n"

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def write(directory: Path, name: str, data: bytes) -> Path:
    path = Path(directory) / name
    path.write_bytes(data)
    return path


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


# --- structural --------------------------------------------------------------------------------
def empty(d: Path) -> Path:
    return write(d, "empty.csv", b"")


def whitespace_only(d: Path) -> Path:
    return write(d, "blank.csv", b"   \n\t\n  \r\n\n")


def header_only(d: Path) -> Path:
    return write(d, "header.csv", b"name,amount,signup\n")


def ragged(d: Path) -> Path:
    # line 3: too few fields; line 4: too many; line 5: an extra *empty* field (Excel does this).
    return write(d, "ragged.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12,\n13,14,15\n")


def one_column(d: Path) -> Path:
    return write(d, "one.csv", b"email\na@example.com\nb@example.com\nc@example.com\n")


def many_columns(d: Path, n: int = 1000) -> Path:
    header = ",".join(f"c{i}" for i in range(n))
    rows = [",".join(str(r * n + i) for i in range(n)) for r in range(3)]
    return write(d, "wide.csv", ("\n".join([header, *rows]) + "\n").encode())


def unterminated_quote(d: Path) -> Path:
    return write(d, "unterminated.csv", b'name,note\nAlice,ok\nBob,"never closed\nCarol,fine\n')


def unterminated_quote_quoted(d: Path) -> Path:
    """Quotes are used properly elsewhere, so the dialect has a quote character and the quote
    opened on line 3 is still open at the end of the file."""
    return write(d, "unterminated2.csv", b'name,note\n"Alice","ok"\n"Bob","never closed\nno closing quote\n')


def gzip_ratio_bomb(d: Path) -> Path:
    return gzip_bomb(d, size=16 * 1024 * 1024)


def embedded_newlines(d: Path) -> Path:
    # RFC 4180: quoted fields may hold newlines and doubled quotes. Line 6 is ragged: its line
    # number must account for the two embedded newlines above it.
    data = b'id,note\n1,"first line\nsecond line"\n2,"say ""hi"""\n3,"a\r\nb"\n4,x,extra\n5,end\n'
    return write(d, "rfc4180.csv", data)


def cr_only(d: Path) -> Path:
    return write(d, "cr.csv", b"a,b\r1,2\r3,4\r5,6\r")


def mixed_line_endings(d: Path) -> Path:
    return write(d, "mixed_eol.csv", b"a,b\r\n1,2\n3,4\r5,6\r\n")


def big_field(d: Path, size: int = 200 * 1024) -> Path:
    return write(d, "bigfield.csv", b"id,blob\n1," + b"x" * size + b"\n2,small\n")


def long_line_gz(d: Path, size: int = 8 * 1024 * 1024) -> Path:
    """A newline-free payload: the 2 GiB one-line file, scaled down (the test lowers the limit)."""
    return write(d, "oneline.csv.gz", _gzip(b"a" * size))


# --- encodings ---------------------------------------------------------------------------------
def nul_bytes(d: Path) -> Path:
    return write(d, "nul.csv", b"name,amount\nAl\x00ice,10\nBob,2\x000\n")


def mixed_utf8_latin1(d: Path) -> Path:
    return write(d, "mixed_enc.csv", "name,city\nMüller,Köln\n".encode() + "Jörg,Málaga\n".encode("latin-1"))


def cp1252(d: Path) -> Path:
    text = "name,price,note\n" + "".join(f"Café {i},{i}€,“quoted” naïve\n" for i in range(40))
    return write(d, "cp1252.csv", text.encode("cp1252"))


def utf16(d: Path, endian: str) -> Path:
    text = "name,city\nZoë,Zürich\nAnaïs,Montréal\n"
    codec = {"le": "utf-16-le", "be": "utf-16-be"}[endian]
    bom = b"\xff\xfe" if endian == "le" else b"\xfe\xff"
    return write(d, f"utf16{endian}.csv", bom + text.encode(codec))


def utf8_bom(d: Path) -> Path:
    return write(d, "bom.csv", b"\xef\xbb\xbf" + "name,amount\nRenée,5\n".encode())


def semicolon_decimal_comma(d: Path) -> Path:
    return write(d, "eu.csv", b"name;amount;rate\nA;1.234,50;0,5\nB;12,00;1,25\nC;7,5;2\n")


# --- binary and type mismatch ---------------------------------------------------------------------
def binary_garbage(d: Path) -> Path:
    rng = random.Random(4)
    data = bytes(rng.randrange(256) for _ in range(64 * 1024))
    return write(d, "garbage.csv", b"\x01\x02" + data)  # never a known magic


def png_as_csv(d: Path) -> Path:
    return write(d, "photo.csv", PNG_HEADER + bytes(100))


def zip_as_csv(d: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export/data.csv", SIMPLE_CSV)
        archive.writestr("__MACOSX/export/._data.csv", b"junk")
    return write(d, "archive.csv", buffer.getvalue())


def csv_as_gz(d: Path) -> Path:
    return write(d, "data.csv.gz", SIMPLE_CSV)


def csv_as_xlsx(d: Path) -> Path:
    return write(d, "data.xlsx", SIMPLE_CSV)


def ole2_garbage(d: Path) -> Path:
    return write(d, "broken.xls", OLE2_MAGIC + bytes(4096))


def ole2_with_macros(d: Path) -> Path:
    return write(d, "macro.xls", OLE2_MAGIC + bytes(512) + "_VBA_PROJECT".encode("utf-16-le") + bytes(512))


# --- gzip ----------------------------------------------------------------------------------------
def gzip_bomb(d: Path, size: int = 64 * 1024 * 1024) -> Path:
    """Small on disk (~64 KiB), ``size`` bytes once inflated; the ISIZE trailer is honest here,
    but the reader never looks at it anyway."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    chunk = (b"0" * 1023 + b"\n") * 1024  # 1 MiB of 1 KiB lines
    parts = [compressor.compress(b"a,b\n")]
    parts += [compressor.compress(chunk) for _ in range(size >> 20)]
    parts.append(compressor.flush())
    return write(d, "bomb.csv.gz", b"".join(parts))


def gzip_truncated(d: Path) -> Path:
    data = _gzip(SIMPLE_CSV * 50)
    return write(d, "truncated.csv.gz", data[: len(data) // 2])


def gzip_bad_crc(d: Path) -> Path:
    data = bytearray(_gzip(SIMPLE_CSV))
    data[-8:-4] = struct.pack("<I", (zlib.crc32(SIMPLE_CSV) ^ 0xFFFFFFFF) & 0xFFFFFFFF)
    return write(d, "badcrc.csv.gz", bytes(data))


def gzip_nested(d: Path) -> Path:
    return write(d, "nested.csv.gz", _gzip(_gzip(SIMPLE_CSV)))


def gzip_multi_member(d: Path) -> Path:
    first = b"name,amount\nAlice,10\n"
    second = b"Bob,20\nCarol,30\n"
    return write(d, "multi.csv.gz", _gzip(first) + _gzip(second))


def gzip_trailing_garbage(d: Path) -> Path:
    return write(d, "trailing.csv.gz", _gzip(SIMPLE_CSV) + b"this is not gzip")


# --- zip ------------------------------------------------------------------------------------------
def zip_slip(d: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/evil.csv", SIMPLE_CSV)
    return write(d, "slip.zip", buffer.getvalue())


def zip_two_files(d: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", SIMPLE_CSV)
        archive.writestr("b.csv", SIMPLE_CSV)
    return write(d, "two.zip", buffer.getvalue())


def zip_many_entries(d: Path, n: int = 3000) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(n):
            archive.writestr(f"dir{i}/", b"")
    return write(d, "many.zip", buffer.getvalue())


# --- xlsx (built by hand: openpyxl cannot write cached formula values) ----------------------------
def _cell_xml(ref: str, value) -> str:
    if isinstance(value, tuple):  # (formula, cached value)
        formula, cached = value
        return f'<c r="{ref}"><f>{escape(formula)}</f><v>{cached}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def _sheet_xml(rows: list[list]) -> str:
    body = []
    for r, row in enumerate(rows, start=1):
        cells = "".join(_cell_xml(f"{chr(65 + c)}{r}", v) for c, v in enumerate(row))
        body.append(f'<row r="{r}">{cells}</row>')
    rows_xml = "".join(body)
    return f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN_NS}"><sheetData>{rows_xml}</sheetData>' + (
        "</worksheet>"
    )


def xlsx_bytes(sheets: dict[str, list[list]], extra: dict[str, bytes] | None = None) -> bytes:
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{overrides}</Types>"
    )
    root_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG_REL_NS}">'
        f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    sheet_entries = "".join(
        f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>' for i, name in enumerate(sheets, start=1)
    )
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
        f"<sheets>{sheet_entries}</sheets></workbook>"
    )
    workbook_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG_REL_NS}">'
        + "".join(
            f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        + "</Relationships>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", root_rels)
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        for i, rows in enumerate(sheets.values(), start=1):
            archive.writestr(f"xl/worksheets/sheet{i}.xml", _sheet_xml(rows))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def xlsx_formulas(d: Path) -> Path:
    rows = [["item", "qty", "price", "total"], ["pen", 2, 1.5, ("B2*C2", 3)], ["ink", 4, 2.25, ("B3*C3", 9)]]
    return write(d, "formulas.xlsx", xlsx_bytes({"Orders": rows}))


def xlsx_two_sheets(d: Path) -> Path:
    first = [["name", "amount"], ["a", 1], ["b", 2]]
    second = [["name", "amount"], ["x", 10], ["y", 20], ["z", 30]]
    return write(d, "two_sheets.xlsx", xlsx_bytes({"First": first, "Second": second}))


def xlsx_with_vba(d: Path) -> Path:
    rows = [["name"], ["a"]]
    return write(d, "macro.xlsx", xlsx_bytes({"S": rows}, extra={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0vba"}))


def xlsx_zip_slip(d: Path) -> Path:
    rows = [["name"], ["a"]]
    return write(d, "slip.xlsx", xlsx_bytes({"S": rows}, extra={"../../evil.xml": b"<x/>"}))


# --- types ------------------------------------------------------------------------------------------
def leading_zeros(d: Path) -> Path:
    return write(d, "zips.csv", b"name,zip,account\nA,02134,007\nB,90210,123\nC,00501,042\n")


def nan_infinity(d: Path) -> Path:
    return write(d, "nan.csv", b"id,score\n1,1.5\n2,NaN\n3,Infinity\n4,-inf\n5,2.5\n")


def impossible_dates(d: Path) -> Path:
    return write(d, "dates.csv", b"id,signup\n1,2024-01-31\n2,2024-02-30\n3,2023-02-29\n4,2024-02-29\n")


def metadata_above_header(d: Path) -> Path:
    data = b"Report: weekly visitors\nExported 2024-05-01 by admin\n\nemail,visits\na@x.com,3\nb@x.com,4\n"
    return write(d, "meta.csv", data)


def duplicates(d: Path) -> Path:
    return write(d, "dups.csv", b"a,b\n1,2\n1,2\n3,4\n1,2\n")


# Every generated file the engine must refuse, with its error code; the engine tests and the
# pipeline tests both walk this one list.
REFUSED_CASES = [
    (empty, E.EMPTY_FILE),
    (whitespace_only, E.NO_DATA),
    (header_only, E.NO_DATA),
    (binary_garbage, E.BINARY_CONTENT),
    (png_as_csv, E.UNSUPPORTED_BINARY),
    (ole2_garbage, E.SPREADSHEET_UNREADABLE),
    (ole2_with_macros, E.MACROS_NOT_ALLOWED),
    (gzip_bomb, E.DECOMPRESSION_LIMIT),
    (gzip_truncated, E.GZIP_TRUNCATED),
    (gzip_bad_crc, E.GZIP_CORRUPT),
    (gzip_trailing_garbage, E.GZIP_CORRUPT),
    (gzip_nested, E.NESTED_ARCHIVE),
    (long_line_gz, E.FIELD_TOO_LARGE),
    (zip_slip, E.ZIP_UNSAFE_PATH),
    (zip_two_files, E.ZIP_MULTIPLE_FILES),
    (zip_many_entries, E.ZIP_TOO_MANY_ENTRIES),
    (xlsx_with_vba, E.MACROS_NOT_ALLOWED),
    (xlsx_zip_slip, E.ZIP_UNSAFE_PATH),
]
