package firefox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
	"github.com/corscheck/corscheck/scenarios"
)

// Firefox is the Firefox engine over WebDriver BiDi: one browser corscheck
// starts, a user context (own cookie jar and preflight cache) and a tab
// per origin page.
type Firefox struct {
	proc    *firefoxProcess
	conn    *bidiConn
	version string
	path    string

	mu   sync.Mutex
	tabs map[string]*ffCollector // browsing context id -> its events
	once sync.Once
	// lifecycle serialises creating and removing user contexts and tabs:
	// done concurrently, Firefox sometimes discards a tab it is creating.
	lifecycle sync.Mutex
	// bare observes nothing (Options.Bare): no event subscription but the
	// page's own request while it loads.
	bare bool
	// sessionEnd: the BiDi session is corscheck's own (session.end on
	// Close); classic is the WebDriver classic session behind it, when an
	// endpoint started the browser (DELETE on Close).
	sessionEnd bool
	classic    string
}

// Engine is "firefox".
func (b *Firefox) Engine() string { return runner.EngineFirefox }

// Version is "Firefox/153.8.0".
func (b *Firefox) Version() string { return b.version }

// PID is the main Firefox process.
func (b *Firefox) PID() int {
	if b.proc != nil && b.proc.cmd.Process != nil {
		return b.proc.cmd.Process.Pid
	}
	return 0
}

// Profile is the temporary profile directory (removed by Close).
func (b *Firefox) Profile() string {
	if b.proc == nil {
		return ""
	}
	return b.proc.profile
}

var ffEvents = []string{"network.beforeRequestSent", "network.responseStarted", "network.fetchError", "log.entryAdded"}

func startFirefox(ctx context.Context, o runner.Options) (runner.Browser, error) {
	if err := Validate(o); err != nil {
		return nil, err
	}
	if len(o.BrowserURLs) > 0 {
		return attach(ctx, o, o.BrowserURLs[0])
	}
	path, err := Find(o.FirefoxPath)
	if err != nil {
		return nil, err
	}
	b := &Firefox{path: path, tabs: map[string]*ffCollector{}, bare: o.Bare}
	version, err := runner.Bounded(ctx, o.StartTimeoutFor(runner.EngineFirefox), path, func() (string, error) {
		proc, wsURL, err := launchFirefox(path, o)
		if err != nil {
			return "", err
		}
		b.proc = proc
		return b.connect(wsURL+"/session", true, o)
	}, b.Close)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	b.version = version
	return b, nil
}

// attach uses a Firefox corscheck did not start (--browser-url): its
// WebDriver BiDi endpoint (ws://HOST:PORT of a Firefox started with
// --remote-debugging-port, used as it was started), or a WebDriver classic
// endpoint (http://HOST:PORT of geckodriver or a Selenium Grid), which
// starts a Firefox with corscheck's preferences and hands over its BiDi
// socket. Close ends the session, never the browser's machine.
func attach(ctx context.Context, o runner.Options, endpoint string) (runner.Browser, error) {
	b := &Firefox{tabs: map[string]*ffCollector{}, bare: o.Bare, path: endpoint}
	version, err := runner.Bounded(ctx, o.StartTimeoutFor(runner.EngineFirefox), "the Firefox at "+endpoint, func() (string, error) {
		u, err := url.Parse(endpoint)
		if err != nil {
			return "", err
		}
		if u.Scheme == "ws" || u.Scheme == "wss" {
			ws := endpoint
			if u.Path == "" || u.Path == "/" {
				ws = strings.TrimSuffix(endpoint, "/") + "/session"
			}
			return b.connect(ws, true, o)
		}
		ws, err := b.classicSession(strings.TrimSuffix(endpoint, "/"), o)
		if err != nil {
			return "", err
		}
		return b.connect(ws, false, o)
	}, b.Close)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("attach to Firefox at %s: %w", endpoint, err)
	}
	b.version = version
	return b, nil
}

