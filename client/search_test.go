package client

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// pages answers the POST of a search with exec-1 and its results GETs with
// the pages given in turn, recording the query of each.
func pages(bodies ...string) (http.HandlerFunc, func() []string) {
	var mu sync.Mutex
	var queries []string
	return func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				writeJSON(w, 202, `{"executionId":"exec-1","resultsUri":"/api/v2/usage/simplesearch/exec-1/results"}`)
				return
			}
			mu.Lock()
			body := bodies[min(len(queries), len(bodies)-1)]
			queries = append(queries, r.URL.RawQuery)
			mu.Unlock()
			writeJSON(w, 200, body)
		}, func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), queries...)
		}
}

const searchRow = `{"clientName":"Nightly export","httpMethod":"GET","templateUri":"api/v2/users/{userId}","status200":3}`

func searchRows(t *testing.T, c *Client) (int, *Result, error) {
	t.Helper()
	res, err := c.RunSearch(t.Context(), SimpleSearch{Interval: anyQuery.Interval, PageSize: 2})
	if err != nil {
		return 0, nil, err
	}
	n := 0
	for _, err := range res.Rows() {
		if err != nil {
			return n, res, err
		}
		n++
	}
	return n, res, nil
}

// The last page may carry no cursors at all, as well as an empty after.
func TestSearchEndsWithoutCursors(t *testing.T) {
	api, queries := pages(
		`{"results":[`+searchRow+`,`+searchRow+`],"queryStatus":"Complete","cursors":{"before":"b","after":"p2"}}`,
		`{"results":[`+searchRow+`],"queryStatus":"Complete"}`)
	n, res, err := searchRows(t, newTestClient(t, &fake{api: api}))
	if err != nil || n != 3 || res.Capped() {
		t.Fatalf("%d rows, %v, capped %v; want 3 rows", n, err, res.Capped())
	}
	if q := queries(); strings.Join(q, " ") != "pageSize=2 after=p2&pageSize=2" {
		t.Errorf("queries %q, want the first page, then after=p2", q)
	}
}

// A page without rows ends the search, whatever its cursor: no server can
// keep Rows paging forever.
func TestSearchEndsOnAnEmptyPage(t *testing.T) {
	api, queries := pages(
		`{"results":[`+searchRow+`],"queryStatus":"Complete","cursors":{"after":"p2"}}`,
		`{"results":[],"queryStatus":"Complete","cursors":{"after":"p3"}}`)
	n, _, err := searchRows(t, newTestClient(t, &fake{api: api}))
	if err != nil || n != 1 || len(queries()) != 2 {
		t.Fatalf("%d rows, %v, %d GETs; want 1 row and 2 GETs", n, err, len(queries()))
	}
}

// A cursor that no real API would send is refused, not echoed into a URL.
func TestSearchRefusesAHugeCursor(t *testing.T) {
	api, queries := pages(`{"results":[` + searchRow + `],"queryStatus":"Complete","cursors":{"after":"` + strings.Repeat("x", maxCursor+1) + `"}}`)
	n, _, err := searchRows(t, newTestClient(t, &fake{api: api}))
	var de *DecodeError
	if !errors.As(err, &de) || n != 1 || len(queries()) != 1 {
		t.Fatalf("%d rows, %d GETs, %v; want the row, then a DecodeError", n, len(queries()), err)
	}
}

// A later page that does not say Complete is an error after its rows.
func TestSearchPageNotComplete(t *testing.T) {
	api, _ := pages(
		`{"results":[`+searchRow+`],"queryStatus":"Complete","cursors":{"after":"p2"}}`,
		`{"results":[`+searchRow+`],"queryStatus":"Failed"}`)
	n, _, err := searchRows(t, newTestClient(t, &fake{api: api}))
	var ee *ExecutionError
	if !errors.Is(err, ErrQueryFailed) || !errors.As(err, &ee) || ee.ExecutionID != "exec-1" || n != 2 {
		t.Fatalf("%d rows, %v; want 2 rows, then a failed ExecutionError", n, err)
	}
}

// Issue 16, item 1: the cap counts rows, not pages: one page of 25,000 rows
// from a server that ignores pageSize stops at 20,000, capped, and no
// further page is asked for.
func TestSearchCapStopsWithinAPage(t *testing.T) {
	big := `{"results":[` + strings.Repeat(searchRow+`,`, 24999) + searchRow + `],"queryStatus":"Complete","cursors":{"after":"p2"}}`
	api, queries := pages(big)
	n, res, err := searchRows(t, newTestClient(t, &fake{api: api}))
	if err != nil || n != MaxSearchRecords || !res.Capped() || len(queries()) != 1 {
		t.Fatalf("%d rows, %v, capped %v, %d GETs; want %d rows, capped, 1 GET", n, err, res != nil && res.Capped(), len(queries()), MaxSearchRecords)
	}
}

// Issue 16, item 2: a cursors.after that repeats cost 20,000 GETs, a page
// of one row each up to the cap; a cursor met before is now an error naming
// the execution.
func TestSearchRepeatedCursorIsAnError(t *testing.T) {
	api, queries := pages(`{"results":[` + searchRow + `],"queryStatus":"Complete","cursors":{"after":"p2"}}`)
	n, _, err := searchRows(t, newTestClient(t, &fake{api: api}))
	var ee *ExecutionError
	if !errors.As(err, &ee) || ee.ExecutionID != "exec-1" || !strings.Contains(err.Error(), "never end") || len(queries()) > 3 {
		t.Fatalf("%d rows, %d GETs, %v; want an ExecutionError after at most 3 GETs", n, len(queries()), err)
	}
}

// Issue 16, item 2: a search's 500 max.response.size.reached halves the
// page size, as a job's 400 does; at a page size of 1 it is
// ErrResponseTooLarge, as before.
func TestSearchPageSizeHalvesOnMaxResponseSize(t *testing.T) {
	for _, status := range []int{500, 400} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			var mu sync.Mutex
			var sizes []string
			limit := 250
			api := func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					writeJSON(w, 202, `{"executionId":"exec-1"}`)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				sizes = append(sizes, r.URL.Query().Get("pageSize"))
				if n, _ := strconv.Atoi(r.URL.Query().Get("pageSize")); n > limit {
					writeJSON(w, status, `{"code":"max.response.size.reached","message":"The results data is greater than the 5MB limit."}`)
					return
				}
				next := ""
				if r.URL.Query().Get("after") == "" {
					next = `,"cursors":{"after":"p2"}`
				}
				writeJSON(w, 200, `{"results":[`+searchRow+`],"queryStatus":"Complete"`+next+`}`)
			}
			c := newTestClient(t, &fake{api: api})
			res, err := c.RunSearch(t.Context(), SimpleSearch{Interval: anyQuery.Interval})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := res.All()
			if err != nil || len(rows) != 2 || strings.Join(sizes, " ") != "1000 500 250 250" {
				t.Errorf("%d rows, %v, page sizes %v; want 2 rows at 1000 500 250, then 250", len(rows), err, sizes)
			}
			mu.Lock()
			limit, sizes = 0, nil
			mu.Unlock()
			_, err = c.RunSearch(t.Context(), SimpleSearch{Interval: anyQuery.Interval, PageSize: 4})
			if !errors.Is(err, ErrResponseTooLarge) || strings.Join(sizes, " ") != "4 2 1" {
				t.Errorf("err %v after page sizes %v; want ErrResponseTooLarge after 4 2 1", err, sizes)
			}
		})
	}
}
