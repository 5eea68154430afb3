#!/usr/bin/env bash
# The project's one test command (README: "Run the tests"). .ci/run calls it too.
#
# It installs what a fresh Debian 12 machine with only Go, gcc and git lacks,
# starts PostgreSQL when it is down, and runs every check. Anything missing
# makes it fail loudly: nothing is skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n=== %s\n' "$*" >&2; }
die() { printf '\nFAIL: %s\n' "$*" >&2; exit 1; }

# ---- system packages -------------------------------------------------------
# The README's first command (go run ./cmd/demo) needs none of these. The
# tests do: libusb + pkg-config for the real USB transport (kioskd,
# devices/veinscan/usb), umockdev for the emulated USB device, Chromium for
# the browser tests, PostgreSQL for the store's second backend, nats-server
# for the matcher shards (server/shard: each test starts its own on a free
# port), HAProxy and nginx with its stream module for the documented load
# balancers (server/attacks runs docs/haproxy-replicas.cfg and
# docs/nginx-replicas.conf in front of two replicas).
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# haproxy and nginx install into /usr/sbin, which a user's PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"
APT_PACKAGES=(pkg-config libusb-1.0-0-dev umockdev libumockdev-dev chromium chromium-driver fonts-noto-cjk nats-server haproxy nginx libnginx-mod-stream)
# The PostgreSQL server only when none answers at the test URL's address.
if ! command -v pg_isready >/dev/null || ! pg_isready -q -h 127.0.0.1 -p 5432; then
  APT_PACKAGES+=(postgresql postgresql-client)
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing system packages: ${missing[*]}"
  [ -z "$SUDO" ] || command -v sudo >/dev/null || die "not root and no sudo: cannot install ${missing[*]}"
  $SUDO apt-get update -qq || die "apt-get update failed"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi
for bin in umockdev-wrapper pkg-config chromium pg_isready psql nats-server haproxy nginx; do
  command -v "$bin" >/dev/null || die "$bin not found after install"
done
pkg-config --exists libusb-1.0 umockdev-1.0 || die "pkg-config cannot find libusb-1.0 / umockdev-1.0"

# ---- Go tools and modules ----------------------------------------------------
export PATH="$(go env GOPATH)/bin:$PATH"
say "go modules"
go mod download || die "go mod download failed"
go mod verify >/dev/null || die "go mod verify failed"
if ! command -v staticcheck >/dev/null; then
  say "installing staticcheck"
  GOFLAGS= go install honnef.co/go/tools/cmd/staticcheck@v0.8.2 || die "cannot install staticcheck"
fi

