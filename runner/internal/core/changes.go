package core

import (
	"context"
	"sync"
	"time"
)

// Changes is the lock of state that browser events fill, and a wake-up
// for whoever waits on that state: a waiter checks its condition under the
// lock after every change.
type Changes struct {
	Mu      sync.Mutex
	changed chan struct{}
}

// notify wakes every waiter. Callers hold mu.
func (c *Changes) Notify() {
	if c.changed != nil {
		close(c.changed)
	}
	c.changed = make(chan struct{})
}

// wait blocks until done (called under mu) reports true, ctx ends, or
// limit passes. Events that never come leave the caller with what came.
func (c *Changes) Wait(ctx context.Context, done func() bool, limit time.Duration) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		c.Mu.Lock()
		if c.changed == nil {
			c.changed = make(chan struct{})
		}
		ok, changed := done(), c.changed
		c.Mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
