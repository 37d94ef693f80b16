// Package httpjson writes the JSON answers of duohuo's HTTP APIs (the admin
// endpoints of the gateway, the fault filter, the gray policies and the
// chaos proxy), so that each answers in one form: an indented JSON body
// with its Content-Type, and errors as {"error": "..."}.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write answers status with v encoded as indented JSON. An encoding error
// is not reported: the status is already sent, and a broken connection has
// nobody to tell.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Error answers status with {"error": err.Error()}.
func Error(w http.ResponseWriter, status int, err error) {
	Write(w, status, ErrorBody{Error: err.Error()})
}

// ErrorBody is the body of an error answer.
type ErrorBody struct {
	Error string `json:"error"`
}
