package deps_test

// This test enforces the direction of dependencies described in
// docs/architecture.md, as tailscale's deps_test does: it asks `go list
// -deps` what every package of the module pulls in, transitively.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/qingshan-gov/veinkiosk"

// codecs are the wire codec packages: leaves shared by drivers and simulators.
var codecs = []string{
	module + "/devices/idcard/sam",
	module + "/devices/veinscan/wire",
	module + "/devices/escpos",
}

// identityPkg is the resident-identity domain: a leaf that codecs, drivers,
// simulators, the kiosk, the server and the tools share.
const identityPkg = module + "/identity"

type pkg struct {
	ImportPath string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Deps", "./...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list returned no packages")
	}
	return pkgs
}

func under(path, dir string) bool {
	p := module + "/" + dir
	return path == p || strings.HasPrefix(path, p+"/")
}

func isCodec(path string) bool {
	for _, c := range codecs {
		if path == c {
			return true
		}
	}
	return false
}

// rule returns a reason when pkg must not depend on dep, or "".
type rule func(pkg, dep string) string

var rules = []rule{
	func(p, d string) string {
		if isCodec(p) && strings.HasPrefix(d, module+"/") && d != identityPkg {
			return "wire codecs are leaves: they import nothing of this module but the identity domain"
		}
		return ""
	},
	func(p, d string) string {
		if under(p, "identity") && strings.HasPrefix(d, module+"/") && !under(d, "identity") {
			return "the identity domain is a leaf: it imports nothing of this module"
		}
		return ""
	},
	func(p, d string) string {
		if under(p, "server") && under(d, "devices") && d != module+"/devices/veinscan/wire" {
			return "the server imports no device package but the scanner codec (attestations); identity rules come from identity"
		}
		return ""
	},
	func(p, d string) string {
		if under(p, "matcher") && strings.HasPrefix(d, module+"/") && !under(d, "matcher") {
			return "matcher is a leaf: it imports nothing of this module outside matcher/"
		}
		return ""
	},
	func(p, d string) string {
		if under(p, "devices") && under(d, "simulators") {
			return "drivers never import simulators"
		}
		return ""
	},
	func(p, d string) string {
		if under(p, "simulators") && under(d, "devices") && !isCodec(d) {
			return "simulators import only the shared wire codecs of devices/, never drivers"
		}
		return ""
	},
	func(p, d string) string {
		if !under(p, "kiosk") {
			return ""
		}
		for _, banned := range []string{"github.com/gofiber/", "github.com/valyala/fasthttp", "github.com/jackc/pgx", "modernc.org/sqlite"} {
			if strings.HasPrefix(d, banned) {
				return "the kiosk never links the server's web framework or database drivers"
			}
		}
		if under(d, "server") && !under(d, "server/apiv1") {
			return "the kiosk talks to the server over HTTP; it may share only server/apiv1"
		}
		return ""
	},
	func(p, d string) string {
		if (d == "github.com/google/gousb" || under(d, "devices/veinscan/usb")) && !under(p, "cmd") && !under(p, "devices/veinscan/usb") {
			return "the USB transport (libusb) is linked only by the programs that drive real USB: libraries never import it"
		}
		if under(d, "simulators/veinsim/umockusb") && !under(p, "cmd") && !under(p, "simulators/veinsim/umockusb") {
			return "USB emulation (libumockdev) is linked only by programs: libraries never import it"
		}
		return ""
	},
	func(p, d string) string {
		if under(p, "server/apiv1") && (strings.HasPrefix(d, "github.com/gofiber/") || strings.HasPrefix(d, "github.com/jackc/pgx")) {
			return "server/apiv1 holds wire types only"
		}
		return ""
	},
}

func TestDependencyDirection(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, d := range p.Deps {
			for _, r := range rules {
				if why := r(p.ImportPath, d); why != "" {
					t.Errorf("%s depends on %s: %s", strings.TrimPrefix(p.ImportPath, module+"/"), d, why)
				}
			}
		}
	}
}

