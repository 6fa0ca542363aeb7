package usagetest_test

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/gcusage/gcusage/usagetest"
)

// rowCounter reads a results body, counting rows and sampling the live
// heap as it goes, so that a stub that buffered the rows would show.
type rowCounter struct {
	objects, bytes, sinceSample int64
	tail                        []byte
	peak                        uint64
}

func (c *rowCounter) Write(p []byte) (int, error) {
	c.objects += int64(bytes.Count(p, []byte("{")))
	c.bytes += int64(len(p))
	c.tail = append(c.tail[:0], p[max(0, len(p)-2):]...)
	if c.sinceSample += int64(len(p)); c.sinceSample > 4<<20 {
		c.sinceSample = 0
		c.peak = max(c.peak, liveHeap())
	}
	return len(p), nil
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// bigResults posts a daily query of clients x days (grouped by client
// only, whose names hold no '{') and streams its results into c. It
// returns the number of rows Server.Rows expects: about six in seven
// client-days have traffic.
func bigResults(t testing.TB, clients, days int, c *rowCounter) (want int64) {
	s := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0),
		usagetest.WithPopulation(usagetest.Population{Clients: clients}))
	cl := newClient(t, s, true)
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	interval := start.Format(time.RFC3339) + "/" + start.AddDate(0, 0, days).Format(time.RFC3339)
	q := `{"interval":"` + interval + `","granularity":"Day","groupBy":["OAuthClientId"]}`
	_, e := cl.post(q)
	req, _ := http.NewRequest(http.MethodGet, s.URL+*e.ResultsURI, nil)
	cl.bearer(req)
	res, err := cl.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, err := io.Copy(c, res.Body); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Rows(mustQuery(t, q))
	if err != nil {
		t.Fatal(err)
	}
	for range rows {
		want++
	}
	return want
}

func TestMillionRowsFlatMemory(t *testing.T) {
	clients, days := 1000, 1000
	if raceEnabled || testing.Short() {
		days = 40 // still 8 MB of rows, four times the bound below
	}
	base := liveHeap()
	var c rowCounter
	want := bigResults(t, clients, days, &c)
	if rows := c.objects - 1; rows != want || want < int64(clients*days)*3/4 || string(c.tail) != `"}` {
		t.Fatalf("%d rows ending %q, want %d (of %d client-days) ending with the status", rows, c.tail, want, clients*days)
	}
	if grew := int64(c.peak) - int64(base); grew > 2<<20 || c.bytes < 8<<20 {
		t.Errorf("live heap grew by %d KB while streaming %d MB of rows; want under 2 MB", grew>>10, c.bytes>>20)
	}
	t.Logf("%d rows, %d MB streamed, live heap +%d KB at most", c.objects-1, c.bytes>>20, (int64(c.peak)-int64(base))>>10)
}

// BenchmarkResults streams 1000 clients x 100 days (about 86,000 rows, as
// some client-days have no traffic) per operation; the stub validates a
// sample of the rows against the spec as it writes them.
func BenchmarkResults(b *testing.B) {
	var peak uint64
	var rows int64
	for b.Loop() {
		var c rowCounter
		bigResults(b, 1000, 100, &c)
		peak = max(peak, c.peak)
		rows += c.objects - 1
		b.SetBytes(c.bytes)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
	b.ReportMetric(float64(peak)/(1<<20), "peak-live-MB")
}
