package breaker_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/duohuo/duohuo/breaker"
)

func TestClassOfStatus(t *testing.T) {
	for _, c := range []struct {
		code int
		want breaker.Class
	}{
		{200, breaker.Success}, {204, breaker.Success}, {301, breaker.Success}, {304, breaker.Success},
		{400, breaker.ClientError}, {401, breaker.ClientError}, {404, breaker.ClientError}, {408, breaker.ClientError},
		{429, breaker.Overload},
		{500, breaker.ServerError}, {501, breaker.ServerError},
		{502, breaker.Network}, {503, breaker.Overload}, {504, breaker.Timeout},
		{0, breaker.ServerError}, {99, breaker.ServerError}, {600, breaker.ServerError},
	} {
		if got := breaker.ClassOfStatus(c.code); got != c.want {
			t.Errorf("ClassOfStatus(%d) = %v, want %v", c.code, got, c.want)
		}
	}
}

func TestClassFailure(t *testing.T) {
	for c, want := range map[breaker.Class]bool{
		breaker.Success: false, breaker.ClientError: false, breaker.Canceled: false,
		breaker.Network: true, breaker.Timeout: true, breaker.Overload: true, breaker.ServerError: true,
		breaker.Class(42): false,
	} {
		if got := c.Failure(); got != want {
			t.Errorf("%v.Failure() = %v, want %v", c, got, want)
		}
	}
}

// realNetErrors produces errors from real sockets on loopback.
func realNetErrors(t *testing.T) (refused, timeout error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, refused = net.Dial("tcp", addr)
	if refused == nil {
		t.Fatalf("dial %s after closing it succeeded", addr)
	}

	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, timeout = c.Read(make([]byte, 1)) // the listener never writes
	return refused, timeout
}

