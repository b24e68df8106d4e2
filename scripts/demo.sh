#!/usr/bin/env bash
# `make demo`: the main job end to end on the embedded PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
yibiao=.build/debug/yibiao
say() { printf '\n\033[1m== %s\033[0m\n' "$1"; }

say "Start the embedded database (under ${YIBIAO_HOME:-.yibiao})"
$yibiao db start
say "Apply the schema"
$yibiao db migrate
say "Status"
$yibiao db status
say "The normalisers at work (✗ marks a rejected value and says why)"
$yibiao normalize id "11010519491231002x" "110105 491231 002" "４４０５２４１８８００１０１００１４" "1.10105E+17" "110105194912310021" || true
$yibiao normalize name "歐陽 娜娜" "买买提・艾力" "  张 伟 " "O'Brien,  Mary" || true
$yibiao normalize date "1985/3/2" "1985年3月2日" "85-03-02" "31108" "1985-03-01T16:00:00Z" "1985-02-30" || true
$yibiao normalize phone "+86 138 1234 5678" "(0755)83456789" "021-62345678转123" "00000000000" || true
say "Done"
echo "The database keeps running: stop it with '$yibiao db stop'."
