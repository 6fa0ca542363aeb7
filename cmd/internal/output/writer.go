package output

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"io"
	"slices"
	"strings"
)

// Formats are the values of --format, the default first.
var Formats = []string{"table", "csv", "json", "ndjson"}

// Options says how to print rows.
type Options struct {
	Format string // one of Formats; "" is table
	// Columns are what csv and table show, in any order (they print in
	// the order of the Column constants). json and ndjson print the API's
	// objects whole.
	Columns []Column
	// SortBy, a count, prints the rows largest first; Top > 0 prints only
	// the first Top of them, and needs SortBy, which ranks them. Either
	// holds rows in memory: SortBy all of them, Top at most 2*Top.
	SortBy Column
	Top    int
	// CSVRaw keeps csv text exact. By default a text cell that a
	// spreadsheet would run as a formula gets a leading quote.
	CSVRaw bool
}

// Writer prints rows as they come. Close ends the output once every row
// was written; Abort, when the rows broke off, flushes the rows written so
// far, whole, and ends nothing: a cut csv or ndjson ends on a whole line,
// a table has no TOTAL line, and a json array stays open, so that no
// parser takes a cut export for a whole one.
type Writer interface {
	Write(r *Row) error
	Close() error
	Abort() error
}

// bufSize is the buffer of json, ndjson and table; csv.Writer buffers
// on its own.
const bufSize = 64 << 10

// New returns the writer of o.Format on w.
func New(w io.Writer, o Options) Writer {
	cols := Columns(o.Columns...)
	var out Writer
	switch o.Format {
	case "csv":
		out = &csvWriter{w: csv.NewWriter(w), cols: cols, raw: o.CSVRaw}
	case "json":
		out = &jsonWriter{w: bufio.NewWriterSize(w, bufSize), cols: cols}
	case "ndjson":
		out = &ndjsonWriter{w: bufio.NewWriterSize(w, bufSize), cols: cols}
	default:
		out = newTable(bufio.NewWriterSize(w, bufSize), cols, o.Top)
	}
	if o.SortBy == 0 {
		return out
	}
	return &sorter{Writer: out, by: o.SortBy, top: o.Top}
}

// appendJSON appends the row's json object: the API's own, as it sent it,
// or, for a row made here, its columns by name. Profile and Org lead it
// when set.
func (r *Row) appendJSON(b []byte, cols []Column) ([]byte, error) {
	var obj []byte
	var err error
	if r.api != nil {
		obj, err = json.Marshal(r.api)
	} else {
		m := make(map[string]any, len(cols))
		for _, c := range cols {
			switch {
			case c.IsCount():
				m[c.Name()] = r.Count(c)
			case c == Date && !r.Date.IsZero():
				m[c.Name()] = r.Date
			case c != Date:
				m[c.Name()] = r.Text(c)
			}
		}
		obj, err = json.Marshal(m)
	}
	if err != nil {
		return b, err
	}
	for _, c := range []Column{Org, Profile} {
		if v := r.Text(c); v != "" {
			k, _ := json.Marshal(c.Name())
			s, _ := json.Marshal(v)
			sep := ","
			if string(obj) == "{}" {
				sep = ""
			}
			obj = slices.Concat([]byte("{"), k, []byte(":"), s, []byte(sep), obj[1:])
		}
	}
	return append(b, obj...), nil
}

// ndjsonWriter writes an object a line; its buffer only ever holds whole
// lines.
type ndjsonWriter struct {
	w    *bufio.Writer
	cols []Column
	buf  []byte
}

func (n *ndjsonWriter) Write(r *Row) error {
	var err error
	if n.buf, err = r.appendJSON(n.buf[:0], n.cols); err != nil {
		return err
	}
	n.buf = append(n.buf, '\n')
	_, err = n.w.Write(n.buf)
	return err
}

func (n *ndjsonWriter) Close() error { return n.w.Flush() }
func (n *ndjsonWriter) Abort() error { return n.w.Flush() }

// jsonWriter writes one array, an object a line, without holding the rows.
type jsonWriter struct {
	w    *bufio.Writer
	cols []Column
	rows int
	buf  []byte
}

func (j *jsonWriter) Write(r *Row) error {
	sep := ",\n"
	if j.rows == 0 {
		sep = "[\n"
	}
	var err error
	if j.buf, err = r.appendJSON(append(j.buf[:0], sep...), j.cols); err != nil {
		return err
	}
	j.rows++
	_, err = j.w.Write(j.buf)
	return err
}

func (j *jsonWriter) Close() error {
	end := "\n]\n"
	if j.rows == 0 {
		end = "[]\n"
	}
	j.w.WriteString(end)
	return j.w.Flush()
}

// Abort leaves the array open on purpose.
func (j *jsonWriter) Abort() error {
	if j.rows > 0 {
		j.w.WriteString("\n")
	}
	return j.w.Flush()
}

type csvWriter struct {
	w    *csv.Writer
	cols []Column
	raw  bool
	head bool
	rec  []string
}

func (c *csvWriter) header() error {
	if c.head {
		return nil
	}
	c.head = true
	c.rec = make([]string, len(c.cols))
	for i, col := range c.cols {
		c.rec[i] = col.Name()
	}
	return c.w.Write(c.rec)
}

func (c *csvWriter) Write(r *Row) error {
	if err := c.header(); err != nil {
		return err
	}
	for i, col := range c.cols {
		c.rec[i] = r.value(col)
		if !c.raw && !col.IsCount() {
			c.rec[i] = defuse(c.rec[i])
		}
	}
	return c.w.Write(c.rec)
}

func (c *csvWriter) Close() error {
	if err := c.header(); err != nil {
		return err
	}
	return c.Abort()
}

// Abort flushes the records written: csv.Writer buffers whole records, so
// what it flushes never ends inside one.
func (c *csvWriter) Abort() error {
	c.w.Flush()
	return c.w.Error()
}

// defuse keeps a spreadsheet from running a csv cell as a formula: text
// that starts with =, +, -, @, a tab or a carriage return gets a leading
// single quote, as OWASP advises against CSV injection. Anyone allowed to
// name an OAuth client controls such text.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// sorter holds the rows to print them largest first by a count, keeping
// only the first top when top > 0: at most 2*top rows are held then. It
// adds up every row it sees, so that a table can say what the rows left
// out counted.
type sorter struct {
	Writer
	by   Column
	top  int
	rows []Row
	all  totals
}

func (s *sorter) Write(r *Row) error {
	s.all.add(r)
	s.rows = append(s.rows, *r)
	if s.top > 0 && len(s.rows) >= 2*s.top {
		s.sort()
	}
	return nil
}

func (s *sorter) sort() {
	slices.SortStableFunc(s.rows, func(a, b Row) int { return cmp.Compare(b.Count(s.by), a.Count(s.by)) })
	if s.top > 0 && len(s.rows) > s.top {
		clear(s.rows[s.top:])
		s.rows = s.rows[:s.top]
	}
}

func (s *sorter) Close() error {
	s.sort()
	for i := range s.rows {
		if err := s.Writer.Write(&s.rows[i]); err != nil {
			return err
		}
	}
	if t, ok := s.Writer.(*table); ok && s.top > 0 {
		t.all = &s.all
	}
	return s.Writer.Close()
}

// Abort prints none of the held rows: a ranking of part of the rows would
// look whole.
func (s *sorter) Abort() error { return s.Writer.Abort() }
