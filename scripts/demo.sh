#!/usr/bin/env bash
# `make demo`: the main job end to end on the embedded PostgreSQL.
set -euo pipefail
trap 'echo "demo: stopped at line $LINENO: $BASH_COMMAND" >&2' ERR
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
$yibiao normalize date "1985年3月2日" "85-03-02" "1977年10月" "1972.11" "31108" "1985-03-01T16:00:00Z" "1985-02-30" || true

say "Check the shipped adapters"
$yibiao adapter check adapters/*.yaml

say "Preview a feed without touching the database"
$yibiao adapter preview adapters/civil_affairs.yaml adapters/samples/civil_affairs.csv --rows 4

say "A new system's export, no adapter yet: a draft from its values alone (no adapter knows its column names)"
$yibiao adapter suggest adapters/samples/social_security.jsonl --adapters /nonexistent --system new_system 2>&1 | grep -E '^  [a-z_]+: \{|Placed'

say "Ingest the sample feeds of district $YIBIAO_DISTRICT (CSV/GB18030, XLSX, XML, JSON Lines, fixed-width via a Swift adapter)"
for feed in civil_affairs:civil_affairs.csv family_planning:family_planning.xlsx party:party.xml social_security:social_security.jsonl; do
  $yibiao ingest --no-progress "adapters/${feed%%:*}.yaml" "adapters/samples/${feed#*:}"
done
$yibiao ingest --no-progress swift:hukou-fixed-width adapters/samples/household_register.txt

say "Ingest one feed again: the same file is not read twice; --force reads it, and stages nothing"
$yibiao ingest --no-progress adapters/party.yaml adapters/samples/party.xml
$yibiao ingest --no-progress --force adapters/party.yaml adapters/samples/party.xml

say "Quarantined rows: never lost, always explained"
$yibiao quarantine list --limit 10

district_dir=${YIBIAO_HOME:-.yibiao}/demo-district
residents=${YIBIAO_DEMO_RESIDENTS:-20000} # smaller in the Citus statement-rule test
say "Generate a synthetic district of $residents residents (seed 2024) in $district_dir"
$yibiao synth --residents "$residents" --seed 2024 --out "$district_dir"

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
psql -X -q -P pager=off "$($yibiao db url)" -c "SELECT system_id AS system, count(*) AS records, count(*) FILTER (WHERE national_id IS NULL) AS without_valid_id, count(*) FILTER (WHERE jsonb_array_length(problems) > 0) AS with_problems FROM source_record WHERE is_current GROUP BY system_id ORDER BY system_id"

sql() { psql -X -q -P pager=off -tA "$($yibiao db url)" -c "$1"; }

say "Golden records: one per resident"
psql -X -q -P pager=off "$($yibiao db url)" -c "SELECT count(*) FILTER (WHERE status = 'active') AS residents, count(*) FILTER (WHERE status = 'retired') AS merged_away, (SELECT count(*) FROM resident r, jsonb_object_keys(r.golden) f) AS field_values, (SELECT count(*) FROM change_log) AS change_log_entries, (SELECT count(*) FROM household) AS households FROM resident"

busy=$(sql "SELECT l.resident_id FROM link l JOIN source_record r USING (district, record_id) JOIN resident res ON res.district = l.district AND res.resident_id = l.resident_id WHERE r.is_current AND r.district = '$YIBIAO_DISTRICT' AND res.status = 'active' AND res.birth_date > '1950-01-01' GROUP BY l.resident_id HAVING count(DISTINCT r.system_id) >= 4 ORDER BY l.resident_id LIMIT 1")
say "A resident known to four systems: the golden record, its sources, its timeline"
$yibiao history "$busy"

say "Conflicts the rules leave to a person"
$yibiao conflicts list --limit 8
conflict=$(sql "SELECT conflict_id FROM conflict WHERE status = 'open' AND district = '$YIBIAO_DISTRICT' ORDER BY field = 'birth_date' DESC, conflict_id LIMIT 1")
if [ -n "$conflict" ]; then
  $yibiao conflicts show "$conflict"
  say "Resolve it: the choice holds until a source sends a newer value"
  $yibiao conflicts resolve "$conflict" --choose 1 --reason "demo: checked against the household register"
  $yibiao history "$(sql "SELECT resident_id FROM conflict WHERE conflict_id = $conflict")" | tail -6
fi

say "The district's own rules, without rebuilding: what would change, before anything does"
rules="$district_dir/district-rules.yaml"
sed 's/^  phone: {strategy: most_recent, conflict: none}/  phone: {strategy: priority, priority: [social_security, civil_affairs], conflict: none}/' \
  schemas/survivorship.yaml > "$rules"
$yibiao rules check "$rules"
$yibiao rules diff "$rules"
echo "(to use them: --rules $rules, or YIBIAO_RULES=$rules)"

say "A community worker enters a new phone number and address once; the receipt says where they go"
$yibiao enter "$busy" phone=13912345678 address="北京市朝阳区建国路88号院3号楼2单元501" --worker demo.li
$yibiao history "$busy" | grep -E "联系电话|phone|地址|address|entry" || true

outbox=${YIBIAO_HOME:-.yibiao}/outbox
say "Write-back: every system's outbox starts held; the plan shows what the first load would send"
$yibiao outbox status
$yibiao outbox plan --sample 3
say "Release the four systems and deliver: each gets a numbered file in its own format, with a manifest"
for system in civil_affairs family_planning party social_security; do $yibiao outbox release --system "$system"; done
$yibiao outbox deliver --dir "$outbox"
find "$outbox/$YIBIAO_DISTRICT" -type f | sort
keys=$(sql "SELECT string_agg(r.system_id || '=' || r.source_key, ' ') FROM link l JOIN source_record r USING (district, record_id) WHERE r.is_current AND l.resident_id = $busy")
echo "The worker's resident in each system's file (keys: $keys):"
for pair in $keys; do
  system=${pair%%=*} key=${pair#*=}
  file=$(ls "$outbox/$YIBIAO_DISTRICT/$system/"*_000001.* 2>/dev/null | grep -v manifest | head -1) || true
  [ -n "$file" ] || continue
  case "$file" in
    *.csv) echo "  $system (GB18030 CSV): $(iconv -f GB18030 -t UTF-8 "$file" | grep "^$key," | tr -d '\r')" ;;
    *.xml) echo "  $system (XML): $(grep -m1 -e "\"$key\"" -e ">$key<" "$file" | sed 's/^ *//')" ;;
    *.jsonl) echo "  $system (JSON Lines): $(grep "\"$key\"" "$file")" ;;
    *.xlsx) echo "  $system (XLSX): $(basename "$file"), $(grep -o '"rows" : [0-9]*' "$file.manifest.json")" ;;
  esac
