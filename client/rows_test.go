package client

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/gen"
)

func TestParseTime(t *testing.T) {
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2024-01-01T00:00:00.000Z", utc("2024-01-01T00:00:00Z"), true},
		{"2024-01-01T00:00:00Z", utc("2024-01-01T00:00:00Z"), true},
		{"2024-01-01T02:00:00+02:00", utc("2024-01-01T00:00:00Z"), true},
		{"2024-01-01T02:00:00.5+0200", utc("2024-01-01T00:00:00.5Z"), true},
		{"2023-12-31T19:00:00.123456789-05:00", utc("2024-01-01T00:00:00.123456789Z"), true},
		{"2024-01-01T00:00:00", utc("2024-01-01T00:00:00Z"), true},
		{"2024-01-01T00:00:00.250", utc("2024-01-01T00:00:00.25Z"), true},
		{"2024-01-01", utc("2024-01-01T00:00:00Z"), true},
		{"2024-02-30", time.Time{}, false},
		{"01/02/2024", time.Time{}, false},
		{"", time.Time{}, false},
	} {
		got, ok := ParseTime(tc.in)
		if ok != tc.ok || !got.Equal(tc.want) || (ok && got.Location() != time.UTC) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v (UTC), %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// One rule for every odd date, documented on DecodeRows: the row is kept
// with a zero Date and a warning, whether the date is an unreadable string
// or not a string at all.
func TestBadDateKeepsTheRow(t *testing.T) {
	var logs bytes.Buffer
	f := &fake{api: started(`{"results":[{"requests":1,"date":"last tuesday"},{"requests":2,"date":"2024-01-02"},{"requests":3,"date":"last tuesday"},{"requests":4,"date":20240102},{"requests":5,"date":{"d":1}}],"queryStatus":"Complete"}`)}
	c := newTestClient(t, f, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	res, err := c.Run(t.Context(), anyQuery)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := res.All()
	if err != nil || len(rows) != 5 {
		t.Fatalf("rows %v, %v", rows, err)
	}
	for i, r := range rows {
		if r.Requests != int64(i+1) || r.Date.IsZero() != (i != 1) {
			t.Fatalf("row %d = %+v", i, r)
		}
	}
	if rows[1].Date.Day() != 2 {
		t.Fatalf("row 1 = %+v", rows[1])
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 3 || !strings.Contains(logs.String(), `date="last tuesday"`) || !strings.Contains(logs.String(), "date=20240102") {
		t.Fatalf("want one warning naming the date, got:\n%s", logs.String())
	}
}

func TestRowsDoNotShareValues(t *testing.T) {
	var rows []gen.APIUsageRow
	for row, err := range DecodeRows(strings.NewReader(`{"results":[{"clientId":"a","requests":1,"date":"2024-01-01"},{"clientId":"a","requests":2,"date":"2024-01-01"}]}`)) {
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	rows[0].Requests, rows[0].Date = 99, time.Time{}
	if rows[1].Requests != 2 || rows[1].Date.IsZero() || rows[1].ClientID != "a" {
		t.Fatalf("writing to one row changed another: %+v", rows[1])
	}
}

// A negative counter is a malformed answer: summed, it would silently
// lower every total.
func TestNegativeCounterIsADecodeError(t *testing.T) {
	var n int
	var err error
	for _, err = range DecodeRows(strings.NewReader(`{"results":[{"requests":1},{"requests":2,"status429":-1}]}`)) {
		if err != nil {
			break
		}
		n++
	}
	var de *DecodeError
	if n != 1 || !errors.As(err, &de) || de.Row != 2 || !strings.Contains(err.Error(), "status429") || !strings.Contains(err.Error(), "-1") {
		t.Fatalf("%d rows, then %v; want row 2 named with status429 -1", n, err)
	}
}

func TestDecodeRowsMatchesEncodingJSON(t *testing.T) {
	doc := []byte(`{"cursors":{"after":"x"},"results":[{"clientId":"c\u00e9\"","clientName":"n","organizationId":"o","userId":"u","templateUri":"t","httpMethod":"GET","status200":1,"status300":2,"status400":3,"status429":4,"status500":5,"requests":6,"date":"2024-01-01T00:00:00Z"},{}],"queryStatus":"Complete"}`)
	var want gen.APIUsageQueryResult
	if err := json.Unmarshal(doc, &want); err != nil {
		t.Fatal(err)
	}
	var got []gen.APIUsageRow
	for row, err := range DecodeRows(bytes.NewReader(doc)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, row)
	}
	if a, b := dump(got), dump(want.Results); a != b {
		t.Fatalf("DecodeRows:    %s\nencoding/json: %s", a, b)
	}
}

// dump prints rows as JSON.
func dump(rows []gen.APIUsageRow) string {
	b, _ := json.Marshal(append([]gen.APIUsageRow{}, rows...))
	return string(b)
}

func FuzzDecodeRows(f *testing.F) {
	for _, s := range []string{
		`{"queryStatus":"Complete","results":[{"clientId":"c","requests":1,"date":"2024-01-01T00:00:00.000Z"}]}`,
		`{"results":[{"date":"2024-01-01"},{"date":"bad","extra":[{"a":null}]}],"queryStatus":"Complete"}`,
		`{"results":null}`, `{"results":[{"requests":1.5}]}`, `[`, `{"results":[{"requests":1},`,
	} {
		f.Add([]byte(s))
	}
	// Invariants only: encoding/json differs on purpose (it matches keys
	// regardless of case, keeps offsets), so TestDecodeRowsMatchesEncodingJSON
	// compares the two on a document where they must agree.
	f.Fuzz(func(t *testing.T, data []byte) {
		errs := 0
		for row, err := range DecodeRows(bytes.NewReader(data)) {
			switch {
			case err != nil:
				errs++
			case errs > 0:
				t.Fatal("a row came after an error")
			case !row.Date.IsZero() && row.Date.Location() != time.UTC:
				t.Fatalf("date %v not in UTC", row.Date)
			}
		}
		if errs > 1 {
			t.Fatalf("%d errors yielded, want at most one", errs)
		}
	})
}

func benchDoc(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"queryStatus":"Complete","results":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"clientId":"client-%d","clientName":"Client %d","templateUri":"api/v2/users/{userId}","httpMethod":"GET","requests":%d,"status200":%d,"status429":3,"date":"2024-01-%02dT00:00:00.000Z"}`, i%50, i%50, i, i, 1+i%28)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func BenchmarkDecodeRows(b *testing.B) {
	doc := benchDoc(10_000)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		for _, err := range DecodeRows(bytes.NewReader(doc)) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(10_000*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkDecodeRowsWithToken decodes rows as Result.Rows does, with the
// bearer token of the request to keep out of them: the document of
// BenchmarkDecodeRows, whose strings repeat, and one whose every row has a
// new userId, each checked for the token.
func BenchmarkDecodeRowsWithToken(b *testing.B) {
	for name, doc := range map[string][]byte{"repeated": benchDoc(10_000), "unique": uniqueDoc(10_000)} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				decodeWithToken(b, doc)
			}
			b.ReportMetric(float64(10_000*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// decodeWithToken reads the rows of doc as Result.Rows does, with a
// bearer token to keep out of them.
func decodeWithToken(tb testing.TB, doc []byte) {
	a := newAnswer(io.NopCloser(bytes.NewReader(doc)), -1)
	a.secrets = forms("a-bearer-token-of-some-length")
	if err := a.open(); err != nil {
		tb.Fatal(err)
	}
	a.stream(newRowDecoder(discard), false, func(_ gen.APIUsageRow, err error) bool {
		if err != nil {
			tb.Fatal(err)
		}
		return true
	})
}

// uniqueDoc is n rows whose userId is new on each row.
func uniqueDoc(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"queryStatus":"Complete","results":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"clientId":"client-%d","userId":"6f1c2a3e-%08d-4b5c-9d7e-0a1b2c3d4e5f","httpMethod":"GET","requests":%d,"status200":%d,"date":"2024-01-%02dT00:00:00.000Z"}`, i%50, i, i, i, 1+i%28)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// A string that never ends, inside a gzip answer of a few hundred KiB, once
// grew the heap by gigabytes: one JSON value is capped, whatever the
// answer expands to, and the read stops there.
func TestGzipBombInOneValueIsCapped(t *testing.T) {
	const expanded = 256 << 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			writeJSON(w, 202, `{"executionId":"exec-1"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		defer zw.Close()
		io.WriteString(zw, `{"results":[{"clientName":"`)
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for range expanded / len(chunk) {
			if _, err := zw.Write(chunk); err != nil {
				return // the client hung up
			}
		}
	}))
	defer srv.Close()
	c, err := New(WithBaseURLs(srv.URL, ""), WithAccessToken("a-test-token"))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := c.Run(t.Context(), anyQuery)
	if err != nil {
		t.Fatal(err)
	}
	_, err = res.All()
	runtime.ReadMemStats(&after)
	var de *DecodeError
	if !errors.As(err, &de) || de.Row != 1 || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Fatalf("err = %v; want a *DecodeError naming row 1 as too large", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Errorf("allocated %d MiB to refuse one value", n>>20)
	}
}

// Repeated values are shared, but a column of unique long values is never
// kept: the cache is bounded by count, by bytes and by value length.
func TestStringCacheIsBoundedByBytes(t *testing.T) {
	var doc bytes.Buffer
	doc.WriteString(`{"results":[`)
	for i := range 300 {
		if i > 0 {
			doc.WriteByte(',')
		}
		fmt.Fprintf(&doc, `{"userId":"%d%s","clientName":"c%d"}`, i, strings.Repeat("u", 64<<10), i%3)
	}
	doc.WriteString(`],"queryStatus":"Complete"}`)
	a := newAnswer(io.NopCloser(&doc), -1)
	defer a.close()
	if err := a.open(); err != nil {
		t.Fatal(err)
	}
	rd := newRowDecoder(discard)
	n := 0
	a.stream(rd, true, func(r gen.APIUsageRow, err error) bool {
		if err != nil {
			t.Fatal(err)
		}
		n++
		return true
	})
	if n != 300 || rd.bytes > maxInternedBytes || len(rd.strs) != 3 {
		t.Errorf("%d rows; cache holds %d strings, %d bytes; want the 3 short names only", n, len(rd.strs), rd.bytes)
	}
}

// DecodeRows reads from the caller's reader, which the caller owns:
// breaking off returns at once, reading nothing more from it. In a synctest
// bubble, a read of the pipe after the break would block for good, with
// every goroutine of the bubble, which synctest reports as a deadlock.
func TestDecodeRowsBreakReadsNoMore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		go io.WriteString(pw, `{"results":[{"requests":1},`) // then nothing: the writer stays open
		for range DecodeRows(pr) {
			break
		}
		pw.Close()
	})
}