// classicSession opens a WebDriver classic session that asks for a BiDi
// socket (webSocketUrl) and returns that socket's address.
func (b *Firefox) classicSession(endpoint string, o runner.Options) (string, error) {
	caps := map[string]any{"browserName": "firefox", "webSocketUrl": true, "acceptInsecureCerts": o.Insecure,
		"moz:firefoxOptions": map[string]any{"args": []string{"-headless"}, "prefs": Prefs(o)}}
	var resp struct {
		Value struct {
			SessionID    string `json:"sessionId"`
			Capabilities struct {
				WebSocketURL string `json:"webSocketUrl"`
			} `json:"capabilities"`
			Error   string `json:"error"`
			Message string `json:"message"`
		} `json:"value"`
	}
	if err := core.WebDriver(context.Background(), http.DefaultClient, "POST", endpoint+"/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": caps}}, &resp); err != nil {
		return "", err
	}
	if resp.Value.Capabilities.WebSocketURL == "" {
		return "", errors.New("the WebDriver endpoint gave no WebDriver BiDi socket (webSocketUrl): it needs geckodriver 0.31 or later, or a Grid that passes webSocketUrl")
	}
	b.classic = endpoint + "/session/" + resp.Value.SessionID
	return resp.Value.Capabilities.WebSocketURL, nil
}

// connect opens the BiDi socket, starts a session on it (newSession; a
// classic session already has one) and subscribes to the events the
// observations are built from.
func (b *Firefox) connect(ws string, newSession bool, o runner.Options) (string, error) {
	conn, err := dialBiDi(context.Background(), ws)
	if err != nil {
		return "", fmt.Errorf("connect to its WebDriver BiDi endpoint %s: %w", ws, err)
	}
	b.conn = conn
	b.sessionEnd = newSession
	version := ""
	if newSession {
		var sess struct {
			Capabilities struct {
				BrowserVersion string `json:"browserVersion"`
			} `json:"capabilities"`
		}
		caps := map[string]any{"acceptInsecureCerts": o.Insecure}
		if err := conn.call(context.Background(), "session.new", map[string]any{"capabilities": map[string]any{"alwaysMatch": caps}}, &sess); err != nil {
			return "", err
		}
		version = sess.Capabilities.BrowserVersion
	}
	if version == "" {
		// A classic session's BiDi socket: the browser says its version.
		var r struct {
			Result struct {
				Value string `json:"value"`
			} `json:"result"`
		}
		var tree struct {
			Contexts []struct {
				Context string `json:"context"`
			} `json:"contexts"`
		}
		if err := conn.call(context.Background(), "browsingContext.getTree", map[string]any{}, &tree); err != nil || len(tree.Contexts) == 0 {
			return "", fmt.Errorf("no browsing context in the attached Firefox: %v", err)
		}
		if err := conn.call(context.Background(), "script.evaluate", map[string]any{"expression": "navigator.userAgent", "target": map[string]any{"context": tree.Contexts[0].Context}, "awaitPromise": false}, &r); err != nil {
			return "", err
		}
		if _, v, ok := strings.Cut(r.Result.Value, "Firefox/"); ok {
			version = v
		}
	}
	conn.subscribe(b.dispatch)
	if !b.bare {
		if err := conn.call(context.Background(), "session.subscribe", map[string]any{"events": ffEvents}, nil); err != nil {
			return "", err
		}
	}
	return "Firefox/" + version, nil
}

// Alive reports whether the browser still answers (a pool asks).
func (b *Firefox) Alive(ctx context.Context) error {
	return b.conn.call(ctx, "session.status", nil, nil)
}

// dispatch hands each event to the tab it belongs to.
func (b *Firefox) dispatch(method string, params json.RawMessage) {
	var ev ffEvent
	if json.Unmarshal(params, &ev) != nil {
		return
	}
	id := ev.Context
	if id == "" {
		id = ev.Source.Context
	}
	b.mu.Lock()
	c := b.tabs[id]
	b.mu.Unlock()
	if c != nil {
		c.handle(method, &ev)
	}
}

