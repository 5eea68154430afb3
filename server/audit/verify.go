package audit

import (
	"context"
	"fmt"
)

// Source reads a stored chain (store.Store implements it).
type Source interface {
	// ListAudit returns up to limit records with Seq > afterSeq, in order.
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]Record, error)
	// AuditHead returns the separately kept sequence number and hash of the
	// last record.
	AuditHead(ctx context.Context) (int64, Hash, error)
}

// ChainError says where and how a chain is broken. It matches ErrBroken.
type ChainError struct {
	Seq     int64 // the first record found wrong (0: the head row)
	Problem string
}

func (e *ChainError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("audit: chain broken: %s", e.Problem)
	}
	return fmt.Sprintf("audit: chain broken at record %d: %s", e.Seq, e.Problem)
}

// Is makes errors.Is(err, ErrBroken) true.
func (e *ChainError) Is(target error) bool { return target == ErrBroken }

// Report summarises a verified chain.
type Report struct {
	Records  int64 // records checked
	FirstSeq int64
	LastSeq  int64
	Head     Hash // hash of the last record
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Anchors are hashes recorded outside the database (printed by an
	// earlier verification, kept on paper or in another system): the record
	// with that sequence number must have that hash. They detect a chain
	// rewritten from some point on, head row included, by someone with write
	// access to the database.
	Anchors map[int64]Hash
	// Signed are anchors read from anchor files (ReadAnchorFiles): the
	// record at each one's Seq must have its Hash, and the chain must reach
	// every one's Seq. A contradiction names the first anchor (by sequence
	// number) the chain contradicts.
	Signed []Anchor
	// PageSize is how many records are read per query (default 5000).
	PageSize int
}

// Verify walks the whole chain from the first record and checks that
// sequence numbers run 1, 2, 3, ... (a gap means a deletion, a step back a
// reordering), that each record's PrevHash is its predecessor's Hash, that
// each Hash is the hash of the record's content (an edit changes it), and
// that the last record matches the head row (a deleted tail). It returns a
// *ChainError (errors.Is ErrBroken) for the first problem found.
func Verify(ctx context.Context, src Source, opts VerifyOptions) (Report, error) {
	page := opts.PageSize
	if page <= 0 {
		page = 5000
	}
	var rep Report
	var prev Hash
	var prevSeq int64
	anchorsSeen := 0
	signed := map[int64][]*Anchor{}
	var beyond *Anchor // the lowest signed anchor past the chain's end
	for i := range opts.Signed {
		a := &opts.Signed[i]
		if a.Seq > 0 {
			signed[a.Seq] = append(signed[a.Seq], a)
		}
	}
	for {
		recs, err := src.ListAudit(ctx, prevSeq, page)
		if err != nil {
			return rep, fmt.Errorf("audit: reading chain after %d: %w", prevSeq, err)
		}
		for _, r := range recs {
			switch {
			case r.Seq <= prevSeq:
				return rep, &ChainError{Seq: r.Seq, Problem: fmt.Sprintf("sequence number %d after %d (records reordered)", r.Seq, prevSeq)}
			case r.Seq != prevSeq+1:
				return rep, &ChainError{Seq: r.Seq, Problem: fmt.Sprintf("records %d..%d are missing here (deleted or moved)", prevSeq+1, r.Seq-1)}
			case r.PrevHash != prev:
				return rep, &ChainError{Seq: r.Seq, Problem: "previous-hash link does not match the record before it (records removed, inserted or reordered)"}
			}
			if want := Chain(prev, r.Seq, r.Event); want != r.Hash {
				return rep, &ChainError{Seq: r.Seq, Problem: "content does not match its hash (record edited)"}
			}
			if a, ok := opts.Anchors[r.Seq]; ok {
				if a != r.Hash {
					return rep, &ChainError{Seq: r.Seq, Problem: fmt.Sprintf("hash %s differs from the anchor %s (chain rewritten)", r.Hash, a)}
				}
				anchorsSeen++
			}
			for _, a := range signed[r.Seq] {
				if a.Hash != r.Hash {
					return rep, &ChainError{Seq: r.Seq, Problem: fmt.Sprintf("hash %s differs from the signed %s, which has %s: the chain was rewritten at or before this record", r.Hash, a, a.Hash)}
				}
			}
			delete(signed, r.Seq)
			if rep.Records == 0 {
				rep.FirstSeq = r.Seq
			}
			rep.Records++
			prev, prevSeq = r.Hash, r.Seq
		}
		if len(recs) < page {
			break
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	rep.LastSeq, rep.Head = prevSeq, prev
	headSeq, head, err := src.AuditHead(ctx)
	if err != nil {
		return rep, fmt.Errorf("audit: reading head: %w", err)
	}
	if headSeq != prevSeq || head != prev {
		return rep, &ChainError{Problem: fmt.Sprintf("head row says record %d (%s) but the last record is %d (%s): records at the end deleted or head edited",
			headSeq, head, prevSeq, prev)}
	}
	for _, as := range signed {
		for _, a := range as {
			if beyond == nil || a.Seq < beyond.Seq {
				beyond = a
			}
		}
	}
	if beyond != nil {
		return rep, &ChainError{Seq: prevSeq + 1, Problem: fmt.Sprintf("the chain ends at record %d but the signed %s saw it reach record %d: records at the end were deleted (chain truncated)", prevSeq, beyond, beyond.Seq)}
	}
	if anchorsSeen != len(opts.Anchors) {
		return rep, &ChainError{Problem: fmt.Sprintf("%d anchored records are missing from the chain", len(opts.Anchors)-anchorsSeen)}
	}
	return rep, nil
}
