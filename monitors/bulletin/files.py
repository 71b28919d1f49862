"""Write a bulletin's PDF and XLSX into a directory and describe them (path, bytes, SM3), with the
figures of each section, for `egovops bulletin --json`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes

from monitors.bulletin import as_pdf, as_xlsx
from monitors.bulletin.gather import Bulletin, incidents_by_state_zh


def sm3(path: Path) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(path.read_bytes())
    return digest.finalize().hex()


def write_bulletin(bulletin: Bulletin, directory: Path) -> list[dict[str, Any]]:
    """`月度通报-YYYY-MM.pdf` and `.xlsx` in `directory` (made if missing); each file's path, size, SM3."""
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for suffix, write in ((".pdf", as_pdf.write), (".xlsx", as_xlsx.write)):
        path = directory / f"月度通报-{bulletin.month}{suffix}"
        write(bulletin, path)
        files.append({"path": str(path), "bytes": path.stat().st_size, "sm3": sm3(path)})
    return files


def summary(bulletin: Bulletin) -> dict[str, Any]:
    """Every section's figures as data (ratios 0–1)."""
    s = bulletin.security
    return {
        "indicators": [asdict(r) | {"change": r.change} for r in bulletin.indicators],
        "ranking": {
            "target": bulletin.ranking_target,
            "metered_at": bulletin.metered_at.isoformat() if bulletin.metered_at else None,
            "departments": [
                {"rank": u.rank, "department": u.department, "title": u.title, **u.ratios}
                for u in bulletin.ranking
            ],
        },
        "security": asdict(s)
        | {
            "attacks_blocked": s.attacks_blocked,
            "incidents_by_state": dict(s.incidents_by_state),
            "incidents_by_state_zh": dict(incidents_by_state_zh(s.incidents_by_state)),
        },
        "drills": None
        if bulletin.drills is None
        else [run.model_dump(mode="json") for run in bulletin.drills],
        "assessments": {
            "done": [_line(a) for a in bulletin.done],
            "due": [_line(a) for a in bulletin.due],
        },
        "trend": [{"id": t.id, "name": t.name, "points": t.points} for t in bulletin.trend],
    }


def _line(line: Any) -> dict[str, Any]:
    data: dict[str, Any] = asdict(line)
    return data | {k: v.isoformat() for k, v in data.items() if hasattr(v, "isoformat")}
