package webkit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
	"github.com/corscheck/corscheck/scenarios"
)

// InstallHint is the one command that fixes a missing WebKit on Debian/Ubuntu.
const InstallHint = "apt-get install -y webkit2gtk-driver xvfb   (or pass --webkit-driver PATH or WEBKIT_DRIVER_PATH)"

var webkitDriverCandidates = []string{"WebKitWebDriver", "/usr/bin/WebKitWebDriver", "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/WebKitWebDriver"}

// FindDriver returns WebKitWebDriver: explicit path,
// WEBKIT_DRIVER_PATH, then the usual names.
func FindDriver(explicit string) (string, error) {
	return core.FindBinary("WebKitWebDriver", explicit, "WEBKIT_DRIVER_PATH", webkitDriverCandidates, InstallHint)
}

// WebKit is the WebKit engine: GTK's WebKit has no headless mode, so it
// runs on a private X server (Xvfb) under WebKitWebDriver, both children
// of corscheck in their own process groups that die with it. Fetches run
// through WebDriver classic (execute/async); the origin pages and the
// record of the wire come from a loopback proxy the browser is pointed at
// (wkProxy); WebKit's reasons come from its inspector socket.
type WebKit struct {
	xvfb, driver *exec.Cmd
	exited       chan struct{} // closed when the driver exits
	driverURL    string
	session      string
	proxy        *wkProxy
	wire         *wkWire
	inspector    *wkInspector
	version      string
	client       *http.Client
	o            runner.Options

	// mu serialises the session: WebDriver runs one command at a time
	// on its one window.
	mu           sync.Mutex
	setup        string
	setupCookies []runner.CookieSpec
	scriptLimit  time.Duration
	once         sync.Once
	// attached: the driver is someone else's (--browser-url); Close ends
	// the session only.
	attached bool
}

// Engine is "webkit".
func (b *WebKit) Engine() string { return runner.EngineWebKit }

// Version is "WebKitGTK/2.50.6" (MiniBrowser's WebKit).
func (b *WebKit) Version() string { return b.version }

// PIDs are the process groups corscheck started: Xvfb and the driver (the
// browser and its helpers are in the driver's).
func (b *WebKit) PIDs() []int {
	var out []int
	for _, c := range []*exec.Cmd{b.xvfb, b.driver} {
		if c != nil && c.Process != nil {
			out = append(out, c.Process.Pid)
		}
	}
	return out
}

// Validate refuses the options a WebKit run cannot honour.
func Validate(o runner.Options) error {
	if len(o.ChromeArgs) > 0 {
		return fmt.Errorf("--chrome-arg applies to Chrome only; drop it for --browser webkit")
	}
	return nil
}

func startWebKit(ctx context.Context, o runner.Options) (runner.Browser, error) {
	if err := Validate(o); err != nil {
		return nil, err
	}
	if len(o.BrowserURLs) > 0 {
		return attach(ctx, o, o.BrowserURLs[0])
	}
	driver, err := FindDriver(o.WebKitDriverPath)
	if err != nil {
		return nil, err
	}
	xvfb, err := core.FindBinary("Xvfb", "", "XVFB_PATH", []string{"Xvfb", "/usr/bin/Xvfb"}, InstallHint)
	if err != nil {
		return nil, err
	}
	b := &WebKit{wire: newWKWire(), client: &http.Client{}, o: o, exited: make(chan struct{})}
	version, err := runner.Bounded(ctx, o.StartTimeoutFor(runner.EngineWebKit), driver, func() (string, error) {
		return b.launch(xvfb, driver)
	}, b.kill)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("start %s: %w", driver, err)
	}
	b.version = version
	return b, nil
}

// attach uses a WebKitWebDriver corscheck did not start (--browser-url
// http://127.0.0.1:PORT): corscheck opens a session on it with its own
// relay as the browser's proxy and reads the reasons from the inspector of
// the browser that driver starts. Both sit on this machine's loopback, so
// the driver must too. Close ends the session, never the driver.
func attach(ctx context.Context, o runner.Options, endpoint string) (runner.Browser, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" || u.Port() == "" || !core.LoopbackLiteral(u.Hostname()) && u.Hostname() != "localhost" {
		return nil, fmt.Errorf("--browser-url %s: WebKit attaches to a WebKitWebDriver on this machine, http://127.0.0.1:PORT (corscheck's relay serves the browser its origin pages, and WebKit's reasons come from an inspector socket on the driver's loopback)", endpoint)
	}
	b := &WebKit{wire: newWKWire(), client: &http.Client{}, o: o, exited: make(chan struct{}), attached: true,
		driverURL: strings.TrimSuffix(endpoint, "/")}
	version, err := runner.Bounded(ctx, o.StartTimeoutFor(runner.EngineWebKit), "the WebKitWebDriver at "+endpoint, func() (string, error) {
		if err := core.WebDriver(context.Background(), b.client, "GET", b.driverURL+"/status", nil, nil); err != nil {
			return "", err
		}
		pid, err := listenerPID(u.Port())
		if err != nil {
			return "", err
		}
		return b.newSession(pid, "")
	}, b.kill)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("attach to WebKitWebDriver at %s: %w", endpoint, err)
	}
	b.version = version
	return b, nil
}

