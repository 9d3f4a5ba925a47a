package core

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/scenarios"
)

// settle bounds how long events may trail the fetch promises.
const settle = 2 * time.Second

// retryWait caps how long a 429's Retry-After is honoured.
const retryWait = 10 * time.Second

// retries is how often a probe answered 429 is tried again.
const retries = 2

// KindState counts, per kind of fetch (0 simple, 1 preflighted), the
// fetches in a row that got no response at all; at GiveUpAfter the target
// is taken not to answer that kind, and the rest of it is not run.
type KindState struct {
	Mu     sync.Mutex
	silent [2]int
}

func (k *KindState) Snapshot() [2]int {
	k.Mu.Lock()
	defer k.Mu.Unlock()
	return k.silent
}

// record updates the counts from finished observations, in order.
func (k *KindState) Record(fetches []runner.Fetch, obs []scenarios.Observation) {
	k.Mu.Lock()
	defer k.Mu.Unlock()
	for i, o := range obs {
		kind := 0
		if fetches[i].Preflighted() {
			kind = 1
		}
		switch {
		case answered(o):
			k.silent[kind] = 0
		case o.ErrorKind == scenarios.ErrorTimeout, o.ErrorKind == scenarios.ErrorNetwork:
			k.silent[kind]++
		}
	}
}

// answered reports whether any response came back for the fetch. A
// preflight that was sent but never answered is no sign of life.
func answered(o scenarios.Observation) bool {
	return o.Response != nil && o.Response.Status > 0 || o.Preflight != nil && o.Preflight.Status > 0 || o.Outcome == scenarios.Allowed
}

// FetchRef is where one fetch of a chunk stands: its probe's token, its
// place among the probe's fetches, and the fetch.
type FetchRef struct {
	token string
	seq   int
	fetch runner.Fetch
}

// ChunkCall is one chunk as the page script runs it: the call expression,
// each fetch's reference (in the order of the script's results), and a
// deadline that is a backstop only.
type ChunkCall struct {
	Expr     string
	Refs     []FetchRef
	Deadline time.Duration
	// tokens and fetches are each probe's token and number of fetches, in
	// chunk order (refs is their fetches, flattened).
	Tokens  []string
	Fetches []int
}

// BareEvents is a Bare browser's side of a chunk: nothing is observed, the
// page script's results are the observations.
type BareEvents struct{ Engine string }

func (BareEvents) Wait(context.Context, func() bool, time.Duration) {}

func (BareEvents) Complete(string, int, JSResult) bool { return true }

func (BareEvents) Forget([]string) {}

func (e BareEvents) Observe(origin, _ string, _ int, f runner.Fetch, js JSResult, version string) scenarios.Observation {
	ob := js.Observation(origin, f, e.Engine, version)
	switch {
	case js.OK:
		ob.Outcome = scenarios.Allowed
	case js.TimedOut || js.NotRun:
		ob.Outcome, ob.Error = scenarios.Errored, js.Error
	default:
		ob.Outcome, ob.Error = scenarios.Blocked, js.Error
	}
	return ob
}

// ChunkEvents is what a chunk needs of an engine's event collector.
type ChunkEvents interface {
	Wait(ctx context.Context, done func() bool, limit time.Duration)
	// complete reports whether the events a fetch's observation needs are
	// in; observe builds it. Callers hold the collector's lock.
	Complete(token string, seq int, js JSResult) bool
	Observe(origin, token string, seq int, f runner.Fetch, js JSResult, version string) scenarios.Observation
	// forget drops the events of observed probes: a tab is reused for a
	// whole run, and would otherwise hold every event of every probe.
	Forget(tokens []string)
}

// observations waits until every fetch of the chunk has its events (and
// ready, the engine's own condition, holds; nil when it has none), builds
// the observations probe by probe from the script's results, and forgets
// the chunk's events.
func (call ChunkCall) Observations(ctx context.Context, ev ChunkEvents, ready func() bool, results []JSResult, origin, version string) [][]scenarios.Observation {
	ev.Wait(ctx, func() bool {
		if ready != nil && !ready() {
			return false
		}
		for k, r := range call.Refs {
			if !ev.Complete(r.token, r.seq, results[k]) {
				return false
			}
		}
		return true
	}, settle)
	out := make([][]scenarios.Observation, len(call.Fetches))
	k := 0
	for n, count := range call.Fetches {
		for range count {
			r := call.Refs[k]
			out[n] = append(out[n], ev.Observe(origin, r.token, r.seq, r.fetch, results[k], version))
			k++
		}
	}
	ev.Forget(call.Tokens)
	return out
}

// NewChunkCall builds the page script's call for some probes. Requests that
// need no preflight go first: when the target's preflights hang, the ones
// in flight hold the browser's connections (six per host), and a simple
// request queued behind them would time out although the target answers
// it. The kinds that already stopped answering start counted.
func NewChunkCall(runID string, probes []runner.Probe, chunk []int, o runner.RunOptions, silent [2]int) (ChunkCall, error) {
	var specs []jsSpec
	var groups [][]int
	var refs []FetchRef
	tokens, fetches := make([]string, len(chunk)), make([]int, len(chunk))
	for n, i := range chunk {
		token := fmt.Sprintf("%s.%d", runID, i)
		tokens[n], fetches[n] = token, len(probes[i].Fetches)
		var g []int
		for seq, f := range probes[i].Fetches {
			g = append(g, len(specs))
			specs = append(specs, specOf(f, token))
			refs = append(refs, FetchRef{token, seq, f})
		}
		groups = append(groups, g)
	}
	sortGroupsByKind(specs, groups)
	args, err := json.Marshal([]any{specs, groups, o.Concurrency, o.Timeout.Milliseconds(), o.GiveUpAfter, o.Rate, o.MaxBody})
	if err != nil {
		return ChunkCall{}, err
	}
	perGroup := (len(specs) + max(1, o.Concurrency) - 1) / max(1, o.Concurrency)
	deadline := o.Timeout*time.Duration(perGroup+1) + 10*time.Second
	if o.Rate > 0 {
		deadline += time.Duration(float64(2*len(specs))/o.Rate*float64(time.Second)) + retryWait
	}
	return ChunkCall{Expr: withSilent(silent) + "(..." + string(args) + ")", Refs: refs, Deadline: deadline, Tokens: tokens, Fetches: fetches}, nil
}

// sortGroupsByKind puts requests that need no preflight first.
func sortGroupsByKind(specs []jsSpec, groups [][]int) {
	sort.SliceStable(groups, func(a, b int) bool { return specs[groups[a][0]].Kind < specs[groups[b][0]].Kind })
}

// withSilent is batchJS with its counters starting at the given values.
func withSilent(s [2]int) string {
	return strings.Replace(batchJS, "const silent = [0, 0];", fmt.Sprintf("const silent = [%d, %d];", s[0], s[1]), 1)
}

func sortStrings(s []string) { sort.Strings(s) }
