package bench

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/usagetest"
)

// countingTransport is a fresh transport that counts the connections it dials.
func countingTransport(dials *atomic.Int32) *http.Transport {
	tr := newTransport()
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return dial(ctx, network, addr)
	}
	return tr
}

func countRequests(srv *usagetest.Server, method, pathPrefix string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == method && len(r.Path) >= len(pathPrefix) && r.Path[:len(pathPrefix)] == pathPrefix {
			n++
		}
	}
	return n
}

func runAndDrain(ctx context.Context, c *client.Client) error {
	r, err := c.Run(ctx, toQuery(sizes[0].query))
	if err != nil {
		return err
	}
	_, err = tallyResult(r)
	return err
}

// TestSequentialQueriesReuseOneConnection: the official SDK opens a
// connection per request; gcusage keeps one, token request included.
func TestSequentialQueriesReuseOneConnection(t *testing.T) {
	srv := usagetest.NewServer(t, stubOptions(usagetest.WithRunning(1, 0))...)
	var dials atomic.Int32
	c, err := client.New(client.WithBaseURLs(srv.URL, srv.LoginURL),
		client.WithClientCredentials(srv.ClientID, srv.ClientSecret),
		client.WithHTTPClient(&http.Client{Transport: countingTransport(&dials)}))
	if err != nil {
		t.Fatal(err)
	}
	const queries = 3
	for range queries {
		if err := runAndDrain(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	posts := countRequests(srv, http.MethodPost, "/api/v2/usage/query")
	gets := countRequests(srv, http.MethodGet, "/api/v2/usage/query/")
	tokens := countRequests(srv, http.MethodPost, "/oauth/token")
	if posts != queries || gets < 2*queries || tokens != 1 {
		t.Fatalf("stub saw %d POSTs, %d GETs, %d token requests; want %d, at least %d, 1", posts, gets, tokens, queries, 2*queries)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d requests over %d connections, want 1", posts+gets+tokens, n)
	}
}

// TestConcurrentQueriesShareOneToken: 100 queries at once, one token request.
func TestConcurrentQueriesShareOneToken(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.WithRunning(1, 0))
	c, err := client.New(client.WithBaseURLs(srv.URL, srv.LoginURL),
		client.WithClientCredentials(srv.ClientID, srv.ClientSecret))
	if err != nil {
		t.Fatal(err)
	}
	const queries = 100
	var wg sync.WaitGroup
	errs := make(chan error, queries)
	for range queries {
		wg.Go(func() {
			r, err := c.Run(t.Context(), toQuery(smallQuery))
			if err == nil {
				_, err = tallyResult(r)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := countRequests(srv, http.MethodPost, "/api/v2/usage/query"); n != queries {
		t.Fatalf("stub saw %d POSTs, want %d", n, queries)
	}
	if n := countRequests(srv, http.MethodPost, "/oauth/token"); n != 1 {
		t.Errorf("%d concurrent queries made %d token requests, want 1", queries, n)
	}
}
