package fanout

import (
	"context"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
)

// Query is one org's work of a usage query in its plainest form: it starts
// q with c, the org's own client, and goes on as Execution does, the rows
// as they come.
func Query(ctx context.Context, t *Task, c *client.Client, q client.Query, sink *Sink[gen.APIUsageRow]) error {
	_, err := Execution(ctx, t, func(ctx context.Context) (*client.Execution, error) { return c.Start(ctx, q) }, sink,
		func(r gen.APIUsageRow) gen.APIUsageRow { return r })
	return err
}

// Execution is one org's work of an execution of the legacy service (a
// query, a client's query or summary, a search), as the CLI runs it for
// each profile: it gets the execution from start, records it for a resume,
// waits for it and writes each of its rows, made an R by row, into sink
// under the task's name. Once every row is written nothing is left to
// resume. The Result it returns, closed, says whether a search stopped at
// the API's cap (Capped).
func Execution[R any](ctx context.Context, t *Task, start func(context.Context) (*client.Execution, error), sink *Sink[R], row func(gen.APIUsageRow) R) (*client.Result, error) {
	e, err := start(ctx)
	if err != nil {
		return nil, err
	}
	t.SetResume(e.ID)
	res, err := e.Wait(ctx)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	for r, err := range res.Rows() {
		if err == nil {
			err = sink.Write(t.Name, row(r))
		}
		if err != nil {
			return res, err
		}
	}
	t.SetResume("")
	return res, nil
}
