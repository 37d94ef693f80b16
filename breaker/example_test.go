package breaker_test

import (
	"fmt"
	"time"

	"github.com/duohuo/duohuo/breaker"
)

// A breaker in front of a dependency that starts failing: it opens after
// three failures, refuses calls while open, lets a probe through after the
// open timeout and closes when the probe succeeds.
func Example() {
	b, err := breaker.New(breaker.Config{
		Name:                "inventory",
		ConsecutiveFailures: 3,
		OpenTimeout:         50 * time.Millisecond,
		HalfOpenProbes:      1,
		OnStateChange: func(e breaker.Event) {
			fmt.Printf("%s: %v → %v (%s)\n", e.Name, e.From, e.To, e.Reason)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	call := func(status int) {
		t, err := b.Allow()
		if err != nil {
			fmt.Println("refused:", err)
			return
		}
		b.Done(t, breaker.ClassOfStatus(status), 2*time.Millisecond)
	}
	call(404) // a client error: never trips
	for range 3 {
		call(503)
	}
	call(200)
	time.Sleep(60 * time.Millisecond)
	call(200)
	// Output:
	// inventory: closed → open (3 consecutive failures)
	// refused: breaker: open
	// inventory: open → half_open (open timeout elapsed)
	// inventory: half_open → closed (1 probes succeeded)
}

// sqlError stands for a database driver's error type, such as pgx's
// *pgconn.PgError, which has a SQLState method.
type sqlError struct{ code, msg string }

func (e *sqlError) Error() string    { return e.msg }
func (e *sqlError) SQLState() string { return e.code }

// A database/sql wrapper classifies driver errors by SQLSTATE: connection
// failures and resource exhaustion count against the breaker, errors in
// the query do not.
func ExampleSQLStateRule() {
	cl := breaker.NewClassifier(breaker.SQLStateRule)
	for _, err := range []error{
		&sqlError{"08006", "connection failure"},
		&sqlError{"53300", "too many connections"},
		&sqlError{"57014", "canceling statement due to statement timeout"},
		&sqlError{"23505", "duplicate key value violates unique constraint"},
		&sqlError{"42P01", "relation does not exist"},
	} {
		c := cl.Classify(err)
		fmt.Printf("%s: %v, trips: %v\n", err, c, c.Failure())
	}
	// Output:
	// connection failure: network, trips: true
	// too many connections: overload, trips: true
	// canceling statement due to statement timeout: timeout, trips: true
	// duplicate key value violates unique constraint: client_error, trips: false
	// relation does not exist: client_error, trips: false
}

// A proxy keeps one breaker per instance and skips instances whose breaker
// is open.
func ExampleGroup() {
	g, err := breaker.NewGroup(breaker.Config{Name: "api", ConsecutiveFailures: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 2 {
		b := g.Get("10.0.0.1:8080")
		t, _ := b.Allow()
		b.Done(t, breaker.ClassOfStatus(502), time.Millisecond)
	}
	for _, id := range []string{"10.0.0.1:8080", "10.0.0.2:8080"} {
		_, err := g.Get(id).Allow()
		fmt.Printf("%s: %v\n", g.Get(id).Name(), err)
	}
	// Output:
	// api/10.0.0.1:8080: breaker: open
	// api/10.0.0.2:8080: <nil>
}
