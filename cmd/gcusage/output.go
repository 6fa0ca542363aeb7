package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
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
	text        func(*gen.APIUsageRow) *string
	count       func(*gen.APIUsageRow) *int64
}

// columns lists every field in the order the table and csv print them.
var columns = []column{
	{name: "date", title: "DATE"},
	{name: "clientId", title: "CLIENT ID", text: func(r *gen.APIUsageRow) *string { return r.ClientID }},
	{name: "clientName", title: "CLIENT NAME", text: func(r *gen.APIUsageRow) *string { return r.ClientName }},
	{name: "organizationId", title: "ORGANIZATION ID", text: func(r *gen.APIUsageRow) *string { return r.OrganizationID }},
	{name: "userId", title: "USER ID", text: func(r *gen.APIUsageRow) *string { return r.UserID }},
	{name: "templateUri", title: "TEMPLATE URI", text: func(r *gen.APIUsageRow) *string { return r.TemplateURI }},
	{name: "httpMethod", title: "METHOD", text: func(r *gen.APIUsageRow) *string { return r.HTTPMethod }},
	{name: "status200", title: "2XX", count: func(r *gen.APIUsageRow) *int64 { return r.Status200 }},
	{name: "status300", title: "3XX", count: func(r *gen.APIUsageRow) *int64 { return r.Status300 }},
	{name: "status400", title: "4XX", count: func(r *gen.APIUsageRow) *int64 { return r.Status400 }},
	{name: "status500", title: "5XX", count: func(r *gen.APIUsageRow) *int64 { return r.Status500 }},
	{name: "status429", title: "429", count: func(r *gen.APIUsageRow) *int64 { return r.Status429 }},
	{name: "requests", title: "REQUESTS", count: func(r *gen.APIUsageRow) *int64 { return r.Requests }},
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

// queryColumns returns the date, the columns grouped by and the metrics
// asked for (all of them when none was), so a table is the same shape
// whatever rows come back, even none.
func queryColumns(groupBy []gen.GroupBy, metrics []gen.Metric) []column {
	want := map[string]bool{"date": true}
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

// rowColumns returns the columns a row has a value for: `results <id>` does
// not know the query, and every row of one query has the same fields.
func rowColumns(r *gen.APIUsageRow) []column {
	return slices.DeleteFunc(slices.Clone(columns), func(c column) bool {
		return cell(c, r) == nil
	})
}

// cell returns a row's value for a column, nil when absent.
func cell(c column, r *gen.APIUsageRow) *string {
	switch {
	case c.text != nil:
		return c.text(r)
	case c.count != nil:
		if n := c.count(r); n != nil {
			s := strconv.FormatInt(*n, 10)
			return &s
		}
	case c.name == "date" && r.Date != nil:
		s := r.Date.UTC().Format(time.RFC3339Nano)
		return &s
	}
	return nil
}

// rowWriter prints rows as they are decoded; close ends the output.
type rowWriter interface {
	write(r gen.APIUsageRow) error
	close() error
}

// newRowWriter returns the writer of a format; cols nil means "from the
// first row".
func newRowWriter(format string, w io.Writer, cols []column) rowWriter {
	switch format {
	case "csv":
		return &csvWriter{w: csv.NewWriter(w), cols: cols}
	case "json":
		return &jsonWriter{w: w}
	case "ndjson":
		return &ndjsonWriter{enc: json.NewEncoder(w)}
	}
	return &tableWriter{w: bufio.NewWriter(w), cols: cols, block: tableRows}
}

// utc returns the row with its date in UTC, the form json promises.
func utc(r gen.APIUsageRow) gen.APIUsageRow {
	if r.Date != nil {
		d := r.Date.UTC()
		r.Date = &d
	}
	return r
}

type ndjsonWriter struct{ enc *json.Encoder }

func (n *ndjsonWriter) write(r gen.APIUsageRow) error { return n.enc.Encode(utc(r)) }
func (n *ndjsonWriter) close() error                  { return nil }

// jsonWriter writes one array, a row per line, without holding the rows.
type jsonWriter struct {
	w    io.Writer
	rows int
}

func (j *jsonWriter) write(r gen.APIUsageRow) error {
	b, err := json.Marshal(utc(r))
	if err != nil {
		return err
	}
	sep := ",\n"
	if j.rows == 0 {
		sep = "[\n"
	}
	j.rows++
	_, err = fmt.Fprintf(j.w, "%s%s", sep, b)
	return err
}

func (j *jsonWriter) close() error {
	end := "\n]\n"
	if j.rows == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(j.w, end)
	return err
}

type csvWriter struct {
	w    *csv.Writer
	cols []column
	head bool
}

func (c *csvWriter) header(r *gen.APIUsageRow) error {
	if c.head {
		return nil
	}
	c.head = true
	if c.cols == nil && r != nil {
		c.cols = rowColumns(r)
	}
	if c.cols == nil {
		return nil
	}
	names := make([]string, len(c.cols))
	for i, col := range c.cols {
		names[i] = col.name
	}
	return c.w.Write(names)
}

func (c *csvWriter) write(r gen.APIUsageRow) error {
	if err := c.header(&r); err != nil {
		return err
	}
	rec := make([]string, len(c.cols))
	for i, col := range c.cols {
		if v := cell(col, &r); v != nil {
			rec[i] = *v
		}
	}
	return c.w.Write(rec)
}

func (c *csvWriter) close() error {
	if err := c.header(nil); err != nil {
		return err
	}
	c.w.Flush()
	return c.w.Error()
}

// tableRows is how many lines the table holds to size its columns. Later
// rows are padded to those widths, widened when a cell needs it, so that a
// table of any length streams in constant memory.
const tableRows = 1000

// tableWriter aligns columns as text/tabwriter would, with two spaces
// between them, and ends with a row of totals.
type tableWriter struct {
	w      *bufio.Writer
	cols   []column
	totals []int64
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
	t.totals = make([]int64, len(t.cols))
	titles := make([]string, len(t.cols))
	for i, c := range t.cols {
		titles[i] = c.title
	}
	return t.line(titles)
}

func (t *tableWriter) write(r gen.APIUsageRow) error {
	if t.totals == nil {
		if t.cols == nil {
			t.cols = rowColumns(&r)
		}
		if err := t.start(); err != nil {
			return err
		}
	}
	cells := make([]string, len(t.cols))
	for i, c := range t.cols {
		cells[i] = "-"
		switch v := cell(c, &r); {
		case c.name == "": // the totals row's label column
			cells[i] = ""
		case v == nil:
		case c.count != nil:
			t.totals[i] += *c.count(&r)
			cells[i] = *v
		case c.name == "date":
			cells[i] = tableDate(*r.Date)
		default:
			cells[i] = escape(*v) // a name with a newline must not forge a row
		}
	}
	return t.line(cells)
}

func (t *tableWriter) close() error {
	if t.totals == nil && t.cols != nil {
		if err := t.start(); err != nil {
			return err
		}
	}
	if len(t.cols) > 0 {
		cells := make([]string, len(t.cols))
		cells[0] = totalLabel
		for i, c := range t.cols[1:] {
			if c.count != nil {
				cells[i+1] = strconv.FormatInt(t.totals[i+1], 10)
			}
		}
		if err := t.line(cells); err != nil {
			return err
		}
	}
	if t.widths == nil {
		if err := t.release(); err != nil {
			return err
		}
	}
	return t.w.Flush()
}

// tableDate shows a bucket start as a plain date, the usual case, and
// anything else in full.
func tableDate(d time.Time) string {
	d = d.UTC()
	if d.Equal(d.Truncate(24 * time.Hour)) {
		return d.Format(time.DateOnly)
	}
	return d.Format(time.RFC3339)
}