// Close ends the session and the browser (its whole process group) and
// removes the profile. Safe to call twice.
func (b *Firefox) Close() {
	if b == nil {
		return
	}
	b.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if b.conn != nil {
			if b.sessionEnd {
				b.conn.call(ctx, "session.end", nil, nil)
			}
			b.conn.close()
		}
		if b.classic != "" {
			// The classic session is ours: ending it closes the browser the
			// endpoint started for it.
			core.WebDriver(ctx, http.DefaultClient, "DELETE", b.classic, nil, nil)
		}
		b.proc.kill()
	})
}

// ffPage is one tab whose document has the probe origin.
type ffPage struct {
	b           *Firefox
	origin      string
	context     string
	userContext string
	events      *ffCollector
}

const ffCallTimeout = 30 * time.Second

func (b *Firefox) call(ctx context.Context, method string, params, out any) error {
	ctx, cancel := context.WithTimeout(ctx, ffCallTimeout)
	defer cancel()
	return b.conn.call(ctx, method, params, out)
}

// openPage makes a user context and a tab in it, and loads the synthetic
// page on origin: network.addIntercept catches only the page's own URL (and
// its favicon) while it loads, and is removed before any probe runs.
func (b *Firefox) openPage(ctx context.Context, origin string, setup runner.PageSetup) (*ffPage, error) {
	pageURL, sandboxed, err := core.PageURLFor(origin)
	if err != nil {
		return nil, err
	}
	var uc struct {
		UserContext string `json:"userContext"`
	}
	var bc struct {
		Context string `json:"context"`
	}
	b.lifecycle.Lock()
	err = b.call(ctx, "browser.createUserContext", nil, &uc)
	if err == nil {
		err = b.call(ctx, "browsingContext.create", map[string]any{"type": "tab", "userContext": uc.UserContext}, &bc)
	}
	b.lifecycle.Unlock()
	p := &ffPage{b: b, origin: origin, userContext: uc.UserContext, context: bc.Context, events: newFFCollector()}
	if err != nil {
		p.close()
		return nil, fmt.Errorf("open tab for origin %s: %w", origin, err)
	}
	b.mu.Lock()
	b.tabs[p.context] = p.events
	b.mu.Unlock()
	for _, ck := range setup.Cookies {
		if err := b.setCookie(ctx, uc.UserContext, ck); err != nil {
			p.close()
			return nil, fmt.Errorf("set cookie %s: %w", ck.Name, err)
		}
	}
	favicon := strings.TrimSuffix(pageURL, core.PagePath) + "/favicon.ico"
	var ic struct {
		Intercept string `json:"intercept"`
	}
	if err := b.call(ctx, "network.addIntercept", map[string]any{
		"phases": []string{"beforeRequestSent"}, "contexts": []string{p.context},
		"urlPatterns": []any{map[string]string{"type": "string", "pattern": pageURL}, map[string]string{"type": "string", "pattern": favicon}},
	}, &ic); err != nil {
		p.close()
		return nil, fmt.Errorf("intercept origin page %s: %w", pageURL, err)
	}
	// A bare browser hears of the page's own request only, in this tab,
	// while it loads.
	var sub struct {
		Subscription string `json:"subscription"`
	}
	if b.bare {
		if err := b.call(ctx, "session.subscribe", map[string]any{"events": []string{"network.beforeRequestSent"}, "contexts": []string{p.context}}, &sub); err != nil {
			p.close()
			return nil, fmt.Errorf("origin page %s: %w", pageURL, err)
		}
	}
	// Answer the page's own request while the navigation runs.
	stop := b.conn.subscribe(func(method string, params json.RawMessage) {
		if method != "network.beforeRequestSent" {
			return
		}
		var ev ffNetworkEvent
		if json.Unmarshal(params, &ev) != nil || !ev.IsBlocked || ev.Context != p.context {
			return
		}
		go b.answerPage(ev.Request.Request, ev.Request.URL == pageURL, sandboxed)
	})
	err = b.call(ctx, "browsingContext.navigate", map[string]any{"context": p.context, "url": pageURL, "wait": "complete"}, nil)
	stop()
	if rerr := b.call(ctx, "network.removeIntercept", map[string]any{"intercept": ic.Intercept}, nil); err == nil && rerr != nil {
		err = rerr
	}
	if sub.Subscription != "" {
		if rerr := b.call(ctx, "session.unsubscribe", map[string]any{"subscriptions": []string{sub.Subscription}}, nil); err == nil && rerr != nil {
			err = rerr
		}
	}
	if err != nil {
		p.close()
		return nil, fmt.Errorf("load origin page %s: %w", pageURL, err)
	}
	got, err := p.evaluate(ctx, "self.origin")
	if err != nil {
		p.close()
		return nil, fmt.Errorf("origin page %s: %w", pageURL, err)
	}
	if got != origin {
		p.close()
		return nil, fmt.Errorf("origin page %s has origin %q, want %q", pageURL, got, origin)
	}
	return p, nil
}

