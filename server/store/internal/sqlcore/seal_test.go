package sqlcore

import (
	"fmt"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

func testStore(t testing.TB) *Store {
	t.Helper()
	k, err := keyring.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.New("k", map[string][]byte{"k": k})
	if err != nil {
		t.Fatal(err)
	}
	ik, err := keyring.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &Store{ring: ring, indexKey: ik}
}

// TestIDKey: the blind index is of the canonical form, has the fixed
// length the legacy conversion relies on, and never reads as an ID number
// in an audit event (the events of lockouts carry it).
func TestIDKey(t *testing.T) {
	s := testStore(t)
	if a, b := s.idKey("11010519491231002x"), s.idKey(" 11010519491231002X\t"); a != b {
		t.Errorf("idKey differs for variants of one ID number: %s %s", a, b)
	}
	if s.idKey("110105194912310021") == s.idKey("110105194912310022") {
		t.Error("two ID numbers share a blind index")
	}
	for i := 0; i < 20000; i++ {
		k := s.idKey(fmt.Sprintf("1101051949%08d", i))
		if len(k) != idKeyLen || idKeyLen <= 32 {
			t.Fatalf("idKey length %d, want %d (> 32)", len(k), idKeyLen)
		}
		e := audit.Event{Time: time.Now(), Actor: audit.System("t"), Action: "verification.attempt", Target: "resident:1", Details: map[string]string{"id_key": k}}
		if _, err := audit.Link(0, audit.Hash{}, e); err != nil {
			t.Fatalf("an event carrying blind index %q is refused: %v", k, err)
		}
	}
}

// TestSealTextBinding: a sealed text opens only with its own associated
// data; plaintext put in a sealed column is refused.
func TestSealTextBinding(t *testing.T) {
	s := testStore(t)
	v, err := s.sealText("6222020200112233445", adFilingForm("QS-2026-000001"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.openText(v, adFilingForm("QS-2026-000001")); err != nil || got != "6222020200112233445" {
		t.Errorf("openText = %q, %v", got, err)
	}
	if _, err := s.openText(v, adFilingForm("QS-2026-000002")); err == nil {
		t.Error("a form moved to another filing opens")
	}
	if _, err := s.openText(`{"bank_account":"1"}`, adFilingForm("QS-2026-000001")); err == nil {
		t.Error("plaintext in a sealed column is accepted")
	}
}

// BenchmarkPersonalLookup: what sealing adds to one lookup of a resident
// by ID number (the blind index, and opening the sealed record).
//
//	go test -run XXX -bench BenchmarkPersonalLookup ./server/store/internal/sqlcore
func BenchmarkPersonalLookup(b *testing.B) {
	s := testStore(b)
	key, sealed, err := s.sealResident(residentFixture())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("idKey", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_ = s.idKey("11010519491231002X")
		}
	})
	b.Run("openResident", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			res := residentFixture()
			if err := s.openResident(&res, key, sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func residentFixture() store.Resident {
	return store.Resident{ID: 1, IDNumber: "11010519491231002X", Name: "欧阳测试", Address: "青山区幸福路1号",
		BirthDate: time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC), Household: "H00001"}
}
