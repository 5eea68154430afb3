package sqlcore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/qingshan-gov/veinkiosk/server/audit"
)

func encodeDetails(d map[string]string) (string, error) {
	if d == nil {
		d = map[string]string{}
	}
	b, err := json.Marshal(d) // map keys are sorted
	if err != nil {
		return "", fmt.Errorf("encoding audit details: %w", err)
	}
	return string(b), nil
}

// AppendAudit appends a stand-alone event.
func (s *Store) AppendAudit(ctx context.Context, e audit.Event) (audit.Record, error) {
	var rec audit.Record
	err := s.tx(ctx, WriteTx, func(q Q) error {
		var err error
		rec, err = s.appendAudit(ctx, q, e)
		return err
	})
	return rec, err
}

// ListAudit returns records after afterSeq.
func (s *Store) ListAudit(ctx context.Context, afterSeq int64, n int) ([]audit.Record, error) {
	q, err := s.q()
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		n = 1000
	}
	rows, err := q.Query(ctx, `SELECT seq, at, actor_type, actor_id, action, target, details, prev_hash, hash
		FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []audit.Record
	for rows.Next() {
		var r audit.Record
		var actorType, details string
		var prev, hash []byte
		if err := rows.Scan(&r.Seq, tm{&r.Time}, &actorType, &r.Actor.ID, &r.Action, &r.Target, &details, &prev, &hash); err != nil {
			return nil, err
		}
		r.Actor.Type = audit.ActorType(actorType)
		if err := json.Unmarshal([]byte(details), &r.Details); err != nil {
			// Keep the record: verification will report the mismatch.
			r.Details = map[string]string{"!undecodable": details}
		}
		if r.Details == nil {
			r.Details = map[string]string{}
		}
		copy(r.PrevHash[:], prev)
		copy(r.Hash[:], hash)
		if len(prev) != audit.HashSize || len(hash) != audit.HashSize {
			// A truncated hash cannot match; make sure it does not by
			// accident of zero padding.
			r.Hash[0] ^= 0xff
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AuditHead returns the head row.
func (s *Store) AuditHead(ctx context.Context) (int64, audit.Hash, error) {
	var h audit.Hash
	q, err := s.q()
	if err != nil {
		return 0, h, err
	}
	var seq int64
	var b []byte
	if err := q.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &b); err != nil {
		return 0, h, fmt.Errorf("reading audit head: %w", err)
	}
	copy(h[:], b)
	return seq, h, nil
}
