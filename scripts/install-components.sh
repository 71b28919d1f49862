#!/usr/bin/env bash
# Installs the real programs the test suite and benchmarks run against. Idempotent; needs root (or sudo).
# Nothing here starts a service: the tests start each server themselves on 127.0.0.1 and stop it by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

APT_PACKAGES=(
  tshark                      # packet captures, via pyshark
  apache2 libapache2-mod-security2 modsecurity-crs   # the real WAF (ModSecurity 2.9 + OWASP CRS 3.3)
  openjdk-17-jre-headless     # Elasticsearch runs on the machine's JDK
  maven                       # resolves Elasticsearch's integ-test zip from Maven Central
  sqlite3
  nftables openssh-server     # response actions: nft-deny in a namespace; the real sshd of the loop test
  frr iputils-ping            # extranet test bed: FRRouting routers in namespaces, pings for net verify
  auditd                      # the drill range's host sensor: the real auditd with its own config
  chromium                    # the console's end-to-end tests drive the system browser with Playwright
  prometheus                  # monitors: promtool checks the shipped rules; a real Prometheus evaluates them
  libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk poppler-utils  # 测评 PDF reports (WeasyPrint, CJK); pdftotext in tests
  openscap-scanner ssg-debian  # 等保 host checks side by side with OpenSCAP (benchmarks/bench_openscap.py)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

bash .ci/elasticsearch.sh
bash scripts/install-openstack.sh   # Keystone 30 + Neutron 29 venvs for the cloud tests