// TestRulesBite checks that each rule really rejects what it is meant to, so
// a typo in a path cannot turn the whole test into a no-op.
func TestRulesBite(t *testing.T) {
	bad := [][2]string{
		{module + "/devices/idcard/sam", module + "/matcher"},
		{module + "/devices/idcard/sam", module + "/devices/veinscan/wire"},
		{module + "/identity", module + "/devices/idcard/sam"},
		{module + "/identity", module + "/server/apiv1"},
		{module + "/server/api", module + "/devices/idcard/sam"},
		{module + "/server/store", module + "/devices/idcard/sam"},
		{module + "/server/apiv1", module + "/devices/idcard"},
		{module + "/server/store/internal/sqlcore", module + "/devices/veinscan"},
		{module + "/matcher", module + "/server/store"},
		{module + "/devices/idcard", module + "/simulators/idcardsim"},
		{module + "/simulators/idcardsim", module + "/devices/idcard"},
		{module + "/kiosk", "github.com/gofiber/fiber/v2"},
		{module + "/kiosk/ui", "github.com/jackc/pgx/v5/pgxpool"},
		{module + "/kiosk", module + "/server/store"},
		{module + "/server/apiv1", "github.com/gofiber/fiber/v2"},
		{module + "/devices/veinscan", module + "/devices/veinscan/usb"},
		{module + "/kiosk/hwdev", "github.com/google/gousb"},
		{module + "/simulators/veinsim", module + "/simulators/veinsim/umockusb"},
		{module + "/devices/printer", module + "/simulators/printersim"},
		{module + "/simulators/printersim", module + "/devices/printer"},
		{module + "/devices/escpos", module + "/devices/serialport"},
	}
	for _, pd := range bad {
		caught := false
		for _, r := range rules {
			if r(pd[0], pd[1]) != "" {
				caught = true
			}
		}
		if !caught {
			t.Errorf("no rule rejects %s -> %s", pd[0], pd[1])
		}
	}
	good := [][2]string{
		{module + "/simulators/idcardsim", module + "/devices/idcard/sam"},
		{module + "/devices/idcard", module + "/devices/idcard/sam"},
		{module + "/devices/idcard/sam", module + "/identity"},
		{module + "/server/api", module + "/identity"},
		{module + "/server/api", module + "/devices/veinscan/wire"},
		{module + "/kiosk", module + "/identity"},
		{module + "/identity", "golang.org/x/text/width"},
		{module + "/kiosk", module + "/server/apiv1"},
		{module + "/server/api", module + "/matcher"},
		{module + "/cmd/kioskd", module + "/devices/veinscan/usb"},
		{module + "/devices/veinscan/usb", "github.com/google/gousb"},
		{module + "/cmd/devsim", module + "/simulators/veinsim/umockusb"},
		{module + "/simulators/printersim", module + "/devices/escpos"},
		{module + "/devices/printer", module + "/devices/escpos"},
		{module + "/kiosk/hwdev", module + "/devices/printer"},
	}
	for _, pd := range good {
		for _, r := range rules {
			if why := r(pd[0], pd[1]); why != "" {
				t.Errorf("%s -> %s wrongly rejected: %s", pd[0], pd[1], why)
			}
		}
	}
}

// ---- what each program links ----------------------------------------------
//
// As tailscale's tstest/deptest: for every command in cmd/, the packages its
// binary must never link (go list -deps, transitively) and those it must
// link. A build tag configuration is a binary of its own.

// banned matches a dependency a binary must not link.
type banned struct {
	match func(dep string) bool
	why   string
}

// samples are, for each rule (by reason), dependencies it must reject;
// TestBinaryRulesBite feeds them to every binary that has the rule.
var samples = map[string][]string{
	noLibusb.why:   {"github.com/google/gousb", module + "/devices/veinscan/usb"},
	noUmockdev.why: {module + "/simulators/veinsim/umockusb"},
	noSims.why:     {module + "/simulators/deck", module + "/simulators/veinsim", module + "/simulators/pty", module + "/simulators/printersim"},
	noWeb.why:      {"github.com/gofiber/fiber/v2", "github.com/valyala/fasthttp"},
	noPgx.why:      {"github.com/jackc/pgx/v5"},
	noSQLite.why:   {"modernc.org/sqlite"},
	noDrivers.why:  {module + "/devices/veinscan", module + "/devices/idcard", module + "/devices/serialport", module + "/devices/veinscan/usb"},
	noServer.why:   {module + "/server/store", module + "/server/api", module + "/server/audit"},
}

