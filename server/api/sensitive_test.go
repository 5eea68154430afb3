package api

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/catalogue"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/sqlite"
)

// TestSensitiveFieldsMarked: every field that holds a resident's
// identifiers or contact and account numbers is marked Sensitive.
func TestSensitiveFieldsMarked(t *testing.T) {
	mustBe := map[string]bool{"name": true, "id_number": true, "address": true, "household": true, "birth_date": true,
		"bank_account": true, "phone": true, "emergency_phone": true, "emergency_contact": true, "disability_cert": true}
	n := 0
	for _, svc := range catalogue.Default().Services() {
		for _, f := range svc.Fields {
			if (mustBe[f.Name] || f.Type == apiv1.FieldPhone) && !f.Sensitive {
				t.Errorf("%s.%s is personal data but not marked Sensitive", svc.Code, f.Name)
			}
			if f.Sensitive {
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no field is marked Sensitive")
	}
}

// TestSensitiveFieldsSealedAtRest files every service of the catalogue
// with a distinct value in each Sensitive field and scans the raw bytes of
// the database file and its WAL: none of the values is there in clear.
func TestSensitiveFieldsSealedAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ring, err := keyring.New("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.OpenDir(ctx, dir, store.Options{Keyring: ring})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := audit.System("test")
	const id = "11010519491231002X"
	if _, err := st.ImportResidents(ctx, a, []store.Resident{{IDNumber: id, Name: "测试"}}); err != nil {
		t.Fatal(err)
	}
	var secrets []string
	services := catalogue.Default().Services()
	for i, svc := range services {
		form := map[string]string{}
		for j, f := range svc.Fields {
			if f.Sensitive {
				v := fmt.Sprintf("SENSITIVE-%02d-%02d-%s", i, j, f.Name)
				form[f.Name] = v
				secrets = append(secrets, v)
			}
		}
		b, _ := json.Marshal(form)
		if _, _, err := st.CreateFiling(ctx, a, store.NewFiling{ServiceCode: svc.Code, IDNumber: id, Department: svc.Department,
			Form: b, DueAt: time.Now().Add(time.Hour), IdempotencyKey: svc.Code}); err != nil {
			t.Fatal(err)
		}
	}
	scan := func(when string) {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, p := range files {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range secrets {
				if bytes.Contains(raw, []byte(s)) {
					t.Errorf("%s: %s holds %q in clear", when, filepath.Base(p), s)
				}
			}
		}
	}
	scan("open")
	fs, err := st.ListFilings(ctx, store.FilingFilter{IDNumber: id})
	if err != nil || len(fs) != len(services) || !bytes.Contains(fs[0].Form, []byte("SENSITIVE-00-")) {
		t.Fatalf("filings read back: %d, %v", len(fs), err)
	}
	st.Close()
	scan("closed")
}

// TestAuditVerifyReconciles: the admin audit check names a staff role
// raised directly in the database, though the chain itself is intact.
func TestAuditVerifyReconciles(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	var av apiv1.AuditVerifyResult
	if err := e.admin.Do(ctx, "GET", apiv1.PathAdminAuditVerify, nil, &av); err != nil || !av.OK || len(av.Unexplained) != 0 {
		t.Fatalf("untampered: %+v %v", av, err)
	}
	db, err := sql.Open("sqlite", filepath.Join(e.dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id int64
	if err := db.QueryRow(`UPDATE staff SET role = 'admin' WHERE username = 'zhang' RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.Do(ctx, "GET", apiv1.PathAdminAuditVerify, nil, &av); err != nil || av.OK || len(av.Unexplained) != 1 ||
		!strings.Contains(av.Unexplained[0], fmt.Sprintf("staff %d: changed without an audited event: role is \"admin\"", id)) {
		t.Fatalf("after raising a role in SQL: %+v %v", av, err)
	}
}
