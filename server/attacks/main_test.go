package attacks

import (
	"flag"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// TestMain raises the test parallelism (unless -parallel is given): every
// attack has its own server and database, and most of an attack's time is
// spent waiting for the database, so more of them than cores can run at
// once.
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		flag.Set("test.parallel", strconv.Itoa(max(4, 3*runtime.GOMAXPROCS(0))))
	}
	os.Exit(m.Run())
}
