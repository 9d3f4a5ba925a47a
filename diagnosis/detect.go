package diagnosis

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/corscheck/corscheck/scenarios"
)

// Detection from evidence. A stack leaves signals in what it answers: its
// Server or X-Powered-By header, the casing of the header names it writes,
// its default error answers, and, above all, the shape of the CORS headers
// its middleware sends (Starlette's lowercase names and its "Disallowed
// CORS" 400, rs/cors's three-token Vary, Flask-CORS's sorted method list).
// corscheck weighs every signal over every answer of a group of routes, and
// tells the layers apart: a proxy in front (nginx, Apache, ...) and an
// application behind it, naming which one sent the CORS headers there.

// Layer is where a stack sits.
type Layer string

// The layers of a deployment.
const (
	// LayerProxy answers first: nginx, Apache, Caddy, haproxy, lighttpd, a CDN.
	LayerProxy Layer = "proxy"
	// LayerApp is the application and its framework's CORS middleware.
	LayerApp Layer = "app"
)

// Answer is one answer a run saw: a preflight's or an actual response's.
type Answer struct {
	Preflight bool
	Status    int
	Headers   map[string]string
	Request   scenarios.Request
}

// Header is a header's value by case-insensitive name.
func (a Answer) Header(name string) (string, bool) { return scenarios.HeaderLookup(a.Headers, name) }

// HasName reports whether a header came with exactly this spelling of its
// name (HTTP/1.1 keeps the casing the server wrote).
func (a Answer) HasName(name string) bool { _, ok := a.Headers[name]; return ok }

// Signal is one piece of evidence a stack leaves in its answers.
type Signal struct {
	// What says what was seen, for the evidence line.
	What string
	// Seen reports whether an answer shows it, and what to quote.
	Seen func(a Answer) (quote string, ok bool)
	// CORS marks a signal in the CORS headers themselves: the stack that
	// shows it is the one that sent them.
	CORS bool
}

// HeaderSignal is a signal in one response header's value.
func HeaderSignal(header, pattern string) Signal {
	re := regexp.MustCompile(pattern)
	return Signal{What: header, Seen: func(a Answer) (string, bool) {
		v, ok := a.Header(header)
		if !ok || !re.MatchString(v) {
			return "", false
		}
		return header + ": " + v, true
	}}
}

// AnswersOf are the answers in observations: each preflight and each
// actual response.
func AnswersOf(obs []scenarios.Observation) []Answer {
	var out []Answer
	for _, o := range obs {
		if o.Preflight != nil && o.Preflight.Status > 0 {
			out = append(out, Answer{Preflight: true, Status: o.Preflight.Status, Headers: o.Preflight.ResponseHeaders, Request: o.Request})
		}
		if o.Response != nil && o.Response.Status > 0 {
			out = append(out, Answer{Status: o.Response.Status, Headers: o.Response.Headers, Request: o.Request})
		}
	}
	return out
}

// Detection is what the answers of a group of routes show: the stack that
// sent the CORS headers there, its layer, the proxy in front when another
// layer sent them, and the evidence.
type Detection struct {
	Stack    string `json:"stack"`
	Evidence string `json:"evidence"`
	Layer    Layer  `json:"layer,omitempty"`
	// Proxy is the proxy in front that passes the stack's CORS headers
	// through (empty when the stack is the proxy, or none shows).
	Proxy         string `json:"proxy,omitempty"`
	ProxyEvidence string `json:"proxyEvidence,omitempty"`
	// Routes are the routes whose answers show it.
	Routes []string `json:"routes,omitempty"`
}

// Describe is the detection in words: "express (X-Powered-By: Express),
// behind nginx (Server: nginx): the CORS headers come from the application".
func (d Detection) Describe() string {
	s := fmt.Sprintf("%s (%s)", d.Stack, d.Evidence)
	if d.Proxy != "" {
		s += fmt.Sprintf(", behind %s (%s): the CORS headers on %s come from the application, %s passes them through", d.Proxy, d.ProxyEvidence, routesOr(d.Routes), d.Proxy)
	}
	return s
}

func routesOr(rs []string) string {
	if len(rs) == 0 {
		return "these routes"
	}
	return strings.Join(visibleAll(rs), ", ")
}

// stackScore is one stack's evidence over a group's answers.
type stackScore struct {
	stack    *Stack
	hits     int // answers showing any of its signals
	corsHits int // answers showing one of its CORS signals
	quotes   []string
}

