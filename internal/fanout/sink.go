package fanout

import (
	"iter"
	"sync"
)

// Sink is where the rows of several orgs meet on their way to one output:
// each Write hands one whole row, with the name of its org, to the write
// function given to NewSink, after any row of another org in progress, so
// that a csv line or a json value is never interleaved with another. It
// holds no row itself: an org that writes while another does waits for
// it, and so does the network stream its rows come from, which keeps the
// memory of any number of orgs flat.
type Sink[R any] struct {
	mu    sync.Mutex
	write func(org string, row R) error
	err   error
	rows  map[string]int
}

// NewSink returns a Sink that writes each row through write, which adds
// the org's name to it (the profile column) and prints it. write is never
// called twice at once.
func NewSink[R any](write func(org string, row R) error) *Sink[R] {
	return &Sink[R]{write: write, rows: map[string]int{}}
}

// Write writes row of org. Once a write has failed, as it does on a
// closed pipe, every later Write, of any org, returns that error without
// writing, so that each org's work stops at its next row.
func (s *Sink[R]) Write(org string, row R) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.err = s.write(org, row); s.err == nil {
		s.rows[org]++
	}
	return s.err
}

// Rows returns how many rows of org were written, for a summary.
func (s *Sink[R]) Rows(org string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows[org]
}

// Err returns the error that stopped the writes, if any.
func (s *Sink[R]) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Drain writes every row of rows as org's, and returns the first error of
// rows or of a write: the loop of each org's work once its rows stream.
func (s *Sink[R]) Drain(org string, rows iter.Seq2[R, error]) error {
	for row, err := range rows {
		if err == nil {
			err = s.Write(org, row)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
