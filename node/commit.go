package node

import (
	"errors"
	"sync"

	"go.etcd.io/bbolt"
)

// errClosed is returned by writes that arrive after the node started closing.
var errClosed = errors.New("the node is shutting down; the write was not made")

// committer group-commits writes to the node database. A write that arrives while the
// database is idle is committed at once; writes that arrive while a commit (and its
// fsync) is in flight queue up and go together into the next transaction. Latency is one
// fsync when the node is quiet, and throughput grows with load instead of being capped at
// fsyncs per second. (bbolt's own Batch waits a fixed delay instead, which every write
// pays.)
//
// A write function must depend only on the transaction it is given, because it may run
// more than once: when one function in a group fails, the group's transaction is rolled
// back, the failure goes to its caller alone, and the rest are committed without it.
type committer struct {
	db   *bbolt.DB
	reqs chan *commitReq
	done chan struct{}

	mu     sync.RWMutex
	closed bool
}

type commitReq struct {
	fn  func(*bbolt.Tx) error
	out chan error
}

// maxGroup bounds one transaction so that a flood of writes cannot build an unbounded one.
const maxGroup = 1024

func newCommitter(db *bbolt.DB) *committer {
	c := &committer{db: db, reqs: make(chan *commitReq, maxGroup), done: make(chan struct{})}
	go c.loop()
	return c
}

// Update runs fn in a write transaction and returns once that transaction is committed
// and synced, or fn's error if fn failed, in which case nothing fn wrote is kept.
func (c *committer) Update(fn func(*bbolt.Tx) error) error {
	req := &commitReq{fn: fn, out: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return errClosed
	}
	c.reqs <- req
	c.mu.RUnlock()
	return <-req.out
}

// Close commits what is queued and stops the loop.
func (c *committer) Close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.reqs)
	}
	c.mu.Unlock()
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	group := make([]*commitReq, 0, maxGroup)
	for first := range c.reqs {
		group = append(group[:0], first)
	drain:
		for len(group) < maxGroup {
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		c.commit(group)
	}
}

// fnError carries the failure of the i-th function of a group out of the transaction.
type fnError struct {
	i   int
	err error
}

func (e *fnError) Error() string { return e.err.Error() }

// commit commits group in one transaction, leaving out any member whose function fails.
func (c *committer) commit(group []*commitReq) {
	for len(group) > 0 {
		err := c.db.Update(func(tx *bbolt.Tx) error {
			for i, r := range group {
				if err := r.fn(tx); err != nil {
					return &fnError{i: i, err: err}
				}
			}
			return nil
		})
		var fe *fnError
		if errors.As(err, &fe) {
			group[fe.i].out <- fe.err
			group = append(group[:fe.i], group[fe.i+1:]...)
			continue
		}
		for _, r := range group {
			r.out <- err
		}
		return
	}
}