// Detect weighs every stack's signals over answers (one group of routes).
func Detect(answers []Answer) (Detection, bool) {
	var scores []*stackScore
	for _, s := range Stacks {
		sc := &stackScore{stack: s}
		for _, a := range answers {
			hit, cors := false, false
			for _, sig := range s.Signals {
				q, ok := sig.Seen(a)
				if !ok {
					continue
				}
				hit = true
				cors = cors || sig.CORS
				if len(sc.quotes) < 2 && !slices.Contains(sc.quotes, q) {
					sc.quotes = append(sc.quotes, q)
				}
			}
			if hit {
				sc.hits++
			}
			if cors {
				sc.corsHits++
			}
		}
		if sc.hits > 0 {
			scores = append(scores, sc)
		}
	}
	if len(scores) == 0 {
		return Detection{}, false
	}
	best := func(keep func(*stackScore) bool, by func(*stackScore) int) *stackScore {
		var b *stackScore
		for _, sc := range scores {
			if keep(sc) && by(sc) > 0 && (b == nil || by(sc) > by(b)) {
				b = sc
			}
		}
		return b
	}
	isApp := func(sc *stackScore) bool { return sc.stack.Layer != LayerProxy }
	isProxy := func(sc *stackScore) bool { return sc.stack.Layer == LayerProxy }
	any := func(*stackScore) bool { return true }
	// The sender of the CORS headers: the stack whose CORS signals show;
	// else an application that shows (proxies pass its headers through);
	// else the proxy.
	sender := best(any, func(sc *stackScore) int { return sc.corsHits })
	if sender == nil {
		sender = best(isApp, func(sc *stackScore) int { return sc.hits })
	}
	if sender == nil {
		sender = best(any, func(sc *stackScore) int { return sc.hits })
	}
	d := Detection{Stack: sender.stack.Name, Evidence: strings.Join(visibleAll(sender.quotes), "; "), Layer: sender.stack.layer()}
	if d.Layer == LayerApp {
		if proxy := best(isProxy, func(sc *stackScore) int { return sc.hits }); proxy != nil {
			d.Proxy, d.ProxyEvidence = proxy.stack.Name, strings.Join(visibleAll(proxy.quotes), "; ")
		}
	}
	return d, true
}

// DetectRoutes detects the stack of each route from its answers, and
// groups routes whose detections agree. A route without answers (covered
// by its adaptive group) takes none.
func DetectRoutes(answers map[string][]Answer) []Detection {
	byKey := map[string]*Detection{}
	var order []string
	for _, route := range slices.Sorted(maps.Keys(answers)) {
		d, ok := Detect(answers[route])
		if !ok {
			continue
		}
		key := d.Stack + "\x00" + d.Proxy
		if g, ok := byKey[key]; ok {
			g.Routes = append(g.Routes, route)
			continue
		}
		d.Routes = []string{route}
		byKey[key] = &d
		order = append(order, key)
	}
	out := make([]Detection, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].Routes) > len(out[j].Routes) })
	return out
}

// StackChoice says which stack's fixes a finding shows: --stack (or the
// policy's stack:) for every route, else what the answers of each route
// showed.
type StackChoice struct {
	// Forced is --stack or the policy's stack:.
	Forced string
	// ByRoute is stack: per route in the policy.
	ByRoute map[string]string
	// Detected are the groups DetectRoutes found.
	Detected []Detection
}

// For is the detection that applies to a set of routes: the forced stack,
// a route's own stack:, or the detection covering most of them.
func (c StackChoice) For(routes []string) (Detection, bool) {
	if c.Forced != "" {
		return Detection{Stack: c.Forced, Layer: layerOf(c.Forced)}, true
	}
	for _, r := range routes {
		if s := c.ByRoute[r]; s != "" {
			return Detection{Stack: s, Layer: layerOf(s)}, true
		}
	}
	var best Detection
	n := 0
	for _, d := range c.Detected {
		k := 0
		for _, r := range routes {
			if slices.Contains(d.Routes, r) {
				k++
			}
		}
		if k > n {
			best, n = d, k
		}
	}
	if n == 0 && len(c.Detected) > 0 {
		return c.Detected[0], true // routes the run did not probe: the run's main stack
	}
	return best, n > 0
}

func layerOf(name string) Layer {
	if s := StackByName(name); s != nil {
		return s.layer()
	}
	return LayerApp
}

func (s *Stack) layer() Layer {
	if s.Layer == "" {
		return LayerApp
	}
	return s.Layer
}
