#!/usr/bin/env bash
# The ten-million-template measurement of docs/scaling.md (not a CI step:
# it needs about 17 GB of disk, a few GB of RAM and an hour on 2 cores).
#
#   scripts/scale-run.sh [DIR]        # default DIR=/tmp/veinkiosk-scale
#
# 1. matcherd gen writes the gallery files of 4 partitions of residents
#    1..1,666,667 (6 templates each: 10,000,002 templates), and one file of
#    residents 1..166,667 in a single partition (1,000,002 templates), for
#    the single-process comparison; files already there are kept.
# 2. For 1M, 3M and 10M templates (residents 1..166,667, 1..500,000 and
#    1..1,666,667) it starts nats-server on a free loopback port and four
#    matcherd shards memory-mapping their files (--residents N), runs
#    matcherd bench (identification: 1 search, k 2; deduplication: the two
#    fingers' searches at once, k 5), and records each shard's memory
#    (VmRSS, RssAnon, RssFile) and the load average. At 1M the bench also
#    checks every identification against the single-process gallery and
#    times it.
# Results: DIR/results-*.json and DIR/memory-*.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/veinkiosk-scale}
P=4
SEARCHES=${SEARCHES:-20}
mkdir -p "$DIR"
go build -o "$DIR/matcherd" ./cmd/matcherd
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$NATS" ] || { echo "FAIL: nats-server not installed (apt-get install nats-server)" >&2; exit 1; }

for p in $(seq 0 $((P - 1))); do
  f="$DIR/p$p-of-$P.vkgf"
  [ -s "$f" ] || "$DIR/matcherd" gen --out "$f" --residents 1666667 --partition "$p" --partitions "$P"
done
[ -s "$DIR/whole-1M.vkgf" ] || "$DIR/matcherd" gen --out "$DIR/whole-1M.vkgf" --residents 166667 --partition 0 --partitions 1

pids=()
stop() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
trap stop EXIT

for R in 166667 500000 1666667; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  printf 'max_payload: 8MB\n' > "$DIR/nats.conf"
  "$NATS" -c "$DIR/nats.conf" -a 127.0.0.1 -p "$port" > "$DIR/nats-$R.log" 2>&1 &
  pids+=($!)
  sleep 1
  for p in $(seq 0 $((P - 1))); do
    "$DIR/matcherd" --nats "nats://127.0.0.1:$port" --partition "$p" --partitions "$P" \
      --gallery-file "$DIR/p$p-of-$P.vkgf" --residents "$R" > "$DIR/shard-$R-$p.log" 2>&1 &
    pids+=($!)
  done
  whole=()
  [ "$R" != 166667 ] || whole=(--whole "$DIR/whole-1M.vkgf")
  echo "== residents 1..$R ($((6 * R)) templates); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$DIR/matcherd" bench --nats "nats://127.0.0.1:$port" --partitions "$P" --residents "$R" \
    --searches "$SEARCHES" "${whole[@]}" | tee "$DIR/results-$R.json"
  {
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
    for pid in "${pids[@]:1}"; do
      grep -E '^(VmRSS|RssAnon|RssFile)' "/proc/$pid/status" | tr -s ' \n' ' '
      echo
    done
  } | tee "$DIR/memory-$R.txt"
  stop
done
