//go:build linux && !race

// The race detector multiplies memory by several times, so these tests
// run without it: `make test-norace` runs them, one process each.

package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/usagetest"
)

// peakRSS resets the process's peak resident set (Linux 4.0 and later)
// and returns a function that reads it.
func peakRSS(t *testing.T) func() int64 {
	t.Helper()
	runtime.GC()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("the peak RSS could not be reset (%v): it includes what ran before", err)
	}
	return func() int64 {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Fatal(err)
		}
		for l := range bytes.Lines(b) {
			if v, ok := bytes.CutPrefix(l, []byte("VmHWM:")); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(string(v)), " kB"), 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return kb << 10
			}
		}
		t.Fatal("no VmHWM in /proc/self/status")
		return 0
	}
}

// TestReport300kRowsRSS: a report of 1000 OAuth clients over 350 days,
// some 300,000 rows, read from the stub through the SDK as the command
// does, and written to a file, stays far under 256 MiB of resident memory,
// stub and all.
func TestReport300kRowsRSS(t *testing.T) {
	peak := peakRSS(t)
	start := time.Now()
	_, c := stubClient(t, usagetest.Population{Clients: 1000}, nil)
	today := day(stubNow)
	b, err := NewBuilder(Meta{First: today.AddDate(0, 0, -350), Last: today.AddDate(0, 0, -1), Service: Legacy, Made: stubNow, Version: client.Version}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Collect(t.Context(), c, b); err != nil {
		t.Fatal(err)
	}
	r := b.Report()
	path := filepath.Join(t.TempDir(), "r.html")
	if err := WriteFile(path, r); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, rss := r.Sections[0].rows, peak()
	t.Logf("%d rows of %d clients over %d days in %v: peak RSS %.1f MiB, file %.2f MB",
		rows, len(r.Sections[0].Clients), r.Meta.Days(), time.Since(start).Round(time.Millisecond), float64(rss)/(1<<20), float64(fi.Size())/(1<<20))
	if rows < 300_000 {
		t.Errorf("%d rows, want 300,000 or more", rows)
	}
	if rss > 256<<20 {
		t.Errorf("peak RSS %d MiB, want under 256 MiB", rss>>20)
	}
}

// TestMillionClientsBounded: a hostile server that sends a million unique
// client ids, each with a long name, costs the builder no more than its
// limit of clients; the totals stay exact.
func TestMillionClientsBounded(t *testing.T) {
	peak := peakRSS(t)
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b := newTestBuilder(t, 30, Limits{})
	name := strings.Repeat("x", 1000)
	var want Counts
	for i := range 1_000_000 {
		r := Row{ClientID: fmt.Sprintf("%036d", i), ClientName: name, Date: jan(1 + i%30), Counts: Counts{Requests: 3, Status400: 1, Status429: 1}}
		if err := b.Add(ClientDay, r); err != nil {
			t.Fatal(err)
		}
		want.add(r.Counts)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	s := b.Report().Sections[0]
	t.Logf("1,000,000 clients: %d kept apart, live heap +%.1f MiB, peak RSS %.1f MiB", len(s.Clients), float64(grew)/(1<<20), float64(peak())/(1<<20))
	if s.Totals != want || len(s.Clients) != DefaultClients(30) || s.LumpedRows != 1_000_000-int64(len(s.Clients)) {
		t.Errorf("totals %+v (want %+v), %d clients apart, %d rows lumped", s.Totals, want, len(s.Clients), s.LumpedRows)
	}
	if grew > 16<<20 {
		t.Errorf("the live heap grew by %d MiB, want under 16", grew>>20)
	}
}

// TestOrgsBounded: a report of 20 organizations, each sent 100,000 unique
// client ids with long names by a hostile server, 4 at a time, costs 20
// sections each bounded as one report is, and the section across all
// keeps no more clients apart than one section does; the totals stay
// exact.
func TestOrgsBounded(t *testing.T) {
	const orgs, clients = 20, 100_000
	peak := peakRSS(t)
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b := newTestBuilder(t, 30, Limits{})
	name := strings.Repeat("x", 1000)
	row := Counts{Requests: 3, Status400: 1, Status429: 1}
	var wg sync.WaitGroup
	slots := make(chan struct{}, 4)
	for o := range orgs {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			s := b.Section(fmt.Sprint("org-", o))
			for i := range clients {
				if err := s.Add(ClientDay, Row{ClientID: fmt.Sprintf("%036d", i), ClientName: name, Date: jan(1 + i%30), Counts: row}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	r := b.Report()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	all := r.Sections[0]
	t.Logf("%d orgs of %d clients: %d kept apart in each, %d across all; live heap +%.1f MiB (%.1f MiB an org), peak RSS %.1f MiB",
		orgs, clients, len(r.Sections[1].Clients), len(all.Clients), float64(grew)/(1<<20), float64(grew)/(1<<20)/orgs, float64(peak())/(1<<20))
	if all.Totals.Requests != orgs*clients*row.Requests || len(all.Clients) != DefaultClients(30) || len(r.Sections) != orgs+1 {
		t.Errorf("across all: %d requests, %d clients apart, %d sections", all.Totals.Requests, len(all.Clients), len(r.Sections))
	}
	if grew > orgs*16<<20 {
		t.Errorf("the live heap grew by %d MiB, want under %d: 16 an org, as one report's", grew>>20, orgs*16)
	}
}
