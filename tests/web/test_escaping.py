"""Everything the console shows comes from logs attackers write: XSS from the CRS regression corpus,
template-injection strings and terminal escapes, stored by the real pipeline, must show as text in real
Chromium and never run, and evidence downloads must not leave the evidence directory."""

from __future__ import annotations

import http.client
from urllib.parse import quote, urlsplit

import orjson
from playwright.sync_api import Browser, Dialog, Page

from egovops.web.console.rendering import visible
from secops.events import utc_now
from secops.incidents import open_cases
from secops.incidents.schema import Evidence
from tests.web.conftest import Console, log_in
from tests.web.payloads import ATTACKER, MARK, payloads

INJECTED = "script, iframe, img, object, embed, svg script, x\\:script, [src^='data:']"
HANDLERS = "() => [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length"  # noqa: E501


def squeeze(text: str) -> str:
    return " ".join(text.split())


def attacker_incident(page: Page) -> str:
    page.goto("/incidents")
    return str(page.locator("#incidents tr", has_text=ATTACKER).locator("a").first.get_attribute("href"))


def test_attack_payloads_show_as_text_and_never_run(console: Console, browser: Browser) -> None:
    page = log_in(browser, console, "analyst1")
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    incident = attacker_incident(page)
    shown_on: dict[str, str] = {}
    for path in (f"/events?field=source.ip%3D{ATTACKER}", "/alerts", "/incidents", incident):
        page.goto(path)
        page.locator("details").evaluate_all("all => all.forEach(d => d.open = true)")
        assert page.locator(INJECTED).count() == 0, path
        assert page.evaluate(HANDLERS) == 0, path
        shown_on[path] = squeeze(page.locator("main").inner_text())
    assert dialogs == []
    for path in (f"/events?field=source.ip%3D{ATTACKER}", incident):
        text = shown_on[path]
        for payload in payloads():
            assert squeeze(visible(payload)[:40]) in text, (path, payload)  # the message (cut when long)
            assert squeeze(visible(orjson.dumps(payload).decode())) in text, (path, payload)  # the document
        assert f"{MARK}6 {{{{7*7}}}}" in text and f"{MARK}6 49" not in text  # Jinja did not evaluate it
        assert f"{MARK}10 \\x1b[31mRED\\x1b[0m" in text  # the escape is shown, not sent to a terminal
    assert ATTACKER in shown_on["/alerts"]


def test_search_text_cannot_inject_into_the_query(console: Console, browser: Browser) -> None:
    page = log_in(browser, console, "analyst1")
    for text in ('zzqx" OR 1=1 --', "zzqx') UNION SELECT doc FROM events --", 'zzqx" OR "egovxss0', "zzqx*"):
        page.goto(f"/events?q={quote(text)}")
        assert page.locator("#events tr").count() == 2, text  # header and "nothing here": bound, not spliced
        assert page.locator(".error").count() == 0


def raw_get(console: Console, page: Page, path: str) -> int:
    """GET a path exactly as written, with the page's session: browsers and Playwright resolve `..` and
    `%2E%2E` before sending, so only a raw request shows what the server does with them."""
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    host, port = urlsplit(console.url).hostname, urlsplit(console.url).port
    connection = http.client.HTTPConnection(str(host), port, timeout=10)
    try:
        connection.request("GET", path, headers={"Cookie": cookies})
        return connection.getresponse().status
    finally:
        connection.close()


def test_evidence_downloads_stay_in_the_evidence_directory(console: Console, browser: Browser) -> None:
    page = log_in(browser, console, "analyst1")
    number = int(attacker_incident(page).rsplit("/", 1)[1])
    inside = console.home / "var" / "evidence" / "cut.pcap"
    inside.parent.mkdir(parents=True, exist_ok=True)
    inside.write_bytes(b"\xd4\xc3\xb2\xa1pcap")
    outside = console.home / "secret.pcap"
    outside.write_bytes(b"not for download")
    with open_cases(f"sqlite:///{console.home / 'var' / 'egovops.db'}") as cases, cases.writing() as session:
        for ref in (inside, outside, console.home / "var" / "evidence" / ".." / ".." / "secret.pcap"):
            session.add(Evidence(incident_id=number, kind="pcap", ref=str(ref), collected_at=utc_now(),
                                 timestamp=None, detail={}))
    base = f"/incidents/{number}/evidence"
    assert page.request.get(f"{base}/cut.pcap").body() == inside.read_bytes()
    assert raw_get(console, page, f"{base}/cut.pcap") == 200  # the raw request carries the session
    for name in ("secret.pcap", "..", "..%2F..%2Fsecret.pcap", "..%2f..%2f..%2fetc%2fpasswd", "%2Fetc"):
        assert raw_get(console, page, f"{base}/{name}") == 404, name
