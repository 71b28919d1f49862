"""Drill tests: the cyber range (real Apache+ModSecurity+CRS, sshd, FRR, tshark, auditd in namespaces)."""
