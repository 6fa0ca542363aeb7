package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/gcusage/gcusage/gen"
)

// HandRolled is the floor for transport overhead: what a user writes with
// net/http and encoding/json alone. It has no retries, no validation and no
// streaming: a results body is decoded whole into memory.
type HandRolled struct {
	HTTP   *http.Client
	APIURL string // base URL of the API, without a trailing slash
	Bearer string // an access token fetched beforehand
}

// Start posts the query and returns the execution id.
func (h *HandRolled) Start(ctx context.Context, q gen.APIUsageQuery) (string, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return "", err
	}
	var out gen.UsageExecutionResult
	if err := h.do(ctx, http.MethodPost, "/api/v2/usage/query", bytes.NewReader(body), &out); err != nil {
		return "", err
	}
	if out.ExecutionID == nil {
		return "", fmt.Errorf("POST /api/v2/usage/query: no executionId in the answer")
	}
	return *out.ExecutionID, nil
}

// Results fetches the state of an execution and, once Complete, its rows.
func (h *HandRolled) Results(ctx context.Context, id string) (*gen.APIUsageQueryResult, error) {
	var out gen.APIUsageQueryResult
	err := h.do(ctx, http.MethodGet, "/api/v2/usage/query/"+url.PathEscape(id)+"/results", nil, &out)
	return &out, err
}

func (h *HandRolled) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, h.APIURL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+h.Bearer)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Drained to the end, so that the connection goes back to the pool.
	defer io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
