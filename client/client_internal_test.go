package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gcusage/gcusage/gen"
)

func TestRegions(t *testing.T) {
	rs := Regions()
	if len(rs) != 18 {
		t.Fatalf("%d regions, want 18", len(rs))
	}
	keys, domains := map[string]bool{}, map[string]bool{}
	for _, r := range rs {
		if keys[r.Key] || domains[r.Domain] {
			t.Errorf("duplicate region %v", r)
		}
		keys[r.Key], domains[r.Domain] = true, true
		for _, in := range []string{r.Key, r.Domain, strings.ToUpper(r.Key), " " + r.Domain + " "} {
			if got, ok := LookupRegion(in); !ok || got != r {
				t.Errorf("LookupRegion(%q) = %v, %v; want %v", in, got, ok, r)
			}
		}
	}
	rs[0].Key = "changed"
	if Regions()[0].Key != "us-east-1" {
		t.Error("Regions shares its slice with the caller")
	}
	ie, _ := LookupRegion("eu-west-1")
	if ie.Domain != "mypurecloud.ie" || ie.APIURL() != "https://api.mypurecloud.ie" || ie.LoginURL() != "https://login.mypurecloud.ie" {
		t.Errorf("eu-west-1 = %v %s %s", ie, ie.APIURL(), ie.LoginURL())
	}
	for _, in := range []string{"us-gov-1", "mypurecloud.fr", ""} {
		if _, ok := LookupRegion(in); ok {
			t.Errorf("LookupRegion(%q) found a region", in)
		}
	}
}

func TestNew(t *testing.T) {
	creds := WithAccessToken("t")
	cases := []struct {
		name    string
		opts    []Option
		wantErr string // "" = success
	}{
		{"region key", []Option{WithRegion("eu-west-1"), creds}, ""},
		{"region domain", []Option{WithRegion("mypurecloud.jp"), creds}, ""},
		{"unknown region lists allowed", []Option{WithRegion("eu-west-9"), creds}, `unknown region "eu-west-9": allowed us-east-1, us-east-2,`},
		{"no region", []Option{creds}, "no region"},
		{"no credentials", []Option{WithRegion("eu-west-1")}, "exactly one of"},
		{"two credentials", []Option{WithRegion("eu-west-1"), creds, WithClientCredentials("a", "b")}, "exactly one of"},
		{"empty secret", []Option{WithRegion("eu-west-1"), WithClientCredentials("a", "")}, "both an id and a secret"},
		{"http loopback v4", []Option{WithBaseURLs("http://127.0.0.1:8080", "http://127.0.0.1:8081/"), creds}, ""},
		{"http loopback v6", []Option{WithBaseURLs("http://[::1]:8080", "http://localhost:8081"), creds}, ""},
		{"https anywhere", []Option{WithBaseURLs("https://api.example.test/base", "https://login.example.test"), creds}, ""},
		{"http elsewhere", []Option{WithBaseURLs("http://api.example.test", "https://login.example.test"), creds}, "http:// is allowed only for loopback"},
		{"http login elsewhere", []Option{WithBaseURLs("https://api.example.test", "http://10.0.0.1"), creds}, "http:// is allowed only for loopback"},
		{"http lookalike", []Option{WithBaseURLs("http://127.0.0.1.example.test", "https://l.test"), creds}, "only for loopback"},
		{"user info", []Option{WithBaseURLs("https://u:p@api.example.test", "https://l.test"), creds}, "without user"},
		{"other scheme", []Option{WithBaseURLs("ftp://api.example.test", "https://l.test"), creds}, "scheme must be https"},
		{"no host", []Option{WithBaseURLs("api.example.test", "https://l.test"), creds}, "want scheme://host"},
		{"token needs no login URL", []Option{WithBaseURLs("https://api.example.test", ""), creds}, ""},
		{"client credentials need one", []Option{WithBaseURLs("https://api.example.test", ""), WithClientCredentials("a", "b")}, "need a login URL"},
		{"token with a line break", []Option{WithRegion("eu-west-1"), WithAccessToken("abc\r\nX-Evil: 1")}, "byte 0x0d at offset 3"},
		{"token with a space", []Option{WithRegion("eu-west-1"), WithAccessToken("abc def")}, "printable ASCII without spaces"},
		{"env and option credentials", []Option{WithRegion("eu-west-1"), creds, fromEnv(env{"GENESYSCLOUD_ACCESS_TOKEN": "t"}.get)}, "exactly one of"},
		{"env without credentials", []Option{fromEnv(env{"GENESYSCLOUD_REGION": "eu-west-1"}.get)}, "FromEnv found no GENESYSCLOUD_OAUTHCLIENT_ID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.opts...)
			if tc.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("New = %v, %v", c, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded, want error containing %q", tc.wantErr)
			}
			mustContain(t, err.Error(), tc.wantErr)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field == "" || ce.Reason == "" {
				t.Errorf("%v is not a *ConfigError with a field and a reason", err)
			}
			if strings.Contains(err.Error(), "abc") {
				t.Errorf("%q shows the access token", err)
			}
		})
	}
}