// answerPage provides the synthetic page (or a 404 for its favicon).
func (b *Firefox) answerPage(request string, page, sandboxed bool) {
	ctx := context.Background()
	if !page {
		b.call(ctx, "network.provideResponse", map[string]any{"request": request, "statusCode": 404, "reasonPhrase": "Not Found",
			"headers": []bidiHeader{{Name: "Content-Length", Value: bidiValue{"string", "0"}}}}, nil)
		return
	}
	headers := []bidiHeader{{Name: "Content-Type", Value: bidiValue{"string", "text/html; charset=utf-8"}}, {Name: "Cache-Control", Value: bidiValue{"string", "no-store"}}}
	if sandboxed {
		headers = append(headers, bidiHeader{Name: "Content-Security-Policy", Value: bidiValue{"string", "sandbox allow-scripts"}})
	}
	b.call(ctx, "network.provideResponse", map[string]any{"request": request, "statusCode": 200, "reasonPhrase": "OK",
		"headers": headers, "body": bidiValue{"string", core.PageHTML}}, nil)
}

func (b *Firefox) setCookie(ctx context.Context, userContext string, c runner.CookieSpec) error {
	domain := c.Domain
	if domain == "" {
		if u, err := url.Parse(c.URL); err == nil {
			domain = u.Hostname()
		}
	}
	path := c.Path
	if path == "" {
		path = "/"
	}
	ck := map[string]any{"name": c.Name, "value": bidiValue{"string", c.Value}, "domain": domain, "path": path, "secure": c.Secure, "httpOnly": c.HTTPOnly}
	switch strings.ToLower(c.SameSite) {
	case "strict":
		ck["sameSite"] = "strict"
	case "lax":
		ck["sameSite"] = "lax"
	case "none":
		ck["sameSite"] = "none"
	}
	return b.call(ctx, "storage.setCookie", map[string]any{"cookie": ck, "partition": map[string]any{"type": "storageKey", "userContext": userContext}}, nil)
}

// evaluate runs an expression in the page and returns its string result.
func (p *ffPage) evaluate(ctx context.Context, expr string) (string, error) {
	var res struct {
		Type   string `json:"type"`
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	err := p.b.conn.call(ctx, "script.evaluate", map[string]any{"expression": expr, "target": map[string]any{"context": p.context}, "awaitPromise": true, "resultOwnership": "none"}, &res)
	if err != nil {
		return "", err
	}
	if res.Type == "exception" {
		msg := "script error"
		if res.ExceptionDetails != nil {
			msg = res.ExceptionDetails.Text
		}
		return "", errors.New(msg)
	}
	var s string
	if err := json.Unmarshal(res.Result.Value, &s); err != nil {
		return "", fmt.Errorf("script returned %s, not a string", res.Result.Type)
	}
	return s, nil
}

func (p *ffPage) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.b.lifecycle.Lock()
	defer p.b.lifecycle.Unlock()
	if p.context != "" {
		p.b.conn.call(ctx, "browsingContext.close", map[string]any{"context": p.context}, nil)
		p.b.mu.Lock()
		delete(p.b.tabs, p.context)
		p.b.mu.Unlock()
	}
	if p.userContext != "" {
		p.b.conn.call(ctx, "browser.removeUserContext", map[string]any{"userContext": p.userContext}, nil)
	}
}