done

say "Civil affairs imports its file; its next export carries our values back: an echo, nothing logged"
delivered=$(ls "$outbox/$YIBIAO_DISTRICT/civil_affairs/"*_000001.csv)
next="$district_dir/civil_affairs_next.csv"
# The system's side: every delivered row applied to its own export (an empty cell changes nothing).
iconv -f GB18030 -t UTF-8 "$district_dir/civil_affairs.csv" | awk -F, -v OFS=, '
  FNR == NR { sub(/\r$/, ""); if (FNR == 1) { n = NF; for (i = 1; i <= NF; i++) name[i] = $i; next }
              for (i = 2; i <= n; i++) if ($i != "") value[$1, name[i]] = $i; seen[$1] = 1; next }
  { sub(/\r$/, ""); if (FNR == 1) { for (i = 1; i <= NF; i++) column[$i] = i; print; next }
    if ($1 in seen) for (i = 2; i <= n; i++) if (($1, name[i]) in value) $(column[name[i]]) = value[$1, name[i]]
    print }' <(iconv -f GB18030 -t UTF-8 "$delivered") - | iconv -f UTF-8 -t GB18030 > "$next"
before=$(sql "SELECT count(*) FROM change_log")
$yibiao ingest --no-progress adapters/civil_affairs.yaml "$next"
echo "change-log entries before: $before, after: $(sql "SELECT count(*) FROM change_log")"
$yibiao outbox status | sed -n '1,/^family_planning/p' | head -8

say "The same feed again: nothing changes, nothing is logged"
before=$(sql "SELECT count(*) FROM change_log")
$yibiao ingest --no-progress adapters/social_security.yaml "$district_dir/social_security.jsonl"
echo "change-log entries before: $before, after: $(sql "SELECT count(*) FROM change_log")"

say "The change log's hash chain is intact"
$yibiao log verify

