package api_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/gcusage/gcusage/usagetest"
)

// The jobs operations answer their GETs 200 and 202 with the same body,
// their entity's date is a date, and the groupBy enum spells OauthClientId
// with a lower-case "auth", as the reference says.
func TestJobsOperations(t *testing.T) {
	doc, err := usagetest.Spec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct{ method, path, id, schema string }{
		{http.MethodPost, "/api/v2/usage/aggregates/query/jobs", "postUsageAggregatesQueryJobs", "UsageQueryJob"},
		{http.MethodGet, "/api/v2/usage/aggregates/query/jobs/{jobId}", "getUsageAggregatesQueryJob", "OrganizationPublicApiUsageResultsResponse"},
		{http.MethodPost, "/api/v2/usage/client/{clientId}/aggregates/query/jobs", "postUsageClientAggregatesQueryJobs", "UsageQueryJob"},
		{http.MethodGet, "/api/v2/usage/client/{clientId}/aggregates/query/jobs/{jobId}", "getUsageClientAggregatesQueryJob", "ClientPublicApiUsageResultsResponse"},
	} {
		got := doc.Paths.Find(op.path).GetOperation(op.method)
		if got == nil || got.OperationID != op.id {
			t.Fatalf("%s %s: want operationId %s, got %+v", op.method, op.path, op.id, got)
		}
		for _, status := range []int{200, 202} {
			r := got.Responses.Status(status)
			if r == nil || r.Value.Content.Get("application/json").Schema.Ref != "#/components/schemas/"+op.schema {
				t.Errorf("%s %s: %d does not answer %s", op.method, op.path, status, op.schema)
			}
		}
	}
	schemas := doc.Components.Schemas
	for _, entity := range []string{"OrganizationPublicApiUsage", "ClientPublicApiUsage"} {
		if f := schemas[entity].Value.Properties["date"].Value.Format; f != "date" {
			t.Errorf("%s.date has format %q, want date", entity, f)
		}
		if schemas[entity].Value.Properties["requestCount"] == nil {
			t.Errorf("%s has no requestCount", entity)
		}
	}
	if e := schemas["JobsGroupBy"].Value.Enum; !slices.Contains(e, any("OauthClientId")) || slices.Contains(e, any("OAuthClientId")) {
		t.Errorf("JobsGroupBy enum %v: want OauthClientId, not OAuthClientId", e)
	}
}
