package toxiapi

import (
	"errors"
	"fmt"
	"net"
	"net/http"
)

// Error is an error of the API, written as Toxiproxy writes its errors:
// {"error": Message, "status": Status} with Status as the HTTP status code.
// Methods of [Server] return one wrapped or as is; use errors.As.
type Error struct {
	Message string `json:"error"`
	Status  int    `json:"status"`
}

// Error returns the message, as Toxiproxy's error does.
func (e *Error) Error() string { return e.Message }

// Toxiproxy 2.5.0's errors, with its messages and status codes: clients
// compare both.
var (
	errProxyNotFound      = &Error{"proxy not found", http.StatusNotFound}
	errProxyAlreadyExists = &Error{"proxy already exists", http.StatusConflict}
	errInvalidStream      = &Error{"stream was invalid, can be either upstream or downstream", http.StatusBadRequest}
	errInvalidToxicType   = &Error{"invalid toxic type", http.StatusBadRequest}
	errToxicAlreadyExists = &Error{"toxic already exists", http.StatusConflict}
	errToxicNotFound      = &Error{"toxic not found", http.StatusNotFound}
	errBrowser            = &Error{"User agent not allowed", http.StatusForbidden}
	errClosed             = &Error{"server closed", http.StatusServiceUnavailable}
)

func badBody(err error) *Error {
	return &Error{"bad request body: " + err.Error(), http.StatusBadRequest}
}

func missingField(field string) *Error {
	return &Error{"missing required field: " + field, http.StatusBadRequest}
}

// listenError turns an error of tcpproxy.Listen into Toxiproxy's answer:
// the net package's error as is, with status 500.
func listenError(err error) *Error {
	var op *net.OpError
	if errors.As(err, &op) {
		return &Error{op.Error(), http.StatusInternalServerError}
	}
	return &Error{err.Error(), http.StatusInternalServerError}
}

func remoteRefused(addr string) *Error {
	return &Error{fmt.Sprintf("listen %s: not a loopback address, and this server listens on loopback only (allowed with --allow-remote)", addr), http.StatusForbidden}
}
