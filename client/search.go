package client

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/gcusage/gcusage/gen"
)

// SimpleSearch is a simple search of the organization's API usage: the
// fields of the rows named by Metrics, over Interval, kept when they match
// every filter given. The rows are per day (with the Date metric) and per
// combination of the dimensions asked for (ClientName, HttpMethod,
// TemplateUri), and they fill gen.APIUsageRow as follows: Date, ClientName,
// HTTPMethod, TemplateURI and the five Status counters when asked for (all
// of them without Metrics); ClientID, OrganizationID, UserID and Requests,
// which no search metric names, stay "" and 0 (whether the API fills them
// is not known: the decoder reads them when sent).
type SimpleSearch struct {
	// Interval is as Query.Interval.
	Interval string
	// Metrics are the fields of the rows; all of them when empty.
	Metrics []gen.SimpleSearchMetric
	// ClientNames, HTTPMethods and TemplateURIs filter the rows: OAuth
	// client names, methods, and endpoint templates such as
	// api/v2/users/{userId}.
	ClientNames  []string
	HTTPMethods  []gen.HTTPMethod
	TemplateURIs []string
	// PageSize is the rows of each page Rows asks for, 1 to MaxPageSize;
	// 0 means MaxPageSize. It is not sent with the search, but with each
	// GET of its pages.
	PageSize int
}

const (
	// MaxPageSize is the most rows a page of a simple search holds, and
	// the page size Rows asks for unless told otherwise.
	MaxPageSize = 1000
	// MaxSearchRecords is the most records the API gives one simple
	// search; Result.Capped says when Rows stopped there.
	MaxSearchRecords = 20000
)

var (
	searchMetrics = []gen.SimpleSearchMetric{gen.SimpleSearchMetricDate, gen.SimpleSearchMetricClientName,
		gen.SimpleSearchMetricHTTPMethod, gen.SimpleSearchMetricTemplateURI, gen.SimpleSearchMetricStatus200,
		gen.SimpleSearchMetricStatus300, gen.SimpleSearchMetricStatus400, gen.SimpleSearchMetricStatus500,
		gen.SimpleSearchMetricStatus429}
	httpMethods = []gen.HTTPMethod{gen.HTTPMethodGET, gen.HTTPMethodPOST, gen.HTTPMethodDELETE, gen.HTTPMethodPATCH,
		gen.HTTPMethodPUT, gen.HTTPMethodHEAD, gen.HTTPMethodCONNECT, gen.HTTPMethodOPTIONS, gen.HTTPMethodTRACE}
)

// SearchMetrics lists the values SimpleSearch.Metrics accepts, in
// documentation order.
func SearchMetrics() []gen.SimpleSearchMetric { return slices.Clone(searchMetrics) }

// HTTPMethods lists the values SimpleSearch.HTTPMethods accepts.
func HTTPMethods() []gen.HTTPMethod { return slices.Clone(httpMethods) }

// Validate checks what the API would refuse, as Query.Validate does: the
// interval, the enums in exact case, no empty filter value, the page size.
func (s SimpleSearch) Validate() error {
	if err := (Query{Interval: s.Interval}).Validate(); err != nil {
		return err
	}
	if err := checkEnums("metrics", s.Metrics, searchMetrics); err != nil {
		return err
	}
	if err := checkEnums("httpMethods", s.HTTPMethods, httpMethods); err != nil {
		return err
	}
	for field, vs := range map[string][]string{"oauthClientNames": s.ClientNames, "templateUris": s.TemplateURIs} {
		if i := slices.Index(vs, ""); i >= 0 {
			return &ValidationError{Field: fmt.Sprintf("%s[%d]", field, i), Reason: "empty: leave the value out"}
		}
	}
	return checkPageSize(s.PageSize)
}

func checkPageSize(n int) error {
	if n < 0 || n > MaxPageSize {
		return &ValidationError{Field: "pageSize", Value: strconv.Itoa(n), Reason: fmt.Sprintf("want 1 to %d, or 0 for %[1]d", MaxPageSize)}
	}
	return nil
}

// StartSearch validates s, which must not end after today, then starts the
// search. The search and its results need any of the permissions
// oauth:client:view or usage:simpleSearch:view. Resume the returned
// handle later with Client.SearchExecution.
func (c *Client) StartSearch(ctx context.Context, s SimpleSearch) (*Execution, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if err := notAfterToday(s.Interval, c.now()); err != nil {
		return nil, err
	}
	id, err := startedID(c.api.PostUsageSimplesearch(ctx, gen.APIUsageSimpleSearch{Interval: s.Interval, Metrics: s.Metrics,
		OauthClientNames: s.ClientNames, HTTPMethods: s.HTTPMethods, TemplateUris: s.TemplateURIs}))
	if err != nil {
		return nil, err
	}
	return c.SearchExecution(id, s.PageSize), nil
}

// RunSearch starts s and waits for its first page; Result.Rows pages on.
func (c *Client) RunSearch(ctx context.Context, s SimpleSearch) (*Result, error) {
	e, err := c.StartSearch(ctx, s)
	if err != nil {
		return nil, err
	}
	return e.Wait(ctx)
}

// SearchExecution returns a handle on a simple search started earlier,
// maybe by another process, whose pages hold pageSize rows (0 for
// MaxPageSize). Results refused as too large (max.response.size.reached)
// are asked for again with half the page size, which the later pages keep,
// down to 1: refused still, they are ErrResponseTooLarge.
func (c *Client) SearchExecution(id string, pageSize int) *Execution {
	var size atomic.Int32
	size.Store(int32(cmp.Or(pageSize, MaxPageSize)))
	return c.handle(id, "", source{paged: true, get: func(ctx context.Context, id, after string) (*http.Response, error) {
		if err := checkPageSize(pageSize); err != nil {
			return nil, err
		}
		resp, err := halve(int(size.Load()), func(n int) (*http.Response, error) {
			size.Store(int32(n))
			p := &gen.GetUsageSimplesearchExecutionIDResultsParams{PageSize: new(int32(n))}
			if after != "" {
				p.After = &after
			}
			return answered(c.api.GetUsageSimplesearchExecutionIDResults(ctx, id, p))
		})
		return resp, err
	}})
}
