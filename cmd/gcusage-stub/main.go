// Command gcusage-stub serves the usagetest stub of the Genesys Cloud usage
// API on loopback, so that any tool (curl, the gcusage CLI, a script) can be
// pointed at it. It serves until interrupted.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gcusage/gcusage/usagetest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8765", "loopback `host:port` to listen on; port 0 takes a free one, printed as the API URL")
	seed := flag.Int64("seed", 1, "seed of the synthetic data")
	id := flag.String("client-id", usagetest.DemoClientID, "OAuth client id the token endpoint accepts")
	secret := flag.String("client-secret", usagetest.DemoClientSecret, "OAuth client secret the token endpoint accepts")
	polls := flag.Int("polls", 1, "results polls a query answers Running before it ends")
	running := flag.Duration("running", 0, "time a query stays Running after it is posted")
	today := flag.String("today", "", "the UTC `date` (2006-01-02) taken for today, which has no data yet; default the clock's")
	flag.Parse()

	opts := []usagetest.Option{usagetest.WithAddr(*addr), usagetest.WithSeed(*seed),
		usagetest.WithCredentials(*id, *secret), usagetest.WithRunning(*polls, *running)}
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
	shown := srv.ClientSecret
	if shown != usagetest.DemoClientSecret {
		shown = "(the value of -client-secret)" // never echo a secret the user chose
	}
	fixed := ""
	if *today != "" {
		fixed = ", today " + *today
	}
	fmt.Printf("gcusage-stub: Genesys Cloud usage API stub (seed %d%s)\n", *seed, fixed)
	fmt.Printf("  API URL:       %s\n", srv.URL)
	fmt.Printf("  Login URL:     %s  (token endpoint %s/oauth/token)\n", srv.LoginURL, srv.LoginURL)
	fmt.Printf("  Client ID:     %s\n", srv.ClientID)
	fmt.Printf("  Client secret: %s\n", shown)
	fmt.Println("Serving until interrupted (Ctrl-C).")

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	srv.Close()
}
