// Command rows prints what the usagetest stub answers to usage requests,
// computed by the stub's own code: the oracle of the tests that run another
// language's SDK against cmd/gcusage-stub and compare what that SDK parsed
// with it.
//
//	rows -seed 7 -today 2025-06-30
//
// It reads one request a line on its standard input, a JSON object with an
// op and what that takes, and answers each with one line,
// {"rows":[…]} or {"error":"…"}:
//
//	{"op":"clients"}  the stub's OAuth client ids (Server.ClientIDs)
//	{"op":"query","body":{ApiUsageQuery}}  every row (Server.Rows)
//	{"op":"clientQuery","clientId":"…","body":{ApiUsageClientQuery}}  every row (Server.ClientRows)
//	{"op":"summary","clientId":"…","days":"30"}  every row of the client's last 30 full days by day
//	{"op":"search","body":{ApiUsageSimpleSearch}}  every record of every page (Server.SearchRows)
//	{"op":"jobs","body":{OrganizationPublicApiUsageQueryRequest}}  every entity of every page
//	{"op":"clientJobs","clientId":"…","body":{ClientPublicApiUsageQueryRequest}}  every entity of every page
//
// A job's entities are read from an in-memory stub of the same seed and
// day, as it writes them. The seed and today must be those the stub under
// test was started with.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

type request struct {
	Op       string          `json:"op"`
	ClientID string          `json:"clientId"`
	Days     string          `json:"days"`
	Body     json.RawMessage `json:"body"`
}

type answer struct {
	Rows  []any  `json:"rows,omitzero"`
	Error string `json:"error,omitempty"`
}

func main() {
	seed := flag.Int64("seed", 1, "seed of the stub under test")
	today := flag.String("today", "", "the UTC `date` (2006-01-02) the stub under test takes for today")
	flag.Parse()
	if err := run(*seed, *today, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rows:", err)
		os.Exit(1)
	}
}

func run(seed int64, today string, in io.Reader, out io.Writer) error {
	day, err := time.Parse(time.DateOnly, today)
	if err != nil {
		return fmt.Errorf("-today %q: want a date such as 2025-06-30", today)
	}
	srv, err := usagetest.Start(usagetest.InMemory(), usagetest.WithSeed(seed),
		usagetest.WithNow(func() time.Time { return day }), usagetest.WithRunning(0, 0))
	if err != nil {
		return err
	}
	defer srv.Close()
	o := oracle{srv: srv, today: day, http: &http.Client{Transport: srv.Transport()}}
	lines := bufio.NewScanner(in)
	lines.Buffer(nil, 1<<20)
	enc := json.NewEncoder(out)
	for lines.Scan() {
		var r request
		var a answer
		err := json.Unmarshal(lines.Bytes(), &r)
		if err == nil {
			a.Rows, err = o.answer(r)
		}
		if err != nil {
			a.Error = fmt.Sprintf("%s: %v", r.Op, err)
		} else if a.Rows == nil {
			a.Rows = []any{}
		}
		if err := enc.Encode(a); err != nil {
			return err
		}
	}
	return lines.Err()
}

type oracle struct {
	srv   *usagetest.Server
	today time.Time
	http  *http.Client
	token string
}

func (o *oracle) answer(r request) ([]any, error) {
	switch r.Op {
	case "clients":
		var ids []any
		for _, id := range o.srv.ClientIDs() {
			ids = append(ids, id)
		}
		return ids, nil
	case "query":
		var q gen.APIUsageQuery
		if err := json.Unmarshal(r.Body, &q); err != nil {
			return nil, err
		}
		return collect(o.srv.Rows(q))
	case "clientQuery":
		var q gen.APIUsageClientQuery
		if err := json.Unmarshal(r.Body, &q); err != nil {
			return nil, err
		}
		return collect(o.srv.ClientRows(r.ClientID, q))
	case "summary":
		// As the stub documents it: the client's query of its last N full
		// UTC days, by day.
		days, err := strconv.Atoi(r.Days)
		if err != nil || days < 1 {
			return nil, fmt.Errorf("days %q: want a positive whole number", r.Days)
		}
		interval := o.today.AddDate(0, 0, -days).Format(time.DateOnly) + "/" + o.today.AddDate(0, 0, -1).Format(time.DateOnly)
		return collect(o.srv.ClientRows(r.ClientID, gen.APIUsageClientQuery{Interval: interval, Granularity: ptr(gen.GranularityDay)}))
	case "search":
		var q gen.APIUsageSimpleSearch
		if err := json.Unmarshal(r.Body, &q); err != nil {
			return nil, err
		}
		return collect(o.srv.SearchRows(q))
	case "jobs":
		return o.job("/api/v2/usage/aggregates/query/jobs", r.Body)
	case "clientJobs":
		return o.job("/api/v2/usage/client/"+url.PathEscape(r.ClientID)+"/aggregates/query/jobs", r.Body)
	}
	return nil, fmt.Errorf("unknown op %q", r.Op)
}

func collect(rows iter.Seq[gen.APIUsageRow], err error) ([]any, error) {
	if err != nil {
		return nil, err
	}
	var out []any
	for r := range rows {
		out = append(out, r)
	}
	return out, nil
}

// job posts body to path on the in-memory stub, which answers at once, and
// reads every page of its entities as the stub wrote them.
func (o *oracle) job(path string, body json.RawMessage) ([]any, error) {
	var job gen.UsageQueryJob
	if err := o.do(http.MethodPost, path, body, &job); err != nil {
		return nil, err
	}
	var out []any
	for next := path + "/" + url.PathEscape(job.ID) + "?pageSize=1000"; next != ""; {
		var page struct {
			QueryStatus gen.JobStatus     `json:"queryStatus"`
			Entities    []json.RawMessage `json:"entities"`
			NextURI     string            `json:"nextUri"`
		}
		if err := o.do(http.MethodGet, next, nil, &page); err != nil {
			return nil, err
		}
		if page.QueryStatus != gen.JobStatusSucceeded {
			return nil, fmt.Errorf("job %s: %s, want Succeeded", job.ID, page.QueryStatus)
		}
		for _, e := range page.Entities {
			out = append(out, e)
		}
		next = page.NextURI
	}
	return out, nil
}

func (o *oracle) do(method, path string, body []byte, v any) error {
	if o.token == "" {
		var t struct {
			AccessToken string `json:"access_token"`
		}
		req, _ := http.NewRequest(http.MethodPost, o.srv.LoginURL+"/oauth/token", bytes.NewBufferString("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(o.srv.ClientID, o.srv.ClientSecret)
		if err := o.send(req, &t); err != nil {
			return err
		}
		o.token = t.AccessToken
	}
	req, err := http.NewRequest(method, o.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return o.send(req, v)
}

func (o *oracle) send(req *http.Request, v any) error {
	res, err := o.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return errors.New(req.Method + " " + req.URL.Path + ": " + res.Status + ": " + string(b))
	}
	return json.Unmarshal(b, v)
}

func ptr[T any](v T) *T { return &v }
