package store

import (
	"context"
	"time"
)

// ChangeLog is the log of changes to what a server replica keeps in memory:
// a resident's active templates (the 1:N gallery) and a kiosk's status (the
// kiosk cache). The transaction that makes such a change appends a Change
// in the same transaction, so a change is in the log exactly when it is
// committed. Every replica reads the log after the last sequence number it
// applied (and, on PostgreSQL, is poked at each commit: ChangeListener), so
// a resident enrolled through one replica verifies through every other.
//
// Sequence numbers increase in the order changes were written, not
// committed: two concurrent transactions may commit in the other order, and
// a rolled-back transaction leaves a number unused for ever. Readers
// therefore treat a missing number as "maybe not committed yet" for a while
// (server/api's follower) rather than skipping it at once.
type ChangeLog interface {
	// ChangesAfter returns up to limit changes with a sequence number
	// above after, in sequence order.
	ChangesAfter(ctx context.Context, after int64, limit int) ([]Change, error)
	// LastChange returns the highest sequence number written (0 when the
	// log is empty). A replica reads it before loading its memory from the
	// database, then applies every change after it.
	LastChange(ctx context.Context) (int64, error)
	// ListenChanges calls poke (from one goroutine) each time a change is
	// committed, until ctx is done or the connection it listens on fails,
	// and returns why it stopped. poke carries no data: the caller reads
	// ChangesAfter. Backends without notifications (SQLite, which serves
	// one process) return errors.ErrUnsupported at once.
	ListenChanges(ctx context.Context, poke func()) error
}

// ChangeKind says what changed.
type ChangeKind string

const (
	// ChangeResident: the resident's active templates changed (enrolment,
	// re-enrolment, approved replacement, deletion). Subject is the
	// resident's internal id in decimal (never the ID number).
	ChangeResident ChangeKind = "resident"
	// ChangeKiosk: the kiosk's record (its status) changed. Subject is the
	// kiosk id.
	ChangeKiosk ChangeKind = "kiosk"
)

// Change is one row of the change log.
type Change struct {
	Seq     int64
	Kind    ChangeKind
	Subject string
	At      time.Time
}

// ChangeRetention is how long PurgeExpired keeps change-log rows. A replica
// that could not read the log for longer reloads its memory entirely.
const ChangeRetention = 24 * time.Hour
