package main

import (
	"bytes"
	"fmt"
	"math"
	"slices"
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
	// User ids are all as wide: the first block sizes every column.
	srv := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithPopulation(usagetest.Population{Users: 50}))
	day := gen.GranularityDay
	q := gen.APIUsageQuery{Interval: "2024-01-01/2024-06-30", GroupBy: []gen.GroupBy{gen.GroupByUserID}, Granularity: &day}
	rows, err := srv.Rows(q)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	cols := queryColumns(day, q.GroupBy, nil)
	w := newRowWriter("table", &b, cols).(*tableWriter)
	n, first, held := 0, 0, 0
	for r := range rows {
		if err := w.write(&r); err != nil {
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
	w := newRowWriter("table", &b, queryColumns(gen.GranularityDay, []gen.GroupBy{gen.GroupByHTTPMethod}, []gen.Metric{gen.MetricRequests})).(*tableWriter)
	w.block = 2
	for _, m := range []string{"GET", "PUT", "OPTIONS", "GET"} {
		if err := w.write(&gen.APIUsageRow{HTTPMethod: m, Requests: int64(len(m))}); err != nil {
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

// TestTableTotalsOfCountsOnly prints rows that have only counts, as a
// query without granularity or grouping columns would: the totals row's
// label must not take the place of the first column's total.
func TestTableTotalsOfCountsOnly(t *testing.T) {
	var b bytes.Buffer
	cols := slices.DeleteFunc(slices.Clone(columns), func(c column) bool { return c.name != "status200" && c.name != "requests" })
	w := newRowWriter("table", &b, cols)
	for _, n := range []int64{3, 40} {
		if err := w.write(&gen.APIUsageRow{Status200: n, Requests: 10 * n}); err != nil {
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

// A sum past the largest int64 says so in the totals row, rather than
// wrapping to a negative number.
func TestTableTotalOverflow(t *testing.T) {
	var b bytes.Buffer
	w := newRowWriter("table", &b, queryColumns("", []gen.GroupBy{gen.GroupByHTTPMethod}, []gen.Metric{gen.MetricRequests, gen.MetricStatus429}))
	for _, n := range []int64{math.MaxInt64, 2} {
		if err := w.write(&gen.APIUsageRow{HTTPMethod: "GET", Requests: n, Status429: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if got := strings.Fields(lines[len(lines)-1]); strings.Join(got, " ") != "TOTAL 2 overflow" {
		t.Errorf("totals row %q, want TOTAL 2 overflow\n%s", got, b.String())
	}
}

// When the rows break off, every format prints the rows read so far whole
// and ends nothing it should not: no partial record, no totals row, no
// closing bracket.
func TestAbortWritesWholeRowsOnly(t *testing.T) {
	cols := queryColumns("", []gen.GroupBy{gen.GroupByOAuthClientID}, []gen.Metric{gen.MetricRequests})
	for _, tc := range []struct{ format, want string }{
		{"csv", "clientId,clientName,requests\nc1,\"a, b\",1\nc2,x,2\n"},
		{"ndjson", `{"clientId":"c1","clientName":"a, b",`},
		{"json", "[\n" + `{"clientId":"c1"`},
		{"table", "CLIENT ID  CLIENT NAME  REQUESTS\nc1         a, b         1\nc2         x            2\n"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			var b bytes.Buffer
			w := newRowWriter(tc.format, &b, cols)
			for i, name := range []string{"a, b", "x"} {
				if err := w.write(&gen.APIUsageRow{ClientID: fmt.Sprintf("c%d", i+1), ClientName: name, Requests: int64(i + 1)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.abort(); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if !strings.HasPrefix(out, tc.want) || !strings.HasSuffix(out, "\n") || strings.Contains(out, "TOTAL") || strings.Contains(out, "]") {
				t.Fatalf("output after abort:\n%q\nwant it to start with %q, end on a newline, with no totals or closing bracket", out, tc.want)
			}
			if tc.format == "ndjson" || tc.format == "json" {
				if n := strings.Count(out, "clientId"); n != 2 {
					t.Errorf("%d rows written, want 2", n)
				}
			}
		})
	}
}

// --top keeps only N rows, whatever it has seen, and prints them largest
// first; on abort it prints none.
func TestSorterKeepsTheTop(t *testing.T) {
	var b bytes.Buffer
	cols := queryColumns("", []gen.GroupBy{gen.GroupByHTTPMethod}, []gen.Metric{gen.MetricStatus429})
	s := &sorter{rowWriter: newRowWriter("csv", &b, cols), by: func(r *gen.APIUsageRow) int64 { return r.Status429 }, top: 3}
	held := 0
	for i := range 1000 {
		if err := s.write(&gen.APIUsageRow{HTTPMethod: fmt.Sprint(i), Status429: int64((i * 7919) % 1000)}); err != nil {
			t.Fatal(err)
		}
		held = max(held, len(s.rows))
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	if b.String() != "httpMethod,status429\n321,999\n642,998\n963,997\n" || held > 6 {
		t.Errorf("got %q holding up to %d rows", b.String(), held)
	}
	b.Reset()
	s = &sorter{rowWriter: newRowWriter("csv", &b, cols), by: func(r *gen.APIUsageRow) int64 { return r.Status429 }}
	s.write(&gen.APIUsageRow{HTTPMethod: "GET", Status429: 1})
	if s.abort(); b.Len() != 0 {
		t.Errorf("abort printed %q; want nothing: a ranking of part of the rows looks whole", b.String())
	}
}
