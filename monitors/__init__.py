"""Monitoring: Prometheus metrics of the control plane and of the estate, and the plans' indicators.

`monitors.metrics` holds what the pipeline, the engine and the case store report (hot-path counters and
collectors that read state at scrape time); `monitors.indicators` computes the indicators of the plans from
the estate; `monitors.exporter` serves both at /metrics. `monitors/rules/` ships the Prometheus rules.
"""
