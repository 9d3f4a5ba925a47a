package runner

import (
	"context"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// The DevTools events we read, decoded into our own structs rather than
// cdproto's: cdproto's CorsError enum rejects values it does not know, and
// one unknown value from a newer Chrome must never lose an observation.
type (
	evRequestWillBeSent struct {
		RequestID string `json:"requestId"`
		Request   struct {
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
		} `json:"request"`
		Initiator struct {
			Type      string `json:"type"`
			RequestID string `json:"requestId"`
		} `json:"initiator"`
		RedirectResponse *struct {
			Status int `json:"status"`
		} `json:"redirectResponse"`
	}
	evRequestExtra struct {
		RequestID string            `json:"requestId"`
		Headers   map[string]string `json:"headers"`
	}
	evResponseReceived struct {
		RequestID string `json:"requestId"`
		Response  struct {
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

// netRequest is everything seen about one DevTools request id.
type netRequest struct {
	id         string
	headers    map[string]string // requestWillBeSent (what Blink set)
	rawHeaders map[string]string // requestWillBeSentExtraInfo: as on the wire

	status      int
	respHeaders map[string]string // from responseReceived (filtered by Chrome)
	rawStatus   int
	rawResp     map[string]string // responseReceivedExtraInfo: as on the wire
	gotResponse bool
	gotRaw      bool

	terminal      int
	errorText     string
	blockedReason string
	corsError     string
	failedParam   string
}

// collector gathers the network events of one tab, keyed by request id, and
// wakes waiters on every event.
type collector struct {
	mu        sync.Mutex
	reqs      map[string]*netRequest
	actual    map[string][]string // token -> actual request ids in order
	preflight map[string]string   // actual request id -> its preflight's id
	console   map[string][]string // token -> Chrome's CORS console messages, in order
	barriers  map[string]bool     // barrier ids whose requestWillBeSent was seen
	changed   chan struct{}
}

func newCollector() *collector {
	return &collector{
		reqs:      map[string]*netRequest{},
		actual:    map[string][]string{},
		preflight: map[string]string{},
		console:   map[string][]string{},
		barriers:  map[string]bool{},
		changed:   make(chan struct{}),
	}
}

func (c *collector) get(id string) *netRequest {
	r := c.reqs[id]
	if r == nil {
		r = &netRequest{id: id}
		c.reqs[id] = r
	}
	return r
}

// update runs f under the lock and wakes every waiter.
func (c *collector) update(f func()) {
	c.mu.Lock()
	f()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// subscribe starts one goroutine per event type; they end with ctx.
func (c *collector) subscribe(ctx context.Context) {
	listen(ctx, eventRequestWillBeSent, func(e evRequestWillBeSent) {
		c.update(func() {
			if i := strings.Index(e.Request.URL, "/"+barrierPath); i >= 0 {
				c.barriers[e.Request.URL[i+1+len(barrierPath):]] = true
				return
			}
			c.get(e.RequestID).headers = e.Request.Headers
			if e.Initiator.Type == "preflight" {
				c.preflight[e.Initiator.RequestID] = e.RequestID
				return
			}
			if tok := tokenOf(e.Request.URL); tok != "" && e.RedirectResponse == nil {
				c.actual[tok] = append(c.actual[tok], e.RequestID)
			}
		})
	})
	listen(ctx, eventRequestExtra, func(e evRequestExtra) {
		c.update(func() { c.get(e.RequestID).rawHeaders = e.Headers })
	})
	listen(ctx, eventResponseReceived, func(e evResponseReceived) {
		c.update(func() {
			r := c.get(e.RequestID)
			r.gotResponse, r.status, r.respHeaders = true, e.Response.Status, e.Response.Headers
		})
	})
	listen(ctx, eventResponseExtra, func(e evResponseExtra) {
		c.update(func() {
			r := c.get(e.RequestID)
			r.gotRaw, r.rawStatus, r.rawResp = true, e.StatusCode, e.Headers
		})
	})
	listen(ctx, eventLoadingFinished, func(e evLoadingFinished) {
		c.update(func() { c.get(e.RequestID).terminal = terminalOK })
	})
	listen(ctx, eventLoadingFailed, func(e evLoadingFailed) {
		c.update(func() {
			r := c.get(e.RequestID)
			r.terminal, r.errorText, r.blockedReason = terminalFailed, e.ErrorText, e.BlockedReason
			if e.CorsErrorStatus != nil {
				r.corsError, r.failedParam = e.CorsErrorStatus.CorsError, e.CorsErrorStatus.FailedParameter
			}
		})
	})
	listen(ctx, eventLogEntry, func(e evLogEntry) {
		// Chrome's CORS sentence comes as a javascript-source entry that
		// names the URL, not the request id: correlate by token.
		const prefix = "Access to fetch at '"
		if e.Entry.Level != "error" || !strings.HasPrefix(e.Entry.Text, prefix) {
			return
		}
		rest := e.Entry.Text[len(prefix):]
		end := strings.IndexByte(rest, '\'')
		if end < 0 {
			return
		}
		tok := tokenOf(rest[:end])
		if tok == "" {
			return
		}
		text := strings.Replace(e.Entry.Text, rest[:end], withoutToken(rest[:end]), 1)
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

// tokenOf extracts the correlation token from a probe URL.
func tokenOf(u string) string {
	i := strings.Index(u, tokenParam+"=")
	if i < 0 {
		return ""
	}
	tok := u[i+len(tokenParam)+1:]
	if j := strings.IndexAny(tok, "&#"); j >= 0 {
		tok = tok[:j]
	}
	return tok
}

// withoutToken removes the correlation parameter so messages show the URL
// the user asked for.
func withoutToken(u string) string {
	i := strings.Index(u, tokenParam+"=")
	if i < 1 {
		return u
	}
	j := strings.IndexAny(u[i:], "&#")
	switch {
	case j < 0:
		return u[:i-1]
	case u[i+j] == '&':
		return u[:i] + u[i+j+1:]
	default:
		return u[:i-1] + u[i+j:]
	}
}
