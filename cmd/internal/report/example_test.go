package report_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gcusage/gcusage/client"
	"github.com/gcusage/gcusage/cmd/internal/report"
	"github.com/gcusage/gcusage/usagetest"
)

// A report of the last 30 full UTC days from the in-process stub, as
// `gcusage report --demo` makes it: the whole of the command but its flags.
func Example() {
	now := time.Date(2025, 3, 31, 9, 30, 0, 0, time.UTC)
	srv, err := usagetest.Start(usagetest.InMemory(), usagetest.WithRunning(0, 0),
		usagetest.WithPopulation(usagetest.Population{Clients: 12}), usagetest.WithNow(func() time.Time { return now }))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c, err := client.New(client.WithBaseURLs(srv.URL, srv.LoginURL), client.WithClientCredentials(srv.ClientID, srv.ClientSecret),
		client.WithHTTPClient(&http.Client{Transport: srv.Transport()}))
	if err != nil {
		log.Fatal(err)
	}

	today := now.UTC().Truncate(24 * time.Hour)
	b, err := report.NewBuilder(report.Meta{
		First: today.AddDate(0, 0, -30), Last: today.AddDate(0, 0, -1),
		Host: "demo stub", Service: report.Legacy, Made: now, Version: client.Version,
	}, report.Limits{})
	if err != nil {
		log.Fatal(err)
	}
	if err := report.Collect(context.Background(), c, b); err != nil {
		log.Fatal(err)
	}
	r := b.Report()
	dir, err := os.MkdirTemp("", "report")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	name := report.DefaultName(r.Meta)
	if err := report.WriteFile(filepath.Join(dir, name), r); err != nil {
		log.Fatal(err)
	}
	all := r.Sections[0]
	fmt.Fprintf(os.Stderr, "wrote %s: %d requests of %d OAuth clients\n", name, all.Totals.Requests, len(all.Clients))
	fmt.Println(name, len(all.Clients), "clients")
	// Output:
	// gcusage-report-2025-03-01-to-2025-03-30.html 12 clients
}
