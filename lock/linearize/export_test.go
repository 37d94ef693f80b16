package linearize

// Constructors for hand-written histories in the model tests.

type (
	MutexKind    = mutexKind
	WriteOutcome = writeOutcome
)

const (
	AcquireOK        = acquireOK
	AcquireUnknown   = acquireUnknown
	ReleaseOK        = releaseOK
	ReleaseUncertain = releaseUncertain
	WriteOK          = writeOK
	WriteRefused     = writeRefused
	WriteUnknown     = writeUnknown
)

func MutexIn(k mutexKind, client int) any { return mutexInput{Kind: k, Client: client} }

func IncrIn(client int, read int64, o writeOutcome) any {
	return incrInput{Client: client, Read: read, Outcome: o}
}
