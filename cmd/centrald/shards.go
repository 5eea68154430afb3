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
type shardRemote struct{ c *shard.Client }

func (r shardRemote) Search(ctx context.Context, probe *matcher.Template, k int, so matcher.SearchOptions) ([]matcher.Candidate, error) {
	return r.c.Search(ctx, probe, k, so)
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
	g.UseRemote(shardRemote{c: cl})
	log.Info("1:N searches on matcher shards", "partitions", c.Shards, "nats", c.NATSURL)
	return nc.Close, nil
}
