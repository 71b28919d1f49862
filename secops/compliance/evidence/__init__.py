"""Evidence collectors for the automated checks of `catalogue/checks.yaml`, and the grading of their
outcomes into item results.

Each collector turns one kind of source into `CheckOutcome`s carrying raw evidence: `host` (check-mode
ansible playbooks from playbooks/compliance/), `network` (running configurations parsed with
ciscoconfparse2) and `redundancy` (the estate's sites, devices and links), `cloud` (the estate's desired
OpenStack state) and `cloud_live` (the live cloud through openstacksdk), `soc` (egovops's own store,
settings and audit trail) with `waf` (ModSecurity transactions and configurations), `crypto` (TLS
endpoints, SM3/SM4 use). What counts as passing is data (`*_rules.yaml` beside the code); `grading` turns
outcomes into 符合/部分符合/不符合/不适用 with a risk, by `grading.yaml`.
"""
