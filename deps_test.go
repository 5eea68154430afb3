package deps_test

// This test enforces the direction of dependencies described in
// docs/architecture.md, as tailscale's deps_test does: it asks `go list
// -deps` what every package of the module pulls in, transitively.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/qingshan-gov/veinkiosk"

// codecs are the wire codec packages: leaves shared by drivers and simulators.
var codecs = []string{
	module + "/devices/idcard/sam",
	module + "/devices/veinscan/wire",
}

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
		if isCodec(p) && strings.HasPrefix(d, module+"/") {
			return "wire codecs are leaves: they import nothing of this module"
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
		{module + "/matcher", module + "/server/store"},
		{module + "/devices/idcard", module + "/simulators/idcardsim"},
		{module + "/simulators/idcardsim", module + "/devices/idcard"},
		{module + "/kiosk", "github.com/gofiber/fiber/v2"},
		{module + "/kiosk/ui", "github.com/jackc/pgx/v5/pgxpool"},
		{module + "/kiosk", module + "/server/store"},
		{module + "/server/apiv1", "github.com/gofiber/fiber/v2"},
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
		{module + "/kiosk", module + "/server/apiv1"},
		{module + "/server/api", module + "/matcher"},
	}
	for _, pd := range good {
		for _, r := range rules {
			if why := r(pd[0], pd[1]); why != "" {
				t.Errorf("%s -> %s wrongly rejected: %s", pd[0], pd[1], why)
			}
		}
	}
}
