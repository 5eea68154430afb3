package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// changesChannel is the NOTIFY channel of migration 0006's trigger; the
// payload is the schema whose change log grew.
const changesChannel = "veinkiosk_changes"

// ListenChanges implements sqlcore.Listener: it opens a connection of its
// own (outside the pool, which it would otherwise hold for ever), LISTENs
// on the change channel and calls poke for every notification about this
// store's schema. PostgreSQL delivers a notification when the transaction
// that inserted the change commits, never for a rolled-back one. It
// returns when ctx is done or the connection fails; the caller reads the
// change log (which it must do anyway after a gap) and listens again.
func (d *database) ListenChanges(ctx context.Context, poke func()) error {
	conn, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("postgres: listening for changes: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("postgres: listening for changes: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		return fmt.Errorf("postgres: listening for changes: %w", err)
	}
	// A change committed before LISTEN took effect has no notification:
	// one poke now makes the caller read the log.
	poke()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("postgres: listening for changes: %w", err)
		}
		if n.Payload == schema {
			poke()
		}
	}
}
