#!/usr/bin/env bash
# Start a local cluster of centrald replicas on PostgreSQL (docs/replicas.md),
# for a newcomer to try what production runs: N replicas sharing one
# database, each following the others' enrolments, with HAProxy in front
# when it is installed (apt install haproxy), until Ctrl-C.
#
#   ./scripts/cluster.sh            # three replicas
#   ./scripts/cluster.sh 2          # two
#   ./scripts/cluster.sh 3 --load   # and drive them with veinctl load
#
# The default remains one process on the embedded store: go run ./cmd/demo.
#
# Environment: VEINKIOSK_CLUSTER_DB (a PostgreSQL URL; default the database
# veinkiosk_cluster on 127.0.0.1:5432 as user postgres, password postgres,
# created when missing), VEINKIOSK_CLUSTER_PORT (first replica port, default
# 8081; HAProxy listens on the port before it), VEINKIOSK_CLUSTER_DIR (state:
# key ring, maker keys, logs; default a new temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."

n=3
load=0
for a in "$@"; do
  case "$a" in
    --load) load=1 ;;
    [1-9]) n=$a ;;
    *) echo "usage: $0 [N (1-9)] [--load]" >&2; exit 2 ;;
  esac
done
port=${VEINKIOSK_CLUSTER_PORT:-8081}
lbport=$((port - 1))
db=${VEINKIOSK_CLUSTER_DB:-postgres://postgres:postgres@127.0.0.1:5432/veinkiosk_cluster?sslmode=disable}
dir=${VEINKIOSK_CLUSTER_DIR:-$(mktemp -d /tmp/veinkiosk-cluster.XXXXXX)}
mkdir -p "$dir"

die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }

# ---- PostgreSQL --------------------------------------------------------------
command -v psql >/dev/null || die "psql not found: install PostgreSQL (sudo apt install postgresql postgresql-client) or set VEINKIOSK_CLUSTER_DB to a reachable server"
base=${db%%\?*}
name=${base##*/}
admin_url=${db/\/$name/\/postgres}
if ! psql "$db" -Atqc 'SELECT 1' >/dev/null 2>&1; then
  psql "$admin_url" -Atqc 'SELECT 1' >/dev/null 2>&1 || die "PostgreSQL does not answer at ${admin_url%%@*}@...: start it (./scripts/test.sh sets one up) or set VEINKIOSK_CLUSTER_DB"
  psql "$admin_url" -qc "CREATE DATABASE \"$name\"" || die "cannot create the database $name"
  echo "cluster: created the database $name"
fi

# ---- binaries, key ring, admin -----------------------------------------------
echo "cluster: building centrald and veinctl into $dir/bin"
go build -o "$dir/bin/centrald" ./cmd/centrald
go build -o "$dir/bin/veinctl" ./cmd/veinctl
if [ ! -f "$dir/keys" ]; then
  # The key ring sealing templates and personal data: every replica needs
  # the same one. A cluster database reused with another key ring cannot be
  # read: keep $dir, or drop the database.
  "$dir/bin/veinctl" keys generate --id cluster1 >"$dir/keys"
  chmod 600 "$dir/keys"
fi
pwfile="$dir/admin-password"
[ -f "$pwfile" ] || { head -c 12 /dev/urandom | base64 | tr -d '/+=' >"$pwfile"; chmod 600 "$pwfile"; }
export VEINKIOSK_ADMIN_PASSWORD
VEINKIOSK_ADMIN_PASSWORD=$(cat "$pwfile")

pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "cluster: stopped (state and logs in $dir)"
}
trap cleanup EXIT INT TERM

ready() { # url: wait up to 2 minutes for /readyz
  for _ in $(seq 1 1200); do
    curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# ---- replicas ------------------------------------------------------------------
# All share the database, the key ring and the maker-key file (the replicas
# of one machine follow each other's additions to it). The first starts
# alone: on an empty database it creates the administrator.
urls=()
for i in $(seq 1 "$n"); do
  p=$((port + i - 1))
  url="http://127.0.0.1:$p"
  # HAProxy (below) connects from 127.0.0.2 with a PROXY header
  # (docs/haproxy-replicas.cfg); kiosks listing the replicas come from
  # 127.0.0.1 without one. A local cluster holds throwaway data: its
  # replicas take veinctl load's bulk enrolment without deduplication
  # (--bulk-enrolment=unchecked; never on real residents).
  "$dir/bin/centrald" --listen "127.0.0.1:$p" --database-url "$db" --keys "$dir/keys" --makers "$dir/makers" \
    --trusted-proxies 127.0.0.2 --proxy-protocol --identify --bulk-enrolment unchecked --log-format json >"$dir/centrald-$i.log" 2>&1 &
  pids+=($!)
  echo "cluster: replica $i pid $! on $url (log $dir/centrald-$i.log)"
  if [ "$i" = 1 ]; then ready "$url" || die "replica 1 did not become ready: see $dir/centrald-1.log"; fi
  urls+=("$url")
done
for i in $(seq 1 "$n"); do
  ready "${urls[$((i - 1))]}" || die "replica $i did not become ready: see $dir/centrald-$i.log"
done
list=$(IFS=,; echo "${urls[*]}")

# ---- HAProxy (optional) ---------------------------------------------------------
lb=""
if command -v haproxy >/dev/null; then
  {
    sed -e "s/@LBPORT@/$lbport/" docs/haproxy-replicas.cfg | sed '/^    server /d'
    for i in $(seq 1 "$n"); do
      echo "    server centrald$i 127.0.0.1:$((port + i - 1)) check"
    done
  } >"$dir/haproxy.cfg"
  haproxy -c -q -f "$dir/haproxy.cfg" || die "haproxy rejects $dir/haproxy.cfg"
  haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
  pids+=($!)
  lb="http://127.0.0.1:$lbport"
  ready "$lb" || die "HAProxy does not answer on $lb: see $dir/haproxy.log"
fi

cat <<EOF

The cluster is up: $n centrald replicas on one PostgreSQL ($name).
  replicas:        $list
  load balancer:   ${lb:-none (sudo apt install haproxy, then run this again)}
  back office:     ${lb:-${urls[0]}}/office  (user admin, password in $pwfile)
  kiosks:          kioskd -server $list   (fails over in order)
  kill a replica:  kill -9 ${pids[0]}   (replica 1; the others go on serving)
  load test:       $dir/bin/veinctl load --server $list --admin-password @$pwfile --kiosks 8 --residents 300 --extracted 30 --batch 50 --duration 30s
Ctrl-C stops everything.
EOF

if [ "$load" = 1 ]; then
  "$dir/bin/veinctl" load --server "${lb:-$list}" --admin-password "@$pwfile" --kiosks 8 --residents 300 --extracted 30 --batch 50 --duration 30s
fi
wait
