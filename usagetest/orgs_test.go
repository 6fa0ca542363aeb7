package usagetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

// orgClient is a raw client logged in with the credentials of org o.
func orgClient(t *testing.T, s *usagetest.Server, o *usagetest.OrgServer, inMemory bool) *client {
	t.Helper()
	c := &client{t: t, s: s, http: &http.Client{}}
	if inMemory {
		c.http.Transport = s.Transport()
	}
	res, a := c.tokenRequest(o.ClientID, o.ClientSecret, "grant_type=client_credentials")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("token of %s: %d %+v", o.Name, res.StatusCode, a)
	}
	c.token = a.AccessToken
	return c
}

// Each org's credentials get that org's data: its own organizationId and
// clients, the rows its Rows says; the first demo org's are those of a
// server without WithOrgs.
func TestOrgsHaveTheirOwnData(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithOrgs(usagetest.DemoOrgs()...))
	if s.ClientID != usagetest.DemoClientID || s.ClientSecret != usagetest.DemoClientSecret {
		t.Errorf("server credentials %q/%q, want the first org's, the demo ones", s.ClientID, s.ClientSecret)
	}
	const body = `{"interval":"2024-01-01/2024-01-14","granularity":"Week","groupBy":["OrganizationId","OAuthClientId"]}`
	q := gen.APIUsageQuery{Interval: "2024-01-01/2024-01-14", Granularity: ptr(gen.GranularityWeek),
		GroupBy: []gen.GroupBy{gen.GroupByOrganizationID, gen.GroupByOAuthClientID}}
	orgIDs, clients := map[string]string{}, map[string]string{}
	for i, o := range s.Orgs() {
		if o.Name != usagetest.DemoOrgs()[i].Name {
			t.Errorf("org %d is %q, want %q", i, o.Name, usagetest.DemoOrgs()[i].Name)
		}
		if prev, ok := orgIDs[o.OrganizationID]; ok {
			t.Errorf("%s and %s share organizationId %s", prev, o.Name, o.OrganizationID)
		}
		orgIDs[o.OrganizationID] = o.Name
		for _, id := range o.ClientIDs() {
			if prev, ok := clients[id]; ok {
				t.Errorf("%s and %s share the OAuth client %s", prev, o.Name, id)
			}
			clients[id] = o.Name
		}
		got := orgClient(t, s, o, false).run(body).Results
		rows, err := o.Rows(q)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Collect(rows)
		if len(got) == 0 || len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d, and some", o.Name, len(got), len(want))
		}
		for j, r := range got {
			if r.OrganizationID != o.OrganizationID || r.ClientID != want[j].ClientID || r.Requests != want[j].Requests ||
				!slices.Contains(o.ClientIDs(), r.ClientID) {
				t.Errorf("%s row %d: %+v, want %+v of organization %s", o.Name, j, r, want[j], o.OrganizationID)
			}
		}
	}
	if n := len(s.Org("demo-sandbox").ClientIDs()); n != 1 {
		t.Errorf("the sandbox has %d clients, want 1", n)
	}

	single := usagetest.NewServer(t)
	if got := single.Orgs(); len(got) != 1 || got[0].Name != "default" || got[0].ClientID != usagetest.DemoClientID ||
		got[0].OrganizationID != s.Orgs()[0].OrganizationID {
		t.Errorf("a server without WithOrgs serves %+v, want one org, default, with the demo credentials and demo-prod's organizationId", got[0])
	}
	rows, _ := single.Rows(q)
	prod, _ := s.Org("demo-prod").Rows(q)
	if a, b := slices.Collect(rows), slices.Collect(prod); !slices.Equal(a, b) {
		t.Errorf("demo-prod's rows differ from a single org's:\n%v\n%v", a, b)
	}
	ids, _ := single.Rows(gen.APIUsageQuery{Interval: "2024-01-01/2024-01-02"})
	if !slices.Equal(single.ClientIDs(), s.ClientIDs()) || slices.Collect(ids) == nil {
		t.Errorf("demo-prod's clients %v differ from a single org's %v", s.ClientIDs(), single.ClientIDs())
	}
}