// Issue 10, item 4: the userinfo of a refused base URL is never echoed,
// whether or not the URL parses.
func TestRefusedBaseURLHidesUserinfo(t *testing.T) {
	for _, u := range []string{
		"https://user:SECRET@api.example.test",
		"http://user:SECRET@10.0.0.1",
		"https://user:SECRET@api.example.test:port/%zz",
		"user:SECRET@api.example.test/x@y",
		"ftp://SECRET@api.example.test",
		// Issue 16, item 4: one slash, no scheme, or a ? in the password.
		"https:/user:SECRET@api.example.test",
		"https:user:SECRET@api.example.test",
		"admin:SECRET@127.0.0.1:8765",
		"https://user:x?SECRET@api.example.test",
		"https://user:x#SECRET@api.example.test",
	} {
		_, err := New(WithBaseURLs(u, ""), WithAccessToken("t"))
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: err = %v, want *ConfigError", u, err)
		}
		if strings.Contains(err.Error(), "SECRET") || strings.Contains(ce.Value, "SECRET") || strings.Contains(ce.Reason, "SECRET") {
			t.Errorf("%s: %q (value %q) shows the userinfo", u, err, ce.Value)
		}
		mustContain(t, err.Error(), "REDACTED@")
	}
}

// Audit item 10: an unknown region given as user:SECRET@host was quoted
// whole in the error, by WithRegion and by FromEnv's GENESYSCLOUD_REGION.
// Nothing before the last @ is shown, whatever it is.
func TestRefusedRegionHidesUserinfo(t *testing.T) {
	for _, region := range []string{"user:SECRET@mypurecloud.ie", "https://user:SECRET@mypurecloud.ie", "userSECRET@eu-west-1", "user:SE@CRET@mypurecloud.ie"} {
		for name, opt := range map[string]Option{"WithRegion": WithRegion(region), "FromEnv": fromEnv(env{"GENESYSCLOUD_REGION": region}.get)} {
			_, err := New(opt, WithAccessToken("t"))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("%s %s: err = %v, want *ConfigError", name, region, err)
			}
			for _, leak := range []string{"SECRET", "CRET", "user"} {
				if strings.Contains(err.Error(), leak) || strings.Contains(ce.Value, leak) {
					t.Errorf("%s %s: %q (value %q) shows %q", name, region, err, ce.Value, leak)
				}
			}
			mustContain(t, err.Error(), "unknown region \"REDACTED@")
		}
	}
}

type env map[string]string

func (e env) get(k string) string { return e[k] }

