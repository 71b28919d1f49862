"""Commercial-cryptography evidence (密评 preparation): the TLS protocol versions and suites an endpoint
accepts (probed one by one from this machine's OpenSSL), the SM3 chain of egovops's audit trail, and the
SM4-GCM sealing of its secrets at rest. OpenSSL builds here offer no TLCP (GB/T 38636) SM2/SM3/SM4
suites, so whether an endpoint offers 国密 suites is not probed, and the evidence says so."""

from __future__ import annotations

import socket
import ssl
import stat
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from egovops.config import Settings
from secops.compliance.assessment import CheckOutcome, Evidence, EvidenceKind
from secops.compliance.evidence.conditions import RuleSpec, pattern, read_rules

RULES = Path(__file__).with_name("crypto_rules.yaml")
VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}  # fmt: skip
EVERY_SUITE = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"
"""Everything this OpenSSL can offer, weak suites included: a probe must be able to ask for them."""
NO_TLCP = (
    "国密 suites (TLCP, GB/T 38636: ECC-SM2-SM4-*, ECDHE-SM2-SM4-*) not probed: {openssl} has no TLCP; "
    "probe them with a TLCP client (Tongsuo, GmSSL) for 密评"
)


class CryptoRules(RuleSpec):
    schema_: Literal[1] = Field(alias="schema")
    version: str
    protocols: tuple[str, ...]
    weak_suites: tuple[str, ...]
    key_file_mode: str = Field(pattern=r"^0[0-7]{3}$")

    @property
    def mode(self) -> int:
        return int(self.key_file_mode, 8)


class CryptoError(RuntimeError):
    """A TLS endpoint could not be reached at all (nothing listens, or the name does not resolve)."""


def load_crypto_rules(path: Path = RULES) -> CryptoRules:
    return read_rules(path, CryptoRules)


@dataclass
class TlsProbe:
    """What one endpoint accepted: per protocol version the suite it chose (None: refused), and every
    TLS 1.2-and-older suite it accepted when offered alone. TLS 1.3 suites cannot be offered one by one
    through Python's ssl module; all five are AEAD with forward secrecy."""

    endpoint: str
    versions: dict[str, str | None] = field(default_factory=dict)
    suites: list[str] = field(default_factory=list)


def _context(low: ssl.TLSVersion, high: ssl.TLSVersion, suites: str = EVERY_SUITE) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # judging suites, not certificates
    with warnings.catch_warnings():  # asking for TLS 1.0/1.1 is the point of the probe
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version, context.maximum_version = low, high
    context.set_ciphers(suites)
    return context


def _handshake(endpoint: tuple[str, int], context: ssl.SSLContext, timeout: float) -> str | None:
    """The suite the server chose, None when it refused the offer."""
    try:
        with (
            socket.create_connection(endpoint, timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=endpoint[0]) as tls,
        ):
            chosen = tls.cipher()
            return chosen[0] if chosen else None
    except (ssl.SSLError, ConnectionResetError, TimeoutError):
        return None
    except OSError as exc:
        where = f"{endpoint[0]}:{endpoint[1]}"
        raise CryptoError(f"{where}: no TLS endpoint ({exc}); check --tls HOST:PORT") from exc


def probe_tls(host: str, port: int, timeout: float = 3.0) -> TlsProbe:
    endpoint = (host, port)
    probe = TlsProbe(endpoint=f"{host}:{port}")
    for name, version in VERSIONS.items():
        probe.versions[name] = _handshake(endpoint, _context(version, version), timeout)
    legacy = _context(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_2)
    for suite in sorted({s["name"] for s in legacy.get_ciphers() if s["protocol"] != "TLSv1.3"}):
        if _handshake(endpoint, _context(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_2, suite), timeout):
            probe.suites.append(suite)
    return probe


