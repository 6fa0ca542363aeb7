package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-faster/jx"

	"github.com/gcusage/gcusage/gen"
)

// bufSize is the read buffer of the streaming decoder: large enough that
// a row rarely straddles two reads, small next to a million rows.
const bufSize = 64 << 10

// maxValue bounds one JSON value of an answer (a row, a key, a status):
// far beyond any real row, and what keeps a value that never ends from
// taking the heap. The decoder may hold a buffer more than that.
const maxValue = 1 << 20

// errValueTooLarge is what the metered body answers past maxValue.
var errValueTooLarge = fmt.Errorf("a JSON value larger than %d bytes", maxValue)

// meter counts what the decoder reads since the value it stands at began,
// and fails the read once that passes maxValue.
type meter struct {
	r io.Reader
	n int
}

func (m *meter) Read(p []byte) (int, error) {
	if m.n >= maxValue {
		return 0, errValueTooLarge
	}
	p = p[:min(len(p), maxValue-m.n)]
	n, err := m.r.Read(p)
	m.n += n
	return n, err
}

// answer is a results answer being read: its body, the decoder in it, how
// far the decoder has come, and what ends its request.
type answer struct {
	path  string
	body  io.ReadCloser
	m     meter
	dec   *jx.Decoder
	obj   jx.ObjIter
	rows  jx.ArrIter // the results array, once entered
	state answerState
	// status is the queryStatus read so far; Complete is required of an
	// answer whose rows came before it.
	status  string
	rows1   bool     // the array of rows was met: a second is malformed
	after   string   // cursors.after, the next page of a simple search
	secrets redactor // what the request carried: cut out of the text read
	stop    func() bool
	cancel  context.CancelCauseFunc
}

type answerState int

const (
	inObject answerState = iota // between keys of the object
	atRows                      // at the start of the results array
	inRows                      // at a row of the results array, not yet read
	ended                       // the object and the body have ended
)

// results GETs the results of execution id with get, at the page whose
// cursor is after, and opens the answer's object. The request lives on ctx
// and also ends with until, unless stop detaches it first.
func (c *Client) results(ctx, until context.Context, get func(ctx context.Context, id, after string) (*http.Response, error), id, after string) (*answer, time.Duration, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(until, func() { cancel(nil) })
	resp, err := get(rctx, id, after)
	if err != nil {
		stop()
		cancel(nil)
		return nil, 0, err
	}
	a := newAnswer(resp.Body, resp.ContentLength)
	a.path, a.stop, a.cancel, a.secrets = resp.Request.URL.Path, stop, cancel, secretsOf(resp.Request)
	if err := a.open(); err != nil {
		a.close()
		return nil, 0, err
	}
	hint, _ := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return a, hint, nil
}

// newAnswer reads body, whose length is size when known (-1 when not).
func newAnswer(body io.ReadCloser, size int64) *answer {
	a := &answer{body: body, stop: func() bool { return false }, cancel: func(error) {}}
	a.m.r = body
	// A decoder of its own: a reused one carries its offset over (jx's
	// Reset keeps it) and puts wrong positions in error messages. A small
	// answer of known length, such as a Running poll, gets a buffer of its
	// size, so that polling does not cost 64 KiB a time.
	n := bufSize
	if size >= 0 && size < bufSize {
		n = max(int(size)+1, 512)
	}
	a.dec = jx.Decode(&a.m, n)
	return a
}

func (a *answer) open() (err error) {
	a.obj, err = a.dec.ObjIter()
	return a.fail(0, err)
}

// fail makes a decoding error a *DecodeError of this answer (row is 1-based,
// 0 outside the rows).
func (a *answer) fail(row int, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errValueTooLarge) {
		err = errValueTooLarge
	}
	return &DecodeError{Method: "GET", Path: a.path, Row: row, Err: err}
}

// close drains what is left of the answer, so that its connection can be
// reused, and ends its request.
func (a *answer) close() {
	a.stop()
	if a.body != nil {
		drain(a.body)
	}
	a.cancel(nil)
}

// readBudget ends the request of a page once the time spent waiting for
// it, not counting the time the caller holds its rows, passes the retry
// policy's MaxElapsed: a page is an answer of bounded size, which a server
// trickling it must not stretch forever, while a caller may take its time.
type readBudget struct {
	t    *time.Timer
	left time.Duration
	from time.Time
}

func newReadBudget(d time.Duration, a *answer) *readBudget {
	return &readBudget{t: time.AfterFunc(d, func() { a.cancel(errBudget) }), left: d, from: time.Now()}
}