// Issue 11, item 10: FromEnv reads the CLI's variables with the CLI's
// precedence; a set but unusable one is a *ConfigError naming it.
func TestFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     env
		want    string // apiURL static clientID, or the error's field
		wantErr bool
	}{
		{"client credentials", env{"GENESYSCLOUD_REGION": "eu-west-1", "GENESYSCLOUD_OAUTHCLIENT_ID": "id", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s"}, "https://api.mypurecloud.ie  id", false},
		{"token wins", env{"GENESYSCLOUD_REGION": "mypurecloud.jp", "GENESYSCLOUD_OAUTHCLIENT_ID": "id", "GENESYSCLOUD_OAUTHCLIENT_SECRET": "s", "GENESYSCLOUD_ACCESS_TOKEN": "tok"}, "https://api.mypurecloud.jp tok ", false},
		{"token wins over half credentials", env{"GENESYSCLOUD_OAUTHCLIENT_ID": "id", "GENESYSCLOUD_ACCESS_TOKEN": "tok"}, " tok ", false},
		{"nothing set", env{}, "  ", false},
		{"unknown region", env{"GENESYSCLOUD_REGION": "mars-1", "GENESYSCLOUD_ACCESS_TOKEN": "tok"}, "GENESYSCLOUD_REGION", true},
		{"id without secret", env{"GENESYSCLOUD_OAUTHCLIENT_ID": "id"}, "GENESYSCLOUD_OAUTHCLIENT_SECRET", true},
		{"secret without id", env{"GENESYSCLOUD_OAUTHCLIENT_SECRET": "s"}, "GENESYSCLOUD_OAUTHCLIENT_ID", true},
		{"token with a line break", env{"GENESYSCLOUD_ACCESS_TOKEN": "tok\n"}, "GENESYSCLOUD_ACCESS_TOKEN", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &config{}
			err := fromEnv(tc.env.get)(c)
			var ce *ConfigError
			switch {
			case tc.wantErr && (!errors.As(err, &ce) || ce.Field != tc.want):
				t.Errorf("err = %v, want a *ConfigError on %s", err, tc.want)
			case !tc.wantErr && err != nil:
				t.Errorf("err = %v", err)
			case !tc.wantErr:
				if got := c.apiURL + " " + c.static + " " + c.clientID; got != tc.want {
					t.Errorf("config %q, want %q", got, tc.want)
				}
			}
		})
	}
	// Options after FromEnv override its region.
	c, err := New(fromEnv(env{"GENESYSCLOUD_REGION": "eu-west-1", "GENESYSCLOUD_ACCESS_TOKEN": "tok"}.get), WithBaseURLs(testAPI, ""))
	if err != nil || c.apiURL != testAPI {
		t.Errorf("New = %v, %v; want the base URL given after FromEnv", c, err)
	}
}

