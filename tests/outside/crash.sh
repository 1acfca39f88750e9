#!/usr/bin/env bash
# Item 1 of issue 8, against `sieve up`: a 100,000-row submit killed (kill -9 of `sieve up`)
# after about half the rows, then the fixed file (new key) resubmitted within the lease.
# DB=postgres uses PostgreSQL (schema per service in database `crash`).
set -u
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
[ -f v1.csv ] || python3 "$HERE/batch_file.py" 100000 v1.csv
[ -f v2.csv ] || python3 "$HERE/batch_file.py" 100000 v2.csv 99999
if [ "${DB:-sqlite}" = postgres ]; then
  psql -qAt postgres://postgres@127.0.0.1:5432/test -c "DROP DATABASE IF EXISTS crash" -c "CREATE DATABASE crash" >/dev/null
  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/crash
  q() { psql -qAt "$DATABASE_URL" -c "SET search_path=intake; $1" | tail -1; }
else
  q() { python3 -c "import sqlite3,sys; c=sqlite3.connect('data/intake.db'); print(c.execute(sys.argv[1]).fetchone()[0])" "$1"; }
fi
up() { $SIEVE up > "up$1.log" 2>&1 & echo $! > up.pid; for _ in $(seq 1 120); do (exec 3<>/dev/tcp/127.0.0.1/50050) 2>/dev/null && return; sleep 0.5; done; echo "suite did not start"; exit 1; }
up 1
$SIEVE submit v1.csv --bank CRASH > submit1.log 2>&1 &
SUB=$!
while :; do n=$(q "SELECT COALESCE(MAX(received_cases),0) FROM batch" 2>/dev/null || echo 0); [ "${n:-0}" -ge 50000 ] && break; sleep 0.05; done
kill -9 "$(cat up.pid)"; wait "$SUB" 2>/dev/null
echo "killed after $(q "SELECT received_cases FROM batch") rows received; cases written $(q "SELECT COUNT(*) FROM court_case")"
up 2
$SIEVE submit v2.csv --bank CRASH > submit2.log 2>&1
tail -4 submit2.log
report() {
  echo "batches: $(q "SELECT string_agg(status || ' ' || accepted_cases || '/' || existing_cases || '/' || refused_cases, '; ') FROM batch" 2>/dev/null || q "SELECT group_concat(status || ' ' || accepted_cases || '/' || existing_cases || '/' || refused_cases, '; ') FROM batch")"
  echo "visible cases: $(q "SELECT COUNT(*) FROM court_case c JOIN batch b ON b.id = c.batch_id WHERE b.status = 'COMPLETED'")"
  echo "rows lost: $(q "SELECT 100000 - (SELECT COUNT(*) FROM court_case c JOIN batch b ON b.id = c.batch_id WHERE b.status = 'COMPLETED')")"
  echo "dangling EXISTING ids: $(q "SELECT COUNT(*) FROM batch_row r WHERE r.case_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM court_case c WHERE c.id = r.case_id)")"
}
report
kill "$(cat up.pid)"; wait 2>/dev/null; sleep 1
echo "-- after another restart"
up 3; sleep 2; report
kill "$(cat up.pid)"; wait 2>/dev/null