// pause stops the clock while the caller holds a row; resume starts it
// again. A nil budget (an answer that is not a page) does nothing.
func (b *readBudget) pause() {
	if b != nil && b.t.Stop() {
		b.left -= time.Since(b.from)
	}
}

func (b *readBudget) resume() {
	if b != nil {
		b.from = time.Now()
		b.t.Reset(b.left)
	}
}

// head reads the answer until it knows how the execution stands, and
// stops where its rows can be streamed from: at the results array when the
// status came first and says Complete (the stub's order), or at the first
// row when the rows come first (the real API's order: the status, after
// them, is checked when they end). An empty results array says nothing:
// the status is read past it, so that a Running answer with results:[]
// polls on. With skip, as Poll wants, rows are skipped to reach the status.
func (a *answer) head(skip bool) error {
	for a.obj.Next() {
		a.m.n = 0
		var err error
		switch string(a.obj.Key()) {
		case "queryStatus":
			if a.status, err = a.statusStr(); err != nil || a.status != string(gen.QueryStatusComplete) || skip {
				return a.fail(0, err)
			}
		case "results":
			if err = a.results("results"); err != nil {
				break
			}
			if a.status == string(gen.QueryStatusComplete) {
				a.state = atRows
				return nil
			}
			if a.dec.Next() == jx.Null {
				err = a.dec.Null()
				break
			}
			if a.rows, err = a.dec.ArrIter(); err != nil {
				break
			}
			for n := 1; a.rows.Next(); n++ {
				if !skip {
					a.state = inRows
					return nil
				}
				a.m.n = 0
				if err = a.dec.Skip(); err != nil {
					return a.fail(n, err)
				}
			}
			err = a.rows.Err()
		case "cursors":
			err = a.cursors()
		default:
			err = a.dec.Skip()
		}
		if err != nil {
			return a.fail(0, err)
		}
	}
	return a.end()
}

// results notes the array of rows (results, or a jobs page's entities), of
// which an answer has one: rows after a second would be taken for more of
// the same.
func (a *answer) results(key string) error {
	if a.rows1 {
		return fmt.Errorf("a second %s array: the answer is malformed", key)
	}
	a.rows1 = true
	return nil
}

// str reads a string or null.
func (a *answer) str() (string, error) {
	if a.dec.Next() == jx.Null {
		return "", a.dec.Null()
	}
	return a.dec.Str()
}

// statusStr reads a queryStatus, which an error may quote: without the
// secrets of the request, should the server echo one there.
func (a *answer) statusStr() (string, error) {
	s, err := a.str()
	return a.secrets.apply(s), err
}

// maxCursor bounds the cursor of a page, sent back in the next page's URL:
// a real one is tens of bytes.
const maxCursor = 4 << 10

// cursors reads the paging cursors of a simple search's page, keeping
// after.
func (a *answer) cursors() error {
	if a.dec.Next() == jx.Null {
		return a.dec.Null()
	}
	return a.dec.Obj(func(d *jx.Decoder, key string) error {
		if key != "after" {
			return d.Skip()
		}
		s, err := a.str()
		if err == nil && len(s) > maxCursor {
			err = fmt.Errorf("cursors.after is longer than %d bytes", maxCursor)
		}
		a.after = s
		return err
	})
}

// end checks that the object ended well and that nothing follows it, so
// that an answer cut after its rows, or with more after them, is an error
// and not a short result.
func (a *answer) end() error {
	err := a.obj.Err()
	if err == nil {
		switch err = a.dec.Skip(); {
		case errors.Is(err, io.EOF):
			a.state = ended
			return nil
		case err == nil:
			err = errors.New("data after the answer")
		default:
			err = fmt.Errorf("after the answer: %w", err)
		}
	}
	return a.fail(0, err)
}

// stream yields the rows from where head left the answer, then reads the
// rest of it. With needComplete, an answer whose status, read after its
// rows, is not Complete ends in an error after the rows: they may be a
// part only.
func (a *answer) stream(rd *rowDecoder, needComplete bool, yield func(gen.APIUsageRow, error) bool) {
	fail := func(err error) { yield(gen.APIUsageRow{}, err) }
	switch a.state {
	case atRows:
		if !rd.array(a, false, yield) {
			return
		}
	case inRows:
		if !rd.array(a, true, yield) {
			return
		}
	}
	for a.state != ended && a.obj.Next() {
		a.m.n = 0
		var err error
		switch string(a.obj.Key()) {
		case "queryStatus":
			a.status, err = a.statusStr()
		case "results":
			if err = a.results("results"); err == nil && !rd.array(a, false, yield) {
				return
			}
		case "cursors":
			err = a.cursors()
		default:
			err = a.dec.Skip()
		}
		if err != nil {
			fail(a.fail(0, err))
			return
		}
	}
	if a.state != ended {
		if err := a.end(); err != nil {
			fail(err)
			return
		}
	}
	if needComplete && a.status != string(gen.QueryStatusComplete) {
		fail(notComplete(a.status))
	}
}

