package main

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gcusage/gcusage/gen"
)

// formats are the values of --format, the first being the default.
var formats = []string{"table", "csv", "json", "ndjson"}

// column is one field of gen.APIUsageRow as the table and csv show it.
// name is the API's field name, so csv headers match the json output.
type column struct {
	name, title string
	text        func(*gen.APIUsageRow) string
	count       func(*gen.APIUsageRow) int64
}

// columns lists every field in the order the table and csv print them.
var columns = []column{
	{name: "date", title: "DATE"},
	{name: "clientId", title: "CLIENT ID", text: func(r *gen.APIUsageRow) string { return r.ClientID }},
	{name: "clientName", title: "CLIENT NAME", text: func(r *gen.APIUsageRow) string { return r.ClientName }},
	{name: "organizationId", title: "ORGANIZATION ID", text: func(r *gen.APIUsageRow) string { return r.OrganizationID }},
	{name: "userId", title: "USER ID", text: func(r *gen.APIUsageRow) string { return r.UserID }},
	{name: "templateUri", title: "TEMPLATE URI", text: func(r *gen.APIUsageRow) string { return r.TemplateURI }},
	{name: "httpMethod", title: "METHOD", text: func(r *gen.APIUsageRow) string { return r.HTTPMethod }},
	{name: "status200", title: "2XX", count: func(r *gen.APIUsageRow) int64 { return r.Status200 }},
	{name: "status300", title: "3XX", count: func(r *gen.APIUsageRow) int64 { return r.Status300 }},
	{name: "status400", title: "4XX", count: func(r *gen.APIUsageRow) int64 { return r.Status400 }},
	{name: "status500", title: "5XX", count: func(r *gen.APIUsageRow) int64 { return r.Status500 }},
	{name: "status429", title: "429", count: func(r *gen.APIUsageRow) int64 { return r.Status429 }},
	{name: "requests", title: "REQUESTS", count: func(r *gen.APIUsageRow) int64 { return r.Requests }},
}

// groupColumns and metricColumns map the query's enums to the fields they fill.
var (
	groupColumns = map[gen.GroupBy][]string{
		gen.GroupByOAuthClientID:  {"clientId", "clientName"},
		gen.GroupByOrganizationID: {"organizationId"},
		gen.GroupByUserID:         {"userId"},
		gen.GroupByTemplateURI:    {"templateUri"},
		gen.GroupByHTTPMethod:     {"httpMethod"},
	}
	metricColumns = map[gen.Metric]string{
		gen.MetricStatus200: "status200",
		gen.MetricStatus300: "status300",
		gen.MetricStatus400: "status400",
		gen.MetricStatus429: "status429",
		gen.MetricStatus500: "status500",
		gen.MetricRequests:  "requests",
	}
)

// queryColumns returns the columns a query's rows fill: the date when it
// has a granularity (without one the rows are totals over the interval),
// the columns grouped by (per OAuth client when none is), and the metrics
// asked for (all of them when none is). The API sends the other fields
// empty, so the table is the same shape whatever rows come back, even none.
func queryColumns(g gen.Granularity, groupBy []gen.GroupBy, metrics []gen.Metric) []column {
	want := map[string]bool{"date": g != ""}
	if len(groupBy) == 0 {
		groupBy = []gen.GroupBy{gen.GroupByOAuthClientID}
	}
	for _, g := range groupBy {
		for _, n := range groupColumns[g] {
			want[n] = true
		}
	}
	for _, m := range metrics {
		want[metricColumns[m]] = true
	}
	return slices.DeleteFunc(slices.Clone(columns), func(c column) bool {
		return !want[c.name] && (len(metrics) > 0 || c.count == nil)
	})
}

// cell is a row's value for a column as text; an absent date is empty.
func (c column) cell(r *gen.APIUsageRow) string {
	switch {
	case c.text != nil:
		return c.text(r)
	case c.count != nil:
		return strconv.FormatInt(c.count(r), 10)
	case c.name == "date" && !r.Date.IsZero():
		return r.Date.UTC().Format(time.RFC3339Nano)
	}
	return ""
}

// rowWriter prints rows as they are decoded. close ends the output once
// every row was read; abort, when the rows broke off, flushes the rows
// written so far, whole, and ends nothing, so that a cut export never ends
// on a partial record and a json array stays unterminated.
type rowWriter interface {
	write(r *gen.APIUsageRow) error
	close() error
	abort() error
}

