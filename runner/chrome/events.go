package chrome

import (
	"context"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/corscheck/corscheck/runner/internal/core"
)

// The DevTools events we read, decoded into our own structs rather than
// cdproto's: cdproto's enums (CorsError, cookie blocked reasons) reject
// values they do not know, and one unknown value from a newer Chrome must
// never lose an observation.
type (
	evRequestWillBeSent struct {
		RequestID string `json:"requestId"`
		Request   struct {
			URL     string            `json:"url"`
			Method  string            `json:"method"`
			Headers map[string]string `json:"headers"`
		} `json:"request"`
		Initiator struct {
			Type      string `json:"type"`
			RequestID string `json:"requestId"`
		} `json:"initiator"`
		RedirectResponse *struct {
			Status  int               `json:"status"`
			Headers map[string]string `json:"headers"`
		} `json:"redirectResponse"`
	}
	evAssociatedCookie struct {
		Cookie struct {
			Name string `json:"name"`
		} `json:"cookie"`
		BlockedReasons []string `json:"blockedReasons"`
	}
	evRequestExtra struct {
		RequestID         string               `json:"requestId"`
		Headers           map[string]string    `json:"headers"`
		AssociatedCookies []evAssociatedCookie `json:"associatedCookies"`
	}
	evResponseReceived struct {
		RequestID string `json:"requestId"`
		Response  struct {
			URL     string            `json:"url"`
			Status  int               `json:"status"`
			Headers map[string]string `json:"headers"`
		} `json:"response"`
	}
	evResponseExtra struct {
		RequestID  string            `json:"requestId"`
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
	}
	evLoadingFinished struct {
		RequestID string `json:"requestId"`
	}
	evLoadingFailed struct {
		RequestID       string `json:"requestId"`
		ErrorText       string `json:"errorText"`
		Canceled        bool   `json:"canceled"`
		BlockedReason   string `json:"blockedReason"`
		CorsErrorStatus *struct {
			CorsError       string `json:"corsError"`
			FailedParameter string `json:"failedParameter"`
		} `json:"corsErrorStatus"`
	}
	evLogEntry struct {
		Entry struct {
			Source           string `json:"source"`
			Level            string `json:"level"`
			Text             string `json:"text"`
			NetworkRequestID string `json:"networkRequestId"`
		} `json:"entry"`
	}
)

var (
	eventRequestWillBeSent = cdp.Event[evRequestWillBeSent]{Method: "Network.requestWillBeSent"}
	eventRequestExtra      = cdp.Event[evRequestExtra]{Method: "Network.requestWillBeSentExtraInfo"}
	eventResponseReceived  = cdp.Event[evResponseReceived]{Method: "Network.responseReceived"}
	eventResponseExtra     = cdp.Event[evResponseExtra]{Method: "Network.responseReceivedExtraInfo"}
	eventLoadingFinished   = cdp.Event[evLoadingFinished]{Method: "Network.loadingFinished"}
	eventLoadingFailed     = cdp.Event[evLoadingFailed]{Method: "Network.loadingFailed"}
	eventLogEntry          = cdp.Event[evLogEntry]{Method: "Log.entryAdded"}
)

// The terminal state of a request.
const (
	terminalNone = iota
	terminalOK
	terminalFailed
)

// hopRequest is one request of a DevTools request id: the first, or one
// that a redirect started.
type hopRequest struct {
	url     string
	headers map[string]string // requestWillBeSent (what Blink set)
	// redirectStatus/redirectHeaders are this hop's 3xx answer, carried by
	// the next hop's requestWillBeSent.
	redirectStatus  int
	redirectHeaders map[string]string
}

// netRequest is everything seen about one DevTools request id. A request
// id spans its redirects: each hop has its own requestWillBeSent and
// extra-info events, which arrive in order within their own event type.
type netRequest struct {
	id   string
	hops []hopRequest
	// rawHeaders/rawResp are the extra-info events in arrival order, one
	// per hop: the headers as they crossed the wire.
	rawHeaders []map[string]string
	cookies    [][]evAssociatedCookie
	rawResp    []evResponseExtra

	status      int
	respURL     string
	respHeaders map[string]string // from responseReceived (filtered by Chrome)
	gotResponse bool

	terminal      int
	errorText     string
	canceled      bool
	blockedReason string
	corsError     string
	failedParam   string
}

// gotRaw reports whether the final hop's raw response headers arrived.
func (r *netRequest) gotRaw() bool { return len(r.rawResp) >= len(r.hops) && len(r.hops) > 0 }

// collector gathers the network events of one tab, keyed by request id, and
// wakes waiters on every event.
type collector struct {
	core.Changes
	reqs       map[string]*netRequest
	actual     map[string][]string // token -> actual request ids in order
	preflights map[string][]string // actual request id -> its preflights' ids, in order
	console    map[string][]string // token -> Chrome's CORS console messages, in order
	barriers   map[string]bool     // barrier ids whose requestWillBeSent was seen
	// gone are the request ids of observed fetches, dropped from reqs: a
	// tab runs thousands of probes, and an event that comes after the
	// observation was built must not bring a request back. Ids are unique
	// within one origin page's renderer; reset starts afresh for the next.
	gone map[string]struct{}
}

func newCollector() *collector {
	c := &collector{}
	c.reset()
	return c
}

// reset forgets everything: the tab is loading another origin page, whose
// renderer process numbers its requests anew (Chrome's request ids are
// "process id.counter", and process ids are reused), and every probe of
// the page before was observed. Callers hold c.mu or own c alone.
func (c *collector) reset() {
	c.reqs = map[string]*netRequest{}
	c.actual = map[string][]string{}
	c.preflights = map[string][]string{}
	c.console = map[string][]string{}
	c.barriers = map[string]bool{}
	c.gone = map[string]struct{}{}
}