func TestUserAgent(t *testing.T) {
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{nil, "gcusage/" + Version + " (go)"},
		{[]Option{WithUserAgent("mytool/1.2")}, "mytool/1.2"},
	} {
		var got string
		f := &fake{api: func(w http.ResponseWriter, r *http.Request) {
			got = r.Header.Get("User-Agent")
			started()(w, r)
		}}
		if _, err := newTestClient(t, f, tc.opts...).Start(t.Context(), anyQuery); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("User-Agent = %q, want %q", got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	iv := anyQuery.Interval
	cases := []struct {
		name string
		q    Query
		want *ValidationError // nil: valid
	}{
		{"minimal", Query{Interval: iv}, nil},
		{"dates", Query{Interval: "2020-02-01/2020-02-28"}, nil},
		{"offsets", Query{Interval: "2024-01-01T00:00:00.123+02:00/2024-01-01T00:00:00Z"}, nil},
		{"full", Query{Interval: iv, Granularity: gen.GranularityWeek, Metrics: []gen.Metric{gen.MetricRequests, gen.MetricStatus429},
			GroupBy: []gen.GroupBy{gen.GroupByOAuthClientID, gen.GroupByHTTPMethod}}, nil},
		{"missing interval", Query{}, &ValidationError{Field: "interval"}},
		{"no slash", Query{Interval: "2024-01-01"}, &ValidationError{Field: "interval", Value: "2024-01-01"}},
		{"two slashes", Query{Interval: "2024-01-01/2024-01-02/2024-01-03"}, &ValidationError{Field: "interval", Value: "2024-01-01/2024-01-02/2024-01-03"}},
		{"bad start", Query{Interval: "yesterday/2024-01-02"}, &ValidationError{Field: "interval", Value: "yesterday/2024-01-02"}},
		{"bad end", Query{Interval: "2024-01-01/2024-13-01"}, &ValidationError{Field: "interval", Value: "2024-01-01/2024-13-01"}},
		{"inverted", Query{Interval: "2024-02-01/2024-01-01"}, &ValidationError{Field: "interval", Value: "2024-02-01/2024-01-01"}},
		{"granularity", Query{Interval: iv, Granularity: "Daily"},
			&ValidationError{Field: "granularity", Value: "Daily", Allowed: []string{"Day", "Week", "Month"}}},
		{"metric", Query{Interval: iv, Metrics: []gen.Metric{"Requests", "status200"}},
			&ValidationError{Field: "metrics[1]", Value: "status200", Allowed: []string{"Status200", "Status300", "Status400", "Status500", "Status429", "Requests"}}},
		{"groupBy case", Query{Interval: iv, GroupBy: []gen.GroupBy{"UserId", "OauthClientId"}},
			&ValidationError{Field: "groupBy[1]", Value: "OauthClientId", Allowed: []string{"OAuthClientId", "OrganizationId", "UserId", "TemplateUri", "HttpMethod"}}},
		{"duplicate metric", Query{Interval: iv, Metrics: []gen.Metric{"Requests", "Status200", "Requests"}},
			&ValidationError{Field: "metrics[2]", Value: "Requests", Reason: "duplicate of metrics[0]"}},
		{"duplicate groupBy", Query{Interval: iv, GroupBy: []gen.GroupBy{"UserId", "UserId"}},
			&ValidationError{Field: "groupBy[1]", Value: "UserId", Reason: "duplicate of groupBy[0]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{api: started()}
			c := newTestClient(t, f)
			_, err := c.Start(t.Context(), tc.q)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			if ve.Field != tc.want.Field || ve.Value != tc.want.Value || fmt.Sprint(ve.Allowed) != fmt.Sprint(tc.want.Allowed) ||
				(tc.want.Reason != "" && ve.Reason != tc.want.Reason) || ve.Reason == "" && len(ve.Allowed) == 0 {
				t.Fatalf("got %+v, want %+v", ve, tc.want)
			}
			if v := tc.q.Validate(); v == nil || v.Error() != err.Error() {
				t.Errorf("Validate and Start disagree")
			}
			if n := len(f.apiCalls()) + f.tokenCalls(); n != 0 {
				t.Fatalf("%d requests sent for an invalid query, want none", n)
			}
		})
	}
}

func TestValidationErrorText(t *testing.T) {
	err := Query{Interval: anyQuery.Interval, GroupBy: []gen.GroupBy{"UserId", "OauthClientId"}}.Validate()
	want := `gcusage: invalid query: groupBy[1] "OauthClientId": allowed OAuthClientId, OrganizationId, UserId, TemplateUri, HttpMethod`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	err = Query{Interval: "2024-02-01/2024-01-01"}.Validate()
	if want := `gcusage: invalid query: interval "2024-02-01/2024-01-01": end is before start`; err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestBetweenAndParseInterval(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	start, end := time.Date(2024, 1, 1, 1, 0, 0, 0, cet), time.Date(2024, 1, 8, 0, 0, 0, 5e8, time.UTC)
	s := Between(start, end)
	if s != "2024-01-01T00:00:00.000Z/2024-01-08T00:00:00.500Z" {
		t.Fatalf("Between = %s", s)
	}
	gotStart, gotEnd, err := ParseInterval(s)
	if err != nil || !gotStart.Equal(start) || !gotEnd.Equal(end) {
		t.Fatalf("ParseInterval(%s) = %v, %v, %v", s, gotStart, gotEnd, err)
	}
	// A date-time end is excluded: this is empty.
	if _, _, err := ParseInterval("2024-01-01T00:00:00Z/2024-01-01T00:00:00Z"); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty interval is accepted: %v", err)
	}
	if s := Days(start, end); s != "2024-01-01/2024-01-08" {
		t.Errorf("Days = %s", s)
	}
}

// Every form the spec's interval pattern admits is accepted, an end of
// reduced precision counting in full, as the API reads it.
func TestParseIntervalForms(t *testing.T) {
	utc := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	for _, tc := range []struct{ in, start, end string }{
		{"2020/2021", "2020-01-01T00:00:00Z", "2022-01-01T00:00:00Z"},
		{"2020-01/2020-06", "2020-01-01T00:00:00Z", "2020-07-01T00:00:00Z"},
		{"2020-02-01/2020-02-28", "2020-02-01T00:00:00Z", "2020-02-29T00:00:00Z"},
		{"2020-02-01/2020-02-01", "2020-02-01T00:00:00Z", "2020-02-02T00:00:00Z"},
		{"2020-12/2020-12", "2020-12-01T00:00:00Z", "2021-01-01T00:00:00Z"},
		{"2024-01-01T00:00:00.000Z/2024-01-08T00:00:00.000Z", "2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z"},
		{"2024-01-01T00:00:00/2024-01-01T12:30", "2024-01-01T00:00:00Z", "2024-01-01T12:30:00Z"},
		{"2024-01-01T02+02/2024-01-01T05:00:00.25-0300", "2024-01-01T00:00:00Z", "2024-01-01T08:00:00.25Z"},
		{"2024-01/2024-01-01T10:00:00Z", "2024-01-01T00:00:00Z", "2024-01-01T10:00:00Z"},
	} {
		start, end, err := ParseInterval(tc.in)
		if err != nil || !start.Equal(utc(tc.start)) || !end.Equal(utc(tc.end)) {
			t.Errorf("ParseInterval(%q) = %v, %v, %v; want %s, %s", tc.in, start, end, err, tc.start, tc.end)
		}
		if err := (Query{Interval: tc.in}).Validate(); err != nil {
			t.Errorf("Validate refuses %q: %v", tc.in, err)
		}
	}
	for _, in := range []string{"", "2020", "2020/", "/2020", "2020-1/2020-2", "20201/20202", "2020-13/2021", "2020-02-30/2020-03-01",
		"2024-01-01T00:00:00,5Z/2024-01-02", "2024-01-01 00:00/2024-01-02", "2024-01-01T00:00:00+5/2024-01-02", "2020-02/2020-01",
		"2024-01-01T00:00:00Z/2024-01-01T00:00:00Z", "2020-01-01/2020-01-02/2020-01-03", "yesterday/today"} {
		_, _, err := ParseInterval(in)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "interval" || ve.Value != in || strings.Count(err.Error(), "gcusage:") != 1 {
			t.Errorf("ParseInterval(%q) = %v; want one plain *ValidationError naming it", in, err)
		}
	}
}

func FuzzParseInterval(f *testing.F) {
	for _, s := range []string{anyQuery.Interval, "2020-02-01/2020-02-28", "2024-01-01T00:00:00+05:30/2024-01-02T00:00:00", "/", "a/b/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, err := ParseInterval(s)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "interval" || ve.Value != s {
				t.Fatalf("error %v is not a ValidationError naming the interval", err)
			}
			return
		}
		if end.Before(start) {
			t.Fatalf("%q accepted inverted", s)
		}
		if start.Year() < 0 || end.Year() > 9999 {
			return // out of Between's four-digit years
		}
		s2, e2, err := ParseInterval(Between(start, end))
		if err != nil || !s2.Equal(start.Truncate(time.Millisecond)) || !e2.Equal(end.Truncate(time.Millisecond)) {
			t.Fatalf("Between does not round-trip %q: %v %v %v", s, s2, e2, err)
		}
	})
}

// A 10 MB interval makes an error of a few hundred bytes, not 20 MB: the
// value and the parts the reason quotes are cut.
func TestLongIntervalErrorIsCut(t *testing.T) {
	huge := strings.Repeat("9", 10<<20)
	for _, iv := range []string{huge + "/2020-01-01", "2020-01-01/" + huge, huge} {
		err := Query{Interval: iv}.Validate()
		if err == nil || len(err.Error()) > 2000 {
			t.Errorf("error of %d bytes for a %d-byte interval", len(fmt.Sprint(err)), len(iv))
		}
	}
}
