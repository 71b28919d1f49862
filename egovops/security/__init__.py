"""The control plane's own security: who may do what (三权分立), how they prove it, and sealed secrets."""
