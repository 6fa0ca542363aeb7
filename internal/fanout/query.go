package fanout

import (
	"context"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/gen"
)

// Query is one org's work of a usage query in its plainest form: it starts
// q with c, the org's own client, records the execution for a resume,
// waits for it and drains its rows into sink under the task's name. Once
// every row is written nothing is left to resume. The CLI adds its
// progress and output around the same steps.
func Query(ctx context.Context, t *Task, c *client.Client, q client.Query, sink *Sink[gen.APIUsageRow]) error {
	e, err := c.Start(ctx, q)
	if err != nil {
		return err
	}
	t.SetResume(e.ID)
	res, err := e.Wait(ctx)
	if err != nil {
		return err
	}
	if err := sink.Drain(t.Name, res.Rows()); err != nil {
		return err
	}
	t.SetResume("")
	return nil
}
