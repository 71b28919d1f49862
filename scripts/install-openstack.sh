#!/usr/bin/env bash
# Builds the real OpenStack services the cloud tests run against: Keystone 30, Neutron 29, Glance 33
# and Nova 34 (one release series, 2026.2) from PyPI, each in its own venv under $EGOVOPS_OPENSTACK_HOME
# (default /opt/egovops-openstack), pinned by scripts/openstack/*-requirements.txt. Idempotent: a venv whose
# stamp matches its lock file is kept; an interrupted build is redone (the stamp is written last).
# The venvs are built side by side; the script fails if any build failed.
# Nothing is started here: tests/components/openstack.py runs the servers on 127.0.0.1 and stops them.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${EGOVOPS_OPENSTACK_HOME:-/opt/egovops-openstack}
PYTHON=${PYTHON:-/usr/bin/python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1

build() {
  local service=$1 started
  local lock=scripts/openstack/$service-requirements.txt venv=$BASE/$service
  local stamp=$venv/.egovops-lock
  if [ -f "$stamp" ] && cmp -s "$lock" "$stamp"; then
    return 0
  fi
  started=$(date +%s)
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install -q --no-deps -r "$lock"
  "$venv/bin/pip" check >/dev/null
  cp "$lock" "$stamp"
  echo "$service: built $venv in $(( $(date +%s) - started ))s"
}

# side by side: a build mostly waits on downloads (19 min one after another here, 4 min of it CPU)
mkdir -p "$BASE"
pids=()
for service in keystone neutron glance nova; do
  build "$service" &
  pids+=("$!")
done
failed=0
for pid in "${pids[@]}"; do
  wait "$pid" || failed=1
done
exit "$failed"
