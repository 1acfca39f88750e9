# Sourced by the scripts here: the `sieve` binary, this folder, and a fresh working folder
# (WORK, default a new temp dir) with an empty ./data for `sieve up`.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIEVE=${SIEVE:-$ROOT/target/debug/sieve}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=${WORK:-$(mktemp -d)}
cd "$WORK" || exit 1
echo "working in $WORK"
rm -rf data
mkdir data