func pkgIs(paths ...string) func(string) bool {
	return func(d string) bool {
		for _, p := range paths {
			if d == p {
				return true
			}
		}
		return false
	}
}

func inTree(dirs ...string) func(string) bool {
	return func(d string) bool {
		for _, dir := range dirs {
			if under(d, dir) {
				return true
			}
		}
		return false
	}
}

var (
	noLibusb   = banned{pkgIs("github.com/google/gousb", module+"/devices/veinscan/usb"), "links libusb (gousb): only programs that drive real USB scanners may (kioskd, veinctl -tags usb)"}
	noUmockdev = banned{pkgIs(module + "/simulators/veinsim/umockusb"), "links libumockdev: only devsim -tags umockdev and the USB tests may"}
	noSims     = banned{inTree("simulators"), "links a simulator: simulated devices belong to the demo, devsim and veinctl"}
	noWeb      = banned{pkgIs("github.com/gofiber/fiber/v2", "github.com/valyala/fasthttp"), "links the server's web framework"}
	noPgx      = banned{pkgIs("github.com/jackc/pgx/v5"), "links the PostgreSQL driver"}
	noSQLite   = banned{pkgIs("modernc.org/sqlite"), "links the embedded database"}
	noDrivers  = banned{func(d string) bool { return under(d, "devices") && !isCodec(d) }, "links a device driver: of devices/ it may link only the wire codecs"}
	noServer   = banned{func(d string) bool { return under(d, "server") && !under(d, "server/apiv1") }, "links the server: of server/ it may link only server/apiv1"}
)

type binary struct {
	cmd      string // directory under cmd/
	tags     string // -tags value, "" for the default build
	never    []banned
	requires []string // packages it must link (what the program is for)
	// sysLibs are the system libraries (pkg-config names) it may link
	// through cgo; none for the programs that must build with Go and gcc
	// alone.
	sysLibs []string
}

func (b binary) String() string {
	if b.tags == "" {
		return "cmd/" + b.cmd
	}
	return "cmd/" + b.cmd + " -tags " + b.tags
}

var binaries = []binary{
	{cmd: "demo", never: []banned{noLibusb, noUmockdev, noPgx}, requires: []string{module + "/simulators/veinsim", module + "/kiosk"}},
	{cmd: "centrald", never: []banned{noLibusb, noUmockdev, noSims, noDrivers}},
	{cmd: "matcherd", never: []banned{noLibusb, noUmockdev, noSims, noWeb, noSQLite, noDrivers}, requires: []string{module + "/server/shard", "github.com/nats-io/nats.go"}},
	{cmd: "kioskd", never: []banned{noUmockdev, noSims, noWeb, noPgx, noSQLite, noServer}, requires: []string{module + "/devices/veinscan/usb", module + "/devices/printer"}, sysLibs: []string{"libusb-1.0"}},
	{cmd: "devsim", never: []banned{noLibusb, noUmockdev, noWeb, noPgx, noSQLite, noDrivers}},
	{cmd: "devsim", tags: "umockdev", never: []banned{noLibusb, noWeb, noPgx, noSQLite, noDrivers}, requires: []string{module + "/simulators/veinsim/umockusb"}, sysLibs: []string{"umockdev-1.0", "glib-2.0"}},
	{cmd: "veinctl", never: []banned{noLibusb, noUmockdev, noWeb}},
	{cmd: "veinctl", tags: "usb", never: []banned{noUmockdev, noWeb}, requires: []string{module + "/devices/veinscan/usb"}, sysLibs: []string{"libusb-1.0"}},
}

// sysLibViolations lists the system libraries (pkg-config names, by the
// package that asks for them) the binary may not link.
func (b binary) sysLibViolations(pkgConfig map[string][]string) []string {
	var out []string
	for pkg, libs := range pkgConfig {
		for _, l := range libs {
			if !slices.Contains(b.sysLibs, l) {
				out = append(out, fmt.Sprintf("%s links %s, which needs the system library %s (pkg-config): it must build with Go and gcc alone", b, pkg, l))
			}
		}
	}
	sort.Strings(out)
	return out
}

