package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Issue 16, item 2: no interval may end after today, for any service. An
// end years ahead (2026-11-07/9999-12-31) once split into 32,358 windows,
// that is 32,358 job POSTs; it is now refused before anything is sent,
// with the client's clock (WithNow), whatever the real date.
func TestNoIntervalEndsAfterToday(t *testing.T) {
	today := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	const far = "2026-11-07/9999-12-31"
	calls := map[string]func(c *Client, interval string) error{
		"Start": func(c *Client, iv string) error {
			_, err := c.Start(t.Context(), Query{Interval: iv})
			return err
		},
		"StartClient": func(c *Client, iv string) error {
			_, err := c.StartClient(t.Context(), "c1", Query{Interval: iv})
			return err
		},
		"StartSearch": func(c *Client, iv string) error {
			_, err := c.StartSearch(t.Context(), SimpleSearch{Interval: iv})
			return err
		},
		"StartJob": func(c *Client, iv string) error {
			_, err := c.StartJob(t.Context(), JobQuery{Interval: iv})
			return err
		},
		"RunJobs": func(c *Client, iv string) error {
			for _, err := range c.RunJobs(t.Context(), JobQuery{Interval: iv}, JobOptions{}) {
				return err
			}
			return nil
		},
		"JobQuery.Validate": func(c *Client, iv string) error { return JobQuery{Interval: iv}.Validate(today) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			for _, iv := range []string{far, "2026-11-14/2026-11-21", "2026-11-14T00:00:00Z/2026-11-21T00:00:01Z", "2026-11/2026-12"} {
				f := &fake{api: func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 500, `{}`) }}
				err := call(newTestClient(t, f, WithNow(func() time.Time { return today })), iv)
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Field != "interval" || ve.Value != iv {
					t.Fatalf("%s: err = %v, want a *ValidationError on the interval", iv, err)
				}
				mustContain(t, err.Error(), "ends after today", "2026-11-20")
				if n := len(f.apiCalls()) + f.tokenCalls(); n != 0 {
					t.Errorf("%s: %d requests sent, want none", iv, n)
				}
			}
			// An interval that ends today, or at its end, is taken.
			for _, iv := range []string{"2026-11-14/2026-11-20", "2026-11-14T00:00:00Z/2026-11-21T00:00:00Z"} {
				f := &fake{api: func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 500, `{}`) }}
				var ve *ValidationError
				if err := call(newTestClient(t, f, WithNow(func() time.Time { return today })), iv); errors.As(err, &ve) {
					t.Errorf("%s: %v", iv, err)
				}
			}
		})
	}
}

// JobOptions.Now still sets RunJobs' today, over the client's clock.
func TestRunJobsNowWinsOverTheClientClock(t *testing.T) {
	f := &fake{api: func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 500, `{}`) }}
	c := newTestClient(t, f, WithNow(func() time.Time { return time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC) }))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for _, err := range c.RunJobs(ctx, JobQuery{Interval: "2026-11-14/2026-11-20"}, JobOptions{Now: func() time.Time { return time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC) }}) {
		if err == nil || !strings.Contains(err.Error(), "ends after today") {
			t.Errorf("err = %v, want the end refused by JobOptions.Now", err)
		}
		break
	}
}
