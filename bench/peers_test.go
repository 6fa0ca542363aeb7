package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gcusage/gcusage/bench/ogenusage"
	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
)

// tally is what every peer reports about the rows it decoded, so that a
// test can check that all of them saw the same data and a benchmark cannot
// be sped up by decoding nothing.
type tally struct {
	rows     int
	requests int64 // sum of the requests counters
	dated    int   // rows whose date was decoded
}

func (t *tally) add(requests int64, dated bool) {
	t.rows++
	t.requests += requests
	if dated {
		t.dated++
	}
}

// peer is one client under comparison, reduced to the steps the benchmarks
// time.
type peer interface {
	start(ctx context.Context, q gen.APIUsageQuery) (string, error)
	// fetch gets the results of an execution that is complete.
	fetch(ctx context.Context, id string) (tally, error)
	// cycle starts the query, polls it to completion and decodes its rows.
	cycle(ctx context.Context, q gen.APIUsageQuery) (tally, error)
}

// target is a stub to run against, with a bearer fetched beforehand: the
// token fetch is never timed, and every peer sends the same bearer.
type target struct {
	apiURL, loginURL, bearer string
	pollEvery                time.Duration // the peers' fixed poll interval in cycles
}

func newTransport() *http.Transport { return http.DefaultTransport.(*http.Transport).Clone() }

// peers builds each client with a transport of its own, so that none reuses
// another's connections: transport is called once per peer, with its name.
func peers(t target, transport func(peer string) http.RoundTripper) (map[string]peer, error) {
	g, err := client.New(
		client.WithBaseURLs(t.apiURL, t.loginURL),
		client.WithAccessToken(t.bearer),
		client.WithHTTPClient(&http.Client{Transport: transport("gcusage")}),
		client.WithPollPolicy(client.PollPolicy{MinDelay: t.pollEvery, MaxDelay: t.pollEvery}),
	)
	if err != nil {
		return nil, err
	}
	o, err := ogenusage.NewClient(t.apiURL, ogenBearer(t.bearer), ogenusage.WithClient(&http.Client{Transport: transport("ogen")}))
	if err != nil {
		return nil, err
	}
	h := &HandRolled{HTTP: &http.Client{Transport: transport("handrolled")}, APIURL: t.apiURL, Bearer: t.bearer}
	return map[string]peer{
		"gcusage":    gcusagePeer{g},
		"handrolled": handPeer{h, t.pollEvery},
		"ogen":       ogenPeer{o, t.pollEvery},
	}, nil
}

// peerNames orders the peers in the benchmark output.
var peerNames = []string{"gcusage", "ogen", "handrolled"}

type gcusagePeer struct{ c *client.Client }

func toQuery(q gen.APIUsageQuery) client.Query {
	cq := client.Query{Interval: q.Interval, Metrics: q.Metrics, GroupBy: q.GroupBy}
	if q.Granularity != nil {
		cq.Granularity = *q.Granularity
	}
	return cq
}

func (p gcusagePeer) start(ctx context.Context, q gen.APIUsageQuery) (string, error) {
	e, err := p.c.Start(ctx, toQuery(q))
	if err != nil {
		return "", err
	}
	return e.ID, nil
}

func (p gcusagePeer) fetch(ctx context.Context, id string) (tally, error) {
	r, err := p.c.Wait(ctx, id)
	if err != nil {
		return tally{}, err
	}
	return tallyResult(r)
}

func (p gcusagePeer) cycle(ctx context.Context, q gen.APIUsageQuery) (tally, error) {
	r, err := p.c.Run(ctx, toQuery(q))
	if err != nil {
		return tally{}, err
	}
	return tallyResult(r)
}

func tallyResult(r *client.Result) (tally, error) {
	defer r.Close()
	var t tally
	for row, err := range r.Rows() {
		if err != nil {
			return t, err
		}
		t.add(row.Requests, !row.Date.IsZero())
	}
	return t, nil
}

type handPeer struct {
	h     *HandRolled
	every time.Duration
}

func (p handPeer) start(ctx context.Context, q gen.APIUsageQuery) (string, error) {
	return p.h.Start(ctx, q)
}