// newRowWriter returns the writer of a format, with the columns of the
// query (for csv and table).
func newRowWriter(format string, w io.Writer, cols []column) rowWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case "csv":
		return &csvWriter{w: csv.NewWriter(w), cols: cols}
	case "json":
		return &jsonWriter{w: bw}
	case "ndjson":
		return &ndjsonWriter{w: bw, enc: json.NewEncoder(bw)}
	}
	return &tableWriter{w: bw, cols: cols, block: tableRows}
}

// utc returns the row with its date in UTC, the form json promises. A row
// without a date (a query without granularity) has no date key.
func utc(r *gen.APIUsageRow) *gen.APIUsageRow {
	if !r.Date.IsZero() {
		r.Date = r.Date.UTC()
	}
	return r
}

// ndjsonWriter writes a row a line; the buffer only ever holds whole lines.
type ndjsonWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

func (n *ndjsonWriter) write(r *gen.APIUsageRow) error { return n.enc.Encode(utc(r)) }
func (n *ndjsonWriter) close() error                   { return n.w.Flush() }
func (n *ndjsonWriter) abort() error                   { return n.w.Flush() }

// jsonWriter writes one array, a row per line, without holding the rows.
type jsonWriter struct {
	w    *bufio.Writer
	rows int
}

func (j *jsonWriter) write(r *gen.APIUsageRow) error {
	b, err := json.Marshal(utc(r))
	if err != nil {
		return err
	}
	sep := ",\n"
	if j.rows == 0 {
		sep = "[\n"
	}
	j.rows++
	j.w.WriteString(sep)
	_, err = j.w.Write(b)
	return err
}

func (j *jsonWriter) close() error {
	end := "\n]\n"
	if j.rows == 0 {
		end = "[]\n"
	}
	j.w.WriteString(end)
	return j.w.Flush()
}

// abort leaves the array open on purpose: no parser takes a cut export for
// a whole one.
func (j *jsonWriter) abort() error {
	if j.rows > 0 {
		j.w.WriteString("\n")
	}
	return j.w.Flush()
}

type csvWriter struct {
	w    *csv.Writer
	cols []column
	head bool
	rec  []string
}

func (c *csvWriter) header() error {
	if c.head {
		return nil
	}
	c.head = true
	names := make([]string, len(c.cols))
	for i, col := range c.cols {
		names[i] = col.name
	}
	c.rec = make([]string, len(c.cols))
	return c.w.Write(names)
}

func (c *csvWriter) write(r *gen.APIUsageRow) error {
	if err := c.header(); err != nil {
		return err
	}
	for i, col := range c.cols {
		c.rec[i] = col.cell(r)
	}
	return c.w.Write(c.rec)
}

func (c *csvWriter) close() error {
	if err := c.header(); err != nil {
		return err
	}
	return c.abort()
}

// abort flushes the records written: csv.Writer buffers whole records, so
// what it flushes never ends inside one.
func (c *csvWriter) abort() error {
	c.w.Flush()
	return c.w.Error()
}

// sorter holds the rows to print them sorted by a count, largest first,
// keeping only the top n when n > 0: at most 2n rows are ever held.
type sorter struct {
	rowWriter
	by   func(*gen.APIUsageRow) int64
	top  int
	rows []gen.APIUsageRow
}

func (s *sorter) write(r *gen.APIUsageRow) error {
	s.rows = append(s.rows, *r)
	if s.top > 0 && len(s.rows) >= 2*s.top {
		s.sort()
	}
	return nil
}

func (s *sorter) sort() {
	slices.SortStableFunc(s.rows, func(a, b gen.APIUsageRow) int { return cmp.Compare(s.by(&b), s.by(&a)) })
	if s.top > 0 && len(s.rows) > s.top {
		s.rows = slices.Delete(s.rows, s.top, len(s.rows))
	}
}

func (s *sorter) close() error {
	s.sort()
	for i := range s.rows {
		if err := s.rowWriter.write(&s.rows[i]); err != nil {
			return err
		}
	}
	return s.rowWriter.close()
}

// abort prints none of the held rows: a ranking of part of the rows would
// look whole.
func (s *sorter) abort() error { return s.rowWriter.abort() }

// tableRows is how many lines the table holds to size its columns. Later
// rows are padded to those widths, widened when a cell needs it, so that a
// table of any length streams in constant memory.
const tableRows = 1000

