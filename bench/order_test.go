package bench

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/gcusage/gcusage/usagetest"
	"golang.org/x/oauth2/clientcredentials"
)

// TestOneGETPerQuery: against the stub itself, no replay, in either order
// of a Complete answer's keys, every peer decodes the same rows with one
// results GET per completed query and reads the answer once: a cycle costs
// the GET that answers Running and the one that answers Complete (the
// benchmarks count a fetch of a complete execution). The bytes read are
// the same for all peers, and ogen and the hand-rolled client read every
// answer to its end, so gcusage reads it once and whole. The counts come
// from the stub's recording and from the counting transport of the
// benchmarks, which must agree.
func TestOneGETPerQuery(t *testing.T) {
	q := newSize("2 days", days(2)) // about 1700 rows, 500 KB: eight times gcusage's 64 KiB read buffer
	want := q.want(t)
	for _, o := range orders {
		t.Run(o.name, func(t *testing.T) {
			srv := usagetest.NewServer(t, stubOptions(append(o.opts, usagetest.WithRunning(1, 0))...)...)
			cc := clientcredentials.Config{ClientID: srv.ClientID, ClientSecret: srv.ClientSecret, TokenURL: srv.LoginURL + "/oauth/token"}
			tok, err := cc.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			counters := map[string]*counter{}
			ps, err := peers(target{apiURL: srv.URL, loginURL: srv.LoginURL, bearer: tok.AccessToken, pollEvery: 0},
				func(name string) http.RoundTripper {
					counters[name] = new(counter)
					return counting{newTransport(), counters[name]}
				})
			if err != nil {
				t.Fatal(err)
			}
			stubGETs := func() int {
				n := 0
				for _, r := range srv.Requests() {
					if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/results") {
						n++
					}
				}
				return n
			}
			read := map[string]int64{}
			for _, name := range peerNames {
				p, c := ps[name], counters[name]
				before, beforeCounted, beforeRead := stubGETs(), c.gets.Load(), c.read.Load()
				got, err := p.cycle(context.Background(), q.query)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got != want {
					t.Errorf("%s: decoded %+v, want %+v", name, got, want)
				}
				if n, counted := stubGETs()-before, c.gets.Load()-beforeCounted; n != 2 || counted != 2 {
					t.Errorf("%s: a cycle sent %d results GETs (%d counted), want 2: one answered Running, one Complete", name, n, counted)
				}
				read[name] = c.read.Load() - beforeRead
			}
			for _, name := range peerNames {
				if read[name] != read["ogen"] {
					t.Errorf("%s read %d bytes of results, ogen %d: want the same answers, read once and whole", name, read[name], read["ogen"])
				}
			}
		})
	}
}
