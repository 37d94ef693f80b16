package tlcp

import (
	"container/list"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"
)

// session is what resumption needs of a finished full handshake.
type session struct {
	id             []byte
	suite          uint16
	master         []byte
	created        time.Time
	peerCerts      []*smx509.Certificate
	verifiedChains [][]*smx509.Certificate
}

// ClientSessionState is a session a client may resume. It is opaque and
// immutable.
type ClientSessionState struct{ s session }

// ClientSessionCache keeps sessions for clients to resume, by a key the
// client makes of the server name (or address). Implementations must be
// safe for concurrent use.
type ClientSessionCache interface {
	// Get returns the session of key, if any.
	Get(key string) (*ClientSessionState, bool)
	// Put keeps cs under key; a nil cs removes the key.
	Put(key string, cs *ClientSessionState)
}

// NewLRUClientSessionCache returns a ClientSessionCache of at most capacity
// sessions (1024 when capacity < 1), dropping the least recently used.
func NewLRUClientSessionCache(capacity int) ClientSessionCache {
	if capacity < 1 {
		capacity = 1024
	}
	return &clientCache{c: newLRUSessionCache(capacity)}
}

type clientCache struct{ c *lruSessionCache }

func (c *clientCache) Get(key string) (*ClientSessionState, bool) {
	s, ok := c.c.get(key)
	if !ok {
		return nil, false
	}
	return &ClientSessionState{s: *s}, true
}

func (c *clientCache) Put(key string, cs *ClientSessionState) {
	if cs == nil {
		c.c.remove(key)
		return
	}
	s := cs.s
	c.c.put(key, &s)
}

// lruSessionCache is a bounded map from key to session; safe for
// concurrent use.
type lruSessionCache struct {
	mu       sync.Mutex // guards the fields below
	capacity int
	m        map[string]*list.Element
	order    *list.List // front: most recent; values are *lruEntry
}

type lruEntry struct {
	key string
	s   *session
}

func newLRUSessionCache(capacity int) *lruSessionCache {
	return &lruSessionCache{capacity: capacity, m: make(map[string]*list.Element), order: list.New()}
}

func (c *lruSessionCache) get(key string) (*session, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry).s, true
}

func (c *lruSessionCache) put(key string, s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		e.Value.(*lruEntry).s = s
		c.order.MoveToFront(e)
		return
	}
	c.m[key] = c.order.PushFront(&lruEntry{key: key, s: s})
	if c.order.Len() > c.capacity {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.m, last.Value.(*lruEntry).key)
	}
}

func (c *lruSessionCache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		c.order.Remove(e)
		delete(c.m, key)
	}
}
