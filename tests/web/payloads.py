"""Attack payloads as an attacker writes them into our logs: the XSS requests of the CRS regression
corpus (the 941 family, read in place), template-injection strings and terminal escapes, carried in
ModSecurity (libmodsecurity 3 JSON) transactions that the real parser and the rule pack turn into events,
alerts and an incident."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import yaml

from tests.components import CORPORA

CRS_XSS = CORPORA / "crs-regression" / "REQUEST-941-APPLICATION-ATTACK-XSS"
ATTACKER = "198.51.100.77"
TEMPLATE_INJECTION = ("{{7*7}}", "${7*7}", "{% raw %}{{ config }}{% endraw %}", "#{7*7}")
TERMINAL_ESCAPES = ("\x1b[31mRED\x1b[0m", "\x1b]0;owned\x07", "\x9b2J")
MARK = "EGOVXSS"
"""In every payload, so a test can find the events and alerts that carry one."""


def crs_xss(limit: int = 12) -> list[str]:
    """Decoded `uri` and header values of the 941 tests that look like markup or script."""
    found: list[str] = []
    for path in sorted(CRS_XSS.glob("*.yaml")):
        for test in yaml.safe_load(path.read_text(encoding="utf-8")).get("tests", []):
            for stage in test.get("stages", []):
                given = stage.get("stage", {}).get("input", {})
                for value in [given.get("uri", ""), *(given.get("headers") or {}).values()]:
                    text = unquote_plus(str(value))
                    markup = "<" in text and ("script" in text.lower() or "on" in text.lower())
                    if markup and text not in found:
                        found.append(text)
    return found[:limit]


def payloads() -> list[str]:
    return [f"{MARK}{n} {p}" for n, p in enumerate([*crs_xss(), *TEMPLATE_INJECTION, *TERMINAL_ESCAPES])]


def modsecurity_log(items: list[str]) -> str:
    """One blocked transaction per payload: in the URI, the User-Agent and the rule's matched data."""
    lines = []
    for n, payload in enumerate(items):
        transaction = {
            "client_ip": ATTACKER, "time_stamp": f"Sun Nov 22 11:{10 + n // 60:02d}:{n % 60:02d} 2026",
            "server_id": "0" * 40, "client_port": 40000 + n, "host_ip": "198.51.100.5", "host_port": 443,
            "unique_id": f"1763780795{n:02d}.000001",
            "request": {"method": "GET", "http_version": 1.1, "uri": f"/search?q={payload}",
                        "headers": {"Host": "zwfw.example.gov.cn", "User-Agent": payload}, "body": ""},
            "response": {"body": "", "http_code": 403, "headers": {}},
            "producer": {"modsecurity": "ModSecurity v3.0.12 (Linux)", "secrules_engine": "Enabled",
                         "components": ["OWASP_CRS/3.3.4"]},
            "messages": [{"message": f"XSS Attack Detected via libinjection {payload}", "details": {
                "match": "detected XSS using libinjection.", "reference": "", "ruleId": "941100",
                "file": "/etc/nginx/crs/rules/REQUEST-941-APPLICATION-ATTACK-XSS.conf", "lineNumber": "55",
                "data": f"Matched Data: XSS data found within ARGS:q: {payload}", "severity": "2",
                "ver": "OWASP_CRS/3.3.4", "rev": "", "tags": ["attack-xss", "paranoia-level/1"],
                "maturity": "0", "accuracy": "0"}}],
        }
        lines.append(json.dumps({"transaction": transaction}, ensure_ascii=False))
    return "\n".join(lines) + "\n"
