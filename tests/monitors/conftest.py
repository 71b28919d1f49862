"""The monitoring tests' real Prometheus (tests/components/prometheus.py), started once per session."""

from tests.components.prometheus import egovops_prometheus

__all__ = ["egovops_prometheus"]
