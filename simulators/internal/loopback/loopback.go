// Package loopback serves the simulators' control channels. They have no
// authentication, so they listen on loopback addresses only.
package loopback

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Listen listens on addr when its host is a loopback address or
// "localhost", and refuses it otherwise; who names the simulator in errors.
func Listen(who, addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%s: control address %q: %w", who, addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%s: control address %q is not loopback: the control channel has no authentication", who, addr)
	}
	return net.Listen("tcp", addr)
}

// Serve serves h on a loopback addr (Listen) until ctx ends, then shuts
// the server down within 2 seconds and returns nil; or until the server
// fails. ready, if not nil, receives the bound address first.
func Serve(ctx context.Context, who, addr string, h http.Handler, ready func(addr string)) error {
	ln, err := Listen(who, addr)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-errc
		return nil
	}
}