func (c *collector) get(id string) *netRequest {
	r := c.reqs[id]
	if r == nil {
		r = &netRequest{id: id}
		if _, ok := c.gone[id]; !ok {
			c.reqs[id] = r
		}
	}
	return r
}

// drop forgets a request that is not a probe's. Callers hold c.mu.
func (c *collector) drop(id string) {
	delete(c.reqs, id)
	c.gone[id] = struct{}{}
}

// forget drops the events of observed probes (their tokens), and the
// barriers seen: a tab runs one chunk at a time, so none is still awaited.
func (c *collector) Forget(tokens []string) {
	c.Mu.Lock()
	defer c.Mu.Unlock()
	clear(c.barriers)
	for _, tok := range tokens {
		for _, id := range c.actual[tok] {
			for _, pf := range c.preflights[id] {
				c.drop(pf)
			}
			delete(c.preflights, id)
			c.drop(id)
		}
		delete(c.actual, tok)
		delete(c.console, tok)
	}
}

// update runs f under the lock and wakes every waiter.
func (c *collector) update(f func()) {
	c.Mu.Lock()
	f()
	c.Notify()
	c.Mu.Unlock()
}

// barrierPrefix starts the URL of a barrier fetch: a data: URL, so it
// needs no interception and no network, yet has its own requestWillBeSent.
const barrierPrefix = "data:text/plain,corscheck-barrier-"

// subscribe starts one goroutine per event type; they end with ctx.
func (c *collector) subscribe(ctx context.Context) {
	listen(ctx, eventRequestWillBeSent, func(e evRequestWillBeSent) {
		c.update(func() {
			if id, ok := strings.CutPrefix(e.Request.URL, barrierPrefix); ok {
				c.barriers[id] = true
				c.drop(e.RequestID)
				return
			}
			if e.Initiator.Type != "preflight" && e.RedirectResponse == nil && core.TokenOf(e.Request.URL) == "" {
				c.drop(e.RequestID) // not a probe: the origin page's own load
				return
			}
			r := c.get(e.RequestID)
			if e.RedirectResponse != nil && len(r.hops) > 0 {
				last := &r.hops[len(r.hops)-1]
				last.redirectStatus, last.redirectHeaders = e.RedirectResponse.Status, e.RedirectResponse.Headers
			}
			r.hops = append(r.hops, hopRequest{url: e.Request.URL, headers: e.Request.Headers})
			if e.Initiator.Type == "preflight" {
				if !core.Contains(c.preflights[e.Initiator.RequestID], e.RequestID) {
					c.preflights[e.Initiator.RequestID] = append(c.preflights[e.Initiator.RequestID], e.RequestID)
				}
				return
			}
			if tok := core.TokenOf(e.Request.URL); tok != "" && e.RedirectResponse == nil {
				c.actual[tok] = append(c.actual[tok], e.RequestID)
			}
		})
	})
	listen(ctx, eventRequestExtra, func(e evRequestExtra) {
		c.update(func() {
			r := c.get(e.RequestID)
			r.rawHeaders = append(r.rawHeaders, e.Headers)
			r.cookies = append(r.cookies, e.AssociatedCookies)
		})
	})
	listen(ctx, eventResponseReceived, func(e evResponseReceived) {
		c.update(func() {
			r := c.get(e.RequestID)
			r.gotResponse, r.status, r.respHeaders, r.respURL = true, e.Response.Status, e.Response.Headers, e.Response.URL
		})
	})
	listen(ctx, eventResponseExtra, func(e evResponseExtra) {
		c.update(func() {
			r := c.get(e.RequestID)
			r.rawResp = append(r.rawResp, e)
		})
	})
	listen(ctx, eventLoadingFinished, func(e evLoadingFinished) {
		c.update(func() { c.get(e.RequestID).terminal = terminalOK })
	})
	listen(ctx, eventLoadingFailed, func(e evLoadingFailed) {
		c.update(func() {
			r := c.get(e.RequestID)
			r.terminal, r.errorText, r.blockedReason, r.canceled = terminalFailed, e.ErrorText, e.BlockedReason, e.Canceled
			if e.CorsErrorStatus != nil {
				r.corsError, r.failedParam = e.CorsErrorStatus.CorsError, e.CorsErrorStatus.FailedParameter
			}
		})
	})
	listen(ctx, eventLogEntry, func(e evLogEntry) {
		// Chrome's CORS sentence comes as a javascript-source entry that
		// names the URL, not the request id: correlate by token. A fetch()
		// refused before any request ("Fetch API cannot load URL. Request
		// mode is ...") is correlated the same way.
		if e.Entry.Level != "error" {
			return
		}
		var rest string
		end := -1
		if r, ok := strings.CutPrefix(e.Entry.Text, "Access to fetch at '"); ok {
			rest, end = r, strings.IndexByte(r, '\'')
		} else if r, ok := strings.CutPrefix(e.Entry.Text, "Fetch API cannot load "); ok {
			rest, end = r, strings.IndexAny(r, " ")
			if end > 0 && rest[end-1] == '.' {
				end--
			}
		}
		if end < 0 {
			return
		}
		tok := core.TokenOf(rest[:end])
		if tok == "" {
			return
		}
		text := strings.Replace(e.Entry.Text, rest[:end], core.WithoutToken(rest[:end]), 1)
		c.update(func() { c.console[tok] = append(c.console[tok], text) })
	})
}

// listen feeds every event of one type to f until ctx ends.
func listen[E any](ctx context.Context, ev cdp.Event[E], f func(E)) {
	events := chromedp.Events(ctx, ev)
	go func() {
		for e, err := range events {
			if err != nil {
				return
			}
			f(e)
		}
	}()
}
