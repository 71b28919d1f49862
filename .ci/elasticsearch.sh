#!/usr/bin/env bash
# Resolve the official Elasticsearch integ-test zip into the local Maven repository (idempotent).
# The test fixture (tests/components/elasticsearch.py) unpacks it and runs it on the machine's JDK.
set -euo pipefail

VERSION="${EGOVOPS_ES_VERSION:-8.19.4}"
REPOSITORY="${MAVEN_REPOSITORY:-$HOME/.m2/repository}"
ZIP="$REPOSITORY/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$VERSION/elasticsearch-$VERSION.zip"

need() {
  command -v "$1" >/dev/null 2>&1 && return
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "$2" >/dev/null
}
need java openjdk-17-jre-headless
need mvn maven

if [ ! -s "$ZIP" ]; then
  mvn -q -Dmaven.repo.local="$REPOSITORY" dependency:get \
    -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip" -Dtransitive=false
fi
if [ -s "$ZIP.sha1" ]; then
  echo "$(cut -c1-40 "$ZIP.sha1")  $ZIP" | sha1sum --check --quiet -
fi
echo "$ZIP"
