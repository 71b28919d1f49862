"""Response actions (主动防御): blocking an incident's source at the WAF or on an nftables firewall, and
whatever kinds later modules register, each with a dry run, approval for high-impact ones, an audit
record and an undo. `Responder` (workflow.py) is the entry point; docs/response.md explains the rest.
"""
