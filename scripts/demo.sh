#!/usr/bin/env bash
# `make demo`: the main job end to end on the embedded PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
yibiao=.build/debug/yibiao
export YIBIAO_DISTRICT=${YIBIAO_DISTRICT:-110105}
say() { printf '\n\033[1m== %s\033[0m\n' "$1"; }

say "Start the embedded database (under ${YIBIAO_HOME:-.yibiao})"
$yibiao db start
say "Apply the schema"
$yibiao db migrate
$yibiao db status | tail -2

say "The normalisers at work (✗ marks a rejected value and says why)"
$yibiao normalize id "11010519491231002x" "110105 491231 002" "1.10105E+17" "110105194912310021" || true
$yibiao normalize name "歐陽 娜娜" "买买提・艾力" "单田芳" || true
$yibiao normalize date "1985年3月2日" "85-03-02" "31108" "1985-03-01T16:00:00Z" "1985-02-30" || true

say "Check the shipped adapters"
$yibiao adapter check adapters/*.yaml

say "Preview a feed without touching the database"
$yibiao adapter preview adapters/civil_affairs.yaml adapters/samples/civil_affairs.csv --rows 4

say "Ingest the sample feeds of district $YIBIAO_DISTRICT (CSV/GB18030, XLSX, XML, JSON Lines, fixed-width via a Swift adapter)"
for feed in civil_affairs:civil_affairs.csv family_planning:family_planning.xlsx party:party.xml social_security:social_security.jsonl; do
  $yibiao ingest --no-progress "adapters/${feed%%:*}.yaml" "adapters/samples/${feed#*:}"
done
$yibiao ingest --no-progress swift:hukou-fixed-width adapters/samples/household_register.txt

say "Ingest one feed again: nothing is staged twice"
$yibiao ingest --no-progress adapters/party.yaml adapters/samples/party.xml

say "Quarantined rows: never lost, always explained"
$yibiao quarantine list --limit 10

district_dir=${YIBIAO_HOME:-.yibiao}/demo-district
say "Generate a synthetic district of 20,000 residents (seed 2024) in $district_dir"
$yibiao synth --residents 20000 --seed 2024 --out "$district_dir"

say "Ingest its four feeds: each ingest stages, then links every record to one resident"
for feed in civil_affairs:civil_affairs.csv family_planning:family_planning.xlsx party:party.xml social_security:social_security.jsonl; do
  $yibiao ingest --no-progress "adapters/${feed%%:*}.yaml" "$district_dir/${feed#*:}"
done

say "Why is a record linked where it is?"
$yibiao explain social_security 3100000002
$yibiao explain party DY0000003

say "Cross-references: every system's key → one resident id (first lines)"
$yibiao xref export --system party | head -5
echo
echo "Staged records per system (current versions):"
psql -X -q "$($yibiao db url)" -c "SELECT system_id AS system, count(*) AS records, count(*) FILTER (WHERE national_id IS NULL) AS without_valid_id, count(*) FILTER (WHERE jsonb_array_length(problems) > 0) AS with_problems FROM source_record WHERE is_current GROUP BY system_id ORDER BY system_id"

say "Done"
echo "The database keeps running: stop it with '$yibiao db stop'; start over with '$yibiao db reset --yes'."
