#!/usr/bin/env bash
# Back up the Yibiao database to one file (pg_dump's custom format: a consistent snapshot of every
# table, the change log and the audit log with their hash chains).
#   deploy/backup.sh /var/backups/yibiao/yibiao-$(date +%F).dump
# The database: YIBIAO_DATABASE_URL, else the embedded one under YIBIAO_HOME (`yibiao db url`).
# Writes FILE (mode 0600: it holds personal data) and FILE.sha256; nothing is left half-written.
set -euo pipefail
out=${1:?"usage: deploy/backup.sh FILE.dump"}
yibiao=${YIBIAO:-yibiao}
url=${YIBIAO_DATABASE_URL:-$("$yibiao" db url)}
bindir=${YIBIAO_PG_BINDIR:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
partial="$out.partial"
umask 077
trap 'rm -f "$partial"' EXIT
"$bindir/pg_dump" --format=custom --no-owner --no-privileges --dbname="$url" --file="$partial"
# A dump that cannot be listed is no backup.
"$bindir/pg_restore" --list "$partial" > /dev/null
mv "$partial" "$out"
(cd "$(dirname "$out")" && sha256sum "$(basename "$out")" > "$(basename "$out").sha256")
echo "backed up to $out ($(du -h "$out" | cut -f1))"
