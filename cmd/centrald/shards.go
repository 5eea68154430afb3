package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/api"
	"github.com/qingshan-gov/veinkiosk/server/shard"
)

// shardRemote is the matcher shards as the api's Remote gallery.
type shardRemote struct {
	c      *shard.Client
	nc     *nats.Conn
	prefix string
}

func (r shardRemote) Search(ctx context.Context, probe *matcher.Template, k int, so matcher.SearchOptions) ([]matcher.Candidate, error) {
	return r.c.Search(ctx, probe, k, so)
}

func (r shardRemote) Publish(ctx context.Context, id int64, fingers []int, ts []*matcher.Template) error {
	ch := shard.Change{ResidentID: id}
	for i, t := range ts {
		b, err := t.MarshalBinary()
		if err != nil {
			return err
		}
		ch.Templates = append(ch.Templates, shard.Template{Finger: fingers[i], Data: b})
	}
	return shard.Publish(ctx, r.nc, r.prefix, ch)
}

// useShards connects to NATS and makes the matcher shards answer the
// gallery's 1:N searches.
func useShards(c *config, g *api.Gallery, log *slog.Logger) (func(), error) {
	nc, err := nats.Connect(c.NATSURL, nats.Name("centrald"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", c.NATSURL, err)
	}
	cl, err := shard.NewClient(nc, shard.ClientConfig{Partitions: c.Shards, Prefix: c.ShardPrefix, Timeout: c.ShardTimeout})
	if err != nil {
		nc.Close()
		return nil, err
	}
	g.UseRemote(shardRemote{c: cl, nc: nc, prefix: c.ShardPrefix}, log)
	log.Info("1:N searches on matcher shards", "partitions", c.Shards, "nats", c.NATSURL)
	return nc.Close, nil
}
