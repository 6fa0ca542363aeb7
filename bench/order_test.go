package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/gcusage/gcusage/gen"
)

// countGETs counts the GETs a peer sends.
type countGETs struct {
	next http.RoundTripper
	n    *atomic.Int32
}

func (c countGETs) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		c.n.Add(1)
	}
	return c.next.RoundTrip(r)
}

// TestResultsFirst: the results-first stub sends the rows of the same
// execution as the other, before the status. ogen and the hand-rolled
// client decode the answer whole in either order; gcusage streams the rows
// of either from the one GET, and checks the status after them.
func TestResultsFirst(t *testing.T) {
	wantGETs := map[string]map[string]int32{ // results GETs of a fetch, by order and peer
		"status-first":  {"gcusage": 1, "ogen": 1, "handrolled": 1},
		"results-first": {"gcusage": 1, "ogen": 1, "handrolled": 1},
	}
	size := sizes[0]
	want := expect(t, size.query)
	for _, o := range orders {
		gets := map[string]*atomic.Int32{}
		ps, err := peers(targetOf(t, o.stub, 0), func(name string) http.RoundTripper {
			gets[name] = new(atomic.Int32)
			return countGETs{newTransport(), gets[name]}
		})
		if err != nil {
			t.Fatal(err)
		}
		id := completeExecution(t, ps["gcusage"], size.query)
		for _, name := range peerNames {
			before := gets[name].Load()
			got, err := ps[name].fetch(context.Background(), id)
			if err != nil {
				t.Fatalf("%s, %s: %v", o.name, name, err)
			}
			if got != want {
				t.Errorf("%s, %s: decoded %+v, want %+v", o.name, name, got, want)
			}
			if n := gets[name].Load() - before; n != wantGETs[o.name][name] {
				t.Errorf("%s, %s: %d results GETs, want %d", o.name, name, n, wantGETs[o.name][name])
			}
		}
	}
}

// TestResultsFirstSwapsOnlyTheFields: the reordered answer holds the same
// status and rows, and results come first.
func TestResultsFirstSwapsOnlyTheFields(t *testing.T) {
	body := []byte(`{"queryStatus":"Complete","results":[{"date":"2024-01-01T00:00:00.000Z","clientId":"a","requests":3},{"httpMethod":"GET"}]}`)
	swapped := resultsFirst(body)
	if !json.Valid(swapped) || string(swapped[:12]) != `{"results":[` {
		t.Fatalf("swapped answer %s: want valid JSON that starts with the results", swapped)
	}
	var a, b gen.APIUsageQueryResult
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(swapped, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) || len(b.Results) != 2 {
		t.Errorf("swapped answer decodes to %+v, want %+v", b, a)
	}
	for _, other := range []string{`{"queryStatus":"Running"}`, `{"queryStatus":"Complete"}`} {
		if got := resultsFirst([]byte(other)); got != nil {
			t.Errorf("resultsFirst(%s) = %s, want nil: only a Complete answer with results is swapped", other, got)
		}
	}
}