def judge_tls(probe: TlsProbe, rules: CryptoRules, at: datetime) -> CheckOutcome:
    offered = [name for name, suite in probe.versions.items() if suite is not None]
    problems = [f"accepts {name} (allowed: {', '.join(rules.protocols)})" for name in offered
                if name not in rules.protocols]  # fmt: skip
    for suite in probe.suites:
        weak = next((regex for regex in rules.weak_suites if pattern(regex).search(suite)), None)
        if weak is not None:
            problems.append(f"accepts weak suite {suite} (/{weak}/)")
    lines = [f"{name}: {suite or 'refused'}" for name, suite in probe.versions.items()]
    lines += [f"suites accepted up to TLS 1.2 ({len(probe.suites)}): {' '.join(probe.suites) or 'none'}",
              NO_TLCP.format(openssl=ssl.OPENSSL_VERSION)]  # fmt: skip
    if not offered:
        problems.append("no TLS handshake succeeded")
    if problems:
        lines += ["-- not met:", *problems]
    evidence = Evidence(kind=EvidenceKind.COMMAND, source=f"TLS {probe.endpoint}", content="\n".join(lines),
                        collected_at=at)  # fmt: skip
    return CheckOutcome(check="crypto.tls.ciphers", passed=not problems, evidence=(evidence,))


def _outcome(check: str, source: str, problems: list[str], content: str, at: datetime,
             *, judged: bool = True) -> CheckOutcome:  # fmt: skip
    text = content + ("\n-- not met:\n" + "\n".join(problems) if problems and judged else "")
    evidence = Evidence(kind=EvidenceKind.RECORD, source=source, content=text, collected_at=at)
    return CheckOutcome(check=check, passed=judged and not problems, evidence=(evidence,), judged=judged)


def judge_sm_integrity(settings: Settings, at: datetime) -> CheckOutcome:
    """The data egovops stores whose integrity the items ask for — who did what — is its audit trail,
    chained with SM3; other systems' data stores are a reviewer's evidence."""
    from egovops.audit import AuditTrail

    path = settings.response.audit_log
    if not path.exists():
        return _outcome("crypto.sm.integrity", str(path), [f"no audit trail at {path}"],
                        "SM3 hash chain (GB/T 32905): no records", at)  # fmt: skip
    verdict = AuditTrail(path).verify()
    problems = [] if verdict.ok else [f"chain breaks at line {verdict.bad_line}: {verdict.reason}"]
    return _outcome("crypto.sm.integrity", str(path), problems,
                    f"SM3 hash chain (GB/T 32905): ok={verdict.ok} records={verdict.records} "
                    f"head={verdict.head}\nscope: egovops's audit trail only", at)  # fmt: skip


def judge_sm_at_rest(settings: Settings, rules: CryptoRules, at: datetime) -> CheckOutcome:
    """Secrets are sealed with SM4-GCM when every one unseals (the GCM tag verifies) under the key, and
    the key file (when the key is not given in the environment) is readable by its owner only."""
    from egovops.security.sealed import CIPHER, KEY_ENV, SecretBox, SecretsError, load_key

    secrets_file, key_file = settings.security.secrets_file, settings.security.key_file
    if not secrets_file.exists():
        nothing = f"no sealed secrets at {secrets_file}: nothing stored to judge"
        return _outcome("crypto.sm.at_rest", str(secrets_file), [], nothing, at, judged=False)
    lines, problems = [], []
    try:
        box = SecretBox(secrets_file, load_key(key_file))
        names = [info.name for info in box.names()]
        for name in names:
            box.reveal(name)
        lines.append(f"{secrets_file}: {len(names)} secrets, each unsealed with {CIPHER} (tag verified)")
    except SecretsError as exc:
        problems.append(str(exc))
    for path, label in ((secrets_file, "secrets file"), (key_file, "key file")):
        if not path.exists():
            lines.append(f"{label} {path}: absent" + (f" (key from {KEY_ENV})" if path == key_file else ""))
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        lines.append(f"{label} {path}: mode {mode:04o}")
        if mode & ~rules.mode:
            problems.append(f"{label} {path} mode {mode:04o}: more than {rules.key_file_mode}")
    return _outcome("crypto.sm.at_rest", str(secrets_file), problems, "\n".join(lines), at)


def collect_crypto(settings: Settings | None, endpoints: list[tuple[str, int]], at: datetime,
                   rules: CryptoRules) -> list[CheckOutcome]:  # fmt: skip
    outcomes = [judge_tls(probe_tls(host, port), rules, at) for host, port in endpoints]
    if settings is not None:
        outcomes += [judge_sm_integrity(settings, at), judge_sm_at_rest(settings, rules, at)]
    return outcomes