func (p handPeer) results(ctx context.Context, id string) (bool, tally, error) {
	res, err := p.h.Results(ctx, id)
	if err != nil || res.QueryStatus == nil || *res.QueryStatus != gen.QueryStatusComplete {
		return false, tally{}, err
	}
	var t tally
	for _, row := range res.Results {
		t.add(row.Requests, !row.Date.IsZero())
	}
	return true, t, nil
}

func (p handPeer) fetch(ctx context.Context, id string) (tally, error) {
	return fetchComplete(ctx, id, p.results)
}

func (p handPeer) cycle(ctx context.Context, q gen.APIUsageQuery) (tally, error) {
	return fixedPoll(ctx, q, p.every, p.start, p.results)
}

type ogenBearer string

func (b ogenBearer) PureCloudOAuth(context.Context, ogenusage.OperationName) (ogenusage.PureCloudOAuth, error) {
	return ogenusage.PureCloudOAuth{Token: string(b)}, nil
}

type ogenPeer struct {
	c     *ogenusage.Client
	every time.Duration
}

func (p ogenPeer) start(ctx context.Context, q gen.APIUsageQuery) (string, error) {
	oq := ogenusage.ApiUsageQuery{Interval: q.Interval}
	if q.Granularity != nil {
		oq.Granularity.SetTo(ogenusage.Granularity(*q.Granularity))
	}
	for _, m := range q.Metrics {
		oq.Metrics = append(oq.Metrics, ogenusage.Metric(m))
	}
	for _, g := range q.GroupBy {
		oq.GroupBy = append(oq.GroupBy, ogenusage.GroupBy(g))
	}
	res, err := p.c.PostUsageQuery(ctx, &oq)
	if err != nil {
		return "", err
	}
	switch r := res.(type) {
	case *ogenusage.PostUsageQueryOK:
		return r.Response.ExecutionId.Value, nil
	case *ogenusage.PostUsageQueryAccepted:
		return r.Response.ExecutionId.Value, nil
	}
	return "", fmt.Errorf("ogen: POST answered %T", res)
}

func (p ogenPeer) results(ctx context.Context, id string) (bool, tally, error) {
	res, err := p.c.GetUsageQueryExecutionIdResults(ctx, ogenusage.GetUsageQueryExecutionIdResultsParams{ExecutionId: id})
	if err != nil {
		return false, tally{}, err
	}
	h, ok := res.(*ogenusage.ApiUsageQueryResultHeaders)
	if !ok {
		return false, tally{}, fmt.Errorf("ogen: GET answered %T", res)
	}
	r := &h.Response
	if r.QueryStatus.Value != ogenusage.QueryStatusComplete {
		return false, tally{}, nil
	}
	var t tally
	for _, row := range r.Results {
		t.add(row.Requests.Or(0), row.Date.Set)
	}
	return true, t, nil
}

func (p ogenPeer) fetch(ctx context.Context, id string) (tally, error) {
	return fetchComplete(ctx, id, p.results)
}

func (p ogenPeer) cycle(ctx context.Context, q gen.APIUsageQuery) (tally, error) {
	return fixedPoll(ctx, q, p.every, p.start, p.results)
}

type resultsFunc func(ctx context.Context, id string) (complete bool, t tally, err error)

func fetchComplete(ctx context.Context, id string, results resultsFunc) (tally, error) {
	done, t, err := results(ctx, id)
	if err == nil && !done {
		err = fmt.Errorf("execution %s is not complete", id)
	}
	return t, err
}

// fixedPoll is the loop users of the other clients write: start, then get
// the results every interval until they are complete.
func fixedPoll(ctx context.Context, q gen.APIUsageQuery, every time.Duration,
	start func(context.Context, gen.APIUsageQuery) (string, error), results resultsFunc) (tally, error) {
	id, err := start(ctx, q)
	if err != nil {
		return tally{}, err
	}
	for {
		done, t, err := results(ctx, id)
		if err != nil || done {
			return t, err
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-time.After(every):
		}
	}
}
