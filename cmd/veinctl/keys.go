package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/storeopen"
)

func init() {
	register(command{
		name:    "keys",
		summary: "manage the key ring that encrypts biometric data at rest",
		run:     runKeys,
	})
}

const keysUsage = `usage:
  veinctl keys generate --id ID [--append FILE]
  veinctl keys show [--keys FILE]
  veinctl keys reencrypt (--data DIR | --database-url URL) [--keys FILE]

Rotation: "generate --append" adds a new key to the key file; the last key
in the file is the primary, used for everything written from then on. Restart
the server with the new file (old keys still decrypt), run "reencrypt" to
re-seal every template and image under the primary, then remove the old key
from the file. Without --keys, the key ring is read from $` + keyring.EnvVar + `.`

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, keysUsage)
		if len(args) == 0 {
			return fmt.Errorf("%w: missing sub-command", errUsage)
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "generate":
		return runKeysGenerate(args[1:], stdout, stderr)
	case "show":
		return runKeysShow(args[1:], stdout, stderr)
	case "reencrypt":
		return runKeysReencrypt(ctx, args[1:], stdout, stderr)
	default:
		return fmt.Errorf("%w: unknown sub-command %q", errUsage, args[0])
	}
}

func runKeysGenerate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "key id, e.g. 2026a (letters, digits, . _ -)")
	appendTo := fs.String("append", "", "append the key to this key file (created with mode 0600) instead of printing it")
	if err := auditParseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: --id is required", errUsage)
	}
	line, err := keyring.GenerateLine(*id)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *appendTo == "" {
		fmt.Fprintln(stdout, line)
		return nil
	}
	if existing, err := os.ReadFile(*appendTo); err == nil {
		r, err := keyring.Parse(existing)
		if err != nil && !errors.Is(err, keyring.ErrNoKeys) {
			return fmt.Errorf("%s: %w", *appendTo, err)
		}
		if r != nil {
			for _, have := range r.IDs() {
				if have == *id {
					return fmt.Errorf("%s already holds a key %q", *appendTo, *id)
				}
			}
		}
		if len(existing) > 0 && !strings.HasSuffix(string(existing), "\n") {
			line = "\n" + line
		}
	}
	f, err := os.OpenFile(*appendTo, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	r, err := keyring.LoadFile(*appendTo)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added key %q to %s; primary is now %q\n", *id, *appendTo, r.Primary())
	return nil
}

func keysFlag(fs *flag.FlagSet) *string {
	return fs.String("keys", "", "key file (default: $"+keyring.EnvVar+")")
}

func runKeysShow(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := keysFlag(fs)
	if err := auditParseFlags(fs, args); err != nil {
		return err
	}
	r, err := keyring.Load(*path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "keys: %s\nprimary: %s\n", strings.Join(r.IDs(), " "), r.Primary())
	return nil
}

func runKeysReencrypt(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys reencrypt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := storeFlags(fs)
	path := keysFlag(fs)
	if err := auditParseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	r, err := keyring.Load(*path)
	if err != nil {
		return err
	}
	s, err := storeopen.OpenExisting(ctx, *cfg, store.Options{Keyring: r})
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.Reencrypt(ctx, audit.System("veinctl-keys"))
	if err != nil {
		return fmt.Errorf("re-encryption stopped after %d samples (run it again to resume): %w", st.Samples, err)
	}
	fmt.Fprintf(stdout, "re-encrypted %d blobs of %d samples and %d sealed personal values under key %q\n", st.Reencrypted, st.Samples, st.Personal, r.Primary())
	return nil
}
