//go:build !race

package client

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcusage/gcusage/gen"
)

// The tests of this file measure the live heap while a hostile loopback
// server sends more than any bound: the race detector would distort the
// figures, hence the build tag (make test-norace runs them).

// heapPeak samples the live heap (after a GC) each time sample is called,
// and keeps the highest, above the heap when it was made.
type heapPeak struct {
	mu         sync.Mutex
	base, peak uint64
}

func newHeapPeak() *heapPeak { return &heapPeak{base: liveHeap()} }

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func (h *heapPeak) sample() {
	n := liveHeap()
	h.mu.Lock()
	h.peak = max(h.peak, n)
	h.mu.Unlock()
}

func (h *heapPeak) grew() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return max(h.peak, h.base) - h.base
}

// Issue 16, item 1: RunJobs in totals mode kept every group until its last
// window ended: pages of unique templateUris reached a 1.14 GiB live heap.
// The totals now hold a bounded number of groups, bounded in bytes too,
// and past the bound the run fails with an error that names the bound and
// the way out; no wrong sum is yielded.
func TestJobsTotalsHoldABoundedHeap(t *testing.T) {
	for _, tc := range []struct {
		name    string
		perPage int // entities on a page
		size    int // bytes of each templateUri
		pages   int // before the pages end, far past any bound
	}{
		{"unique 1 MiB templateUris", 5, 1000 << 10, 40},
		{"many small groups", 1000, 40, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peak := newHeapPeak()
			var mu sync.Mutex
			jobs, served := 0, 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					mu.Lock()
					jobs++
					id := jobs
					mu.Unlock()
					writeJSON(w, 200, fmt.Sprintf(`{"id":"j%d"}`, id))
					return
				}
				page, _ := strconv.Atoi(r.URL.Query().Get("after"))
				mu.Lock()
				served++
				mu.Unlock()
				peak.sample()
				var b strings.Builder
				b.WriteString(`{"queryStatus":"Succeeded","entities":[`)
				for i := range tc.perPage {
					if i > 0 {
						b.WriteByte(',')
					}
					uri := fmt.Sprintf("%s/%d/%d", r.URL.Path, page, i)
					fmt.Fprintf(&b, `{"templateUri":"%s%s","requestCount":1}`, uri, strings.Repeat("x", max(0, tc.size-len(uri))))
				}
				b.WriteString(`]`)
				if page+1 < tc.pages {
					fmt.Fprintf(&b, `,"nextUri":"%s?after=%d"`, r.URL.Path, page+1)
				}
				b.WriteString(`}`)
				writeJSON(w, 200, b.String())
			}))
			defer srv.Close()
			c, err := New(WithBaseURLs(srv.URL, ""), WithAccessToken("a-test-token"))
			if err != nil {
				t.Fatal(err)
			}
			q := JobQuery{Interval: Days(windowsToday.AddDate(0, 0, -201), windowsToday.AddDate(0, 0, -2)), GroupBy: []gen.JobsGroupBy{gen.JobsGroupByTemplateURI}}
			n := 0
			var last error
			for _, err := range c.RunJobs(t.Context(), q, JobOptions{Now: func() time.Time { return windowsToday }}) {
				if err != nil {
					last = err
					break
				}
				n++
			}
			peak.sample()
			if !errors.Is(last, ErrTooManyGroups) || n != 0 {
				t.Fatalf("%d totals, then %v; want no total and ErrTooManyGroups", n, last)
			}
			mustContain(t, last.Error(), "50000 groups", "16 MiB", "Granularity")
			if g := peak.grew(); g > 64<<20 {
				t.Errorf("the live heap grew by %d MiB, want under 64", g>>20)
			}
			t.Logf("live heap +%d MiB at most; %d pages served", peak.grew()>>20, served)
		})
	}
}

// Issue 16, item 1: the search's cap of 20,000 records was checked between
// pages only: a page of 100,000 rows from a server that ignores pageSize
// was yielded whole, and an endless page took 1.5 GiB in 6 s. The cap now
// counts rows, within the page.
func TestSearchCapCountsRowsWithinAPage(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows int // on the one page; 0: endless
	}{
		{"a page of 100,000 rows", 100000},
		{"an endless page", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peak := newHeapPeak()
			srv, ctx := hostile(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
				if r.Method == http.MethodPost {
					writeJSON(w, 202, `{"executionId":"exec-1"}`)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"queryStatus":"Complete","cursors":{"after":"p2"},"results":[`)
				for i := 0; tc.rows == 0 || i < tc.rows; i++ {
					if i > 0 {
						io.WriteString(w, ",")
					}
					if _, err := fmt.Fprintf(w, `{"clientName":"client %d %s","status200":1}`, i, strings.Repeat("x", 200)); err != nil {
						return // the client hung up
					}
					if i%20000 == 0 {
						peak.sample()
					}
					select {
					case <-stop:
						return
					default:
					}
				}
				io.WriteString(w, `]}`)
			})
			c, err := New(WithBaseURLs(srv.URL, ""), WithAccessToken("a-test-token"), WithNow(func() time.Time { return testToday }))
			if err != nil {
				t.Fatal(err)
			}
			res, err := c.RunSearch(ctx, SimpleSearch{Interval: anyQuery.Interval})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			returns(t, "Rows", func() {
				for _, err := range res.Rows() {
					if err != nil {
						t.Error(err)
						return
					}
					if n++; n%5000 == 0 {
						peak.sample()
					}
				}
			})
			if n != MaxSearchRecords || !res.Capped() {
				t.Errorf("%d rows, capped %v; want %d and capped", n, res.Capped(), MaxSearchRecords)
			}
			if g := peak.grew(); g > 64<<20 {
				t.Errorf("the live heap grew by %d MiB, want under 64", g>>20)
			}
			t.Logf("live heap +%d MiB at most", peak.grew()>>20)
		})
	}
}
