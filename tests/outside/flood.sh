#!/usr/bin/env bash
# Needs h2load (Debian: nghttp2-client) and curl.
# Items 3 and 4 of issue 8, against `sieve up` (SQLite): what an internal call without the
# credential gets, and how many log bytes 10,000 refused calls write.
set -u
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
printf '\x00\x00\x00\x00\x00' > empty.grpc
$SIEVE up > flood-up.log 2>&1 & UP=$!
for _ in $(seq 1 120); do (exec 3<>/dev/tcp/127.0.0.1/50050) 2>/dev/null && break; sleep 0.5; done
sleep 1
echo "== an internal call with no credential (intake ListBanks)"
curl -s --http2-prior-knowledge -o /dev/null -D - -H 'content-type: application/grpc' -H 'te: trailers' \
  --data-binary @empty.grpc http://127.0.0.1:50051/sieve.intake.v1.IntakeService/ListBanks | grep -i '^grpc-\|^HTTP'
echo "== the pre-check's health check, with no credential (probes need none)"
curl -s --http2-prior-knowledge -o /dev/null -D - -H 'content-type: application/grpc' -H 'te: trailers' \
  --data-binary @empty.grpc http://127.0.0.1:50052/grpc.health.v1.Health/Check | grep -i '^grpc-status'
flood() { # name url header...
  local name=$1 url=$2; shift 2
  local before; before=$(stat -c %s flood-up.log)
  local lines_before; lines_before=$(wc -l < flood-up.log)
  h2load -n 10000 -c 50 -m 4 -H 'content-type: application/grpc' -H 'te: trailers' "$@" -d empty.grpc "$url" > h2load.out 2>&1
  sleep 2
  local after; after=$(stat -c %s flood-up.log)
  echo "$name: $(grep -o 'requests: .*' h2load.out | head -1); log +$((after - before)) bytes, +$(( $(wc -l < flood-up.log) - lines_before )) lines"
}
flood "gateway, garbage token" http://127.0.0.1:50050/sieve.gateway.v1.BankApiService/ListCases -H 'authorization: Bearer garbage.garbage.garbage'
flood "gateway, no token" http://127.0.0.1:50050/sieve.gateway.v1.BankApiService/ListCases
flood "intake, no credential" http://127.0.0.1:50051/sieve.intake.v1.IntakeService/ListBanks
flood "pre-check, no credential" http://127.0.0.1:50052/sieve.bad_debt_check.v1.RegistryService/GetRuling
flood "public door, no token" http://127.0.0.1:50050/sieve.gateway.v1.PublicApiService/VerifyCertificate
kill $UP; wait 2>/dev/null
