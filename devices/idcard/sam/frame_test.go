package sam

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The worked frames of the reference (checksums verified there).
var goldenCommands = []struct {
	name  string
	cmd   Command
	frame string
}{
	{"find card", Command{Op: OpFindCard}, "AA AA AA 96 69 00 03 20 01 22"},
	{"select card", Command{Op: OpSelectCard}, "AA AA AA 96 69 00 03 20 02 21"},
	{"read 30 01", Command{Op: OpReadText}, "AA AA AA 96 69 00 03 30 01 32"},
	{"read 30 10", Command{Op: OpReadTextFinger}, "AA AA AA 96 69 00 03 30 10 23"},
	{"read SAM id", Command{Op: OpReadSAMID}, "AA AA AA 96 69 00 03 12 FF EE"},
}

var goldenResponses = []struct {
	name  string
	resp  Response
	frame string
}{
	{"find OK", Response{Status: StatusFindOK, Data: []byte{0, 0, 0, 0}}, "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97"},
	{"find failed", Response{Status: StatusNoCard}, "AA AA AA 96 69 00 04 00 00 80 84"},
	{"select OK", Response{Status: StatusOK, Data: make([]byte, 8)}, "AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C"},
}

func TestGoldenCommands(t *testing.T) {
	for _, tc := range goldenCommands {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.frame)
			got, err := tc.cmd.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode = % X\n   want % X", got, want)
			}
			back, err := DecodeCommand(want)
			if err != nil {
				t.Fatal(err)
			}
			if back.Op != tc.cmd.Op || len(back.Data) != 0 {
				t.Fatalf("decode = %+v, want %+v", back, tc.cmd)
			}
		})
	}
}

func TestGoldenResponses(t *testing.T) {
	for _, tc := range goldenResponses {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.frame)
			got, err := tc.resp.Append(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encode = % X\n   want % X", got, want)
			}
			back, err := DecodeResponse(want)
			if err != nil {
				t.Fatal(err)
			}
			if back.Status != tc.resp.Status || !bytes.Equal(back.Data, tc.resp.Data) {
				t.Fatalf("decode = %+v, want %+v", back, tc.resp)
			}
		})
	}
}

func TestSplitFrameErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame string
		want  error
	}{
		{"empty", "", ErrPreamble},
		{"bad preamble", "AA AA AB 96 69 00 03 20 01 22", ErrPreamble},
		{"header only", "AA AA AA 96 69 00", ErrTruncated},
		{"truncated body", "AA AA AA 96 69 00 04 00 00 80", ErrTruncated},
		{"extra byte", "AA AA AA 96 69 00 04 00 00 80 84 00", ErrLength},
		{"LEN too small", "AA AA AA 96 69 00 02 20 22", ErrLength},
		{"LEN absurd", "AA AA AA 96 69 FF FF 00 00 80 84", ErrLength},
		{"bad checksum", "AA AA AA 96 69 00 04 00 00 80 85", ErrChecksum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SplitFrame(unhex(t, tc.frame))
			if !errors.Is(err, tc.want) {
				t.Fatalf("SplitFrame = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := DecodeResponse(unhex(t, "AA AA AA 96 69 00 03 20 01 22")); !errors.Is(err, ErrLength) {
		t.Fatalf("a 2-byte body decoded as a response: %v", err)
	}
	if _, err := AppendFrame(nil, make([]byte, MaxLen)); !errors.Is(err, ErrLength) {
		t.Fatalf("AppendFrame of an absurd body: %v", err)
	}
}

func TestStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		st   Status
		want error
	}{
		{StatusNoCard, ErrNoCard},
		{StatusSelectFailed, ErrSelectCard},
		{StatusCardAuthSAM, ErrCardAuth},
		{StatusSAMAuthCard, ErrCardAuth},
		{StatusDataVerification, ErrDataVerification},
		{StatusReadFailed, ErrReadFailed},
		{StatusUnknownCardType, ErrUnknownCardType},
		{StatusNoItem, ErrNoItem},
		{StatusCommandChecksum, ErrCommandRejected},
		{StatusUnknownCommand, ErrCommandRejected},
		{StatusSelfTestFailed, ErrSAM},
		{StatusSAMNotAuthorised, ErrSAM},
	} {
		err := Response{Status: tc.st}.Err()
		if !errors.Is(err, tc.want) {
			t.Errorf("status %v: %v is not %v", tc.st, err, tc.want)
		}
		var se *StatusError
		if !errors.As(err, &se) || se.Status != tc.st {
			t.Errorf("status %v: no StatusError with the code in %v", tc.st, err)
		}
		p, ok := Explain(err)
		if !ok || p.Chinese == "" || p.English == "" {
			t.Errorf("status %v: no message for the resident", tc.st)
		}
	}
	for _, ok := range []Status{StatusOK, StatusFindOK} {
		if err := ok.Err(); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	if err := Status(0x55).Err(); err == nil || errors.Is(err, ErrNoCard) {
		t.Errorf("unknown status: %v", err)
	}
	if errors.Is(Status(0x80).Err(), ErrCardAuth) {
		t.Error("80 matches ErrCardAuth")
	}
	if s := (&StatusError{Status: StatusNoCard, Op: OpFindCard}).Error(); !strings.Contains(s, "20 01") || !strings.Contains(s, "80") {
		t.Errorf("error text %q lacks the command or the status", s)
	}
}

func TestSAMID(t *testing.T) {
	data := []byte{0x05, 0x00, 0x01, 0x00, 0x12, 0x34, 0x56, 0x00, 0x01, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x7F}
	id, err := DecodeSAMID(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := id.String(), "05.01-05649426-0000000001-2147483647"; got != want {
		t.Fatalf("SAM id %q, want %q", got, want)
	}
	if _, err := DecodeSAMID(data[:15]); !errors.Is(err, ErrLength) {
		t.Fatal(err)
	}
}