// Run executes the probes like Chrome.Run: probes grouped by origin (a
// tab each), tabs in parallel, each observation built from its own
// events. A browser that goes away turns the rest into errors.
func (b *Firefox) Run(ctx context.Context, probes []runner.Probe, o runner.RunOptions) ([][]scenarios.Observation, error) {
	return core.RunByOrigin(ctx, probes, o, b.version, runner.EngineFirefox, func(bt *core.Batch, work <-chan core.OriginWork) {
		for w := range work {
			b.runOrigin(ctx, bt, w.Origin, w.Idx)
		}
	})
}

// runOrigin runs the probes idx of one origin in chunks on a page of its
// own (a fresh user context).
func (b *Firefox) runOrigin(ctx context.Context, bt *core.Batch, origin string, idx []int) {
	if ctx.Err() != nil {
		return
	}
	o := bt.Opts
	page, err := b.openPage(ctx, origin, o.Setup)
	for attempt := 1; err != nil && attempt < 3 && ctx.Err() == nil && !errors.Is(err, runner.ErrBrowserGone); attempt++ {
		// Firefox sometimes discards a tab it is still creating: the
		// browser's hiccup, never the server's fault.
		page, err = b.openPage(ctx, origin, o.Setup)
	}
	if err != nil {
		if ctx.Err() == nil {
			bt.Fail(idx, err)
		}
		return
	}
	defer func() { page.close() }()
	run := func(runID string, chunk []int) ([][]scenarios.Observation, error) {
		return page.runChunk(ctx, runID, bt.Probes, chunk, o, bt.Kinds.Snapshot())
	}
	for start := 0; start < len(idx); start += o.ChunkSize {
		if ctx.Err() != nil {
			return
		}
		chunk := idx[start:min(start+o.ChunkSize, len(idx))]
		obs, err := run(bt.RunID, chunk)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			bt.Fail(chunk, err)
			if errors.Is(err, runner.ErrBrowserGone) {
				bt.Fail(idx[start+len(chunk):], err)
				return
			}
			continue
		}
		timedOut := bt.Store(chunk, obs)
		bt.RetryLater(ctx, chunk, run)
		bt.Report(chunk)
		if timedOut && start+o.ChunkSize < len(idx) {
			// Requests never answered may hold the tab's connections: a
			// fresh user context starts with none.
			page.close()
			if page, err = b.openPage(ctx, origin, o.Setup); err != nil {
				if ctx.Err() == nil {
					bt.Fail(idx[start+o.ChunkSize:], err)
				}
				return
			}
		}
	}
}

// runChunk runs some probes in one script.evaluate (the same page script
// as Chrome's) and builds their observations from the tab's events.
func (p *ffPage) runChunk(ctx context.Context, runID string, probes []runner.Probe, chunk []int, o runner.RunOptions, silent [2]int) ([][]scenarios.Observation, error) {
	call, err := core.NewChunkCall(runID, probes, chunk, o, silent)
	if err != nil {
		return nil, err
	}
	refs, deadline := call.Refs, call.Deadline
	expr := "(async () => JSON.stringify(await " + call.Expr + "))()"
	evalCtx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	raw, err := p.evaluate(evalCtx, expr)
	if err != nil {
		return nil, err
	}
	var results []core.JSResult
	if err := json.Unmarshal([]byte(raw), &results); err != nil {
		return nil, fmt.Errorf("page results: %w", err)
	}
	if len(results) != len(refs) {
		return nil, fmt.Errorf("page returned %d results for %d fetches", len(results), len(refs))
	}
	if p.b.bare {
		return call.Observations(ctx, core.BareEvents{Engine: runner.EngineFirefox}, nil, results, p.origin, p.b.version), nil
	}
	// Network events come from the parent process, console messages from
	// the content process: wait until each fetch has what it needs.
	return call.Observations(ctx, p.events, nil, results, p.origin, p.b.version), nil
}
