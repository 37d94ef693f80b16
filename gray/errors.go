package gray

import (
	"errors"
	"fmt"
)

// Errors callers branch on.
var (
	// ErrInvalid is wrapped by every validation error of [Compile], so that
	// callers can tell "your policy is wrong" (HTTP 400) from other
	// failures.
	ErrInvalid = errors.New("gray: invalid policy")
	// ErrNoRoute is returned for a route the [Store] does not hold.
	ErrNoRoute = errors.New("gray: no such route")
	// ErrNoPrevious is returned by [Store.Rollback] when the route's
	// history holds nothing to go back to.
	ErrNoPrevious = errors.New("gray: no previous revision")
	// ErrConflict is returned by [Store.Apply] when the caller expected
	// another revision to be live (optimistic concurrency).
	ErrConflict = errors.New("gray: revision conflict")
)

// FieldError is one validation failure, located by the path of the field
// in the policy ("rules[2].headers[0].regex"). It wraps [ErrInvalid].
type FieldError struct {
	Path string `json:"field"`   // "rules[2].headers[0].regex"
	Msg  string `json:"message"` // "program size 612 exceeds 500"
}

// Error returns "PATH: MSG".
func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// Unwrap returns [ErrInvalid].
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(path, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// FieldErrors returns every [FieldError] in err's tree, in order: the
// errors [Compile] joined. It returns nil when err holds none.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}
