"""The PDF report (WeasyPrint, Noto Sans CJK) from the Jinja2 template in `templates/`.

The assessment id and the SM3 digest of the report model are in the document's Keywords metadata
(`sm3:<hex> assessment:<id>`) and in the overview table. After WeasyPrint's `%%EOF` the writer appends a
seal, `%egovops-seal sm3:<hex>` and a closing `%%EOF`: the SM3 of every byte before the seal line. So
`differences` needs no rendering: a byte changed, removed or appended (an incremental update) breaks the
seal, and `verify` compares the Keywords digest with the stored assessment's. The seal is not a
signature: it shows the file is as egovops wrote it, not who wrote it.
"""

from __future__ import annotations

import re
import zlib
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from jinja2 import Environment, PackageLoader, select_autoescape

from secops.compliance.report import layout
from secops.compliance.report.formats import Format, ReportFileError, Stamp
from secops.compliance.report.model import Report

_KEYWORDS = re.compile(rb"/Keywords\s*(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>)")
_OBJECT_STREAM = re.compile(rb"<<([^<>]*?/Type\s*/ObjStm[^<>]*?)>>\s*stream\r?\n")
_STAMP = re.compile(r"sm3:([0-9a-f]{64}) assessment:(.+)", re.S)
_SEAL = re.compile(rb"%egovops-seal sm3:([0-9a-f]{64})\n%%EOF\n\Z")


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("secops.compliance", "templates"),
                      autoescape=select_autoescape(["html.j2", "css.j2"], default_for_string=True))
    env.filters.update(item_cells=layout.item_cells, problem_cells=layout.problem_cells)
    return env


def html(report: Report) -> str:
    digest = report.digest()
    return _environment().get_template("report.html.j2").render(
        report=report, title=layout.TITLE, sections=layout.SECTIONS,
        keywords=f"sm3:{digest} assessment:{report.assessment_id}",
        overview=layout.overview(report, digest), conclusion=layout.conclusion(report),
        advised=layout.advised(report), category_heading=layout.category_heading,
        item_columns=layout.ITEM_COLUMNS, problem_columns=layout.PROBLEM_COLUMNS,
    )


@cache
def _report_html() -> Any:
    """WeasyPrint's `HTML` with `templates/report-ua.css.j2` as its user-agent stylesheet.

    `_ua_stylesheets` is WeasyPrint's own hook, not public API: should a release drop it, the override is
    never called and the report renders with the full HTML5 sheet (slower, and with its 8 px body margin).
    """
    from weasyprint import CSS, HTML  # type: ignore[import-untyped]  # WeasyPrint ships no type hints

    user_agent = CSS(string=_environment().get_template("report-ua.css.j2").render())

    class ReportHTML(HTML):  # type: ignore[misc]  # HTML is untyped
        def _ua_stylesheets(self, forms: bool = False) -> list[Any]:
            return [user_agent]

    return ReportHTML


def render(report: Report) -> bytes:
    """WeasyPrint's PDF followed by the seal over it."""
    pdf: bytes = _report_html()(string=html(report)).write_pdf()  # without a target it returns the bytes
    return pdf + b"%egovops-seal sm3:" + _sm3(pdf).encode() + b"\n%%EOF\n"


def _sm3(data: bytes) -> str:
    sm3 = hashes.Hash(hashes.SM3())
    sm3.update(data)
    return sm3.finalize().hex()


def write(report: Report, path: Path) -> None:
    path.write_bytes(render(report))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ReportFileError(f"{path}: cannot read the PDF report: {exc.strerror}") from exc


def stamp(path: Path) -> Stamp:
    data = _read(path)
    for chunk in (data, *_object_streams(data)):
        found = _KEYWORDS.search(chunk)
        if found and (match := _STAMP.fullmatch(_pdf_string(found.group(1)))):
            return Stamp(match.group(2), match.group(1))
    raise ReportFileError(f"{path}: no sm3/assessment Keywords metadata: not a report egovops wrote")


def _object_streams(data: bytes) -> list[bytes]:
    """The PDF's compressed object streams, where WeasyPrint puts the document information dictionary."""
    streams = []
    for match in _OBJECT_STREAM.finditer(data):
        length = re.search(rb"/Length\s+(\d+)", match.group(1))
        if length and b"/FlateDecode" in match.group(1):
            try:
                streams.append(zlib.decompress(data[match.end(): match.end() + int(length.group(1))]))
            except zlib.error:
                continue
    return streams


def _pdf_string(token: bytes) -> str:
    """A PDF literal `(…)` or hex `<FEFF…>` string as text."""
    if token.startswith(b"<"):
        raw = bytes.fromhex(re.sub(rb"\s", b"", token[1:-1]).decode())
        return raw[2:].decode("utf-16-be") if raw.startswith(b"\xfe\xff") else raw.decode("latin-1")
    return re.sub(rb"\\(.)", rb"\1", token[1:-1]).decode("latin-1")


def differences(path: Path, report: Report) -> list[str]:
    """Whether the file is byte for byte what egovops wrote; `report` (the stored assessment's) is matched
    through the Keywords digest by `verify`, so the PDF is never rendered again."""
    data = _read(path)
    seal = _SEAL.search(data)
    if seal is None:
        return ["the PDF does not end with egovops's seal: something was appended to it (an incremental "
                "update) or it was saved again by another program"]
    if _sm3(data[: seal.start()]) != seal.group(1).decode():
        return ["the PDF's bytes do not match the SM3 seal it ends with: it was edited after it was written"]
    return []


FORMAT = Format("pdf", write, stamp, differences)
