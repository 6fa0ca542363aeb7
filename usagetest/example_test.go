package usagetest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"

	"github.com/gcusage/gcusage/usagetest"
)

// A raw session: fetch a token, post a query, poll until Complete. In a
// test, usagetest.NewServer(t) does the same and closes the server itself.
// The seed makes the execution id the same on every run; without one it is
// random. The rows come first and the status last, every key in every row,
// as the real API sends them; metrics not asked for are 0.
func Example() {
	srv, err := usagetest.Start(usagetest.InMemory(), usagetest.WithSeed(1),
		usagetest.WithPopulation(usagetest.Population{Clients: 1}))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client := &http.Client{Transport: srv.Transport()} // no socket: works in a synctest bubble too

	call := func(method, url, contentType, body string, auth func(*http.Request)) string {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		auth(req)
		res, err := client.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return fmt.Sprint(res.StatusCode, " ", string(b))
	}
	answer := call("POST", srv.LoginURL+"/oauth/token", "application/x-www-form-urlencoded", "grant_type=client_credentials",
		func(r *http.Request) { r.SetBasicAuth(srv.ClientID, srv.ClientSecret) })
	token := strings.Split(answer, `"`)[3]
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }

	posted := call("POST", srv.URL+"/api/v2/usage/query", "application/json",
		`{"interval":"2024-01/2024-02","granularity":"Month","metrics":["Requests","Status429"]}`, bearer)
	fmt.Println(posted)
	results := srv.URL + strings.Split(posted, `"`)[7] // resultsUri, a path on the stub
	fmt.Println(call("GET", results, "", "", bearer))
	fmt.Println(call("GET", results, "", "", bearer))

	var bad struct{ Code, Message string }
	answer = call("POST", srv.URL+"/api/v2/usage/query", "application/json", `{"interval":"2024-01-01/2024-03-01","granularity":"Year"}`, bearer)
	json.Unmarshal([]byte(answer[4:]), &bad)
	fmt.Println(answer[:3], bad.Code, bad.Message)
	// Output:
	// 202 {"executionId":"9d1ab8c7-c62b-4fad-8fdc-325dd68a0cde","resultsUri":"/api/v2/usage/query/9d1ab8c7-c62b-4fad-8fdc-325dd68a0cde/results"}
	// 200 {"queryStatus":"Running"}
	// 200 {"results":[{"clientId":"3d17245d-0035-4d0a-ad7d-484f876eeedc","clientName":"Nightly export","organizationId":"","userId":"","templateUri":"","httpMethod":"","status200":0,"status300":0,"status400":0,"status500":0,"status429":2646,"requests":55028,"date":"2024-01-01T00:00:00Z"},{"clientId":"3d17245d-0035-4d0a-ad7d-484f876eeedc","clientName":"Nightly export","organizationId":"","userId":"","templateUri":"","httpMethod":"","status200":0,"status300":0,"status400":0,"status500":0,"status429":2834,"requests":57203,"date":"2024-02-01T00:00:00Z"}],"queryStatus":"Complete"}
	// 400 invalid.value Value [Year] is not valid for field type [granularity]. Allowable values are: Day, Week, Month
}
