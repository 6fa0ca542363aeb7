// Command gcusage-stub serves the usagetest stub of the Genesys Cloud usage
// API on loopback, so that any tool (curl, the gcusage CLI, a script) can be
// pointed at it. It serves the demo organizations of usagetest.DemoOrgs, each
// logged in to with its own credentials, until interrupted.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gcusage/gcusage/usagetest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8765", "loopback `host:port` to listen on; port 0 takes a free one, printed as the API URL")
	seed := flag.Int64("seed", 1, "seed of the synthetic data of the first organization; the others take the next seeds")
	id := flag.String("client-id", usagetest.DemoClientID, "OAuth client id the token endpoint accepts for the first organization")
	secret := flag.String("client-secret", usagetest.DemoClientSecret, "OAuth client secret the token endpoint accepts for the first organization")
	polls := flag.Int("polls", 1, "results polls a query answers Running before it ends")
	running := flag.Duration("running", 0, "time a query stays Running after it is posted")
	today := flag.String("today", "", "the UTC `date` (2006-01-02) taken for today, which has no data yet; default the clock's")
	flag.Parse()

	orgs := usagetest.DemoOrgs()
	orgs[0].ClientID, orgs[0].ClientSecret = *id, *secret
	opts := []usagetest.Option{usagetest.WithAddr(*addr), usagetest.WithSeed(*seed),
		usagetest.WithOrgs(orgs...), usagetest.WithRunning(*polls, *running)}
	if *today != "" {
		// With a fixed today, the seed alone decides every answer, the
		// relative ones (a summary, the jobs' one-year limit) included.
		day, err := time.Parse(time.DateOnly, *today)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gcusage-stub: -today %q: want a date such as 2025-06-30\n", *today)
			os.Exit(2)
		}
		opts = append(opts, usagetest.WithNow(func() time.Time { return day }))
	}
	srv, err := usagetest.Start(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gcusage-stub:", err)
		os.Exit(1)
	}
	fixed := ""
	if *today != "" {
		fixed = ", today " + *today
	}
	fmt.Printf("gcusage-stub: Genesys Cloud usage API stub (seed %d%s)\n", *seed, fixed)
	fmt.Printf("  API URL:       %s\n", srv.URL)
	fmt.Printf("  Login URL:     %s  (token endpoint %s/oauth/token)\n", srv.LoginURL, srv.LoginURL)
	fmt.Printf("  Client ID:     %s\n", srv.ClientID)
	fmt.Printf("  Client secret: %s\n", shown(srv.ClientSecret))
	fmt.Printf("Organizations: each one's credentials log in to it alone, the first to the one above.\n")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "  NAME\tORGANIZATION ID\tCLIENT ID\tCLIENT SECRET")
	for _, o := range srv.Orgs() {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", o.Name, o.OrganizationID, o.ClientID, shown(o.ClientSecret))
	}
	w.Flush()
	fmt.Println("Serving until interrupted (Ctrl-C).")

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	srv.Close()
}

// shown is how a secret is printed: a demo secret as it is, a secret the
// user chose never.
func shown(secret string) string {
	for _, o := range usagetest.DemoOrgs() {
		if secret == o.ClientSecret {
			return secret
		}
	}
	return "(the value of -client-secret)"
}
