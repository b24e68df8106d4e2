#!/usr/bin/env bash
# Restore a backup made by deploy/backup.sh into an empty database, then check both hash chains.
#   createdb yibiao_restored   # or any empty database
#   YIBIAO_DATABASE_URL=postgresql://…/yibiao_restored deploy/restore.sh FILE.dump [DISTRICT…]
# Refuses a database that already has tables, and a file whose FILE.sha256 does not match.
# With districts named, runs `yibiao log verify` and `yibiao audit verify` for each.
set -euo pipefail
file=${1:?"usage: deploy/restore.sh FILE.dump [DISTRICT...]"}
shift
yibiao=${YIBIAO:-yibiao}
url=${YIBIAO_DATABASE_URL:?"set YIBIAO_DATABASE_URL to the (empty) database to restore into"}
bindir=${YIBIAO_PG_BINDIR:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
if [ -f "$file.sha256" ]; then
  (cd "$(dirname "$file")" && sha256sum --check --status "$(basename "$file").sha256") \
    || { echo "error: $file does not match $file.sha256" >&2; exit 1; }
fi
tables=$("$bindir/psql" --dbname="$url" --tuples-only --no-align \
  --command="SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
if [ "$tables" != "0" ]; then
  echo "error: the target database already has $tables tables; restore into an empty one" >&2
  exit 1
fi
"$bindir/pg_restore" --no-owner --no-privileges --exit-on-error --single-transaction --dbname="$url" "$file"
echo "restored $file"
for district in "$@"; do
  YIBIAO_DATABASE_URL="$url" "$yibiao" log verify --district "$district"
  YIBIAO_DATABASE_URL="$url" "$yibiao" audit verify --district "$district"
done
