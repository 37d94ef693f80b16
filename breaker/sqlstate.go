package breaker

import "errors"

// SQLStater is implemented by database driver errors that carry a SQLSTATE
// code (ISO/IEC 9075, PostgreSQL appendix A): pgx's *pgconn.PgError and
// lib/pq's *pq.Error have this method; for other drivers wrap the error in
// a type that has it.
type SQLStater interface{ SQLState() string }

// SQLStateRule is a [Rule] for database/sql clients: it classifies errors
// that implement [SQLStater] with [ClassOfSQLState], and leaves the others
// to the next rule.
func SQLStateRule(err error) (Class, bool) {
	var s SQLStater
	if !errors.As(err, &s) {
		return 0, false
	}
	return ClassOfSQLState(s.SQLState())
}

// sqlStates are the codes classified one by one; classes (two-character
// prefixes) follow in sqlClasses.
var sqlStates = map[string]Class{
	// Class 57, operator intervention.
	"57014": Timeout,  // query_canceled: statement_timeout fired
	"57P01": Network,  // admin_shutdown: the server is going away
	"57P02": Network,  // crash_shutdown
	"57P03": Overload, // cannot_connect_now: starting up or in recovery
	"57P04": ServerError,
	"57P05": Network, // idle_session_timeout: the server closed the session
	// Class 40, transaction rollback: a conflict between transactions,
	// retried by the application, not a sign of a failing server.
	"40001": ClientError, // serialization_failure
	"40P01": ClientError, // deadlock_detected
}

var sqlClasses = map[string]Class{
	"00": Success,     // successful completion
	"01": Success,     // warning
	"02": Success,     // no data
	"08": Network,     // connection exception (08000, 08001, 08003, 08006, 08P01, MySQL 08S01)
	"53": Overload,    // insufficient resources (53100 disk full, 53200 out of memory, 53300 too many connections)
	"57": ServerError, // operator intervention, codes not listed above
	"58": ServerError, // system error (I/O)
	"XX": ServerError, // internal error
}

// ClassOfSQLState returns the class of a five-character SQLSTATE code,
// and ok false when code is not five characters of [0-9A-Z]. Connection
// exceptions (08xxx) are Network; server shutdown (57P01, 57P02, 57P05)
// Network; cannot connect now (57P03) and insufficient resources (53xxx)
// Overload; statement timeout (57014) Timeout; system and internal errors
// (58xxx, XXxxx) ServerError; successful completion and warnings (00, 01,
// 02) Success. Every other code, from syntax errors to constraint
// violations and transaction conflicts, is ClientError: the database
// answered, so it must not trip a breaker.
func ClassOfSQLState(code string) (Class, bool) {
	if len(code) != 5 {
		return 0, false
	}
	for i := 0; i < 5; i++ {
		if c := code[i]; !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z') {
			return 0, false
		}
	}
	if c, ok := sqlStates[code]; ok {
		return c, true
	}
	if c, ok := sqlClasses[code[:2]]; ok {
		return c, true
	}
	return ClientError, true
}
