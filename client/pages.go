package client

import "errors"

// The paging that a job's results and a simple search's share: pages
// halved when the API finds them too large, and cursors that must not
// loop.

// ErrResponseTooLarge is what errors.Is finds in the error of a job's or a
// simple search's results that the API refused as too large
// (max.response.size.reached: a search's 500 over 5 MB, a job page's 400)
// even at a page size of 1; errors.As still finds the *APIError.
var ErrResponseTooLarge = errors.New("the results are larger than the API's 5 MB limit: narrow the interval or add filters")

// halve calls get with the page size, and while the API answers
// max.response.size.reached, whatever the status (400 for jobs, 500 for a
// search), asks again with half of it, down to 1: refused still, the
// error is ErrResponseTooLarge.
func halve[T any](size int, get func(size int) (T, error)) (T, error) {
	for {
		v, err := get(size)
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == "max.response.size.reached" {
			if size > 1 {
				size /= 2
				continue
			}
			err = &tooLarge{ae}
		}
		return v, err
	}
}

// tooLarge is the *APIError of results too large even a row a page, which
// says what to do about it.
type tooLarge struct{ *APIError }

func (e *tooLarge) Error() string { return e.APIError.Error() + "; " + ErrResponseTooLarge.Error() }

func (e *tooLarge) Unwrap() []error { return []error{ErrResponseTooLarge, e.APIError} }

// pageLoop tells a cursor followed before, in constant memory, since a list
// of every one seen would grow with the pages: it compares each with the one
// just followed and with one kept at steps 1, 2, 4, 8... (Brent's cycle
// detection), which finds a cycle of pages within about twice its length
// plus the pages before it.
type pageLoop struct {
	last, kept   string
	power, steps int
}

func (l *pageLoop) again(uri string) bool {
	if uri == l.last || uri == l.kept {
		return true
	}
	l.last = uri
	if l.steps++; l.steps >= l.power {
		l.kept, l.power, l.steps = uri, max(1, 2*l.power), 0
	}
	return false
}
