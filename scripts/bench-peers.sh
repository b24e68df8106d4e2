#!/usr/bin/env bash
# `make bench-peers`: Yibiao's matcher beside Splink (from PyPI, in a virtual environment under
# .build/, not a dependency of the product or of `make test`) on FEBRL 1 to 4 and the
# synthetic district, in the same run: F1, precision, recall, time, and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
residents=${PEERS_SYNTHETIC_RESIDENTS:-20000}
venv=.build/peers-venv
scripts/fetch-febrl.sh
command -v python3 >/dev/null || { echo "bench-peers: python3 (with venv: apt-get install python3-venv) is needed for Splink" >&2; exit 1; }
if ! "$venv/bin/python" -c 'import splink, pandas' 2>/dev/null; then
  echo "bench-peers: installing Splink 5.0.0 into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'splink==5.0.0' 'pandas>=2'
fi
swift build -c release --product YibiaoBench
bench=.build/release/YibiaoBench
mkdir -p .build/peers
"$bench" quality --export "synthetic:$residents" .build/peers/synthetic.csv

results=.build/peers/results.jsonl
: >"$results"
run() { # data set, Yibiao's name for it, Splink's arguments…
  local label=$1 ours=$2
  shift 2
  echo "bench-peers: $label" >&2
  printf '{"peer":"yibiao",%s\n' "$("$bench" quality "$ours" --json | tail -1 | cut -c2-)" >>"$results"
  printf '{"peer":"splink",%s\n' "$("$venv/bin/python" bench/peers/splink_peer.py "$@" 2>/dev/null | tail -1 | cut -c2-)" >>"$results"
}
run "FEBRL 1" febrl1 febrl1 .build/febrl/dataset1.csv
run "FEBRL 2" febrl2 febrl2 .build/febrl/dataset2.csv
run "FEBRL 3" febrl3 febrl3 .build/febrl/dataset3.csv
run "FEBRL 4" febrl4 febrl4 .build/febrl/dataset4a.csv .build/febrl/dataset4b.csv
run "synthetic district ($residents residents)" "synthetic:$residents" synthetic .build/peers/synthetic.csv

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print()
print(f"{'data':<22} {'peer':<7} {'records':>8} {'precision':>9} {'recall':>7} {'F1':>7} {'seconds':>8}")
for row in rows:
    print(f"{row['data']:<22} {row['peer']:<7} {row['records']:>8} {row['precision']:>9.4f} {row['recall']:>7.4f} {row['f1']:>7.4f} {row['seconds']:>8.1f}")
print()
for ours, theirs in zip(rows[0::2], rows[1::2]):
    print(f"{ours['data']:<22} F1 Yibiao/Splink {ours['f1'] / theirs['f1']:.4f}   time Yibiao/Splink {ours['seconds'] / theirs['seconds']:.2f}"
          f"   Yibiao's blocking recall {ours['blocking_recall']:.4f} ({ours['candidate_pairs']} candidate pairs)")
PY
