package runner

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Engine is one browser engine. Each lives in its own package under
// runner/ (chrome, firefox, webkit) and registers itself; Start finds it by
// the name --browser gives. Adding an engine is adding a package.
type Engine struct {
	// Name is what --browser says and what observations carry.
	Name string
	// Order places the engine in reports and in --browser all.
	Order int
	// StartTimeout is its default time limit to start (0: DefaultStartTimeout).
	StartTimeout time.Duration
	// Attach: the engine can attach to --browser-url endpoints.
	Attach bool
	// Find locates the binary the engine starts (explicit first, then its
	// environment variable, then a search).
	Find func(explicit string) (string, error)
	// Validate refuses the options the engine cannot honour (nil: none),
	// naming the flag and what to write instead.
	Validate func(o Options) error
	// Start starts a browser (or attaches to --browser-url endpoints).
	Start func(ctx context.Context, o Options) (Browser, error)
}

var (
	registryMu sync.RWMutex
	registry   []Engine
)

// Register makes an engine available to Start; engine packages call it
// from init. A second engine with the same name is a programming error.
func Register(e Engine) {
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, r := range registry {
		if r.Name == e.Name {
			panic("runner: engine " + e.Name + " registered twice")
		}
	}
	registry = append(registry, e)
	slices.SortStableFunc(registry, func(a, b Engine) int { return a.Order - b.Order })
}

// Registered is the names of the engines built into this program, in
// report order.
func Registered() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	var out []string
	for _, e := range registry {
		out = append(out, e.Name)
	}
	return out
}

func lookup(name string) (Engine, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	for _, e := range registry {
		if e.Name == name {
			return e, true
		}
	}
	return Engine{}, false
}

// Locate finds the binary an engine starts, by the engine's name: what a
// test or a report check needs to open a page in the same browser.
func Locate(engine, explicit string) (string, error) {
	e, ok := lookup(engine)
	if !ok || e.Find == nil {
		return "", fmt.Errorf("engine %s is not built into this program (import github.com/corscheck/corscheck/runner/engines)", engine)
	}
	return e.Find(explicit)
}