func TestClassify(t *testing.T) {
	refused, readTimeout := realNetErrors(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	for _, c := range []struct {
		name string
		err  error
		want breaker.Class
	}{
		{"nil is a success", nil, breaker.Success},
		{"a canceled context", context.Canceled, breaker.Canceled},
		{"a wrapped cancellation", fmt.Errorf("get: %w", context.Canceled), breaker.Canceled},
		{"an expired context", ctx.Err(), breaker.Timeout},
		{"a socket read deadline", readTimeout, breaker.Timeout},
		{"os.ErrDeadlineExceeded", os.ErrDeadlineExceeded, breaker.Timeout},
		{"ETIMEDOUT", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ETIMEDOUT)}, breaker.Timeout},
		{"a refused connection", refused, breaker.Network},
		{"a reset connection", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, breaker.Network},
		{"a broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), breaker.Network},
		{"an unexpected EOF", io.ErrUnexpectedEOF, breaker.Network},
		{"a DNS failure", &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}, breaker.Network},
		{"driver.ErrBadConn", fmt.Errorf("query: %w", driver.ErrBadConn), breaker.Network},
		{"an HTTP 503 status", &breaker.StatusError{Code: 503}, breaker.Overload},
		{"a wrapped HTTP 404 status", fmt.Errorf("fetch: %w", &breaker.StatusError{Code: 404}), breaker.ClientError},
		{"an unknown error counts as a server error", errors.New("something broke"), breaker.ServerError},
		{"sql.ErrNoRows without a rule is a server error", sql.ErrNoRows, breaker.ServerError},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := breaker.Classify(c.err); got != c.want {
				t.Errorf("Classify(%v) = %v, want %v", c.err, got, c.want)
			}
			var nilClassifier *breaker.Classifier
			if got := nilClassifier.Classify(c.err); got != c.want {
				t.Errorf("nil Classifier.Classify(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

func TestClassifierRulesComeFirst(t *testing.T) {
	noRows := func(err error) (breaker.Class, bool) {
		if errors.Is(err, sql.ErrNoRows) {
			return breaker.ClientError, true
		}
		return 0, false
	}
	grpcUnavailable := errors.New("rpc error: code = Unavailable")
	unavailable := func(err error) (breaker.Class, bool) {
		if errors.Is(err, grpcUnavailable) {
			return breaker.Overload, true
		}
		return 0, false
	}
	cl := breaker.NewClassifier(noRows, unavailable, breaker.SQLStateRule)
	for _, c := range []struct {
		err  error
		want breaker.Class
	}{
		{nil, breaker.Success},
		{fmt.Errorf("user: %w", sql.ErrNoRows), breaker.ClientError},
		{grpcUnavailable, breaker.Overload},
		{&pgError{"08006"}, breaker.Network},
		{fmt.Errorf("insert: %w", &pgError{"23505"}), breaker.ClientError},
		{context.Canceled, breaker.Canceled}, // falls through to the defaults
		{errors.New("other"), breaker.ServerError},
	} {
		if got := cl.Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// pgError has the method of pgx's *pgconn.PgError and lib/pq's *pq.Error;
// no database server runs in these tests, so the driver error is built
// here.
type pgError struct{ code string }

func (e *pgError) Error() string    { return "pg: SQLSTATE " + e.code }
func (e *pgError) SQLState() string { return e.code }

func TestClassOfSQLState(t *testing.T) {
	for _, c := range []struct {
		code string
		want breaker.Class
		ok   bool
	}{
		{"00000", breaker.Success, true},
		{"01000", breaker.Success, true},
		{"02000", breaker.Success, true},
		{"08000", breaker.Network, true},
		{"08001", breaker.Network, true},
		{"08006", breaker.Network, true},
		{"08P01", breaker.Network, true},
		{"08S01", breaker.Network, true}, // MySQL communication link failure
		{"57P01", breaker.Network, true},
		{"57P02", breaker.Network, true},
		{"57P03", breaker.Overload, true},
		{"57P05", breaker.Network, true},
		{"57014", breaker.Timeout, true},
		{"57000", breaker.ServerError, true},
		{"53000", breaker.Overload, true},
		{"53100", breaker.Overload, true},
		{"53200", breaker.Overload, true},
		{"53300", breaker.Overload, true},
		{"58030", breaker.ServerError, true},
		{"XX000", breaker.ServerError, true},
		{"40001", breaker.ClientError, true},
		{"40P01", breaker.ClientError, true},
		{"23505", breaker.ClientError, true},
		{"42601", breaker.ClientError, true},
		{"HY000", breaker.ClientError, true},
		{"", 0, false},
		{"0800", 0, false},
		{"080060", 0, false},
		{"08a06", 0, false},
		{"08 06", 0, false},
	} {
		got, ok := breaker.ClassOfSQLState(c.code)
		if got != c.want || ok != c.ok {
			t.Errorf("ClassOfSQLState(%q) = %v, %v; want %v, %v", c.code, got, ok, c.want, c.ok)
		}
	}
}

func TestSQLStateRule(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want breaker.Class
		ok   bool
	}{
		{"a connection failure", &pgError{"08006"}, breaker.Network, true},
		{"a wrapped too-many-connections", fmt.Errorf("connect: %w", &pgError{"53300"}), breaker.Overload, true},
		{"a malformed code is left to the next rule", &pgError{"bad"}, 0, false},
		{"an error without a SQLSTATE is left to the next rule", io.EOF, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := breaker.SQLStateRule(c.err)
			if got != c.want || ok != c.ok {
				t.Errorf("SQLStateRule(%v) = %v, %v; want %v, %v", c.err, got, ok, c.want, c.ok)
			}
		})
	}
}

func FuzzClassOfSQLState(f *testing.F) {
	for _, s := range []string{"00000", "08006", "57P03", "53300", "XX000", "40001", "", "08a06", "0800\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		c, ok := breaker.ClassOfSQLState(code)
		if !ok {
			if len(code) == 5 && isSQLState(code) {
				t.Fatalf("ClassOfSQLState(%q) refused a well-formed code", code)
			}
			return
		}
		if len(code) != 5 || !isSQLState(code) {
			t.Fatalf("ClassOfSQLState(%q) accepted a malformed code as %v", code, c)
		}
		// The class of a connection exception never depends on the rest
		// of the code.
		if code[:2] == "08" && c != breaker.Network {
			t.Fatalf("ClassOfSQLState(%q) = %v, want network for class 08", code, c)
		}
		if code[:2] == "53" && c != breaker.Overload {
			t.Fatalf("ClassOfSQLState(%q) = %v, want overload for class 53", code, c)
		}
	})
}

func isSQLState(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