// tableWriter aligns columns as text/tabwriter would, with two spaces
// between them, and ends with a row of totals.
type tableWriter struct {
	w      *bufio.Writer
	cols   []column
	totals []total
	block  int        // how many lines to hold: tableRows
	held   [][]string // the header and first rows, until widths is set
	widths []int      // in runes; the last column is not padded
	buf    []byte     // the line being printed
}

// line holds cells until the widths are known, then prints them.
func (t *tableWriter) line(cells []string) error {
	if t.widths == nil {
		if t.held = append(t.held, cells); len(t.held) <= t.block {
			return nil
		}
		return t.release()
	}
	b := t.buf[:0]
	for i, s := range cells {
		b = append(b, s...)
		if i == len(cells)-1 {
			b = append(b, '\n')
			break
		}
		n := utf8.RuneCountInString(s)
		t.widths[i] = max(t.widths[i], n)
		b = append(b, strings.Repeat(" ", t.widths[i]-n+2)...)
	}
	t.buf = b
	_, err := t.w.Write(b)
	return err
}

// totalLabel starts the totals row, in the first column, which is never a
// count.
const totalLabel = "TOTAL"

// release sizes the columns from the held lines, and the first for the
// totals row's label, and prints them.
func (t *tableWriter) release() error {
	t.widths = make([]int, len(t.cols))
	if len(t.widths) > 0 {
		t.widths[0] = len(totalLabel)
	}
	for _, cells := range t.held {
		for i, s := range cells {
			t.widths[i] = max(t.widths[i], utf8.RuneCountInString(s))
		}
	}
	held := t.held
	t.held = nil
	for _, cells := range held {
		if err := t.line(cells); err != nil {
			return err
		}
	}
	return nil
}

func (t *tableWriter) start() error {
	if len(t.cols) > 0 && t.cols[0].count != nil {
		// Rows without a date or grouping have only counts: the totals
		// row's label gets a blank column, so that it hides no total.
		t.cols = append([]column{{}}, t.cols...)
	}
	t.totals = make([]total, len(t.cols))
	titles := make([]string, len(t.cols))
	for i, c := range t.cols {
		titles[i] = c.title
	}
	return t.line(titles)
}

func (t *tableWriter) write(r *gen.APIUsageRow) error {
	if t.totals == nil {
		if err := t.start(); err != nil {
			return err
		}
	}
	cells := make([]string, len(t.cols))
	for i, c := range t.cols {
		switch {
		case c.name == "": // the totals row's label column
		case c.count != nil:
			t.totals[i].add(c.count(r))
			cells[i] = c.cell(r)
		case c.name == "date":
			cells[i] = tableDate(r.Date)
		default:
			cells[i] = escape(cmp.Or(c.cell(r), "-")) // a name with a newline must not forge a row
		}
	}
	return t.line(cells)
}

func (t *tableWriter) close() error {
	if t.totals == nil {
		if err := t.start(); err != nil {
			return err
		}
	}
	if len(t.cols) > 0 {
		cells := make([]string, len(t.cols))
		cells[0] = totalLabel
		for i, c := range t.cols[1:] {
			if c.count != nil {
				cells[i+1] = t.totals[i+1].String()
			}
		}
		if err := t.line(cells); err != nil {
			return err
		}
	}
	return t.abort()
}

// abort prints the rows held so far, without the totals row, which would
// add up part of the rows only.
func (t *tableWriter) abort() error {
	if t.widths == nil {
		if err := t.release(); err != nil {
			return err
		}
	}
	return t.w.Flush()
}

// total adds up counts, and says so when the sum no longer fits rather
// than wrapping around to a negative number.
type total struct {
	sum      int64
	overflow bool
}

func (t *total) add(n int64) {
	if n > math.MaxInt64-t.sum {
		t.overflow = true
	}
	t.sum += n
}

func (t total) String() string {
	if t.overflow {
		return "overflow"
	}
	return strconv.FormatInt(t.sum, 10)
}

// tableDate shows a bucket start as a plain date, the usual case, and
// anything else in full.
func tableDate(d time.Time) string {
	if d.IsZero() {
		return "-"
	}
	d = d.UTC()
	if d.Equal(d.Truncate(24 * time.Hour)) {
		return d.Format(time.DateOnly)
	}
	return d.Format(time.RFC3339)
}