// violations lists what is wrong with a binary that links deps.
func (b binary) violations(deps []string) []string {
	var out []string
	have := map[string]bool{}
	for _, d := range deps {
		have[d] = true
		for _, n := range b.never {
			if n.match(d) {
				out = append(out, fmt.Sprintf("%s links %s: %s", b, d, n.why))
			}
		}
	}
	for _, r := range b.requires {
		if !have[r] {
			out = append(out, fmt.Sprintf("%s does not link %s, which it exists to use", b, r))
		}
	}
	return out
}

// binaryDeps returns what the binary links and, for the packages that use
// pkg-config in cgo, the libraries they ask for.
func binaryDeps(t *testing.T, b binary) ([]string, map[string][]string) {
	t.Helper()
	args := []string{"list", "-deps", "-f", "{{.ImportPath}}{{range .CgoPkgConfig}} {{.}}{{end}}"}
	if b.tags != "" {
		args = append(args, "-tags", b.tags)
	}
	out, err := exec.Command("go", append(args, "./cmd/"+b.cmd)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list %s: %v\n%s", b, err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", b, err)
	}
	var deps []string
	pc := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		deps = append(deps, f[0])
		if len(f) > 1 {
			pc[f[0]] = f[1:]
		}
	}
	return deps, pc
}

func TestBinaryDeps(t *testing.T) {
	ruled := map[string]bool{}
	for _, b := range binaries {
		ruled[b.cmd] = true
		t.Run(strings.ReplaceAll(b.String(), " ", "_"), func(t *testing.T) {
			deps, pc := binaryDeps(t, b)
			for _, v := range append(b.violations(deps), b.sysLibViolations(pc)...) {
				t.Error(v)
			}
		})
	}
	// Every command has rules: a new one cannot slip through.
	entries, err := os.ReadDir("cmd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !ruled[e.Name()] {
			t.Errorf("cmd/%s has no entry in binaries: say what it must never link", e.Name())
		}
	}
}

// TestBinaryRulesBite feeds each binary's rules a synthetic dependency list
// with what it must not link, and one without what it must.
func TestBinaryRulesBite(t *testing.T) {
	find := func(cmd, tags string) binary {
		for _, b := range binaries {
			if b.cmd == cmd && b.tags == tags {
				return b
			}
		}
		t.Fatalf("no rules for cmd/%s tags %q", cmd, tags)
		return binary{}
	}
	for _, b := range binaries {
		for _, n := range b.never {
			if len(samples[n.why]) == 0 {
				t.Errorf("%s: rule %q has no samples", b, n.why)
			}
			for _, dep := range samples[n.why] {
				deps := append([]string{"fmt", module + "/matcher", dep}, b.requires...)
				if v := b.violations(deps); !strings.Contains(strings.Join(v, "\n"), n.why) {
					t.Errorf("%s linking %s: the rule %q did not reject it (violations %q)", b, dep, n.why, v)
				}
			}
		}
	}
	for _, b := range binaries {
		if v := b.violations(b.requires); len(v) != 0 {
			t.Errorf("%s: its own requirements are violations: %q", b, v)
		}
		if len(b.requires) > 0 {
			if v := b.violations(b.requires[1:]); len(v) != 1 {
				t.Errorf("%s without %s: %q, want one violation", b, b.requires[0], v)
			}
		}
	}
	// System libraries: only the binaries that list them.
	for _, b := range binaries {
		if v := b.sysLibViolations(map[string][]string{"x/y": {"libfoo-1.0"}}); len(v) != 1 {
			t.Errorf("%s linking libfoo through pkg-config: %q, want one violation", b, v)
		}
		if len(b.sysLibs) > 0 {
			if v := b.sysLibViolations(map[string][]string{"x/y": b.sysLibs}); len(v) != 0 {
				t.Errorf("%s: its own system libraries rejected: %q", b, v)
			}
		}
	}
	for _, cmd := range []string{"demo", "centrald", "devsim"} {
		if v := find(cmd, "").sysLibViolations(map[string][]string{"github.com/google/gousb": {"libusb-1.0"}}); len(v) != 1 {
			t.Errorf("cmd/%s linking libusb: %q", cmd, v)
		}
	}
	good := []struct{ cmd, tags, dep string }{
		{"centrald", "", module + "/devices/veinscan/wire"},
		{"centrald", "", module + "/devices/idcard/sam"},
		{"kioskd", "", module + "/server/apiv1"},
		{"kioskd", "", "github.com/google/gousb"},
		{"devsim", "umockdev", module + "/simulators/veinsim/umockusb"},
		{"veinctl", "usb", "github.com/google/gousb"},
		{"demo", "", module + "/simulators/veinsim"},
	}
	for _, tc := range good {
		b := find(tc.cmd, tc.tags)
		if v := b.violations(append([]string{tc.dep}, b.requires...)); len(v) != 0 {
			t.Errorf("%s linking %s wrongly rejected: %q", b, tc.dep, v)
		}
	}
}

