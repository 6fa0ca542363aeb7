package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/gcusage/gcusage/api"
	"github.com/gcusage/gcusage/gen"
	"github.com/gcusage/gcusage/usagetest"
)

func TestSpecIsValid(t *testing.T) {
	doc, err := usagetest.Spec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct{ method, path, id string }{
		{http.MethodPost, "/api/v2/usage/query", "postUsageQuery"},
		{http.MethodGet, "/api/v2/usage/query/{executionId}/results", "getUsageQueryExecutionIdResults"},
		{http.MethodPost, "/api/v2/oauth/clients/{clientId}/usage/query", "postOauthClientUsageQuery"},
		{http.MethodGet, "/api/v2/oauth/clients/{clientId}/usage/query/results/{executionId}", "getOauthClientUsageQueryResult"},
		{http.MethodGet, "/api/v2/oauth/clients/{clientId}/usage/summary", "getOauthClientUsageSummary"},
		{http.MethodPost, "/api/v2/usage/simplesearch", "postUsageSimplesearch"},
		{http.MethodGet, "/api/v2/usage/simplesearch/{executionId}/results", "getUsageSimplesearchExecutionIdResults"},
	} {
		got := doc.Paths.Find(op.path).GetOperation(op.method)
		if got == nil || got.OperationID != op.id {
			t.Errorf("%s %s: want operationId %s, got %+v", op.method, op.path, op.id, got)
		}
	}
}

// The examples are validated by usagetest.Spec; this proves that a bad one
// is caught, so the check above cannot pass vacuously.
func TestSpecRejectsBadExample(t *testing.T) {
	bad := bytes.Replace(api.YAML(), []byte("granularity: Day\n"), []byte("granularity: Daily\n"), 1)
	if bytes.Equal(bad, api.YAML()) {
		t.Fatal("the example to break is gone from usage.yaml")
	}
	doc, err := openapi3.NewLoader().LoadFromData(bad)
	if err != nil {
		t.Fatal(err)
	}
	err = doc.Validate(context.Background(), openapi3.EnableExamplesValidation())
	if err == nil || !strings.Contains(err.Error(), "Daily") {
		t.Fatalf("want the bad example reported, got %v", err)
	}
}

// The enums must carry exactly the values of the reference, in exact case.
func TestSpecEnums(t *testing.T) {
	doc, err := usagetest.Spec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"Granularity":        {"Day", "Week", "Month"},
		"Metric":             {"Status200", "Status300", "Status400", "Status500", "Status429", "Requests"},
		"GroupBy":            {"OAuthClientId", "OrganizationId", "UserId", "TemplateUri", "HttpMethod"},
		"QueryStatus":        {"Complete", "Failed", "Running"},
		"ClientGroupBy":      {"OAuthClientId", "OrganizationId", "TemplateUri", "HttpMethod"},
		"SimpleSearchMetric": {"Date", "ClientName", "HttpMethod", "TemplateUri", "Status200", "Status300", "Status400", "Status500", "Status429"},
		"HttpMethod":         {"GET", "POST", "DELETE", "PATCH", "PUT", "HEAD", "CONNECT", "OPTIONS", "TRACE"},
	}
	for name, values := range want {
		var got []string
		for _, v := range doc.Components.Schemas[name].Value.Enum {
			got = append(got, v.(string))
		}
		if strings.Join(got, ",") != strings.Join(values, ",") {
			t.Errorf("%s: got %v, want %v", name, got, values)
		}
	}
	if !gen.GroupByOAuthClientID.Valid() || gen.GroupBy("OauthClientId").Valid() {
		t.Error("generated GroupBy.Valid disagrees with the spec")
	}
}

// The generated client can start a query and read its results from a server
// that validates both requests and responses against the spec.
func TestGeneratedClientRoundTrip(t *testing.T) {
	ctx := context.Background()
	doc, err := usagetest.Spec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil // match paths on any host
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	const id = "6a1f7a52-8c1e-4e0f-9f5e-3d1b2c4a5e6f"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, err := router.FindRoute(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("request does not match the spec: %v", err)
		}
		status, body := http.StatusAccepted, any(gen.UsageExecutionResult{
			ExecutionID: ptr(id), ResultsURI: ptr("/api/v2/usage/query/" + id + "/results")})
		if r.Method == http.MethodGet {
			status, body = http.StatusOK, gen.APIUsageQueryResult{
				QueryStatus: ptr(gen.QueryStatusComplete),
				Results:     []gen.APIUsageRow{{ClientName: "Nightly export", Requests: 1520}},
			}
		}
		raw, _ := json.Marshal(body)
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(raw)),
			Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("response does not match the spec: %v", err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(raw)
	}))
	defer srv.Close()

	c, err := gen.NewClientWithResponses(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	post, err := c.PostUsageQueryWithResponse(ctx, gen.APIUsageQuery{
		Interval:    "2024-01-01T00:00:00.000Z/2024-01-08T00:00:00.000Z",
		Granularity: ptr(gen.GranularityDay),
		GroupBy:     []gen.GroupBy{gen.GroupByOAuthClientID},
		Metrics:     []gen.Metric{gen.MetricRequests},
	})
	if err != nil {
		t.Fatal(err)
	}
	if post.StatusCode() != http.StatusAccepted || post.JSON202 == nil || *post.JSON202.ExecutionID != id {
		t.Fatalf("POST: status %d, body %s", post.StatusCode(), post.Body)
	}
	get, err := c.GetUsageQueryExecutionIDResultsWithResponse(ctx, *post.JSON202.ExecutionID)
	if err != nil {
		t.Fatal(err)
	}
	res := get.JSON200
	if res == nil || *res.QueryStatus != gen.QueryStatusComplete || len(res.Results) != 1 || res.Results[0].Requests != 1520 {
		t.Fatalf("GET: status %d, body %s", get.StatusCode(), get.Body)
	}
}

func ptr[T any](v T) *T { return &v }
