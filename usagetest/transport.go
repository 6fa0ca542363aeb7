package usagetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// Transport returns a RoundTripper that hands requests to the stub's
// handler in memory, with no socket, so that it works inside a
// testing/synctest bubble (where a real socket would hang). The body is
// streamed through a pipe, not buffered. A request for any host other than
// the stub's own fails: nothing reaches the network.
func (s *Server) Transport() http.RoundTripper { return memTransport{s} }

type memTransport struct{ s *Server }

// errDropped is what a client sees of DropConnection through Transport.
var errDropped = errors.New("usagetest: the server dropped the connection")

// RoundTrip serves req with the stub's handler in memory.
func (t memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s := t.s
	if req.Body != nil {
		defer req.Body.Close()
	}
	if req.URL.Scheme != "http" || req.URL.Host != s.host {
		return nil, fmt.Errorf("usagetest: the in-memory transport serves only http://%s, not %s://%s",
			s.host, req.URL.Scheme, req.URL.Host)
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, errors.New("usagetest: the server is closed")
	}

	// The handler's context ends when the client gives up, closes the
	// body, reads it to the end, or the server closes, as it would with a
	// socket; and then the pipe fails, so that a handler stuck writing is
	// released.
	ctx, cancel := context.WithCancelCause(req.Context())
	stop := context.AfterFunc(s.ctx, func() { cancel(errors.New("usagetest: the server is closed")) })
	pr, pw := io.Pipe()
	unpipe := context.AfterFunc(ctx, func() { pr.CloseWithError(context.Cause(ctx)) })
	r := req.Clone(ctx)
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "127.0.0.1:0"
	if r.Body == nil {
		r.Body = http.NoBody
	}
	w := &memWriter{header: http.Header{}, pipe: pw, ready: make(chan struct{})}
	go func() {
		defer stop()
		defer func() {
			v := recover()
			switch {
			case v == http.ErrAbortHandler:
				w.fail(errDropped)
			case v != nil:
				w.fail(fmt.Errorf("usagetest: handler panic: %v", v))
			default:
				w.WriteHeader(http.StatusOK) // an empty answer still needs a status
				pw.Close()
			}
		}()
		s.serve(w, r)
	}()
	select {
	case <-w.ready:
		if w.err != nil {
			cancel(w.err)
			return nil, w.err
		}
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	res := &http.Response{
		Status: fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)), StatusCode: w.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sent, Body: memBody{pr, unpipe, cancel}, ContentLength: -1, Request: req,
	}
	if n, err := strconv.ParseInt(w.sent.Get("Content-Length"), 10, 64); err == nil {
		res.ContentLength = n
	}
	return res, nil
}

// memWriter is the ResponseWriter of an in-memory exchange: the status and
// headers are handed over at the first write, the body flows through pipe.
type memWriter struct {
	header http.Header
	pipe   *io.PipeWriter
	once   sync.Once
	ready  chan struct{} // closed once status and sent, or err, are set
	status int
	sent   http.Header
	err    error
}

// Header implements http.ResponseWriter.
func (w *memWriter) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter: the client gets its answer.
func (w *memWriter) WriteHeader(status int) {
	w.once.Do(func() {
		w.status, w.sent = status, w.header.Clone()
		close(w.ready)
	})
}

// Write implements http.ResponseWriter, streaming through the pipe.
func (w *memWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pipe.Write(b)
}

// Flush is a no-op: the pipe hands every write over at once.
func (w *memWriter) Flush() {}

// fail ends the exchange with err: as the round trip's error if nothing
// was sent yet, else as the body's read error.
func (w *memWriter) fail(err error) {
	w.once.Do(func() {
		w.err = err
		close(w.ready)
	})
	w.pipe.CloseWithError(err)
}

// memBody ends the exchange when the client closes it, as closing a
// socket's body would, or reads it to the end.
type memBody struct {
	*io.PipeReader
	unpipe func() bool
	cancel context.CancelCauseFunc
}

// Read ends the exchange at EOF, when the handler is done: else a client
// that never closes the body would leave it attached to the request's
// context. The pipe stays as it is, so later reads still see EOF.
func (b memBody) Read(p []byte) (int, error) {
	n, err := b.PipeReader.Read(p)
	if err == io.EOF {
		b.unpipe()
		b.cancel(io.EOF)
	}
	return n, err
}

// Close cancels the handler, which is still writing.
func (b memBody) Close() error {
	b.cancel(errors.New("usagetest: response body closed"))
	return nil
}