// ---- the architecture table ------------------------------------------------

// tableRow is a row of the package table in docs/architecture.md.
type tableRow struct {
	line     int
	patterns []string // module-relative paths; "X/..." is a subtree
	anything bool
	allowed  []string
}

var backticked = regexp.MustCompile("`([^`]+)`")

// parseArchitectureTable reads the table whose header starts with
// "| package |": column 1 holds the row's packages in backticks
// (parenthesised text is commentary), column 3 the packages of this module
// they may import, in backticks, or "nothing", or "anything".
func parseArchitectureTable(doc string) ([]tableRow, error) {
	var rows []tableRow
	in := false
	for i, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "| package |") {
			in = true
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			break
		}
		if strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			return nil, fmt.Errorf("line %d: %d cells, want 3: %s", i+1, len(cells), line)
		}
		r := tableRow{line: i + 1}
		first := regexp.MustCompile(`\([^)]*\)`).ReplaceAllString(cells[0], "")
		for _, m := range backticked.FindAllStringSubmatch(first, -1) {
			r.patterns = append(r.patterns, m[1])
		}
		if len(r.patterns) == 0 {
			return nil, fmt.Errorf("line %d: no package in backticks in the first column", i+1)
		}
		allow := strings.TrimSpace(cells[2])
		switch {
		case strings.HasPrefix(allow, "anything"):
			r.anything = true
		case strings.HasPrefix(allow, "nothing"):
			if backticked.MatchString(allow) {
				return nil, fmt.Errorf("line %d: %q says nothing but lists packages", i+1, allow)
			}
		default:
			for _, m := range backticked.FindAllStringSubmatch(allow, -1) {
				r.allowed = append(r.allowed, m[1])
			}
			if len(r.allowed) == 0 {
				return nil, fmt.Errorf("line %d: third column %q: want packages in backticks, nothing or anything", i+1, allow)
			}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil, errors.New("no package table (header \"| package |\")")
	}
	return rows, nil
}

// matchPattern reports whether the module-relative path p matches pat, and
// how specifically (longer is more specific; an exact match beats a subtree).
func matchPattern(pat, p string) (int, bool) {
	if dir, ok := strings.CutSuffix(pat, "/..."); ok {
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return 2 * len(dir), true
		}
		return 0, false
	}
	return 2*len(pat) + 1, p == pat
}

func rowFor(rows []tableRow, p string) *tableRow {
	var best *tableRow
	bestScore := -1
	for i := range rows {
		for _, pat := range rows[i].patterns {
			if s, ok := matchPattern(pat, p); ok && s > bestScore {
				best, bestScore = &rows[i], s
			}
		}
	}
	return best
}

// tableViolations checks the direct imports of this module's packages
// (module-relative path to module-relative imports) against the table.
func tableViolations(rows []tableRow, imports map[string][]string) []string {
	var out []string
	used := map[*tableRow]map[string]bool{}
	for p, imps := range imports {
		r := rowFor(rows, p)
		if r == nil {
			out = append(out, fmt.Sprintf("%s has no row in the table of docs/architecture.md", p))
			continue
		}
		if r.anything {
			continue
		}
		for _, d := range imps {
			if rowFor(rows, d) == r {
				continue // its own row
			}
			ok := false
			for _, a := range r.allowed {
				if _, m := matchPattern(a, d); m {
					ok = true
					if used[r] == nil {
						used[r] = map[string]bool{}
					}
					used[r][a] = true
				}
			}
			if !ok {
				out = append(out, fmt.Sprintf("%s imports %s, which its row (docs/architecture.md line %d) does not allow", p, d, r.line))
			}
		}
	}
	for i := range rows {
		r := &rows[i]
		for _, a := range r.allowed {
			if !used[r][a] {
				out = append(out, fmt.Sprintf("docs/architecture.md line %d allows %s, but no package of the row imports it", r.line, a))
			}
		}
	}
	sort.Strings(out)
	return out
}

