package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/corscheck/corscheck/reports"
)

// A target that passes every check before the batch and then stops
// answering: exit 2 with the reason, never "0 passed, 0 failed" and exit 0.
func TestRunTargetDownAfterTheCheck(t *testing.T) {
	var served atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		if served.Add(1) == 2 { // the browser's check and discovery got answers; then the server goes away
			go ln.Close()
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	out := t.TempDir()
	r := corscheck(t, nil, "run", "--policy", "../../fixtures/policies/sample.yaml", "--target", "http://"+ln.Addr().String()+"/api", "--timeout", "2s", "--out", out)
	if r.code != 2 || !strings.Contains(r.stderr, "stopped answering") {
		t.Fatalf("exit %d, want 2 naming the target that stopped answering\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "0 passed, 0 failed, 0 errored") {
		t.Errorf("a run of nothing is reported: %s", r.stdout)
	}
	if res, err := reports.ReadResults(filepath.Join(out, "results.json")); err != nil || res.Summary.Total == 0 {
		t.Errorf("the results of what did run must be written: %v", err)
	}
}

// Browsers that never answer, and endpoints that are not browsers: exit 2
// with one line, within the start timeout, and Ctrl-C works while waiting.
func TestBrowserStartIsBounded(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "silent-chrome")
	os.WriteFile(fake, []byte("#!/bin/sh\nexec sleep 600\n"), 0o755)
	target := corsTarget(t)

	r := corscheck(t, nil, "probe", target, "--origin", "https://a.example", "--chrome", fake, "--start-timeout", "2s")
	if r.code != 2 || !strings.Contains(r.stderr, "did not answer within 2s") || r.took > 6*time.Second {
		t.Errorf("silent --chrome: exit %d after %s: %s", r.code, r.took, r.stderr)
	}
	if left := processesMentioning(fake); len(left) > 0 {
		t.Errorf("the silent browser was left running: %v", left)
	}

	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><title>not chrome</title>")
	}))
	defer html.Close()
	r = corscheck(t, nil, "probe", target, "--origin", "https://a.example", "--browser-url", html.URL)
	if r.code != 2 || !strings.Contains(r.stderr, html.URL+": not a Chrome DevTools endpoint (got an HTML page") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("HTML --browser-url: exit %d: %q", r.code, r.stderr)
	}

	// Accepts the WebSocket, never answers a command.
	var ws *httptest.Server
	ws = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/json/version" {
			fmt.Fprintf(w, `{"Browser":"Silent/1","webSocketDebuggerUrl":"ws://%s/devtools/browser/x"}`, strings.TrimPrefix(ws.URL, "http://"))
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		<-r.Context().Done()
	}))
	defer ws.Close()
	r = corscheck(t, nil, "probe", target, "--origin", "https://a.example", "--browser-url", ws.URL, "--start-timeout", "2s")
	if r.code != 2 || !strings.Contains(r.stderr, "did not answer within 2s") || r.took > 6*time.Second {
		t.Errorf("silent WebSocket: exit %d after %s: %q", r.code, r.took, r.stderr)
	}

	// Ctrl-C while the browser start hangs: out at once.
	cmd := exec.Command(bin, "run", "--chrome", fake, "--start-timeout", "60s", "--out", filepath.Join(dir, "out"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(processesMentioning(fake)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // the fake browser has no event to wait on
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Ctrl-C during the browser start took %s: %s", took, stderr.String())
	}
	if left := processesMentioning(fake); len(left) > 0 {
		t.Errorf("the browser being started outlived Ctrl-C: %v", left)
	}
}

// hostileTarget answers every request with header values that carry an
// escape sequence and a right-to-left override, written raw on the wire.
func hostileTarget(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 8192)
				for {
					n, err := c.Read(buf)
					if err != nil || n == 0 {
						return
					}
					origin := ""
					for _, line := range strings.Split(string(buf[:n]), "\r\n") {
						if v, ok := strings.CutPrefix(strings.ToLower(line), "origin: "); ok {
							origin = v
						}
					}
					evil := origin + "\x1b[2J\u202e(13 cases)"
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: %s\r\nX-Note: \x1b]0;pwned\x07\u202eesrever\r\nContent-Length: 0\r\n\r\n", evil)
				}
			}(c)
		}
	}()
	return "http://" + ln.Addr().String()
}

// Nothing a target sends can rewrite corscheck's text: escape sequences
// and bidi controls from header values appear as visible escapes in the
// terminal, JUnit, the HTML report, diff's Markdown and text, and in the
// messages of results.json.
func TestHostileTextIsDataNeverControl(t *testing.T) {
	base := hostileTarget(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	r := corscheck(t, nil, "run", "--policy", "../../fixtures/policies/sample.yaml", "--target", base+"/api", "--label-filter", "family:simple", "--out", out)
	if r.code != 1 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	good := filepath.Join(dir, "good")
	if g := corscheck(t, nil, "run", "--label-filter", "family:simple", "--out", good); g.code != 0 {
		t.Fatalf("demo: %d %s", g.code, g.stderr)
	}
	md := filepath.Join(dir, "diff.md")
	d := corscheck(t, nil, "diff", filepath.Join(good, "results.json"), filepath.Join(out, "results.json"), "--markdown", md, "--html", filepath.Join(dir, "diff.html"))
	texts := map[string]string{"run stdout": r.stdout, "run stderr": r.stderr, "diff stdout": d.stdout}
	for _, name := range []string{"out/junit.xml", "out/report.html", "diff.md", "diff.html"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		texts[name] = string(b)
	}
	res, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ours strings.Builder
	for _, c := range res.Cases {
		ours.WriteString(c.Message + c.Fix)
	}
	for _, f := range res.Findings {
		ours.WriteString(f.Message + f.Fix)
	}
	texts["results.json messages"] = ours.String()
	for name, text := range texts {
		if strings.ContainsAny(text, "\x1b\u202e\x07") {
			t.Errorf("%s carries a raw escape or bidi control", name)
		}
	}
	for _, name := range []string{"run stdout", "out/report.html", "out/junit.xml"} {
		if !strings.Contains(texts[name], `\u202e`) && !strings.Contains(texts[name], `\x1b`) {
			t.Errorf("%s does not show the hostile value as escapes: the test proves nothing", name)
		}
	}
}
