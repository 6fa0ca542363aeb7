// Package usagetest is a stub of the Genesys Cloud API Usage endpoints and
// their OAuth token endpoint, in the spirit of net/http/httptest: point a
// client at it in a test, or run it standalone with cmd/gcusage-stub.
//
// It answers as the spec api/usage.yaml says, and checks that it does:
// requests are validated with kin-openapi (a bad one gets a 400 Genesys
// ErrorBody naming the field) and so are the stub's answers, except those a
// Fault breaks on purpose. Results are checked row by row: all rows of an
// answer of up to 1000, and of a larger one the first 1000 and every 1000th
// after. The rows of one answer all come from the same code, so a sample
// finds any drift, while checking every row made the stub, not the client,
// the cost of a big result. Tokens come from POST /oauth/token (HTTP Basic,
// grant_type=client_credentials).
//
// A query is Running for a set number of polls or span of time (WithRunning),
// then Complete or Failed (WithOutcome). Answers follow a real captured
// exchange with the API: the POST answers 202 with a relative resultsUri;
// a running query answers exactly {"queryStatus":"Running"}; a complete
// one writes its rows first and its status last,
// {"results":[...],"queryStatus":"Complete"} (WithStatusFirst swaps them);
// and every API answer, errors and 429s included, carries
// inin-correlation-id, the inin-ratelimit-allowed, -count and -reset
// headers (300 a minute, counted per token but never enforced) and
// cache-control.
//
// Rows are synthetic but deterministic (WithSeed; execution ids are random
// unless it is given). Every row has every key in the API's order: the
// dimensions not grouped by are "", the counters not asked for 0, and date,
// the UTC start of the bucket (weeks start on Monday), has no fraction.
// Without groupBy the rows are per OAuth client. Usage is counted per UTC
// day from 2018-01-01 up to yesterday (today by WithNow) in cells, one per
// OAuth client, user, organization, template URI and method that the
// client calls (see Population), and every row is the sum of the cells of
// its group over the days of its bucket, as in the real API: every
// grouping and every granularity of an interval total the same traffic,
// and Week and Month rows, and the totals of a query without granularity
// (one per group with traffic, without date), are the sums of the day
// rows. A client is idle on about one day in seven, so about one
// group-day in seven has no traffic and no row when grouped by client.
// status429 is part of status400, and requests the sum of the four status
// counters (when all are asked for), in every cell and so in every row. An
// interval may be of any ISO-8601 precision; an end that is a year, month
// or date is inclusive, a date-time end exclusive. Rows are generated and
// written one at a time, so a million of them cost flat memory;
// Server.Rows yields the same rows.
//
// The per-client endpoints and simple search answer from the same data. A
// query of one OAuth client (one of ClientIDs; another gets 404) has the
// rows of that client among those of the organization's query grouped by
// OAuthClientId first, then by its own groupBy (ClientRows); its summary of
// N days is its query of the last N full UTC days by day. A simple search
// has the records of each day, client, template and method with traffic
// that pass its filters, with the fields its metrics do not ask for left
// empty, and clientId and requests, which no search metric names, always
// so (SearchRows). Its pages hold pageSize records (1000 when not given)
// with an opaque cursors.after, empty on the last page; it stops at
// 20,000 records, and records over 5 MiB in all (WithMaxResponseBytes) get
// 500 max.response.size.reached.
//
// The usage query jobs of 2025 (RouteJobs, RouteJobResults), both the
// organization's and a client's, answer from the same cells (a client
// runs on one platform): a job sums the cells of each group, so groupings,
// filters, windows and granularities of the same data agree, with each
// other and with the legacy query, but for the methods the jobs do not
// count (OPTIONS, CONNECT and TRACE). Jobs refuse
// with 400 constraint.validation a start more than a year ago or an end
// more than 90 days after the start. A job answers 202 Queued, then 202
// Running (WithRunning counts the Running polls), then 200 Succeeded with
// pages of pageSize entities (100 by default) linked by nextUri. JobFailed,
// JobCancelled and MaxResponseSize script the rest; UnknownStatus and the
// other faults apply as to the legacy query.
//
// Faults (WithFault, Server.Inject) fire on the nth request to a Route:
// WithFault counts from the server's start, Inject from the call, both from
// 1; nth 0 means every request. Requests counts every request received,
// faulted ones included, with credentials redacted.
//
// A server serves one organization unless WithOrgs gives it several, such
// as the partner's orgs of DemoOrgs: each has its own credentials, which the
// token endpoint tells apart, its own organizationId, OAuth clients, users
// and traffic (its seed and Population), and its own executions and jobs,
// which another org's token gets 404 for. Server.Org answers for one org:
// its rows, its clients, and faults that fire on its requests only
// (OrgServer.Inject), so that one org of several can fail; Org.Running
// makes an org's work take a set time. Barrier holds requests until a
// number of them are in flight at once, which proves that clients run
// concurrently without timing them.
//
// Inside a testing/synctest bubble, start the server with InMemory and send
// requests through Transport: a real socket would hang the bubble. Give the
// client the stub's clock too (client.WithNow(srv.Now)): the bubble's
// starts in 2000, where every interval would end after today.
//
// # A curl session against the standalone stub
//
//	$ go run ./cmd/gcusage-stub
//	gcusage-stub: Genesys Cloud usage API stub (seed 1)
//	  API URL:       http://127.0.0.1:8765
//	  Login URL:     http://127.0.0.1:8765  (token endpoint http://127.0.0.1:8765/oauth/token)
//	  Client ID:     gcusage-demo-client
//	  Client secret: gcusage-demo-secret
//	Organizations: each one's credentials log in to it alone, the first to the one above.
//	  NAME          ORGANIZATION ID                       CLIENT ID                    CLIENT SECRET
//	  demo-prod     a06ecd54-c477-4648-95a4-cc3e8bfc69a9  gcusage-demo-client          gcusage-demo-secret
//	  demo-test     0c834f08-879f-4d9a-91a1-0ef3c8e1f2c1  gcusage-demo-test-client     gcusage-demo-test-secret
//	  demo-sandbox  8d5107b2-7e24-4045-862c-254b04c0cf3f  gcusage-demo-sandbox-client  gcusage-demo-sandbox-secret
//	Serving until interrupted (Ctrl-C).
//
//	$ B=http://127.0.0.1:8765
//	$ TOKEN=$(curl -s -u gcusage-demo-client:gcusage-demo-secret -d grant_type=client_credentials $B/oauth/token |
//	    sed 's/.*"access_token":"\([^"]*\)".*/\1/')
//	$ curl -s -w ' %{http_code}\n' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
//	    -d '{"interval":"2024-01-01/2024-01-14","granularity":"Week","metrics":["Requests","Status429"]}' \
//	    $B/api/v2/usage/query
//	{"executionId":"9d1ab8c7-c62b-4fad-8fdc-325dd68a0cde","resultsUri":"/api/v2/usage/query/9d1ab8c7-c62b-4fad-8fdc-325dd68a0cde/results"} 202
//	$ curl -s -H "Authorization: Bearer $TOKEN" $B/api/v2/usage/query/9d1ab8c7-c62b-4fad-8fdc-325dd68a0cde/results
//	{"queryStatus":"Running"}
//	$ curl -s -H "Authorization: Bearer $TOKEN" $B/api/v2/usage/query/9d1ab8c7-c62b-4fad-8fdc-325dd68a0cde/results
//	{"results":[{"clientId":"3d17245d-0035-4d0a-ad7d-484f876eeedc","clientName":"Nightly export","organizationId":"",
//	"userId":"","templateUri":"","httpMethod":"","status200":0,"status300":0,"status400":0,"status500":0,"status429":749,
//	"requests":15379,"date":"2024-01-01T00:00:00Z"}, ... 6 rows: 2 weeks x 3 clients ...],"queryStatus":"Complete"}
//	$ curl -s -w ' %{http_code}\n' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
//	    -d '{"interval":"2024-01/2024-06","groupBy":["OauthClientId"]}' $B/api/v2/usage/query
//	{"code":"invalid.value","contextId":"8b98dea4-...","details":[{"errorCode":"invalid.value","fieldName":"groupBy"}],
//	"message":"Value [OauthClientId] is not valid for field type [groupBy]. Allowable values are: OAuthClientId, OrganizationId,
//	UserId, TemplateUri, HttpMethod","status":400} 400
package usagetest
