"""The PDF report (WeasyPrint, Noto CJK fonts) from the Jinja2 template in `templates/`.

The assessment id and the SM3 digest are in the document's Keywords metadata
(`sm3:<hex> assessment:<id>`) and in the overview table. Rendering is deterministic (creation and
modification dates are the assessment's), so `differences` compares the file byte for byte with a fresh
rendering of the stored assessment — which assumes the same WeasyPrint and fonts as when it was written.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from secops.compliance.report import layout
from secops.compliance.report.formats import Format, ReportFileError, Stamp
from secops.compliance.report.model import Report

_KEYWORDS = re.compile(rb"/Keywords\s*(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>)")
_OBJECT_STREAM = re.compile(rb"<<([^<>]*?/Type\s*/ObjStm[^<>]*?)>>\s*stream\r?\n")
_STAMP = re.compile(r"sm3:([0-9a-f]{64}) assessment:(.+)", re.S)


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
        advice_columns=layout.ADVICE_COLUMNS,
    )


def render(report: Report) -> bytes:
    from weasyprint import HTML  # type: ignore[import-untyped]  # WeasyPrint ships no type hints

    pdf: bytes = HTML(string=html(report)).write_pdf()  # without a target it returns the bytes
    return pdf


def write(report: Report, path: Path) -> None:
    path.write_bytes(render(report))


def stamp(path: Path) -> Stamp:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportFileError(f"{path}: cannot read the PDF report: {exc.strerror}") from exc
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
    if path.read_bytes() == render(report):
        return []
    return ["the PDF differs from a rendering of the stored assessment (edited, or rendered with another "
            "WeasyPrint or font version: compare the JSON or XLSX report, which do not depend on them)"]


FORMAT = Format("pdf", write, stamp, differences)
