package discovery

import (
	"errors"
	"fmt"
)

// Errors that callers branch on. Validation errors reach callers wrapped in
// an [*UpdateError] that names the source, service and instance.
var (
	ErrInvalidService = errors.New("discovery: invalid service name")
	ErrInvalidAddr    = errors.New("discovery: invalid address")
	ErrInvalidWeight  = errors.New("discovery: invalid weight")
	ErrInvalidField   = errors.New("discovery: invalid field")
	// ErrDuplicate means one source reported the same ID or address twice
	// for one service.
	ErrDuplicate = errors.New("discovery: duplicate instance")
	// ErrClosed is returned once the aggregator is closed or the source was
	// removed from it.
	ErrClosed = errors.New("discovery: aggregator closed")
	// ErrDuplicateSource means a source with the same name was already added.
	ErrDuplicateSource = errors.New("discovery: duplicate source name")
	// ErrUnknownSource means no source has the given name.
	ErrUnknownSource = errors.New("discovery: unknown source")
)

// UpdateError is a refused update: it names the source, the service and, when
// one instance is at fault, its position in the reported list.
type UpdateError struct {
	Source  string
	Service string
	Index   int    // position of the bad instance in the reported list; -1 when the service itself is at fault
	ID      string // the bad instance's ID or address, when known
	Err     error
}

// Error implements error.
func (e *UpdateError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("source %q: service %q: %v", e.Source, e.Service, e.Err)
	}
	return fmt.Sprintf("source %q: service %q: instance %d (%s): %v", e.Source, e.Service, e.Index, e.ID, e.Err)
}

// Unwrap returns the underlying error, one of the Err* sentinels.
func (e *UpdateError) Unwrap() error { return e.Err }
