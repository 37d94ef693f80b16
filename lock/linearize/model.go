package linearize

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// mutexKind is what a mutex history entry records.
type mutexKind uint8

const (
	// acquireOK: Lock returned a held lock.
	acquireOK mutexKind = iota
	// acquireUnknown: Lock failed with an error after which the lock may or
	// may not have been taken.
	acquireUnknown
	// releaseOK: Unlock succeeded, so the lock was held up to it.
	releaseOK
	// releaseUncertain: the lock was lost (lease expiry) or released with an
	// unknown outcome; its interval starts at the acquire's invocation, since
	// the lease may have run out as soon as it was granted.
	releaseUncertain
)

func (k mutexKind) String() string {
	return [...]string{"acquire", "acquire?", "release", "release?"}[k]
}

type mutexInput struct {
	Kind   mutexKind
	Client int
}

const free = -1

// MutexModel is the Porcupine model of a lease-based mutex, nondeterministic
// where outcomes are unknown. State: the holder's client id, or -1.
var MutexModel = porcupine.NondeterministicModel{
	Init: func() []any { return []any{free} },
	Step: func(state, input, _ any) []any {
		st, in := state.(int), input.(mutexInput)
		switch in.Kind {
		case acquireOK:
			if st == free {
				return []any{in.Client}
			}
			return nil
		case acquireUnknown:
			if st == free {
				return []any{free, in.Client}
			}
			return []any{st}
		case releaseOK:
			if st == in.Client {
				return []any{free}
			}
			return nil
		case releaseUncertain:
			if st == in.Client {
				return []any{free}
			}
			return []any{st}
		}
		return nil
	},
	Equal: func(a, b any) bool { return a.(int) == b.(int) },
	DescribeOperation: func(input, _ any) string {
		in := input.(mutexInput)
		return fmt.Sprintf("%v by %d", in.Kind, in.Client)
	},
	DescribeState: func(state any) string {
		if st := state.(int); st != free {
			return fmt.Sprintf("held by %d", st)
		}
		return "free"
	},
}

// writeOutcome is how the fenced write of a critical section ended.
type writeOutcome uint8

const (
	writeOK      writeOutcome = iota // the resource accepted it
	writeRefused                     // the resource refused a stale token
	writeUnknown                     // error: it may or may not have landed
)

func (o writeOutcome) String() string { return [...]string{"ok", "refused", "unknown"}[o] }

type incrInput struct {
	Client  int
	Read    int64
	Outcome writeOutcome
}

// RegisterModel is the Porcupine model of the protected register, where a
// critical section reads v and writes v+1 (one operation from the read's
// invocation to the write's return). State: the register's value.
var RegisterModel = porcupine.NondeterministicModel{
	Init: func() []any { return []any{int64(0)} },
	Step: func(state, input, _ any) []any {
		st, in := state.(int64), input.(incrInput)
		switch in.Outcome {
		case writeOK:
			if st == in.Read {
				return []any{in.Read + 1}
			}
			return nil
		case writeRefused:
			return []any{st}
		case writeUnknown:
			// The write is a blind put of Read+1: it either landed or not.
			if st == in.Read+1 {
				return []any{st}
			}
			return []any{st, in.Read + 1}
		}
		return nil
	},
	Equal: func(a, b any) bool { return a.(int64) == b.(int64) },
	DescribeOperation: func(input, _ any) string {
		in := input.(incrInput)
		return fmt.Sprintf("%d: read %d, write %d %v", in.Client, in.Read, in.Read+1, in.Outcome)
	},
	DescribeState: func(state any) string { return fmt.Sprint(state.(int64)) },
}
