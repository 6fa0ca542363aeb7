package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"sync"
	"time"

	"github.com/go-faster/jx"

	"github.com/gcusage/gcusage/gen"
)

// bufSize is the read buffer of the streaming decoder: large enough that
// a row rarely straddles two reads, small next to a million rows.
const bufSize = 64 << 10

// decoders keeps the read buffers of finished answers for the next ones, so
// that each poll of a 30-byte Running answer does not cost a new 64 KiB.
var decoders = sync.Pool{New: func() any { return jx.Decode(nil, bufSize) }}

func getDecoder(r io.Reader) *jx.Decoder {
	d := decoders.Get().(*jx.Decoder)
	d.Reset(r)
	return d
}

func putDecoder(d *jx.Decoder) {
	d.Reset(nil)
	decoders.Put(d)
}

// answer is a results answer being read: its body, the decoder in it, the
// iterator over the keys of its object, and what ends its request.
type answer struct {
	path   string
	body   io.ReadCloser
	dec    *jx.Decoder
	obj    jx.ObjIter
	atRows bool // dec stands at the results array
	stop   func() bool
	cancel context.CancelFunc
}

// results GETs the results of execution id and opens the answer's object.
// The request lives on ctx and also ends with until, unless stop detaches
// it first.
func (c *Client) results(ctx, until context.Context, id string) (*answer, time.Duration, error) {
	rctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(until, cancel)
	resp, err := c.api.GetUsageQueryExecutionIDResults(rctx, id)
	if err != nil {
		stop()
		cancel()
		return nil, 0, transportError(err)
	}
	if resp.StatusCode != 200 {
		stop()
		defer cancel()
		return nil, 0, responseError(resp)
	}
	a := &answer{path: resp.Request.URL.Path, body: resp.Body, dec: getDecoder(resp.Body), stop: stop, cancel: cancel}
	if a.obj, err = a.dec.ObjIter(); err != nil {
		a.close()
		return nil, 0, &DecodeError{Method: "GET", Path: a.path, Err: err}
	}
	hint, _ := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return a, hint, nil
}

// close drains what is left of the answer, so that its connection can be
// reused, and ends its request.
func (a *answer) close() {
	a.stop()
	drain(a.body)
	a.cancel()
	putDecoder(a.dec)
}

// scanHead reads the answer's keys until it knows the status. When
// queryStatus comes before results (as the stub sends it), it stops at the
// results array. When results come first, it skips them without keeping
// them to reach the status; a Complete result then GETs its rows again.
func (a *answer) scanHead() (status string, sawResults bool, err error) {
	seen := false
	for err == nil && a.obj.Next() {
		switch string(a.obj.Key()) {
		case "queryStatus":
			seen = true
			if a.dec.Next() == jx.Null {
				err = a.dec.Null()
			} else {
				status, err = a.dec.Str()
			}
		case "results":
			sawResults = true
			if seen && a.dec.Next() == jx.Array {
				a.atRows = true
				return status, true, nil
			}
			err = a.dec.Skip()
		default:
			err = a.dec.Skip()
		}
	}
	if err == nil {
		err = a.obj.Err()
	}
	return status, sawResults, err
}

// maxInterned bounds the string and date caches of one decode, so that a
// column of unique values (userId of a huge org) costs no more than plain
// strings would.
const maxInterned = 4096

// DecodeRows stream-decodes the results array of an ApiUsageQueryResult
// document, one row at a time. The first error is yielded once, then the
// sequence stops. Dates are read leniently (see ParseTime); a row whose date
// cannot be read keeps a nil Date.
func DecodeRows(r io.Reader) iter.Seq2[gen.APIUsageRow, error] {
	return func(yield func(gen.APIUsageRow, error) bool) {
		d := getDecoder(r)
		defer putDecoder(d)
		it, err := d.ObjIter()
		if err != nil {
			yield(gen.APIUsageRow{}, &DecodeError{Err: err})
			return
		}
		newRowDecoder(slog.New(slog.DiscardHandler)).object(d, &it, false, yield)
	}
}

// rowDecoder decodes rows with about two allocations each: the rowBox, and
// jx's capture of the row's bytes. Repeated strings and dates are shared.
type rowDecoder struct {
	log   *slog.Logger
	one   jx.Decoder // decodes one captured row, so that keys are not copied
	strs  map[string]string
	dates map[string]*time.Time // nil value: unreadable date, already logged
	n     int
}

// rowBox holds a row and the values its pointers point to, in one
// allocation.
type rowBox struct {
	row                                                        gen.APIUsageRow
	requests, s200, s300, s400, s429, s500                     int64
	clientID, clientName, orgID, userID, templateURI, httpMeth string
	date                                                       time.Time
}

func newRowDecoder(log *slog.Logger) *rowDecoder {
	return &rowDecoder{log: log, strs: map[string]string{}, dates: map[string]*time.Time{}}
}