say "Downstream: a community office gets its own residents back — granted fields only, ID numbers and phones masked"
community=$(sql "SELECT community_code FROM resident WHERE status = 'active' AND community_code IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
if $yibiao consumer show office >/dev/null 2>&1; then
  # A demo run before this one added it: a new token (the old one is never shown again).
  token=$($yibiao consumer rotate-token office | tail -1)
else
  # Into a file first: `tee /dev/stderr` would reopen (and truncate) a log the demo is written to.
  $yibiao consumer add office --name 社区居委会 --purpose 社区居民服务 --legal-basis 城市居民委员会组织法第三条 \
    --fields name,sex,birth_date,national_id,phone,address,community_code --community "$community" > "$district_dir/office.add"
  cat "$district_dir/office.add"
  token=$(tail -1 "$district_dir/office.add")
fi
$yibiao extract --consumer office --format csv --out "$district_dir/office.csv"
head -3 "$district_dir/office.csv"
echo "active residents whose golden record places them in $community: $(sql "SELECT count(*) FROM resident WHERE status = 'active' AND community_code = '$community'")"

# Starts `yibiao serve` on loopback; after the first start, on the same port (a worker's login names it).
start_server() {
  $yibiao serve --port "${port:-0}" > "$district_dir/serve.log" 2>&1 &
  server=$!
  # Up to a minute: on a loaded machine (the demo runs inside the test suite) 10 s was too short.
  for _ in $(seq 300); do grep -q Listening "$district_dir/serve.log" && break; sleep 0.2; done
  if ! base=$(grep -o 'http://[0-9.:]*' "$district_dir/serve.log"); then
    echo "demo: yibiao serve did not start listening within a minute; its log:" >&2
    cat "$district_dir/serve.log" >&2
    exit 1
  fi
  port=${base##*:}
}

say "The same through the HTTP API (yibiao serve on loopback): a resident, the change feed — every read in the audit log"
start_server
someone=$(sql "SELECT resident_id FROM resident WHERE status = 'active' AND community_code = '$community' ORDER BY resident_id LIMIT 1")
echo "GET /v1/residents/$someone:"; curl -s -H "Authorization: Bearer $token" "$base/v1/residents/$someone"; echo
outsider=$(sql "SELECT resident_id FROM resident WHERE status = 'active' AND coalesce(community_code, '') <> '$community' ORDER BY resident_id LIMIT 1")
echo "GET /v1/residents/$outsider (not of this community: the same answer as no resident at all):"
curl -s -H "Authorization: Bearer $token" "$base/v1/residents/$outsider"; echo
echo "GET /v1/changes?after=0&limit=1:"; curl -s -H "Authorization: Bearer $token" "$base/v1/changes?after=0&limit=1"; echo
kill -TERM "$server"; wait "$server" || true
$yibiao audit list --limit 4
$yibiao audit verify
unset port # the worker's hub below gets a port of its own

say "A community worker enters changes once, from a spreadsheet, and offline (the sync client)"
export YIBIAO_CLIENT_HOME=$district_dir/worker-computer
rm -rf "$YIBIAO_CLIENT_HOME"
if $yibiao worker list | grep -q '^demo.worker '; then
  $yibiao worker rotate-token demo.worker | tail -1 > "$district_dir/worker.token"
else
  $yibiao worker add demo.worker --name 网格员小李 --community "$community" > "$district_dir/worker.add"
  head -2 "$district_dir/worker.add"; tail -1 "$district_dir/worker.add" > "$district_dir/worker.token"
fi
start_server
$yibiao login --hub "$base" --token-file "$district_dir/worker.token"
$yibiao template --out "$district_dir/template.xlsx" --lang zh
mapfile -t ids < <(sql "SELECT id FROM (SELECT resident_id, named_fields(district, golden) ->> 'national_id' AS id FROM resident WHERE status = 'active' AND community_code = '$community') r WHERE id IS NOT NULL ORDER BY resident_id LIMIT 3")
printf '身份证号,手机号,住址,备注\n%s,13912340001,,\n%s,,%s幸福路8号,\n%s,1391234,,\n' "${ids[0]}" "${ids[1]}" "北京市朝阳区" "${ids[2]}" > "$district_dir/updates.csv"
echo "the worker's own sheet:"; cat "$district_dir/updates.csv"
$yibiao sync --file "$district_dir/updates.csv" --yes || true
kill -TERM "$server"; wait "$server" || true
echo; echo "The line is down: the entry waits on the worker's computer"
$yibiao enter "${ids[0]}" phone=13912340002 || true
$yibiao sync status
start_server
$yibiao sync push
kill -TERM "$server"; wait "$server" || true
unset YIBIAO_CLIENT_HOME

say "The district's data at a glance: one HTML file with charts, readable offline"
$yibiao report --out "$district_dir/report.html"
$yibiao report list id-invalid --limit 3
echo "open $district_dir/report.html in a browser"
echo; echo "A department's form, filled for one community from the golden records (一表通)"
printf '序号,姓名,性别（男/女）,身份证号码*,联系电话,户籍地址（详细）,开户银行\r\n' > "$district_dir/template.csv"
$yibiao form suggest "$district_dir/template.csv" | sed -n '7,20p'
$yibiao form check forms/resident_visits.yaml
$yibiao form fill forms/resident_visits.yaml --community "$community" --out "$district_dir/visits.csv"
head -6 "$district_dir/visits.csv" | cut -c1-160
echo; echo "The office corrects one phone number in the form and the worker sends the form back: only that cell becomes an entry"
awk -F, -v OFS=, 'NR == 5 { $5 = "13912340009" } { print }' "$district_dir/visits.csv" > "$district_dir/visits-returned.csv"
export YIBIAO_CLIENT_HOME=$district_dir/worker-computer
start_server
$yibiao sync --file "$district_dir/visits-returned.csv" --yes || true
kill -TERM "$server"; wait "$server" || true
unset YIBIAO_CLIENT_HOME
echo; echo "The data catalogue (一本账): which system holds, receives and owns each field"
$yibiao catalog --format md | sed -n '5,9p'
$yibiao catalog --format html --out "$district_dir/catalog.html"

say "Done"
echo "The database keeps running: stop it with '$yibiao db stop'; start over with '$yibiao db reset --yes'."
