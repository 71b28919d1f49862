#!/usr/bin/env bash
# Builds the real OpenStack services the cloud tests run against: Keystone 30 and Neutron 29 (one
# release series) from PyPI, each in its own venv under $EGOVOPS_OPENSTACK_HOME (default
# /opt/egovops-openstack), pinned by scripts/openstack/*-requirements.txt. Idempotent: a venv whose
# stamp matches its lock file is kept; an interrupted build is redone (the stamp is written last).
# Nothing is started here: tests/components/openstack.py runs the servers on 127.0.0.1 and stops them.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${EGOVOPS_OPENSTACK_HOME:-/opt/egovops-openstack}
PYTHON=${PYTHON:-/usr/bin/python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1

for service in keystone neutron; do
  lock=scripts/openstack/$service-requirements.txt
  venv=$BASE/$service
  stamp=$venv/.egovops-lock
  if [ -f "$stamp" ] && cmp -s "$lock" "$stamp"; then
    continue
  fi
  started=$(date +%s)
  rm -rf "$venv"
  mkdir -p "$BASE"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install -q --no-deps -r "$lock"
  "$venv/bin/pip" check >/dev/null
  cp "$lock" "$stamp"
  echo "$service: built $venv in $(( $(date +%s) - started ))s"
done