// Alive reports whether the session still answers (a pool asks).
func (b *WebKit) Alive(ctx context.Context) error {
	return b.command(ctx, "GET", "/session/"+b.session+"/url", nil, nil)
}

// launch starts Xvfb, the driver, the proxy and a session, and connects to
// the browser's inspector.
func (b *WebKit) launch(xvfb, driver string) (string, error) {
	log, err := b.startDriver(xvfb, driver)
	if err != nil {
		return "", err
	}
	return b.newSession(b.driver.Process.Pid, log.String())
}

// startDriver starts Xvfb and WebKitWebDriver on a free loopback port and
// waits until the driver answers.
func (b *WebKit) startDriver(xvfb, driver string) (*tailBuffer, error) {
	display, err := b.startXvfb(xvfb)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(driver, "--port="+strconv.Itoa(port), "--host=local")
	cmd.Env = append(os.Environ(), "DISPLAY=:"+display, "GDK_BACKEND=x11", "NO_AT_BRIDGE=1", "LIBGL_ALWAYS_SOFTWARE=1",
		"WEBKIT_DISABLE_COMPOSITING_MODE=1", "GTK_A11Y=none")
	cmd.SysProcAttr = core.BrowserProcAttr()
	tail := &tailBuffer{}
	cmd.Stdout, cmd.Stderr = tail, tail
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", driver, err)
	}
	b.driver = cmd
	go func() {
		cmd.Wait()
		close(b.exited)
	}()
	b.driverURL = "http://127.0.0.1:" + strconv.Itoa(port)
	if err := b.waitDriver(); err != nil {
		return nil, fmt.Errorf("%w (%s)", err, tail.String())
	}
	return tail, nil
}

// newSession starts corscheck's relay, opens a session whose browser uses
// it as its proxy, and connects to that browser's inspector (found among
// the children of the driver, driverPID). log is the driver's output so
// far, for errors.
func (b *WebKit) newSession(driverPID int, log string) (string, error) {
	var err error
	if b.proxy, err = newWKProxy(b.o, b.wire); err != nil {
		return "", err
	}
	args := []string{"--automation", "--proxy=" + b.proxy.URL()}
	if b.o.CookieMode != runner.CookieModeAllow {
		// Safari's default: Intelligent Tracking Prevention, which
		// blocks third-party cookies.
		args = append(args, "--enable-itp")
	}
	var sess struct {
		Value struct {
			SessionID    string `json:"sessionId"`
			Capabilities struct {
				BrowserName    string `json:"browserName"`
				BrowserVersion string `json:"browserVersion"`
			} `json:"capabilities"`
		} `json:"value"`
	}
	caps := map[string]any{"acceptInsecureCerts": true, "pageLoadStrategy": "normal",
		"timeouts":                 map[string]any{"script": 60000, "pageLoad": 30000},
		"webkitgtk:browserOptions": map[string]any{"args": args}}
	if err := b.command(context.Background(), "POST", "/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": caps}}, &sess); err != nil {
		return "", fmt.Errorf("new session: %w (%s)", err, log)
	}
	b.session = sess.Value.SessionID
	b.scriptLimit = 60 * time.Second
	if b.o.Bare {
		// No inspector: the floor observes nothing.
		return "WebKitGTK/" + sess.Value.Capabilities.BrowserVersion, nil
	}
	if addr, err := inspectorPort(driverPID); err == nil {
		if in, err := dialInspector(addr, b.wire.inspectorEvent); err == nil {
			b.inspector = in
		}
	}
	if b.inspector == nil {
		return "", errors.New("WebKit's inspector socket could not be reached: without it WebKit gives no reason for a block")
	}
	version := sess.Value.Capabilities.BrowserVersion
	return "WebKitGTK/" + version, nil
}

