package shard

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/qingshan-gov/veinkiosk/server/shardwire"
)

// ChangeSubject is the NATS subject centrald publishes gallery changes on.
func ChangeSubject(prefix string) string { return prefix + ".change" }

// Publish sends a change to every shard (every replica of every partition
// subscribes) and waits until the NATS server has it.
func Publish(ctx context.Context, nc *nats.Conn, prefix string, c Change) error {
	w := shardwire.Change{ResidentID: c.ResidentID}
	for _, t := range c.Templates {
		w.Templates = append(w.Templates, shardwire.Template{Finger: t.Finger, Data: t.Data})
	}
	b, err := w.MarshalBinary()
	if err != nil {
		return err
	}
	if err := nc.Publish(ChangeSubject(prefix), b); err != nil {
		return fmt.Errorf("shard: publishing a change: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("shard: publishing a change: %w", err)
	}
	return nil
}

// NATSFeed is the Feed of the changes centrald publishes (Publish). NATS
// keeps no message for a subscriber that is not connected, so a shard must
// not go on serving after its connection dropped (cmd/matcherd exits and
// is restarted, reloading from the store); the store's change log, read by
// sequence number, is the durable feed that replaces this one.
type NATSFeed struct {
	NC     *nats.Conn
	Prefix string
}

// Follow implements Feed.
func (f NATSFeed) Follow(ctx context.Context, fn func(Change) error) error {
	ch := make(chan *nats.Msg, 1024)
	sub, err := f.NC.ChanSubscribe(ChangeSubject(f.Prefix), ch)
	if err != nil {
		return fmt.Errorf("shard: following changes: %w", err)
	}
	defer sub.Unsubscribe() //nolint:errcheck
	if err := f.NC.Flush(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-ch:
			var w shardwire.Change
			if err := w.UnmarshalBinary(m.Data); err != nil {
				return fmt.Errorf("shard: a change does not decode: %w", err)
			}
			c := Change{ResidentID: w.ResidentID}
			for _, t := range w.Templates {
				c.Templates = append(c.Templates, Template{Finger: t.Finger, Data: t.Data})
			}
			if err := fn(c); err != nil {
				return err
			}
		}
	}
}
