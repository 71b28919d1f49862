"""Linux audit (auditd) source: records parsed and named, joined into events, summarised like Auditbeat."""

from secops.sources.auditd.source import AuditdLog, AuditFramer

__all__ = ["AuditFramer", "AuditdLog"]