func (b *WebKit) startXvfb(path string) (string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	cmd := exec.Command(path, "-displayfd", "3", "-nolisten", "tcp", "-nolisten", "unix", "-screen", "0", "1280x800x24")
	// -nolisten unix keeps the abstract socket only: nothing on disk.
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = core.BrowserProcAttr()
	var tail tailBuffer
	cmd.Stderr = &tail
	if err := cmd.Start(); err != nil {
		w.Close()
		return "", fmt.Errorf("start %s: %w", path, err)
	}
	w.Close()
	b.xvfb = cmd
	line, err := bufio.NewReader(r).ReadString('\n')
	display := strings.TrimSpace(line)
	if _, perr := strconv.Atoi(display); perr != nil {
		return "", fmt.Errorf("%s gave no display (%v): %s", path, err, tail.String())
	}
	return display, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitDriver waits until the driver answers /status (it prints nothing
// when it is ready), or exits.
func (b *WebKit) waitDriver() error {
	backoff := 5 * time.Millisecond
	for {
		resp, err := b.client.Get(b.driverURL + "/status")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-b.exited:
			return errors.New("WebKitWebDriver exited before it answered")
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// command sends one WebDriver command and decodes its answer.
func (b *WebKit) command(ctx context.Context, method, path string, body, out any) error {
	err := core.WebDriver(ctx, b.client, method, b.driverURL+path, body, out)
	if err != nil && !errors.Is(err, runner.ErrBrowserGone) {
		select {
		case <-b.exited:
			return fmt.Errorf("%w: WebKitWebDriver exited", runner.ErrBrowserGone)
		default:
		}
	}
	return err
}

// Close ends the session, the driver, the browser and Xvfb. Safe to call twice.
func (b *WebKit) Close() {
	if b == nil {
		return
	}
	b.once.Do(func() {
		if b.session != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			b.command(ctx, "DELETE", "/session/"+b.session, nil, nil)
			cancel()
		}
		b.kill()
	})
}

func (b *WebKit) kill() {
	if b.inspector != nil {
		b.inspector.close()
	}
	if b.proxy != nil {
		b.proxy.Close()
	}
	for _, c := range []*exec.Cmd{b.driver, b.xvfb} {
		if c == nil || c.Process == nil {
			continue
		}
		syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
	}
	if b.driver != nil && b.driver.Process != nil {
		select {
		case <-b.exited:
		case <-time.After(3 * time.Second):
		}
	}
	for _, c := range []*exec.Cmd{b.driver, b.xvfb} {
		if c != nil && c.Process != nil {
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
	if b.xvfb != nil && b.xvfb.Process != nil {
		b.xvfb.Wait()
	}
}

// tailBuffer keeps the last lines a child wrote, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = t.buf[len(t.buf)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return "no output"
	}
	return strings.Join(lines[max(0, len(lines)-3):], " | ")
}

// Run executes the probes: origin after origin in the session's one
// window, each origin's probes in chunks of the page script.
func (b *WebKit) Run(ctx context.Context, probes []runner.Probe, o runner.RunOptions) ([][]scenarios.Observation, error) {
	o.Pages = 1 // one window: WebDriver runs one script at a time
	return core.RunByOrigin(ctx, probes, o, b.version, runner.EngineWebKit, func(bt *core.Batch, work <-chan core.OriginWork) {
		for w := range work {
			b.runOrigin(ctx, bt, w.Origin, w.Idx)
		}
	})
}

func (b *WebKit) runOrigin(ctx context.Context, bt *core.Batch, origin string, idx []int) {
	if ctx.Err() != nil {
		return
	}
	o := bt.Opts
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.applySetup(ctx, o.Setup); err != nil {
		if ctx.Err() == nil {
			bt.Fail(idx, err)
		}
		return
	}
	if err := b.load(ctx, origin); err != nil {
		if ctx.Err() == nil {
			bt.Fail(idx, err)
		}
		return
	}
	run := func(runID string, chunk []int) ([][]scenarios.Observation, error) {
		return b.runChunk(ctx, runID, bt.Probes, chunk, o, bt.Kinds.Snapshot(), origin)
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
			// A page stuck in a script is reloaded for the next chunk.
			if err := b.load(ctx, origin); err != nil {
				bt.Fail(idx[start+len(chunk):], err)
				return
			}
			continue
		}
		bt.Store(chunk, obs)
		bt.RetryLater(ctx, chunk, run)
		bt.Report(chunk)
	}
}

// applySetup puts the page setup's cookies in the browser's jar the way a
// user gets them: a first-party page on the API's site answers with
// Set-Cookie. A different setup first expires the previous one's cookies.
func (b *WebKit) applySetup(ctx context.Context, setup runner.PageSetup) error {
	key := core.SetupKey(runner.PageSetup{Cookies: setup.Cookies})
	if key == b.setup {
		return nil
	}
	if len(b.setupCookies) > 0 {
		b.proxy.clearCookies(b.setupCookies)
		for _, u := range cookieSetupURLs(b.setupCookies) {
			if err := b.navigate(ctx, u); err != nil {
				return fmt.Errorf("clear cookies: %w", err)
			}
		}
	}
	b.proxy.setCookies(setup.Cookies)
	for _, u := range cookieSetupURLs(setup.Cookies) {
		if err := b.navigate(ctx, u); err != nil {
			return fmt.Errorf("set cookies on %s: %w", u, err)
		}
	}
	b.setup, b.setupCookies = key, setup.Cookies
	return nil
}

func cookieSetupURLs(cs []runner.CookieSpec) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range cs {
		if u := cookieSetupURL(c); !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

func (b *WebKit) navigate(ctx context.Context, u string) error {
	return b.command(ctx, "POST", "/session/"+b.session+"/url", map[string]any{"url": u}, nil)
}

// load navigates the window to the synthetic page on origin and checks
// its origin; the inspector's new page target (a cross-site navigation
// swaps the web process) is listening before any probe runs.
func (b *WebKit) load(ctx context.Context, origin string) error {
	pageURL, _, err := core.PageURLFor(origin)
	if err != nil {
		return err
	}
	if err := b.navigate(ctx, pageURL); err != nil {
		return fmt.Errorf("load origin page %s: %w", pageURL, err)
	}
	var got struct {
		Value string `json:"value"`
	}
	if err := b.command(ctx, "POST", "/session/"+b.session+"/execute/sync", map[string]any{"script": "return self.origin", "args": []any{}}, &got); err != nil {
		return fmt.Errorf("origin page %s: %w", pageURL, err)
	}
	if got.Value != origin {
		return fmt.Errorf("origin page %s has origin %q, want %q", pageURL, got.Value, origin)
	}
	if b.inspector != nil && !b.inspector.ready(5*time.Second) {
		return errors.New("WebKit's inspector did not start listening to the page")
	}
	return nil
}

// runChunk runs some probes in one execute/async of the page script and
// builds their observations from the relay's record and WebKit's reasons.
func (b *WebKit) runChunk(ctx context.Context, runID string, probes []runner.Probe, chunk []int, o runner.RunOptions, silent [2]int, origin string) ([][]scenarios.Observation, error) {
	call, err := core.NewChunkCall(runID, probes, chunk, o, silent)
	if err != nil {
		return nil, err
	}
	if call.Deadline > b.scriptLimit {
		if err := b.command(ctx, "POST", "/session/"+b.session+"/timeouts", map[string]any{"script": call.Deadline.Milliseconds()}, nil); err != nil {
			return nil, err
		}
		b.scriptLimit = call.Deadline
	}
	script := "const done = arguments[arguments.length - 1]; " + call.Expr +
		".then(r => done(JSON.stringify(r)), e => done(JSON.stringify({error: String(e)})));"
	evalCtx, cancel := context.WithTimeout(ctx, call.Deadline+5*time.Second)
	defer cancel()
	var res struct {
		Value string `json:"value"`
	}
	if err := b.command(evalCtx, "POST", "/session/"+b.session+"/execute/async", map[string]any{"script": script, "args": []any{}}, &res); err != nil {
		return nil, err
	}
	var results []core.JSResult
	if err := json.Unmarshal([]byte(res.Value), &results); err != nil {
		return nil, fmt.Errorf("page results: %s", scenarios.Visible(res.Value))
	}
	if len(results) != len(call.Refs) {
		return nil, fmt.Errorf("page returned %d results for %d fetches", len(results), len(call.Refs))
	}
	if b.o.Bare {
		return call.Observations(ctx, core.BareEvents{Engine: runner.EngineWebKit}, nil, results, origin, b.version), nil
	}
	return call.Observations(ctx, wkChunkEvents{w: b.wire, inspector: b.inspector != nil, cookies: b.setupCookies}, nil, results, origin, b.version), nil
}

// wkChunkEvents is the WebKit side of a chunk: the relay's record and the
// inspector's reasons.
type wkChunkEvents struct {
	w         *wkWire
	inspector bool
	cookies   []runner.CookieSpec
}

func (e wkChunkEvents) Wait(ctx context.Context, done func() bool, limit time.Duration) {
	e.w.Wait(ctx, done, limit)
}

func (e wkChunkEvents) Complete(token string, seq int, js core.JSResult) bool {
	return e.w.completeFetch(token, seq, js, e.inspector)
}

func (e wkChunkEvents) Observe(origin, token string, seq int, f runner.Fetch, js core.JSResult, version string) scenarios.Observation {
	e.w.Mu.Lock()
	defer e.w.Mu.Unlock()
	return e.w.observeFetch(origin, token, seq, f, js, version, e.cookies)
}

func (e wkChunkEvents) Forget(tokens []string) { e.w.Forget(tokens) }
