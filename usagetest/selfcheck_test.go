package usagetest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestSelfCheckCatchesBadAnswers breaks the stub's answers on purpose, via
// the tamper hook, and expects the spec check to catch each one.
func TestSelfCheckCatchesBadAnswers(t *testing.T) {
	s := NewServer(t, InMemory(), WithRunning(0, 0), WithSeed(1))
	var mu sync.Mutex
	var reports []string
	s.report = func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, err.Error())
	}
	s.tamper = func(b []byte) []byte {
		b = bytes.Replace(b, []byte(`"executionId":"`), []byte(`"executionId":42,"x":"`), 1)
		return bytes.Replace(b, []byte(`"requests":`), []byte(`"requests":"many","n":`), 1)
	}
	c := &http.Client{Transport: s.Transport()}
	send := func(method, path, ctype, body string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+s.issue(s.orgs[0]))
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res, b, err
	}

	res, b, _ := send(http.MethodPost, queryPath, jsonType, `{"interval":"2024-01-01/2024-01-03"}`)
	if res.StatusCode != 500 || !strings.Contains(string(b), "internal.server.error") || len(reports) != 1 ||
		!strings.Contains(reports[0], "executionId") {
		t.Fatalf("bad POST answer: %d %s, reports %q; want 500 and one report naming executionId", res.StatusCode, b, reports)
	}
	id := uuid(s.cfg.seed, "execution", 1) // seeded: the POST's own answer was the broken one
	res, b, err := send(http.MethodGet, queryPath+"/"+id+"/results", "", "")
	if res.StatusCode != 200 || err == nil || len(reports) != 2 || !strings.Contains(reports[1], "requests") {
		t.Errorf("bad row: %d, %d bytes, read error %v, reports %q; want the stream cut and a report naming requests",
			res.StatusCode, len(b), err, reports)
	}
}
