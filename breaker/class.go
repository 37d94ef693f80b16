package breaker

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// Class is the category of one call's outcome. Only failures (Network,
// Timeout, Overload, ServerError) count against a breaker; a client error
// is the caller's fault and never trips it.
type Class uint8

// The outcome classes.
const (
	// Success: the dependency did its job.
	Success Class = iota
	// ClientError: the dependency answered correctly that the request was
	// wrong (HTTP 4xx, a constraint violation, no rows). Counts as a
	// success: it proves the dependency is up.
	ClientError
	// Canceled: the caller gave up (context.Canceled). Says nothing about
	// the dependency and is not counted at all.
	Canceled
	// Network: the dependency could not be reached or dropped the
	// connection (refused, reset, EOF, DNS, HTTP 502).
	Network
	// Timeout: no answer in time (deadline exceeded, HTTP 504).
	Timeout
	// Overload: the dependency said it is overloaded (HTTP 429 and 503,
	// SQLSTATE 53xxx).
	Overload
	// ServerError: the dependency failed (HTTP 5xx, unknown errors).
	ServerError
)

var classNames = [...]string{"success", "client_error", "canceled", "network", "timeout", "overload", "server_error"}

// String returns the class name in snake case, e.g. "server_error".
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Failure reports whether c counts against a breaker.
func (c Class) Failure() bool { return c >= Network && c <= ServerError }

// ClassOfStatus returns the class of an HTTP response status: 2xx and 3xx
// Success; 429 Overload (the server asks for less traffic, as Linkerd's
// load biaser reads it); other 4xx ClientError; 502 Network; 503 Overload;
// 504 Timeout; other 5xx ServerError. Codes outside 100–599 are
// ServerError: a dependency that sends them is broken.
func ClassOfStatus(code int) Class {
	switch {
	case code < 100 || code > 599:
		return ServerError
	case code < 400:
		return Success
	case code == 429:
		return Overload
	case code < 500:
		return ClientError
	case code == 502:
		return Network
	case code == 503:
		return Overload
	case code == 504:
		return Timeout
	}
	return ServerError
}

// StatusError carries an HTTP status as an error, so that a function run by
// [Breaker.Call] can report a response status; [Classify] classifies it
// with [ClassOfStatus].
type StatusError struct{ Code int }

// Error returns "http status 503".
func (e *StatusError) Error() string { return fmt.Sprintf("http status %d", e.Code) }

// A Rule classifies the errors it knows and returns ok false for the
// others. Rules must be safe for concurrent use.
type Rule func(err error) (c Class, ok bool)

// Classifier maps errors to classes by consulting its rules in order, then
// the default rules (see [Classify]). The zero value and a nil *Classifier
// use only the default rules. A Classifier is immutable and safe for
// concurrent use.
type Classifier struct{ rules []Rule }

// NewClassifier returns a Classifier that consults rules, in order, before
// the default rules. For a database/sql client:
//
//	c := breaker.NewClassifier(breaker.SQLStateRule)
func NewClassifier(rules ...Rule) *Classifier {
	return &Classifier{rules: append([]Rule(nil), rules...)}
}

// Classify returns the class of err.
func (c *Classifier) Classify(err error) Class {
	if err == nil {
		return Success
	}
	if c != nil {
		for _, r := range c.rules {
			if cl, ok := r(err); ok {
				return cl
			}
		}
	}
	return Classify(err)
}

// Classify is the default classification of err:
//
//   - nil: Success
//   - context.Canceled: Canceled
//   - context.DeadlineExceeded, os.ErrDeadlineExceeded, a net.Error whose
//     Timeout() is true, ETIMEDOUT: Timeout
//   - *StatusError: ClassOfStatus(Code)
//   - ECONNREFUSED, ECONNRESET, ECONNABORTED, EPIPE, EHOSTUNREACH,
//     ENETUNREACH, io.EOF, io.ErrUnexpectedEOF, driver.ErrBadConn, any
//     *net.OpError or *net.DNSError: Network
//   - anything else: ServerError, because an error the caller cannot
//     explain is safer counted than ignored (gobreaker counts every error).
//
// Classify may allocate (it uses errors.As); it is meant for the outcome
// path, not for a tight loop.
func Classify(err error) Class {
	if err == nil {
		return Success
	}
	if errors.Is(err, context.Canceled) {
		return Canceled
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) {
		return Timeout
	}
	var se *StatusError
	if errors.As(err, &se) {
		return ClassOfStatus(se.Code)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout
	}
	for _, e := range networkErrors {
		if errors.Is(err, e) {
			return Network
		}
	}
	var oe *net.OpError
	var de *net.DNSError
	if errors.As(err, &oe) || errors.As(err, &de) {
		return Network
	}
	return ServerError
}

var networkErrors = []error{
	syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
	syscall.EHOSTUNREACH, syscall.ENETUNREACH,
	io.EOF, io.ErrUnexpectedEOF, driver.ErrBadConn,
}