// An execution, a job or an OAuth client of one org is not found with
// another org's token, as on the real API.
func TestOrgsDoNotSeeEachOther(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithOrgs(usagetest.DemoOrgs()...), usagetest.WithNow(func() time.Time { return jobToday }))
	prod := orgClient(t, s, s.Org("demo-prod"), false)
	test := orgClient(t, s, s.Org("demo-test"), false)
	_, e := prod.post(weekQuery)
	_, jb := prod.postJob("/api/v2/usage/aggregates/query/jobs", `{"interval":"2026-06-01/2026-06-14"}`)
	var job gen.UsageQueryJob
	if err := json.Unmarshal(jb, &job); err != nil || job.ID == "" {
		t.Fatalf("job: %s", jb)
	}
	for _, path := range []string{*e.ResultsURI, *job.ResultsURI} {
		if res, b := test.do(http.MethodGet, path, "", "", test.bearer); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s with demo-test's token: %d %s, want 404", path, res.StatusCode, b)
		}
		if res, b := prod.do(http.MethodGet, path, "", "", prod.bearer); res.StatusCode != http.StatusOK && res.StatusCode != http.StatusAccepted {
			t.Errorf("GET %s with demo-prod's token: %d %s, want its answer", path, res.StatusCode, b)
		}
	}
	path := "/api/v2/oauth/clients/" + s.Org("demo-prod").ClientIDs()[0] + "/usage/summary"
	if res, b := test.do(http.MethodGet, path, "", "", test.bearer); res.StatusCode != http.StatusNotFound {
		t.Errorf("demo-prod's client from demo-test: %d %s, want 404", res.StatusCode, b)
	}
	path = "/api/v2/usage/client/" + s.Org("demo-prod").ClientIDs()[0] + "/aggregates/query/jobs"
	if res, b := test.postJob(path, `{"interval":"2026-06-01/2026-06-14"}`); res.StatusCode != http.StatusNotFound {
		t.Errorf("a job of demo-prod's client from demo-test: %d %s, want 404", res.StatusCode, b)
	}
	if res, a := prod.tokenRequest(usagetest.DemoTestClientID, usagetest.DemoClientSecret, "grant_type=client_credentials"); res.StatusCode != 401 {
		t.Errorf("one org's id with another's secret: %d %+v, want 401", res.StatusCode, a)
	}
}

// A fault injected on one org fires on that org's requests only, counted
// among them.
func TestOrgFaults(t *testing.T) {
	s := usagetest.NewServer(t, usagetest.WithOrgs(usagetest.DemoOrgs()...))
	prod, test := orgClient(t, s, s.Org("demo-prod"), false), orgClient(t, s, s.Org("demo-test"), false)
	s.Org("demo-test").Inject(usagetest.RouteQuery, 2, usagetest.HTMLError(503))
	s.Org("demo-sandbox").Inject(usagetest.RouteToken, 0, usagetest.TokenRateLimited())
	var got []int
	for _, c := range []*client{prod, prod, test, prod, test, test} {
		status, _ := c.post(weekQuery)
		got = append(got, status)
	}
	if want := []int{202, 202, 202, 202, 503, 202}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v: only demo-test's second POST fails", got, want)
	}
	if res, a := prod.tokenRequest(usagetest.DemoSandboxClientID, usagetest.DemoSandboxClientSecret, "grant_type=client_credentials"); res.StatusCode != 400 {
		t.Errorf("sandbox token: %d %+v, want the rate limit", res.StatusCode, a)
	}
	if res, a := prod.tokenRequest(usagetest.DemoClientID, usagetest.DemoClientSecret, "grant_type=client_credentials"); res.StatusCode != 200 {
		t.Errorf("prod token: %d %+v, want 200", res.StatusCode, a)
	}
	defer func() {
		if recover() == nil {
			t.Error("Org of an unknown name did not panic")
		}
	}()
	s.Org("nobody")
}

