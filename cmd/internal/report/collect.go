package report

import (
	"context"
	"fmt"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
)

// FromUsageRow is the report's row of a legacy usage query's row.
func FromUsageRow(r gen.APIUsageRow) Row {
	return Row{
		ClientID: r.ClientID, ClientName: r.ClientName, TemplateURI: r.TemplateURI, HTTPMethod: r.HTTPMethod, Date: r.Date,
		Counts: Counts{Requests: r.Requests, Status200: r.Status200, Status300: r.Status300,
			Status400: r.Status400, Status429: r.Status429, Status500: r.Status500},
	}
}

// FromEntity is the report's row of a usage query job's entity.
func FromEntity(e client.Entity) Row {
	r := Row{
		TemplateURI: e.TemplateURI, HTTPMethod: e.HTTPMethod, Date: e.Date.Time,
		Counts: Counts{Requests: e.RequestCount, Status200: e.Status200, Status300: e.Status300,
			Status400: e.Status400, Status429: e.Status429, Status500: e.Status500},
	}
	if e.OauthClient != nil {
		r.ClientID, r.ClientName = e.OauthClient.ID, e.OauthClient.Name
	}
	return r
}

// Queries are the report's two queries of the interval from first to last
// (whole UTC days, both included) on the legacy service: by day and OAuth
// client, and the totals by template URI and method.
func Queries(first, last time.Time) (byDay, byEndpoint client.Query) {
	interval := client.Days(first, last)
	return client.Query{Interval: interval, Granularity: gen.GranularityDay, GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID}},
		client.Query{Interval: interval, GroupBy: []gen.GroupBy{gen.GroupByTemplateURI, gen.GroupByHTTPMethod}}
}

// JobQueries are the same two queries on the jobs service. The client's
// name is grouped by as well, since a job leaves out what it does not
// group by; a client renamed within the interval then has a row per name.
func JobQueries(first, last time.Time) (byDay, byEndpoint client.JobQuery) {
	interval := client.Days(first, last)
	return client.JobQuery{Interval: interval, Granularity: gen.GranularityDay,
			GroupBy: []gen.JobsGroupBy{gen.JobsGroupByOauthClientID, gen.JobsGroupByOauthClientName}},
		client.JobQuery{Interval: interval,
			GroupBy: []gen.JobsGroupBy{gen.JobsGroupByTemplateURI, gen.JobsGroupByHTTPMethod}}
}

// Collect runs the report's two queries, of the interval and on the
// service of the builder's Meta, through c, one after the other, and adds
// every row to to (a Builder, or one of its sections) as it streams. c's
// clock (client.WithNow) is today for the jobs service's one-year limit.
func Collect(ctx context.Context, c *client.Client, to Adder) error {
	m := to.meta()
	if m.Service == Jobs {
		byDay, byEndpoint := JobQueries(m.First, m.Last)
		for _, q := range []struct {
			k Kind
			q client.JobQuery
		}{{ClientDay, byDay}, {Endpoint, byEndpoint}} {
			for e, err := range c.RunJobs(ctx, q.q, client.JobOptions{}) {
				if err == nil {
					err = to.Add(q.k, FromEntity(e))
				}
				if err != nil {
					return fmt.Errorf("the jobs by %s: %w", q.k.about(), err)
				}
			}
		}
		return nil
	}
	byDay, byEndpoint := Queries(m.First, m.Last)
	for _, q := range []struct {
		k Kind
		q client.Query
	}{{ClientDay, byDay}, {Endpoint, byEndpoint}} {
		res, err := c.Run(ctx, q.q)
		if err != nil {
			return fmt.Errorf("the query by %s: %w", q.k.about(), err)
		}
		for row, err := range res.Rows() {
			if err == nil {
				err = to.Add(q.k, FromUsageRow(row))
			}
			if err != nil {
				return fmt.Errorf("the query by %s: %w", q.k.about(), err)
			}
		}
	}
	return nil
}

func (k Kind) about() string {
	if k == Endpoint {
		return "endpoint"
	}
	return "day and OAuth client"
}
