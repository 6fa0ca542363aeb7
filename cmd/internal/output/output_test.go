package output

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
	openapi_types "github.com/oapi-codegen/runtime/types"
)

// write prints rows with o and returns the output.
func write(t *testing.T, o Options, rows ...Row) string {
	t.Helper()
	var b bytes.Buffer
	w := New(&b, o)
	for i := range rows {
		if err := w.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A legacy row and a job's entity that count the same are the same row in
// csv and table: one header, one date format, one column per quantity.
func TestOneRowForBothServices(t *testing.T) {
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	legacy := FromLegacy(gen.APIUsageRow{ClientID: "c1", ClientName: "CRM", HTTPMethod: "GET", Date: day.In(time.FixedZone("x", 7200)),
		Status200: 5, Status429: 1, Status400: 1, Requests: 6})
	job := FromEntity(client.Entity{OrganizationPublicAPIUsage: gen.OrganizationPublicAPIUsage{
		OauthClient: &gen.JobOAuthClient{ID: "c1", Name: "CRM"}, HTTPMethod: "GET", Date: openapi_types.Date{Time: day},
		Status200: 5, Status429: 1, Status400: 1, RequestCount: 6}})
	// Listed in any order, the columns print in one.
	o := Options{Format: "csv", Columns: []Column{Requests, Status429, Date, HTTPMethod, ClientName, ClientID}}
	want := "clientId,clientName,httpMethod,date,status429,requests\nc1,CRM,GET,2026-11-23,1,6\n"
	if got := write(t, o, legacy); got != want {
		t.Errorf("legacy csv %q, want %q", got, want)
	}
	if got := write(t, o, job); got != want {
		t.Errorf("job csv %q, want %q", got, want)
	}
	o.Format = "table"
	if a, b := write(t, o, legacy), write(t, o, job); a != b || !strings.HasPrefix(a, "CLIENT ID  CLIENT NAME  METHOD  DATE        429  REQUESTS\n") {
		t.Errorf("tables differ or have another header:\n%s\n%s", a, b)
	}
	// json keeps each API's own object.
	o.Format = "ndjson"
	if got := write(t, o, job); !strings.Contains(got, `"requestCount":6`) || !strings.Contains(got, `"oauthClient":{"id":"c1","name":"CRM"}`) || !strings.Contains(got, `"date":"2026-11-23"`) {
		t.Errorf("job ndjson %s: want the entity as the API sent it", got)
	}
	if got := write(t, o, legacy); !strings.Contains(got, `"requests":6`) || !strings.Contains(got, `"date":"2026-11-23T00:00:00Z"`) {
		t.Errorf("legacy ndjson %s: want the row as the API sent it, its date in UTC", got)
	}
}

// Rows of several organizations carry the profile and org columns first,
// in every format; json objects get the keys in front.
func TestProfileAndOrgLead(t *testing.T) {
	r := FromLegacy(gen.APIUsageRow{ClientID: "c1", Requests: 2})
	r.Profile, r.Org = "acme-prod", "Acme"
	o := Options{Columns: []Column{ClientID, Requests, Profile, Org}}
	if got := write(t, Options{Format: "csv", Columns: o.Columns}, r); !strings.HasPrefix(got, "profile,org,clientId,requests\nacme-prod,Acme,c1,2\n") {
		t.Errorf("csv %q", got)
	}
	got := write(t, Options{Format: "json", Columns: o.Columns}, r)
	if !strings.HasPrefix(got, `[`+"\n"+`{"profile":"acme-prod","org":"Acme","clientId":"c1",`) {
		t.Errorf("json %q: want profile and org first", got)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(got), &rows); err != nil || rows[0]["requests"] != 2.0 {
		t.Errorf("json %q: %v", got, err)
	}
	// A row made here, not by the API, prints its columns.
	made := Row{Profile: "p", ClientName: "x", Requests: 3}
	if got := write(t, Options{Format: "ndjson", Columns: []Column{ClientName, Requests}}, made); got != `{"profile":"p","clientName":"x","requests":3}`+"\n" {
		t.Errorf("ndjson of a made row: %q", got)
	}
}

// A text cell that a spreadsheet would run is defused in csv, unless
// CSVRaw; counts, json and ndjson stay exact.
func TestCSVInjection(t *testing.T) {
	names := []string{"=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\tx", "\ry", "plain", "a=b"}
	var rows []Row
	for _, n := range names {
		rows = append(rows, FromLegacy(gen.APIUsageRow{ClientName: n, TemplateURI: n, Requests: 1}))
	}
	cols := []Column{ClientName, TemplateURI, Requests}
	read := func(s string) [][]string {
		recs, err := csv.NewReader(strings.NewReader(s)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs[1:]
	}
	for i, rec := range read(write(t, Options{Format: "csv", Columns: cols}, rows...)) {
		want := names[i]
		if i < 6 {
			want = "'" + want
		}
		if rec[0] != want || rec[1] != want || rec[2] != "1" {
			t.Errorf("row %d: %q, want %q", i, rec, want)
		}
	}
	for i, rec := range read(write(t, Options{Format: "csv", Columns: cols, CSVRaw: true}, rows...)) {
		if rec[0] != names[i] {
			t.Errorf("CSVRaw row %d: %q, want %q", i, rec[0], names[i])
		}
	}
	got := write(t, Options{Format: "ndjson", Columns: cols}, rows[0])
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil || m["clientName"] != names[0] {
		t.Errorf("ndjson %q: want the name exact", got)
	}
}

// The table holds its first rows only, sizes its columns from them and
// cuts a later cell that does not fit, with an ellipsis.
func TestTableCutsWhatDoesNotFit(t *testing.T) {
	var rows []Row
	for i := range heldRows + 5 {
		m := "GET"
		if i == heldRows+2 {
			m = "OPTIONS-AND-MORE"
		}
		rows = append(rows, FromLegacy(gen.APIUsageRow{HTTPMethod: m, Requests: int64(i)}))
	}
	lines := strings.Split(write(t, Options{Columns: []Column{HTTPMethod, Requests}}, rows...), "\n")
	if got := lines[heldRows+3]; got != "OPTIO…  102" {
		t.Errorf("the late wide cell printed as %q, want it cut to the column", got)
	}
	huge := strings.Repeat("\x1b[31m", 200_000) + "tail"
	got := write(t, Options{Columns: []Column{ClientName, Requests}}, FromLegacy(gen.APIUsageRow{ClientName: huge, Requests: 1}))
	first := strings.Split(got, "\n")[1]
	if n := len([]rune(strings.Fields(first)[0])); n != maxCell || !strings.HasSuffix(strings.Fields(first)[0], ellipsis) || !strings.HasPrefix(first, `\x1b[31m\x1b`) {
		t.Errorf("a huge cell printed as %q (%d characters); want %d, escaped, ending with an ellipsis", first, n, maxCell)
	}
}

// A count is never cut, nor a total: a later count wider than its
// column, which is not the last, widens it for the lines after, and a
// text cell is still cut.
func TestTableNeverCutsCounts(t *testing.T) {
	var rows []Row
	var sum200 int64
	for i := range heldRows + 20 {
		r := gen.APIUsageRow{HTTPMethod: "GET", Status200: 1, Requests: 2}
		if i >= heldRows {
			r = gen.APIUsageRow{HTTPMethod: "OPTIONS-AND-MORE", Status200: 123456789012 * int64(i), Requests: math.MaxInt64 / 10}
		}
		sum200 += r.Status200
		rows = append(rows, FromLegacy(r))
	}
	got := write(t, Options{Columns: []Column{HTTPMethod, Status200, Requests}}, rows...)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != len(rows)+2 {
		t.Fatalf("%d lines for %d rows:\n%s", len(lines), len(rows), got)
	}
	for i, r := range rows {
		f := strings.Fields(lines[i+1])
		want := []string{Escape(r.HTTPMethod), fmt.Sprint(r.Status200), fmt.Sprint(r.Requests)}
		if i >= heldRows {
			want[0] = "OPTIO" + ellipsis
		}
		if strings.Join(f, " ") != strings.Join(want, " ") {
			t.Errorf("row %d printed as %q, want %q: counts whole, text cut to its column", i+1, lines[i+1], want)
		}
	}
	if f := strings.Fields(lines[len(lines)-1]); strings.Join(f, " ") != fmt.Sprintf("TOTAL %d overflow", sum200) {
		t.Errorf("TOTAL line %q, want TOTAL %d overflow", lines[len(lines)-1], sum200)
	}
}

// The lines held never pass heldRows, nor heldBytes, and every line, held
// or not, has its columns where the header has them.
func TestTableStreams(t *testing.T) {
	var b bytes.Buffer
	cols := Columns(Date, UserID, Requests)
	w := New(&b, Options{Columns: cols}).(*table)
	first, held := 0, 0
	const n = 5 * heldRows
	for i := range n {
		r := FromLegacy(gen.APIUsageRow{UserID: fmt.Sprintf("user-%04d", i), Date: time.Date(2024, 1, 1+i%28, 0, 0, 0, 0, time.UTC), Requests: int64(i)})
		if err := w.Write(&r); err != nil {
			t.Fatal(err)
		}
		if first == 0 && w.widths != nil {
			first = i + 1
		}
		held = max(held, len(w.held))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if first != heldRows || held > heldRows+1 { // the header, and the rows
		t.Errorf("first output after row %d, up to %d lines held; want it after row %d, at most %d held", first, held, heldRows, heldRows)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != n+2 || !strings.HasPrefix(lines[n+1], "TOTAL ") {
		t.Fatalf("%d lines for %d rows, last %q; want a header, the rows and a TOTAL line", len(lines), n, lines[len(lines)-1])
	}
	for i, l := range lines[1 : n+1] {
		for _, c := range cols[1:] {
			p := strings.Index(lines[0], "  "+c.Title()) + 2
			if len(l) <= p || l[p-2:p] != "  " || l[p] == ' ' {
				t.Fatalf("row %d is out of line with the header at byte %d:\n%s\n%s", i+1, p, lines[0], l)
			}
		}
	}
	// Wide cells release the rows held before heldRows: bounded in bytes.
	b.Reset()
	w = New(&b, Options{Columns: []Column{ClientName, TemplateURI, UserID, Requests}}).(*table)
	long := strings.Repeat("x", 1000)
	for range heldRows {
		r := FromLegacy(gen.APIUsageRow{ClientName: long, TemplateURI: long, UserID: long})
		w.Write(&r)
		if w.bytes > heldBytes {
			t.Fatalf("%d bytes held", w.bytes)
		}
	}
	if w.widths == nil {
		t.Error("the wide rows were all held")
	}
}

// Rows that have only counts get a blank first column for the TOTAL
// label, so that it hides no total.
func TestTableTotalsOfCountsOnly(t *testing.T) {
	got := write(t, Options{Columns: []Column{Status200, Requests}},
		FromLegacy(gen.APIUsageRow{Status200: 3, Requests: 30}), FromLegacy(gen.APIUsageRow{Status200: 40, Requests: 400}))
	want := `       2XX  REQUESTS
       3    30
       40   400
TOTAL  43   430
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// A sum past the int64 range says so in the TOTAL line.
func TestTableTotalOverflow(t *testing.T) {
	got := write(t, Options{Columns: []Column{HTTPMethod, Requests, Status429}},
		FromLegacy(gen.APIUsageRow{HTTPMethod: "GET", Requests: math.MaxInt64, Status429: 1}), FromLegacy(gen.APIUsageRow{HTTPMethod: "GET", Requests: 2, Status429: 1}))
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if f := strings.Fields(lines[len(lines)-1]); strings.Join(f, " ") != "TOTAL 2 overflow" {
		t.Errorf("TOTAL line %q, want TOTAL 2 overflow\n%s", f, got)
	}
}

// With --top the first TOTAL line covers the rows shown and says so; a
// second adds up every row. Empty cells are "-" in a table, "" in csv.
func TestTopTotals(t *testing.T) {
	var rows []Row
	for i := range 10 {
		rows = append(rows, FromLegacy(gen.APIUsageRow{ClientID: fmt.Sprint("c", i), Requests: int64(i), Status429: 1}))
	}
	got := write(t, Options{Columns: []Column{ClientID, ClientName, Status429, Requests}, SortBy: Requests, Top: 3}, rows...)
	want := `CLIENT ID       CLIENT NAME  429  REQUESTS
c9              -            1    9
c8              -            1    8
c7              -            1    7
TOTAL top 3                  3    24
TOTAL all rows               10   45
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	got = write(t, Options{Format: "csv", Columns: []Column{ClientID, ClientName, Status429}, SortBy: Status429, Top: 2}, rows[:3]...)
	if got != "clientId,clientName,status429\nc0,,1\nc1,,1\n" {
		t.Errorf("csv %q: want a stable order among equals, and empty cells empty", got)
	}
}

// When the rows break off, every format prints the rows read so far whole
// and ends nothing it should not.
func TestAbortWritesWholeRowsOnly(t *testing.T) {
	cols := []Column{ClientID, ClientName, Requests}
	for _, tc := range []struct{ format, want string }{
		{"csv", "clientId,clientName,requests\nc1,\"a, b\",1\nc2,x,2\n"},
		{"ndjson", `{"clientId":"c1","clientName":"a, b",`},
		{"json", "[\n" + `{"clientId":"c1"`},
		{"table", "CLIENT ID  CLIENT NAME  REQUESTS\nc1         a, b         1\nc2         x            2\n"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			var b bytes.Buffer
			w := New(&b, Options{Format: tc.format, Columns: cols})
			for i, name := range []string{"a, b", "x"} {
				r := FromLegacy(gen.APIUsageRow{ClientID: fmt.Sprintf("c%d", i+1), ClientName: name, Requests: int64(i + 1)})
				if err := w.Write(&r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if !strings.HasPrefix(out, tc.want) || !strings.HasSuffix(out, "\n") || strings.Contains(out, "TOTAL") || strings.Contains(out, "]") {
				t.Fatalf("output after abort:\n%q\nwant it to start with %q, end on a newline, with no totals or closing bracket", out, tc.want)
			}
		})
	}
}

// --top keeps only N rows, whatever it has seen, and prints them largest
// first; on abort it prints none.
func TestSorterKeepsTheTop(t *testing.T) {
	var b bytes.Buffer
	cols := []Column{HTTPMethod, Status429}
	s := New(&b, Options{Format: "csv", Columns: cols, SortBy: Status429, Top: 3}).(*sorter)
	held := 0
	for i := range 1000 {
		r := FromLegacy(gen.APIUsageRow{HTTPMethod: fmt.Sprint(i), Status429: int64((i * 7919) % 1000)})
		if err := s.Write(&r); err != nil {
			t.Fatal(err)
		}
		held = max(held, len(s.rows))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if b.String() != "httpMethod,status429\n321,999\n642,998\n963,997\n" || held > 6 {
		t.Errorf("got %q holding up to %d rows", b.String(), held)
	}
	b.Reset()
	w := New(&b, Options{Format: "csv", Columns: cols, SortBy: Status429})
	r := FromLegacy(gen.APIUsageRow{HTTPMethod: "GET", Status429: 1})
	w.Write(&r)
	if w.Abort(); b.Len() != 0 {
		t.Errorf("abort printed %q; want nothing: a ranking of part of the rows looks whole", b.String())
	}
}