// notComplete is the error of rows whose answer did not end in Complete.
func notComplete(status string) error {
	switch gen.QueryStatus(status) {
	case "":
		return errors.New("the rows were not followed by queryStatus Complete: they may be a part only")
	case gen.QueryStatusFailed:
		return fmt.Errorf("the rows were followed by queryStatus %q, so they may be a part only: %w", status, ErrQueryFailed)
	}
	return fmt.Errorf("the rows were followed by queryStatus %q, not Complete: they may be a part only", status)
}

// DecodeRows stream-decodes the results array of an ApiUsageQueryResult
// document, one row at a time, whatever the order of its keys. It checks
// no queryStatus. The first error is yielded once, then the sequence stops.
// A row's date is read leniently (see ParseTime); one that cannot be read
// leaves Date zero.
func DecodeRows(r io.Reader) iter.Seq2[gen.APIUsageRow, error] {
	return func(yield func(gen.APIUsageRow, error) bool) {
		a := newAnswer(io.NopCloser(r), -1)
		// The caller owns r: nothing is drained from it on a break.
		a.body = nil
		defer a.close()
		if err := a.open(); err != nil {
			yield(gen.APIUsageRow{}, err)
			return
		}
		a.stream(newRowDecoder(slog.New(slog.DiscardHandler)), false, yield)
	}
}

// rowDecoder decodes rows with about one allocation each: jx's capture of
// the row's bytes. Repeated strings and dates are shared.
type rowDecoder struct {
	log     *slog.Logger
	secrets redactor // of the answer being read, cut out of the rows and of what is logged
	// warned counts the odd dates logged, each distinct value once, up
	// to maxWarnings; unlogged counts the rows with an odd date past
	// them, which flush logs in one record.
	warned, unlogged int
	one              jx.Decoder // decodes one captured row, so that keys are not copied
	strs             map[string]string
	bytes            int                   // of the strings in strs
	dates            map[string]*time.Time // nil value: unreadable date, already logged
	n                int
}

// Repeated values are shared up to these bounds, so that a column of
// unique values (userId of a huge org) costs no more than plain strings
// would, and long values are never kept.
const (
	maxInterned      = 4096
	maxInternedBytes = 256 << 10
	maxInternedLen   = 256
)

func newRowDecoder(log *slog.Logger) *rowDecoder {
	return &rowDecoder{log: log, strs: map[string]string{}, dates: map[string]*time.Time{}}
}

// array yields the rows of the results array the answer stands at (at its
// start, or with pending, at a row whose start has been read). It says
// whether to go on: false once it has yielded an error or the consumer
// stopped.
func (rd *rowDecoder) array(a *answer, pending bool, yield func(gen.APIUsageRow, error) bool) bool {
	rd.secrets = a.secrets
	if !pending {
		a.m.n = 0
		if a.dec.Next() == jx.Null {
			if err := a.dec.Null(); err != nil {
				yield(gen.APIUsageRow{}, a.fail(0, err))
				return false
			}
			return true
		}
		var err error
		if a.rows, err = a.dec.ArrIter(); err != nil {
			yield(gen.APIUsageRow{}, a.fail(0, err))
			return false
		}
	}
	a.state = inObject
	for pending || a.rows.Next() {
		pending = false
		a.m.n = 0
		raw, err := a.dec.Raw()
		var row gen.APIUsageRow
		if err == nil {
			row, err = rd.row(raw)
		}
		if err != nil {
			yield(gen.APIUsageRow{}, a.fail(rd.n+1, err))
			return false
		}
		rd.n++
		if !yield(row, nil) {
			return false
		}
	}
	if err := a.rows.Err(); err != nil {
		yield(gen.APIUsageRow{}, a.fail(rd.n+1, err))
		return false
	}
	return true
}

