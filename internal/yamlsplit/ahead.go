package yamlsplit

import (
	"sync"
	"sync/atomic"
)

// Ahead parses pieces on worker goroutines, a bounded number ahead of the
// caller, and hands them out in file order: parsing is most of the work of
// reading a large file, and a decoder that takes the pieces one by one
// then waits only for the first. T is what parse makes of a piece
// ([Piece.Parse] or [Piece.ParseNode]). Next and Close are for one
// goroutine.
type Ahead[T any] struct {
	pieces []Piece
	parse  func(Piece) (T, error)
	out    []chan parsed[T] // one per piece, buffered: a worker never waits to deliver
	slots  chan struct{}    // a token per piece parsed or being parsed and not yet taken
	next   atomic.Int64     // the next piece a worker takes
	taken  int              // pieces handed out by Next
	done   chan struct{}    // closed by Close
	wg     sync.WaitGroup
}

type parsed[T any] struct {
	p   T
	err error
}

// NewAhead starts workers goroutines (at least one) that parse pieces with
// parse, holding at most window parsed pieces (at least workers) that Next
// has not returned yet. Close must be called to stop them.
func NewAhead[T any](pieces []Piece, workers, window int, parse func(Piece) (T, error)) *Ahead[T] {
	workers = max(workers, 1)
	a := &Ahead[T]{
		pieces: pieces,
		parse:  parse,
		out:    make([]chan parsed[T], len(pieces)),
		slots:  make(chan struct{}, max(window, workers)),
		done:   make(chan struct{}),
	}
	for i := range a.out {
		a.out[i] = make(chan parsed[T], 1)
	}
	for range min(workers, len(pieces)) {
		a.wg.Add(1)
		go a.work()
	}
	return a
}

func (a *Ahead[T]) work() {
	defer a.wg.Done()
	for {
		select {
		case a.slots <- struct{}{}:
		case <-a.done:
			return
		}
		i := int(a.next.Add(1) - 1)
		if i >= len(a.pieces) {
			<-a.slots
			return
		}
		p, err := a.parse(a.pieces[i])
		a.out[i] <- parsed[T]{p, err}
	}
}

// Next returns the parse of the next piece in file order, waiting for it
// if needed. It is called once per piece, no more.
func (a *Ahead[T]) Next() (T, error) {
	i := a.taken
	a.taken++
	r := <-a.out[i]
	a.out[i] = nil // the tree is the caller's now
	<-a.slots
	return r.p, r.err
}

// Close stops the workers, once the pieces they are parsing are done, and
// waits for them. It may be called before every piece was taken.
func (a *Ahead[T]) Close() {
	close(a.done)
	a.wg.Wait()
}
