package output

import (
	"bufio"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The table streams in bounded memory whatever the server sends: it holds
// its first heldRows lines, or fewer when their cells reach heldBytes, to
// size the columns, then prints every later line at those widths. A text
// cell is cut to maxCell characters before it is held, and a later one
// wider than its column is cut to fit, with an ellipsis: the table is for
// reading, csv and ndjson for exports, which are never cut. A count, and
// a total, is never cut: it is at most 20 characters (or "overflow"), and
// one wider than its column widens it for the lines after.
const (
	heldRows  = 100
	heldBytes = 64 << 10
	maxCell   = 64
)

const ellipsis = "…"

// table aligns columns as text/tabwriter would, with two spaces between
// them, and ends with a TOTAL line of the counts.
type table struct {
	w      *bufio.Writer
	cols   []Column
	label  bool // a first, blank column holds the TOTAL label: the rows have only counts
	labels []string
	shown  totals
	// all is every row's totals when --top left some out.
	all *totals

	started bool
	held    [][]string // the header and first rows, until widths is set
	bytes   int        // of the held cells
	widths  []int      // in runes; the last column is not padded
	line    []byte     // the line being printed
}

func newTable(w *bufio.Writer, cols []Column, top int) *table {
	t := &table{w: w, cols: cols, labels: []string{"TOTAL"}}
	if top > 0 {
		t.labels = []string{fmt.Sprintf("TOTAL top %d", top), "TOTAL all rows"}
	}
	t.label = len(cols) == 0 || cols[0].IsCount()
	return t
}

// start holds the header.
func (t *table) start() error {
	if t.started {
		return nil
	}
	t.started = true
	titles := make([]string, 0, len(t.cols)+1)
	if t.label {
		titles = append(titles, "")
	}
	for _, c := range t.cols {
		titles = append(titles, c.Title())
	}
	return t.print(titles)
}

func (t *table) Write(r *Row) error {
	if err := t.start(); err != nil {
		return err
	}
	t.shown.add(r)
	cells := make([]string, 0, len(t.cols)+1)
	if t.label {
		cells = append(cells, "")
	}
	for _, c := range t.cols {
		v := r.value(c)
		if v == "" {
			v = "-"
		}
		cells = append(cells, v)
	}
	return t.print(cells)
}

// print holds cells until the widths are known, then prints them. Cells
// are escaped, so that a name with a newline cannot forge a line nor an
// escape sequence drive the terminal, and text is cut: a held cell to
// maxCell, a later one to its column's width. A count wider than its
// column widens it instead: a cut number would read as another.
func (t *table) print(cells []string) error {
	if t.widths == nil {
		for i, s := range cells {
			cells[i] = fit(s, maxCell)
			t.bytes += len(cells[i])
		}
		if t.held = append(t.held, cells); len(t.held) <= heldRows && t.bytes < heldBytes {
			return nil
		}
		return t.release()
	}
	b := t.line[:0]
	for i, s := range cells {
		if i == len(cells)-1 {
			b = append(b, fit(s, maxCell)...)
			b = append(b, '\n')
			break
		}
		if t.isCount(i) {
			s = Escape(s)
			t.widths[i] = max(t.widths[i], utf8.RuneCountInString(s))
		} else {
			s = fit(s, t.widths[i])
		}
		b = append(b, s...)
		b = append(b, strings.Repeat(" ", t.widths[i]-utf8.RuneCountInString(s)+2)...)
	}
	t.line = b
	_, err := t.w.Write(b)
	return err
}

// isCount tells whether cell i of a line is a count, or a total.
func (t *table) isCount(i int) bool {
	if t.label {
		i--
	}
	return i >= 0 && t.cols[i].IsCount()
}

// release sizes the columns from the held lines, and the first for the
// TOTAL labels, and prints the held lines.
func (t *table) release() error {
	n := len(t.cols)
	if t.label {
		n++
	}
	t.widths = make([]int, n)
	for _, l := range t.labels {
		if n > 0 {
			t.widths[0] = max(t.widths[0], utf8.RuneCountInString(l))
		}
	}
	for _, cells := range t.held {
		for i, s := range cells {
			t.widths[i] = max(t.widths[i], utf8.RuneCountInString(s))
		}
	}
	held := t.held
	t.held, t.bytes = nil, 0
	for _, cells := range held {
		if err := t.print(cells); err != nil {
			return err
		}
	}
	return nil
}

// Close prints the TOTAL line of the rows shown and, when --top left rows
// out, a second one of every row.
func (t *table) Close() error {
	if err := t.start(); err != nil {
		return err
	}
	sums := []*totals{&t.shown}
	if t.all != nil {
		sums = append(sums, t.all)
	}
	for i, s := range sums {
		cells := make([]string, 0, len(t.cols)+1)
		for j, c := range t.cols {
			switch {
			case j == 0 && !t.label:
				cells = append(cells, t.labels[i])
			case c.IsCount():
				cells = append(cells, s[c].String())
			default:
				cells = append(cells, "")
			}
		}
		if t.label {
			cells = append([]string{t.labels[i]}, cells...)
		}
		if len(cells) > 0 {
			if err := t.print(cells); err != nil {
				return err
			}
		}
	}
	return t.Abort()
}

// Abort prints the lines held so far, without a TOTAL line, which would
// add up part of the rows only.
func (t *table) Abort() error {
	if t.widths == nil {
		if err := t.release(); err != nil {
			return err
		}
	}
	return t.w.Flush()
}

// fit escapes s for a terminal and cuts it to width characters, the last
// an ellipsis. Only the first width+1 characters of s are escaped, so that
// a cell of any size costs no more than a short one.
func fit(s string, width int) string {
	end, n := 0, 0
	for end < len(s) && n <= width {
		_, size := utf8.DecodeRuneInString(s[end:])
		end += size
		n++
	}
	e := Escape(s[:end])
	if end == len(s) && utf8.RuneCountInString(e) <= width {
		return e
	}
	if width < 1 {
		return ""
	}
	cut, n := 0, 0
	for cut < len(e) && n < width-1 {
		_, size := utf8.DecodeRuneInString(e[cut:])
		cut += size
		n++
	}
	return e[:cut] + ellipsis
}

// totals adds up the counts of rows, by column.
type totals [numColumns]total

func (t *totals) add(r *Row) {
	for c := Status200; c <= Requests; c++ {
		t[c].add(r.Count(c))
	}
}

// total adds up counts, and says so when the sum no longer fits rather
// than wrapping around to a negative number.
type total struct {
	sum      int64
	overflow bool
}

func (t *total) add(n int64) {
	if n > 0 && n > math.MaxInt64-t.sum || n < 0 && n < math.MinInt64-t.sum {
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
