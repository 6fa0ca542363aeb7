//go:build !race

package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// heapPeak samples the live heap while a hostile server writes, so that a
// command that held what it was sent would show.
type heapPeak struct {
	mu         sync.Mutex
	base, peak uint64
}

func (h *heapPeak) sample() {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	h.mu.Lock()
	h.peak = max(h.peak, m.HeapAlloc)
	h.mu.Unlock()
}

func (h *heapPeak) grew() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak - min(h.base, h.peak)
}

// A bound well under the 64 MiB that the CLI may use whatever the server
// sends: the SDK holds one value (1 MiB) or one jobs page (6 MiB) at a time.
const heapBound = 48 << 20

// TestTableHeapBounded streams tables of rows with cells of almost a MiB
// each, mostly bytes that are not UTF-8 and so escaped four times larger,
// through results (the legacy rows) and jobs results (pages after pages):
// the table holds only its first rows, cut, and escapes only what it
// shows, so the live heap stays flat. Not run under -race, which would
// distort the heap (make test-norace runs it).
func TestTableHeapBounded(t *testing.T) {
	const cells = 200 // about 180 MB of names in all
	name := strings.Repeat("\xffa", 450_000)
	uri := func(i int) string { return fmt.Sprintf("%d-%s", i, name) } // each distinct
	var h heapPeak
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/api/v2/usage/query/e1/results":
			io.WriteString(w, `{"results":[`)
			for i := range cells {
				if i > 0 {
					io.WriteString(w, ",")
				}
				fmt.Fprintf(w, `{"clientId":"c%d","clientName":"\u001b[2J%s","requests":%d}`, i, uri(i), i)
				if i%20 == 0 {
					h.sample()
				}
			}
			io.WriteString(w, `],"queryStatus":"Complete"}`)
		case r.URL.Path == "/api/v2/usage/aggregates/query/jobs/j1":
			// Pages of 5 entities, each named by its cursor, without end
			// but for the test's count.
			var page int
			fmt.Sscan(r.URL.Query().Get("after"), &page)
			fmt.Fprintf(w, `{"queryStatus":"Succeeded","entities":[`)
			for i := range 5 {
				if i > 0 {
					io.WriteString(w, ",")
				}
				fmt.Fprintf(w, `{"templateUri":"%s","httpMethod":"GET","requestCount":1,"status200":1,"status300":0,"status400":0,"status429":0,"status500":0}`, uri(5*page+i))
			}
			io.WriteString(w, "]")
			if 5*(page+1) < cells {
				fmt.Fprintf(w, `,"nextUri":"/api/v2/usage/aggregates/query/jobs/j1?after=%d"`, page+1)
			}
			io.WriteString(w, "}")
			h.sample()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{"GENESYSCLOUD_ACCESS_TOKEN": "a-test-token"}
	for _, args := range [][]string{{"results", "e1"}, {"jobs", "results", "j1"}} {
		h = heapPeak{}
		h.sample()
		h.base = h.peak
		o := gcusage(t, env, nil, append(args, "--api-url", srv.URL)...)
		lines := strings.Split(strings.TrimSpace(o.stdout), "\n")
		if o.code != 0 || len(lines) != cells+2 || !strings.HasPrefix(lines[len(lines)-1], "TOTAL") {
			t.Fatalf("%v: exit %d, stderr %q, %d lines", args, o.code, o.stderr, len(lines))
		}
		if !strings.Contains(lines[1], `\x1b[2J`) && !strings.Contains(lines[1], `\xffa\xff`) || !strings.Contains(lines[1], "…") {
			t.Errorf("%v: row %q; want the cell escaped and cut", args, lines[1])
		}
		if g := h.grew(); g > heapBound {
			t.Errorf("%v: the live heap grew by %d MiB, want under %d MiB", args, g>>20, heapBound>>20)
		} else {
			t.Logf("%v: %d cells of %d KB, live heap +%d MiB at most", args, cells, len(name)>>10, g>>20)
		}
	}
}