func moduleImports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{if or .GoFiles .CgoFiles}}{{.ImportPath}}{{range .Imports}} {{.}}{{end}}{{end}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var own []string
		for _, d := range f[1:] {
			if strings.HasPrefix(d, module+"/") {
				own = append(own, strings.TrimPrefix(d, module+"/"))
			}
		}
		m[strings.TrimPrefix(f[0], module+"/")] = own
	}
	return m
}

// TestArchitectureTable keeps the table of docs/architecture.md true.
func TestArchitectureTable(t *testing.T) {
	doc, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := parseArchitectureTable(string(doc))
	if err != nil {
		t.Fatalf("docs/architecture.md: %v", err)
	}
	for _, v := range tableViolations(rows, moduleImports(t)) {
		t.Error(v)
	}
}

// TestArchitectureTableBites feeds the checker a synthetic table and
// import graphs with each kind of drift.
func TestArchitectureTableBites(t *testing.T) {
	doc := "# x\n\n| package | role | may import (of this module) |\n|---|---|---|\n" +
		"| `a/leaf` | a leaf | nothing (leaf) |\n" +
		"| `a/drv` (+ helpers) | driver | `a/leaf` |\n" +
		"| `b/...`, `c` | b tree | `a/leaf`, `a/drv` |\n" +
		"| `b/special` | special | `a/leaf` |\n" +
		"| `cmd/...` | mains | anything |\n\nafter\n"
	rows, err := parseArchitectureTable(doc)
	if err != nil {
		t.Fatal(err)
	}
	good := map[string][]string{
		"a/leaf": nil, "a/drv": {"a/leaf"}, "b": {"a/drv", "b/x"}, "b/x": {"a/leaf"}, "c": {"b"},
		"b/special": {"a/leaf"}, "cmd/tool": {"b/special", "zz"},
	}
	if v := tableViolations(rows, good); len(v) != 0 {
		t.Fatalf("a true table rejected: %q", v)
	}
	for name, tc := range map[string]struct {
		change func(map[string][]string)
		want   string
	}{
		"leaf imports":         {func(m map[string][]string) { m["a/leaf"] = []string{"a/drv"} }, "a/leaf imports a/drv"},
		"not allowed":          {func(m map[string][]string) { m["a/drv"] = []string{"a/leaf", "b"} }, "a/drv imports b"},
		"specific row wins":    {func(m map[string][]string) { m["b/special"] = []string{"a/leaf", "a/drv"} }, "b/special imports a/drv"},
		"package without row":  {func(m map[string][]string) { m["d/new"] = nil }, "d/new has no row"},
		"allowance never used": {func(m map[string][]string) { m["a/drv"] = nil }, "allows a/leaf, but no package"},
	} {
		m := map[string][]string{}
		for k, v := range good {
			m[k] = append([]string(nil), v...)
		}
		tc.change(m)
		v := tableViolations(rows, m)
		if !strings.Contains(strings.Join(v, "\n"), tc.want) {
			t.Errorf("%s: violations %q lack %q", name, v, tc.want)
		}
	}
	for _, bad := range []string{
		"| package | role | may import |\n|---|---|---|\n| a | no backticks | nothing |\n",
		"| package | role | may import |\n|---|---|---|\n| `a` | x | maybe b |\n",
		"| package | role | may import |\n|---|---|---|\n| `a` | two cells |\n",
		"| package | role | may import |\n|---|---|---|\n| `a` | x | nothing but `b` |\n",
		"no table\n",
	} {
		if _, err := parseArchitectureTable(bad); err == nil {
			t.Errorf("malformed table accepted:\n%s", bad)
		}
	}
}
