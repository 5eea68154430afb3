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
APT_PACKAGES=(pkg-config libusb-1.0-0-dev umockdev libumockdev-dev chromium chromium-driver fonts-noto-cjk)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi
for bin in umockdev-wrapper pkg-config chromium; do
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
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  say "starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if command -v pg_isready >/dev/null; then
  pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL is not reachable at 127.0.0.1:5432 (TEST_DATABASE_URL=$TEST_DATABASE_URL)"
else
  die "PostgreSQL client tools (pg_isready) are missing; install postgresql or set up a server at 127.0.0.1:5432"
fi
# Tests that need PostgreSQL, USB emulation or a browser fail instead of
# skipping when these are set.
export VEINKIOSK_REQUIRE_POSTGRES=1 VEINKIOSK_REQUIRE_USB=1 VEINKIOSK_REQUIRE_BROWSER=1

# ---- static checks -------------------------------------------------------------
say "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"
say "go vet"
go vet ./... || die "go vet"
say "staticcheck"
staticcheck ./... || die "staticcheck"

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
# Test files that need the emulated device carry the build tag "umockdev".
usb_pkgs=$(grep -rl --include='*_test.go' '^//go:build.*umockdev' . | xargs -r -n1 dirname | sort -u | tr '\n' ' ')
if [ -n "$usb_pkgs" ]; then
  say "USB tests under umockdev-wrapper: $usb_pkgs"
  go test -tags umockdev -count=1 -timeout 10m -exec umockdev-wrapper $usb_pkgs || die "USB tests under umockdev"
fi
say "all checks passed"
