package client

import (
	"context"
	"net/http"
	"slices"
	"strconv"

	"github.com/gcusage/gcusage/gen"
)

// clientGroupBys are the values a query of one OAuth client groups by:
// those of an organization query but UserId.
var clientGroupBys = slices.DeleteFunc(slices.Clone(groupBys), func(g gen.GroupBy) bool { return g == gen.GroupByUserID })

// ClientGroupBys lists the values Query.GroupBy accepts in a query of one
// OAuth client (StartClient): those of GroupBys but UserId.
func ClientGroupBys() []gen.GroupBy { return slices.Clone(clientGroupBys) }

// ValidateClient checks q as a query of one OAuth client: Validate, and no
// UserId among GroupBy, which the per-client endpoint refuses.
func (q Query) ValidateClient() error {
	if err := q.Validate(); err != nil {
		return err
	}
	for i, g := range q.GroupBy {
		if !slices.Contains(clientGroupBys, g) {
			return &ValidationError{Field: "groupBy[" + strconv.Itoa(i) + "]", Value: string(g),
				Reason: "a query of one OAuth client cannot group by it", Allowed: strs(clientGroupBys)}
		}
	}
	return nil
}

// StartClient validates q as a query of the OAuth client clientID
// (ValidateClient), which must not end after today, then starts it on that
// client's endpoint. The rows are that client's usage only. Resume the
// returned handle later with Client.ClientExecution or Client.WaitClient,
// giving both ids. The query, its results and Summary need any of the
// permissions oauth:client:view or usage:client:view.
func (c *Client) StartClient(ctx context.Context, clientID string, q Query) (*Execution, error) {
	if err := checkID("clientId", clientID); err != nil {
		return nil, err
	}
	if err := q.ValidateClient(); err != nil {
		return nil, err
	}
	if err := notAfterToday(q.Interval, c.now()); err != nil {
		return nil, err
	}
	body := gen.APIUsageClientQuery{Interval: q.Interval, Metrics: q.Metrics}
	if q.Granularity != "" {
		body.Granularity = &q.Granularity
	}
	for _, g := range q.GroupBy {
		body.GroupBy = append(body.GroupBy, gen.ClientGroupBy(g))
	}
	id, err := startedID(c.api.PostOauthClientUsageQuery(ctx, clientID, body))
	if err != nil {
		return nil, err
	}
	return c.ClientExecution(clientID, id), nil
}

// RunClient starts the query q of the OAuth client clientID and waits for
// its result.
func (c *Client) RunClient(ctx context.Context, clientID string, q Query) (*Result, error) {
	e, err := c.StartClient(ctx, clientID, q)
	if err != nil {
		return nil, err
	}
	return e.Wait(ctx)
}

// Summary starts the summary of the OAuth client clientID over its last
// days days (the API's default is 7), a query like the others: Wait on the
// returned handle, whose results come from the client's results path, as
// those of StartClient. It needs any of the permissions oauth:client:view
// or usage:client:view.
func (c *Client) Summary(ctx context.Context, clientID string, days int) (*Execution, error) {
	if err := checkID("clientId", clientID); err != nil {
		return nil, err
	}
	if days < 1 {
		return nil, &ValidationError{Field: "days", Value: strconv.Itoa(days), Reason: "want a positive whole number of days, such as 7"}
	}
	// A GET, but it starts work: it is not sent again once it may have
	// reached the server, and its answer must end within MaxElapsed.
	id, err := startedID(c.api.GetOauthClientUsageSummary(withKind(ctx, startsWork|readWhole), clientID, &gen.GetOauthClientUsageSummaryParams{Days: new(strconv.Itoa(days))}))
	if err != nil {
		return nil, err
	}
	return c.ClientExecution(clientID, id), nil
}

// ClientExecution returns a handle on a query or summary of the OAuth client
// clientID started earlier, maybe by another process.
func (c *Client) ClientExecution(clientID, executionID string) *Execution {
	return c.handle(executionID, clientID, source{get: func(ctx context.Context, id, _ string) (*http.Response, error) {
		if err := checkID("clientId", clientID); err != nil {
			return nil, err
		}
		return answered(c.api.GetOauthClientUsageQueryResult(ctx, clientID, id))
	}})
}

// WaitClient waits for a stored execution of the OAuth client clientID; see
// Execution.Wait.
func (c *Client) WaitClient(ctx context.Context, clientID, executionID string) (*Result, error) {
	return c.ClientExecution(clientID, executionID).Wait(ctx)
}
