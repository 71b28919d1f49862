"""Commercial-cryptography evidence: TLS endpoints probed on 127.0.0.1 (one offering only strong suites,
one a weak suite and protocol), and the SM3 audit chain and SM4-GCM sealed secrets of egovops itself."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from egovops.audit import AuditTrail
from egovops.cli.common import Exit
from egovops.cli.main import app
from egovops.config import Settings
from egovops.security.sealed import SecretBox, load_key
from secops.compliance.evidence.crypto import (
    CryptoError,
    judge_sm_at_rest,
    judge_sm_integrity,
    judge_tls,
    load_crypto_rules,
    probe_tls,
)

AT = datetime(2026, 11, 22, tzinfo=UTC)
RULES = load_crypto_rules()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(AT - timedelta(days=1))
            .not_valid_after(AT + timedelta(days=999))
            .sign(key, hashes.SHA256()))  # fmt: skip
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    return folder / "cert.pem", folder / "key.pem"


def serve(context: ssl.SSLContext) -> Iterator[int]:
    """A TLS server on 127.0.0.1 that completes (or refuses) one handshake per connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(2)
            try:
                context.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


def server_context(certificate: tuple[Path, Path], low: ssl.TLSVersion, suites: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with warnings.catch_warnings():  # the weak server offers TLS 1.0 on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = low
    context.set_ciphers(suites)
    return context


@pytest.fixture(scope="module")
def strong(certificate: tuple[Path, Path]) -> Iterator[int]:
    yield from serve(server_context(certificate, ssl.TLSVersion.TLSv1_2, "ECDHE+AESGCM:ECDHE+CHACHA20"))


@pytest.fixture(scope="module")
def weak(certificate: tuple[Path, Path]) -> Iterator[int]:
    suites = "ECDHE+AESGCM:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"
    yield from serve(server_context(certificate, ssl.TLSVersion.TLSv1, suites))


def test_strong_endpoint_passes_and_says_sm_suites_were_not_probed(strong: int) -> None:
    probe = probe_tls("127.0.0.1", strong)
    assert probe.versions["TLSv1"] is None and probe.versions["TLSv1.1"] is None
    assert probe.versions["TLSv1.3"] and probe.versions["TLSv1.3"].startswith("TLS_")
    assert set(probe.suites) == {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                 "ECDHE-ECDSA-CHACHA20-POLY1305"}  # fmt: skip
    outcome = judge_tls(probe, RULES, AT)
    assert outcome.passed and outcome.check == "crypto.tls.ciphers"
    content = outcome.evidence[0].content
    assert "TLSv1: refused" in content and "GB/T 38636" in content and "not met" not in content
    assert outcome.evidence[0].source == f"TLS 127.0.0.1:{strong}"


def test_weak_endpoint_fails_on_its_cbc_suite_and_old_protocols(weak: int) -> None:
    probe = probe_tls("127.0.0.1", weak)
    outcome = judge_tls(probe, RULES, AT)
    assert not outcome.passed
    content = outcome.evidence[0].content
    assert "accepts weak suite ECDHE-ECDSA-AES128-SHA " in content
    assert "ECDHE-ECDSA-AES128-GCM-SHA256" in probe.suites
    assert not any("weak suite ECDHE-ECDSA-AES128-GCM" in line for line in content.splitlines())
    if probe.versions["TLSv1"]:  # this OpenSSL build still speaks TLS 1.0 at security level 0
        assert "accepts TLSv1 (allowed: TLSv1.2, TLSv1.3)" in content


def test_nothing_listening_is_an_error_naming_the_endpoint() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(CryptoError, match=f"127.0.0.1:{port}: no TLS endpoint"):
        probe_tls("127.0.0.1", port)


def settings_in(folder: Path) -> Settings:
    settings = Settings()
    settings.response.audit_log = folder / "audit.jsonl"
    settings.security.key_file = folder / "secrets.key"
    settings.security.secrets_file = folder / "secrets.sealed.json"
    return settings


def test_sm3_audit_chain_verifies_and_a_tampered_one_fails(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    assert not judge_sm_integrity(settings, AT).passed
    trail = AuditTrail(settings.response.audit_log)
    for n in range(3):
        trail.append(actor="alice", action="test", target=f"item-{n}", detail={})
    good = judge_sm_integrity(settings, AT)
    assert good.passed and "ok=True records=3" in good.evidence[0].content
    lines = settings.response.audit_log.read_text().splitlines()
    lines[1] = lines[1].replace("item-1", "item-X")
    settings.response.audit_log.write_text("\n".join(lines) + "\n")
    bad = judge_sm_integrity(settings, AT)
    assert not bad.passed and "chain breaks at line 2" in bad.evidence[0].content


def test_sm4_sealed_secrets_pass_and_a_readable_key_file_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EGOVOPS_SECRET_KEY", raising=False)
    settings = settings_in(tmp_path)
    unjudged = judge_sm_at_rest(settings, RULES, AT)
    assert not unjudged.judged and "nothing stored to judge" in unjudged.evidence[0].content
    box = SecretBox(settings.security.secrets_file, load_key(settings.security.key_file, create=True))
    box.seal("router-admin", "s3cret")
    good = judge_sm_at_rest(settings, RULES, AT)
    assert good.passed, good.evidence[0].content
    assert "1 secrets, each unsealed with SM4-GCM" in good.evidence[0].content
    settings.security.key_file.chmod(0o644)
    bad = judge_sm_at_rest(settings, RULES, AT)
    assert not bad.passed
    assert "key file" in bad.evidence[0].content and "mode 0644: more than 0600" in bad.evidence[0].content


def assess(tmp_path: Path, *tls: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, [
        "compliance", "assess", "--system", "portal", "--level", "3", "--no-host", "--no-soc",
        *(arg for endpoint in tls for arg in ("--tls", endpoint)),
        "--db", f"sqlite:///{tmp_path / 'a.db'}", "--json",
    ])  # fmt: skip
    return result.exit_code, json.loads(result.stdout)


def test_assess_grades_the_items_the_tls_endpoints_decide(tmp_path: Path, strong: int, weak: int) -> None:
    code, body = assess(tmp_path, f"127.0.0.1:{strong}")
    assert code == 0
    items = {i["id"]: i for i in body["items"]}
    assert {items[i]["result"] for i in ("L3-8.1.2.2-a", "L3-8.1.4.7-a", "L3-8.1.4.8-a")} == {"符合"}
    assert items["L3-8.1.4.8-b"]["result"] == "不适用"  # crypto.sm.at_rest needs the SOC source
    code, body = assess(tmp_path, f"127.0.0.1:{strong}", f"127.0.0.1:{weak}")
    items = {i["id"]: i for i in body["items"]}
    assert (items["L3-8.1.2.2-a"]["result"], items["L3-8.1.2.2-a"]["risk"]) == ("不符合", "中")
    sources = [e["source"] for e in items["L3-8.1.2.2-a"]["evidence"]]
    assert sources == [f"TLS 127.0.0.1:{strong}", f"TLS 127.0.0.1:{weak}"]


def test_assess_refuses_a_bad_or_silent_tls_endpoint(tmp_path: Path) -> None:
    code, body = assess(tmp_path, "no-port")
    assert code == Exit.USAGE and "--tls 'no-port': give HOST:PORT" in body["error"]
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    code, body = assess(tmp_path, f"127.0.0.1:{port}")
    assert code == Exit.INPUT and f"127.0.0.1:{port}: no TLS endpoint" in body["error"]