// An org's Running keeps its work running that long, whatever the others
// do; seeds follow WithSeed.
func TestOrgRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		orgs := usagetest.DemoOrgs()
		orgs[1].Running = time.Minute
		s := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithRunning(0, 0), usagetest.WithSeed(5), usagetest.WithOrgs(orgs...))
		prod, test := orgClient(t, s, s.Org("demo-prod"), true), orgClient(t, s, s.Org("demo-test"), true)
		if status, _ := prod.post(weekQuery); status != http.StatusOK {
			t.Errorf("demo-prod POST: %d, want 200, done at once", status)
		}
		_, e := test.post(weekQuery)
		time.Sleep(59 * time.Second)
		if r := test.pollResult(*e.ExecutionID); *r.QueryStatus != gen.QueryStatusRunning {
			t.Errorf("demo-test after 59s: %s, want Running", *r.QueryStatus)
		}
		time.Sleep(time.Second)
		if r := test.pollResult(*e.ExecutionID); *r.QueryStatus != gen.QueryStatusComplete {
			t.Errorf("demo-test after a minute: %s, want Complete", *r.QueryStatus)
		}
		reseeded := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithSeed(6))
		if got, want := s.Org("demo-test").ClientIDs(), reseeded.ClientIDs(); !slices.Equal(got, want[:2]) {
			t.Errorf("demo-test's clients with WithSeed(5) are %v, want those of seed 6, %v", got, want[:2])
		}
	})
}

func TestBadOrgs(t *testing.T) {
	demo := usagetest.DemoOrgs()
	dupID, dupSeed, noName, slow := slices.Clone(demo), slices.Clone(demo), slices.Clone(demo), slices.Clone(demo)
	dupID[1].ClientID = demo[0].ClientID
	dupSeed[2].Seed = 1
	noName[2].Name = ""
	slow[0].Running = -time.Second
	for _, c := range []struct {
		opts []usagetest.Option
		want string
	}{
		{[]usagetest.Option{usagetest.WithOrgs()}, "at least one"},
		{[]usagetest.Option{usagetest.WithOrgs(dupID...)}, `client id gcusage-demo-client is also that of "demo-prod"`},
		{[]usagetest.Option{usagetest.WithOrgs(dupSeed...)}, `seed 1 is also that of "demo-prod"`},
		{[]usagetest.Option{usagetest.WithOrgs(noName...)}, "must not be empty"},
		{[]usagetest.Option{usagetest.WithOrgs(slow...)}, "Running"},
		{[]usagetest.Option{usagetest.WithOrgs(demo...), usagetest.WithCredentials("a", "b")}, "WithCredentials and WithOrgs"},
		{[]usagetest.Option{usagetest.WithFault(usagetest.RouteQuery, 0, usagetest.Barrier(0))}, "Barrier(0)"},
	} {
		if _, err := usagetest.Start(append(c.opts, usagetest.InMemory())...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one saying %q", err, c.want)
		}
	}
}

// A Barrier holds requests until enough are held at once; one whose client
// gives up leaves the round.
func TestBarrier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := usagetest.NewServer(t, usagetest.InMemory(), usagetest.WithFault(usagetest.RouteQuery, 0, usagetest.Barrier(2)))
		hc := &http.Client{Transport: s.Transport()}
		tok := newClient(t, s, true).token
		post := func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/v2/usage/query", strings.NewReader(weekQuery))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := hc.Do(req)
			if err == nil {
				res.Body.Close()
				if res.StatusCode != http.StatusAccepted {
					err = errors.New(res.Status)
				}
			}
			return err
		}
		ctx, cancel := context.WithCancel(t.Context())
		var gaveUp error
		var wg sync.WaitGroup
		wg.Go(func() { gaveUp = post(ctx) })
		synctest.Wait()
		cancel() // alone at the barrier for ever: it gives up
		wg.Wait()
		if !errors.Is(gaveUp, context.Canceled) {
			t.Fatalf("a POST alone at the barrier: %v, want it held until canceled", gaveUp)
		}
		var errs [2]error
		var done [2]bool
		var mu sync.Mutex
		for i := range 2 {
			wg.Go(func() {
				err := post(t.Context())
				mu.Lock()
				errs[i], done[i] = err, true
				mu.Unlock()
			})
			synctest.Wait()
			mu.Lock()
			if i == 0 && done[0] {
				t.Error("the first of two went through alone: the one that gave up still counted")
			}
			mu.Unlock()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Errorf("two POSTs at a barrier of two: %v", errs)
		}
	})
}

func ptr[T any](v T) *T { return &v }
