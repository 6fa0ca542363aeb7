package client

import (
	"time"

	"github.com/gcusage/gcusage/gen"
)

// PollPolicy sets how Wait polls. A zero field takes its default.
type PollPolicy struct {
	// MinDelay is the first delay between polls; the delays then grow
	// ×1.5 a poll up to a second, so that a quick query is seen within a
	// second of its end. Default 200ms.
	MinDelay time.Duration
	// Lateness is how late a wait may see the end of a query, as a
	// fraction of the time waited so far: past the first second, the
	// delay grows with the wait, so that a query running for minutes is
	// not polled every second. Default 0.2.
	Lateness float64
	// MaxDelay caps the delay between polls, whatever the above. Default
	// 1m.
	//
	// Each delay is drawn at random from the top quarter of its bound.
	// Full jitter, as retries use, would halve the mean delay and so
	// double the polls for the same lateness; the quarter is enough to
	// spread out clients that started together.
	MaxDelay time.Duration
	// MaxWait bounds the whole wait on top of the context; 0: context only.
	MaxWait time.Duration
	// MaxRetryAfter bounds the Retry-After a results answer may ask
	// for; a longer hint is cut to it. Default 30s.
	MaxRetryAfter time.Duration
	// OnPoll, when set, is called after each poll that found the query
	// still running, for progress displays.
	OnPoll func(PollEvent)
}

// PollEvent tells OnPoll about a poll.
type PollEvent struct {
	Attempt int // 1 for the first poll
	Status  gen.QueryStatus
	Elapsed time.Duration // since Wait began
	Next    time.Duration // until the next poll
}

func (p PollPolicy) withDefaults() PollPolicy {
	def(&p.MinDelay, 200*time.Millisecond)
	if p.Lateness <= 0 {
		p.Lateness = 0.2
	}
	def(&p.MaxDelay, time.Minute)
	def(&p.MaxRetryAfter, 30*time.Second)
	return p
}

// delay is the wait after poll n, elapsed into the wait, with the server's
// hint.
func (p PollPolicy) delay(n int, elapsed, hint time.Duration) time.Duration {
	c := backoffCap(n-1, p.MinDelay, max(p.MinDelay, time.Second), 1.5)
	c = min(max(c, time.Duration(p.Lateness*float64(elapsed))), p.MaxDelay)
	return max(c-jitter(c/4), min(hint, p.MaxRetryAfter))
}