# ---- PostgreSQL ----------------------------------------------------------------
# The default URL carries a password: Debian's pg_hba.conf asks for one on
# 127.0.0.1 (scram-sha-256), and servers with trust auth ignore it.
default_url="postgres://postgres:postgres@127.0.0.1:5432/test?sslmode=disable"
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$default_url}"
pg_ok() { psql "$1" -X -q -t -A -c 'SELECT 1' >/dev/null 2>&1; }
pg_why() { psql "$1" -X -q -t -A -c 'SELECT 1' 2>&1 >/dev/null | head -n 3 | tr '\n' ' '; }
# as_postgres runs a command as the postgres system user (peer auth on the
# local socket), from / so that it may change directory.
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && sudo -u postgres "$@"); fi
}
if ! pg_ok "$TEST_DATABASE_URL"; then
  [ "$TEST_DATABASE_URL" = "$default_url" ] \
    || die "cannot connect to TEST_DATABASE_URL=$TEST_DATABASE_URL: $(pg_why "$TEST_DATABASE_URL") (unset it to let this script set up a local PostgreSQL)"
  say "setting up PostgreSQL at 127.0.0.1:5432"
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    command -v pg_lsclusters >/dev/null || die "PostgreSQL is not reachable at 127.0.0.1:5432 and postgresql-common is not installed"
    cluster=$(pg_lsclusters -h 2>/dev/null | awk '$3 == 5432 { print $1, $2; exit }')
    [ -n "$cluster" ] || die "no PostgreSQL cluster on port 5432 (pg_lsclusters: $(pg_lsclusters -h 2>&1 | tr '\n' ';'))"
    # --skip-systemctl-redirect: works in containers and chroots without systemd.
    $SUDO pg_ctlcluster --skip-systemctl-redirect $cluster start || die "pg_ctlcluster $cluster start failed"
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL cluster $cluster started but does not answer at 127.0.0.1:5432"
  fi
  admin_url="postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable"
  if ! pg_ok "$admin_url"; then
    say "setting the postgres role's password for connections over 127.0.0.1"
    as_postgres psql -X -q -c "ALTER ROLE postgres PASSWORD 'postgres'" || die "cannot set the postgres role's password"
    pg_ok "$admin_url" || die "cannot connect to $admin_url even after setting the password: $(pg_why "$admin_url") (check pg_hba.conf)"
  fi
  if [ "$(psql "$admin_url" -X -t -A -c "SELECT 1 FROM pg_database WHERE datname = 'test'")" != 1 ]; then
    say "creating database test"
    psql "$admin_url" -X -q -c 'CREATE DATABASE test' || die "cannot create database test"
  fi
  pg_ok "$TEST_DATABASE_URL" || die "cannot connect to $TEST_DATABASE_URL after setting PostgreSQL up: $(pg_why "$TEST_DATABASE_URL")"
fi
# Tests that need PostgreSQL, USB emulation, a browser, nats-server, haproxy
# or nginx fail instead of skipping when these are set.
export VEINKIOSK_REQUIRE_POSTGRES=1 VEINKIOSK_REQUIRE_USB=1 VEINKIOSK_REQUIRE_BROWSER=1 VEINKIOSK_REQUIRE_NATS=1 VEINKIOSK_REQUIRE_HAPROXY=1 VEINKIOSK_REQUIRE_NGINX=1

# ---- static checks -------------------------------------------------------------
say "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"
# Packages with files behind the build tags usb and umockdev.
tagged_pkgs=$(grep -rl --include='*.go' -E '^//go:build .*\b(usb|umockdev)\b' . | xargs -r -n1 dirname | sort -u | tr '\n' ' ')
say "go vet"
go vet ./... || die "go vet"
# The files behind build tags: real USB in veinctl (usb), USB emulation (umockdev).
go vet -tags usb,umockdev $tagged_pkgs || die "go vet -tags usb,umockdev"
say "staticcheck"
staticcheck ./... || die "staticcheck"
staticcheck -tags usb,umockdev $tagged_pkgs || die "staticcheck -tags usb,umockdev"

# ---- tests ---------------------------------------------------------------------------
say "go test -race ./..."
go test -race -count=1 -timeout 20m ./... || die "go test"

# The matcher's portable kernels: built with -tags purego (what CPUs without
# AVX-512 and other architectures run) and for arm64, so that a file only
# those builds compile cannot break unseen.
say "matcher: portable kernels (-tags purego, GOARCH=arm64 vet)"
go test -tags purego -count=1 ./matcher/... || die "matcher tests with -tags purego"
GOARCH=arm64 go vet ./matcher/... || die "go vet GOARCH=arm64 ./matcher/..."

# USB: the real gousb code path against the simulator as an emulated device.
# Test files that need the emulated device carry the build tag "umockdev";
# "usb" builds veinctl with its real USB transport too.
usb_pkgs=$(grep -rl --include='*_test.go' '^//go:build umockdev' . | xargs -r -n1 dirname | sort -u | tr '\n' ' ')
[ -n "$usb_pkgs" ] || die "no test files tagged umockdev found: the USB tests would silently not run"
say "USB tests under umockdev-wrapper: $usb_pkgs"
go test -tags usb,umockdev -count=1 -timeout 10m -exec umockdev-wrapper $usb_pkgs || die "USB tests under umockdev"
say "all checks passed"
