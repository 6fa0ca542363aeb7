package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// TestTableStreams prints thousands of rows as a table: output starts as
// soon as the first rows have sized the columns, the lines held never
// exceed that first block, and every row, before or after it, has its
// columns where the header has them.
func TestTableStreams(t *testing.T) {
	srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithPopulation(usagetest.Population{Clients: 50}))
	q := gen.APIUsageQuery{Interval: "2024-01-01/2024-04-10", GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID}}
	rows, err := srv.Rows(q)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	cols := queryColumns(q.GroupBy, nil)
	w := newRowWriter("table", &b, cols).(*tableWriter)
	n, first, held := 0, 0, 0
	for r := range rows {
		if err := w.write(r); err != nil {
			t.Fatal(err)
		}
		if n++; first == 0 && b.Len() > 0 {
			first = n
		}
		held = max(held, len(w.held))
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	if n < 5*tableRows || first != tableRows || held > tableRows {
		t.Errorf("%d rows: first output after row %d, up to %d lines held; want it after row %d, at most %d held",
			n, first, held, tableRows, tableRows)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != n+2 || !strings.HasPrefix(lines[n+1], "TOTAL ") {
		t.Fatalf("%d lines for %d rows, last %q; want a header, the rows and a totals row", len(lines), n, lines[len(lines)-1])
	}
	// A column starts after two spaces, at the same place on every line.
	var starts []int
	for _, c := range cols[1:] {
		p := strings.Index(lines[0], "  "+c.title)
		if p < 0 {
			t.Fatalf("header %q lacks %s", lines[0], c.title)
		}
		starts = append(starts, p+2)
	}
	for i, l := range lines[1 : n+1] {
		for _, p := range starts {
			if len(l) <= p || l[p-2:p] != "  " || l[p] == ' ' {
				t.Fatalf("row %d is out of line with the header at byte %d:\n%s\n%s", i+1, p, lines[0], l)
			}
		}
	}
}

// TestTableWidensLateCells checks that a cell wider than the first block's
// widens its column from that row on, rather than running into the next.
func TestTableWidensLateCells(t *testing.T) {
	var b bytes.Buffer
	w := newRowWriter("table", &b, queryColumns([]gen.GroupBy{gen.GroupByHTTPMethod}, []gen.Metric{gen.MetricRequests})).(*tableWriter)
	w.block = 2
	for _, m := range []string{"GET", "PUT", "OPTIONS", "GET"} {
		n := int64(len(m))
		if err := w.write(gen.APIUsageRow{HTTPMethod: &m, Requests: &n}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	want := `DATE   METHOD  REQUESTS
-      GET     3
-      PUT     3
-      OPTIONS  7
-      GET      3
TOTAL           16
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestTableTotalsOfCountsOnly prints rows that have only counts, as
// results may get: the totals row's label must not take the place of the
// first column's total.
func TestTableTotalsOfCountsOnly(t *testing.T) {
	var b bytes.Buffer
	w := newRowWriter("table", &b, nil) // the columns of the rows, as results does
	for _, n := range []int64{3, 40} {
		m := 10 * n
		if err := w.write(gen.APIUsageRow{Status200: &n, Requests: &m}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	want := `       2XX  REQUESTS
       3    30
       40   400
TOTAL  43   430
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