// object yields the rows of the results of the ApiUsageQueryResult whose
// keys it iterates, skipping other keys, then checks that the answer ends
// there, so that a body cut after its rows is an error and not a short
// result. With at, d already stands at the results array.
func (rd *rowDecoder) object(d *jx.Decoder, it *jx.ObjIter, at bool, yield func(gen.APIUsageRow, error) bool) {
	if at && !rd.array(d, yield) {
		return
	}
	var err error
	for err == nil && it.Next() {
		if string(it.Key()) != "results" {
			err = d.Skip()
		} else if !rd.array(d, yield) {
			return
		}
	}
	if err == nil {
		err = it.Err()
	}
	if err == nil {
		switch err = d.Skip(); {
		case errors.Is(err, io.EOF):
			return
		case err == nil:
			err = errors.New("data after the answer")
		default:
			err = fmt.Errorf("after the answer: %w", err)
		}
	}
	yield(gen.APIUsageRow{}, &DecodeError{Err: err})
}

// array yields the rows of the results array d stands at. It says whether
// to go on: false once it has yielded an error or the consumer stopped.
func (rd *rowDecoder) array(d *jx.Decoder, yield func(gen.APIUsageRow, error) bool) bool {
	fail := func(err error) bool { yield(gen.APIUsageRow{}, &DecodeError{Err: err}); return false }
	if d.Next() == jx.Null {
		if err := d.Null(); err != nil {
			return fail(err)
		}
		return true
	}
	it, err := d.ArrIter()
	if err != nil {
		return fail(err)
	}
	for it.Next() {
		raw, err := d.Raw()
		var row gen.APIUsageRow
		if err == nil {
			row, err = rd.row(raw)
		}
		if err != nil {
			yield(gen.APIUsageRow{}, &DecodeError{Row: rd.n + 1, Err: err})
			return false
		}
		rd.n++
		if !yield(row, nil) {
			return false
		}
	}
	if err := it.Err(); err != nil {
		return fail(err)
	}
	return true
}

func (rd *rowDecoder) row(raw []byte) (gen.APIUsageRow, error) {
	b := new(rowBox)
	rd.one.ResetBytes(raw)
	err := rd.one.ObjBytes(func(d *jx.Decoder, k []byte) error {
		if d.Next() == jx.Null {
			return d.Null()
		}
		switch string(k) {
		case "clientId":
			return rd.str(d, &b.clientID, &b.row.ClientID)
		case "clientName":
			return rd.str(d, &b.clientName, &b.row.ClientName)
		case "organizationId":
			return rd.str(d, &b.orgID, &b.row.OrganizationID)
		case "userId":
			return rd.str(d, &b.userID, &b.row.UserID)
		case "templateUri":
			return rd.str(d, &b.templateURI, &b.row.TemplateURI)
		case "httpMethod":
			return rd.str(d, &b.httpMeth, &b.row.HTTPMethod)
		case "requests":
			return rd.int(d, &b.requests, &b.row.Requests)
		case "status200":
			return rd.int(d, &b.s200, &b.row.Status200)
		case "status300":
			return rd.int(d, &b.s300, &b.row.Status300)
		case "status400":
			return rd.int(d, &b.s400, &b.row.Status400)
		case "status429":
			return rd.int(d, &b.s429, &b.row.Status429)
		case "status500":
			return rd.int(d, &b.s500, &b.row.Status500)
		case "date":
			return rd.date(d, &b.date, &b.row.Date)
		default:
			return d.Skip()
		}
	})
	return b.row, err
}

func (rd *rowDecoder) str(d *jx.Decoder, dst *string, p **string) error {
	s, err := d.StrBytes()
	if err != nil {
		return err
	}
	if v, ok := rd.strs[string(s)]; ok {
		*dst = v
	} else {
		*dst = string(s)
		if len(rd.strs) < maxInterned {
			rd.strs[*dst] = *dst
		}
	}
	*p = dst
	return nil
}

func (rd *rowDecoder) int(d *jx.Decoder, dst *int64, p **int64) error {
	v, err := d.Int64()
	*dst, *p = v, dst
	return err
}

// date parses each distinct date once; a row whose date cannot be read keeps
// a nil Date rather than losing the whole response.
func (rd *rowDecoder) date(d *jx.Decoder, dst *time.Time, p **time.Time) error {
	s, err := d.StrBytes()
	if err != nil {
		return err
	}
	t, ok := rd.dates[string(s)]
	if !ok {
		if v, ok := ParseTime(string(s)); ok {
			t = &v
		} else {
			rd.log.Warn("gcusage: row date unreadable; Date left nil", "date", string(s), "row", rd.n)
		}
		if len(rd.dates) < maxInterned {
			rd.dates[string(s)] = t
		}
	}
	if t != nil {
		*dst, *p = *t, dst
	}
	return nil
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
