package storeopen

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/storetest"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		c    Config
		want string
	}{
		{Config{DataDir: "/var/lib/veinkiosk"}, ""},
		{Config{DatabaseURL: "postgres://u@h/db"}, ""},
		{Config{DatabaseURL: "postgresql://u@h/db"}, ""},
		{Config{}, "give a data directory"},
		{Config{DataDir: "d", DatabaseURL: "postgres://x"}, "not both"},
		{Config{DatabaseURL: "mysql://x"}, "postgres://"},
	}
	for _, tc := range cases {
		err := tc.c.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.c, err, tc.want)
		}
	}
}

func TestStringHidesCredentials(t *testing.T) {
	s := Config{DatabaseURL: "postgres://veinkiosk:s3cret@db.internal:5432/vk"}.String()
	if strings.Contains(s, "s3cret") || !strings.Contains(s, "db.internal") {
		t.Errorf("String() = %q", s)
	}
	if s := (Config{DataDir: "/data"}).String(); s != "sqlite:/data/veinkiosk.db" {
		t.Errorf("String() = %q", s)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	ring, err := EphemeralKeyring()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenExisting(ctx, Config{DataDir: dir}, store.Options{Keyring: ring}); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Errorf("OpenExisting(missing) = %v", err)
	}
	s, err := Open(ctx, Config{DataDir: dir}, store.Options{Keyring: ring})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenExisting(ctx, Config{DataDir: dir}, store.Options{Keyring: ring})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	url := storetest.PostgresURL(t)
	s, err = Open(ctx, Config{DatabaseURL: url}, store.Options{Keyring: ring})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
