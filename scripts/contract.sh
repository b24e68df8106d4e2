#!/usr/bin/env bash
# The HTTP API against its own OpenAPI spec (schemas/openapi.yaml) with schemathesis from PyPI:
# generated requests, valid and invalid, must never get a 5xx nor a response the spec does not
# describe. `make test` runs a short seeded run (CONTRACT_EXAMPLES=25); `make contract` a long one.
set -euo pipefail
cd "$(dirname "$0")/.."
yibiao=$PWD/.build/debug/yibiao
venv=.build/contract-venv
examples=${CONTRACT_EXAMPLES:-25}
if ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
fi
# Its own embedded database, inside the build folder (reachable by the postgres user under root).
export YIBIAO_HOME=$PWD/.build/contract-home YIBIAO_DISTRICT=110105
rm -rf "$YIBIAO_HOME"
server=
cleanup() {
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  "$yibiao" db stop >/dev/null 2>&1 || true
  rm -rf "$YIBIAO_HOME"
}
trap cleanup EXIT
"$yibiao" db start >/dev/null
"$yibiao" db migrate >/dev/null
for pair in civil_affairs:civil_affairs.csv family_planning:family_planning.xlsx party:party.xml social_security:social_security.jsonl; do
  "$yibiao" ingest --no-progress "adapters/${pair%%:*}.yaml" "adapters/samples/${pair#*:}" >/dev/null
done
token=$("$yibiao" consumer add contract --name contract --purpose "contract test" --legal-basis test \
  --fields name,sex,birth_date,national_id,phone,address,community_code --facet civil_affairs \
  --systems civil_affairs,social_security --rate-per-minute 100000000 | tail -1)
"$yibiao" serve --port 0 > "$YIBIAO_HOME/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q Listening "$YIBIAO_HOME/serve.log" 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://[0-9.:]*' "$YIBIAO_HOME/serve.log")
echo "contract: schemathesis against $base, $examples examples per operation"
"$venv/bin/schemathesis" --config-file schemas/schemathesis.toml run schemas/openapi.yaml --url "$base" -H "Authorization: Bearer $token" \
  --checks all --max-examples "$examples" --seed 2026 --no-color --workers 1 \
  --report junit --report-dir "$PWD/.build/contract-report"