func (rd *rowDecoder) row(raw []byte) (row gen.APIUsageRow, err error) {
	rd.one.ResetBytes(raw)
	err = rd.one.ObjBytes(func(d *jx.Decoder, k []byte) error {
		if d.Next() == jx.Null {
			return d.Null()
		}
		switch string(k) {
		case "clientId":
			return rd.str(d, &row.ClientID)
		case "clientName":
			return rd.str(d, &row.ClientName)
		case "organizationId":
			return rd.str(d, &row.OrganizationID)
		case "userId":
			return rd.str(d, &row.UserID)
		case "templateUri":
			return rd.str(d, &row.TemplateURI)
		case "httpMethod":
			return rd.str(d, &row.HTTPMethod)
		case "requests":
			return rd.count(d, "requests", &row.Requests)
		case "status200":
			return rd.count(d, "status200", &row.Status200)
		case "status300":
			return rd.count(d, "status300", &row.Status300)
		case "status400":
			return rd.count(d, "status400", &row.Status400)
		case "status429":
			return rd.count(d, "status429", &row.Status429)
		case "status500":
			return rd.count(d, "status500", &row.Status500)
		case "date":
			return rd.date(d, &row.Date)
		default:
			return d.Skip()
		}
	})
	return row, err
}

func (rd *rowDecoder) str(d *jx.Decoder, dst *string) error {
	s, err := d.StrBytes()
	if err != nil {
		return err
	}
	if v, ok := rd.strs[string(s)]; ok {
		*dst = v
		return nil
	}
	// A string met for the first time is cut of the request's secrets (a
	// row must not hand the caller the bearer token); one the cache shares
	// was cut when it came, so that a row costs no more than before.
	v := string(s)
	*dst = rd.secrets.apply(v)
	if len(s) <= maxInternedLen && len(rd.strs) < maxInterned && rd.bytes < maxInternedBytes {
		rd.strs[v] = *dst
		rd.bytes += len(s)
	}
	return nil
}

// count reads a counter; a negative one is a malformed answer, which
// would otherwise be subtracted from every total.
func (rd *rowDecoder) count(d *jx.Decoder, field string, dst *int64) error {
	v, err := d.Int64()
	if err == nil && v < 0 {
		err = fmt.Errorf("%s is negative: %d", field, v)
	}
	*dst = v
	return err
}

// maxWarnings bounds the odd dates logged one by one, per Rows: past it,
// one record counts the rest, so that a million odd rows log a dozen
// lines, not a million.
const maxWarnings = 10

// date parses each distinct date once. One rule for every odd date, so that
// one odd timestamp never loses a whole answer: a date that is not a
// readable string (a number, an object, garbage) leaves Date zero, with a
// warning logged once per distinct value, at most maxWarnings in all.
func (rd *rowDecoder) date(d *jx.Decoder, dst *time.Time) error {
	if d.Next() != jx.String {
		// Not a string: never a date. Its JSON is its key.
		raw, err := d.Raw()
		if err != nil {
			return err
		}
		if _, seen := rd.dates[string(raw)]; !seen {
			rd.warn("gcusage: row date is not a string; Date left zero", string(rd.secrets.body(raw)))
			rd.remember(string(raw), nil)
		}
		return nil
	}
	s, err := d.StrBytes()
	if err != nil {
		return err
	}
	t, seen := rd.dates[string(s)]
	if !seen {
		if v, ok := ParseTime(string(s)); ok {
			t = &v
		} else {
			rd.warn("gcusage: row date unreadable; Date left zero", rd.secrets.apply(string(s)))
		}
		rd.remember(string(s), t)
	}
	if t != nil {
		*dst = *t
	}
	return nil
}

// remember keeps a date read, nil when odd, within the cache's bounds.
func (rd *rowDecoder) remember(key string, t *time.Time) {
	if len(rd.dates) < maxInterned && len(key) <= maxInternedLen {
		rd.dates[key] = t
	}
}

// warn logs an odd date, or counts it once maxWarnings were logged.
func (rd *rowDecoder) warn(msg, date string) {
	if rd.warned >= maxWarnings {
		rd.unlogged++
		return
	}
	rd.warned++
	rd.log.Warn(msg, "date", oneLine(date, 64), "row", rd.n+1)
}

// flush logs, in one record, the odd dates not logged one by one.
func (rd *rowDecoder) flush() {
	if rd.unlogged > 0 {
		rd.log.Warn("gcusage: more row dates could not be read, not logged one by one; Date left zero", "rows", rd.unlogged)
		rd.unlogged = 0
	}
}

// ParseTime reads a timestamp leniently: RFC 3339 with any offset and
// optional fractional seconds, a date-time without zone, or a date; the last
// two are taken as UTC. The result is in UTC.
func ParseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
