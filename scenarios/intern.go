package scenarios

import (
	"hash/maphash"
	"maps"
	"slices"
	"sync"
	"unique"
)

// Interner shares identical header sets and texts between the
// observations of one run. Most exchanges of a run carry the same headers
// (a server answers every origin of one route alike), and a run at the
// list limits (40,000 cases, four header sets each) must not hold every
// copy apart. Interned maps are shared: nothing may change them after
// interning. The zero value is ready; it is safe for concurrent use.
type Interner struct {
	mu       sync.Mutex
	seed     maphash.Seed
	headers  map[uint64][]map[string]string
	readable map[uint64][]map[string]*string
}

// Observation interns every header set and text of o in place.
func (in *Interner) Observation(o *Observation) {
	if o == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.init()
	in.request(&o.Request)
	o.Browser, o.Engine, o.Error = text(o.Browser), text(o.Engine), text(o.Error)
	o.ConsoleMessage, o.NetError, o.BrowserReason = text(o.ConsoleMessage), text(o.NetError), text(o.BrowserReason)
	o.FailedParameter = text(o.FailedParameter)
	if p := o.Preflight; p != nil {
		p.RequestHeaders, p.ResponseHeaders = in.headerSet(p.RequestHeaders), in.headerSet(p.ResponseHeaders)
	}
	if r := o.Response; r != nil {
		r.Headers, r.RequestHeaders = in.headerSet(r.Headers), in.headerSet(r.RequestHeaders)
		r.URL = text(r.URL)
	}
	for i := range o.Redirects {
		h := &o.Redirects[i]
		h.RequestHeaders, h.ResponseHeaders = in.headerSet(h.RequestHeaders), in.headerSet(h.ResponseHeaders)
		h.URL = text(h.URL)
	}
	for i, n := range o.ReadableNames {
		o.ReadableNames[i] = text(n)
	}
	o.ReadableHeaders = in.readableSet(o.ReadableHeaders)
}

// Text is the one copy of s the process holds.
func (in *Interner) Text(s string) string { return text(s) }

// Request interns a request's header set and texts in place.
func (in *Interner) Request(r *Request) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.init()
	in.request(r)
}

func (in *Interner) request(r *Request) {
	r.Headers = in.headerSet(r.Headers)
	r.URL, r.Origin, r.Method = text(r.URL), text(r.Origin), text(r.Method)
}

// Explanation interns an explanation's texts and snippets in place.
func (in *Interner) Explanation(e *Explanation) {
	if e == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.init()
	e.Sentence, e.Header, e.Fix = text(e.Sentence), text(e.Header), text(e.Fix)
	e.Snippets = in.headerSet(e.Snippets)
}

// Observations interns each observation of a slice in place.
func (in *Interner) Observations(obs []Observation) {
	for i := range obs {
		in.Observation(&obs[i])
	}
}

func (in *Interner) init() {
	if in.headers == nil {
		in.seed = maphash.MakeSeed()
		in.headers = map[uint64][]map[string]string{}
		in.readable = map[uint64][]map[string]*string{}
	}
}

// text is the one copy of a string the process holds.
func text(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}

// headerSet returns the interned copy of h: an equal set seen before, or h
// itself with its texts interned.
func (in *Interner) headerSet(h map[string]string) map[string]string {
	if h == nil {
		return nil
	}
	sum := hashSet(in.seed, h, hashText)
	for _, cand := range in.headers[sum] {
		if maps.Equal(cand, h) {
			return cand
		}
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[text(k)] = text(v)
	}
	in.headers[sum] = append(in.headers[sum], out)
	return out
}

// readableSet is headerSet for what script could read (nil: not readable).
func (in *Interner) readableSet(h map[string]*string) map[string]*string {
	if h == nil {
		return nil
	}
	sum := hashSet(in.seed, h, hashReadable)
	for _, cand := range in.readable[sum] {
		if maps.EqualFunc(cand, h, sameText) {
			return cand
		}
	}
	out := make(map[string]*string, len(h))
	for k, v := range h {
		if v != nil {
			t := text(*v)
			v = &t
		}
		out[text(k)] = v
	}
	in.readable[sum] = append(in.readable[sum], out)
	return out
}

func sameText(a, b *string) bool { return a == b || a != nil && b != nil && *a == *b }

// hashSet hashes a set independently of map order.
func hashSet[V any](seed maphash.Seed, h map[string]V, value func(*maphash.Hash, V)) uint64 {
	keys := slices.Sorted(maps.Keys(h))
	var hs maphash.Hash
	hs.SetSeed(seed)
	for _, k := range keys {
		hs.WriteString(k)
		hs.WriteByte(0)
		value(&hs, h[k])
		hs.WriteByte(0)
	}
	return hs.Sum64()
}

func hashText(hs *maphash.Hash, v string) { hs.WriteString(v) }

func hashReadable(hs *maphash.Hash, v *string) {
	if v != nil {
		hs.WriteByte(1)
		hs.WriteString(*v)
	}
}
