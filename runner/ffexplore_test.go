package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestFFExplore(t *testing.T) {
	if os.Getenv("FFX") == "" {
		t.Skip()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := r.Header.Get("Origin")
		switch {
		case strings.HasPrefix(r.URL.Path, "/ok"):
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Methods", "PUT")
			w.Header().Set("Access-Control-Allow-Headers", "x-a")
			w.Header().Set("Access-Control-Max-Age", "600")
		case strings.HasPrefix(r.URL.Path, "/noacao"):
		case strings.HasPrefix(r.URL.Path, "/pfnomethod"):
			w.Header().Set("Access-Control-Allow-Origin", o)
		case strings.HasPrefix(r.URL.Path, "/redir"):
			w.Header().Set("Access-Control-Allow-Origin", o)
			http.Redirect(w, r, "/ok?x=1", 302)
			return
		}
		if r.Method == "OPTIONS" {
			w.WriteHeader(204)
			return
		}
		w.Write([]byte("hi"))
	}))
	defer srv.Close()
	path, _ := FindFirefox("")
	start := time.Now()
	p, u, err := launchFirefox(path, Options{LoopbackOnly: true, StartTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.kill()
	t.Logf("listening %s after %v", u, time.Since(start))
	ctx := context.Background()
	c, err := dialBiDi(ctx, u+"/session")
	if err != nil {
		t.Fatal(err)
	}
	var sess json.RawMessage
	if err := c.call(ctx, "session.new", map[string]any{"capabilities": map[string]any{}}, &sess); err != nil {
		t.Fatal(err)
	}
	t.Logf("session after %v: %s", time.Since(start), sess)
	c.subscribe(func(m string, p json.RawMessage) {
		s := string(p)
		if len(s) > 1500 {
			s = s[:1500]
		}
		fmt.Printf("EVENT %s %s\n\n", m, s)
	})
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.call(ctx, "session.subscribe", map[string]any{"events": []string{"network.beforeRequestSent", "network.responseStarted", "network.responseCompleted", "network.fetchError", "log.entryAdded"}}, nil))
	var uc struct{ UserContext string }
	must(c.call(ctx, "browser.createUserContext", nil, &uc))
	var bc struct{ Context string }
	must(c.call(ctx, "browsingContext.create", map[string]any{"type": "tab", "userContext": uc.UserContext}, &bc))
	origin := "https://app.example.com"
	page := origin + "/__corscheck__/page.html"
	var ic struct{ Intercept string }
	must(c.call(ctx, "network.addIntercept", map[string]any{"phases": []string{"beforeRequestSent"}, "contexts": []string{bc.Context},
		"urlPatterns": []any{map[string]any{"type": "string", "pattern": page}, map[string]any{"type": "string", "pattern": origin + "/favicon.ico"}}}, &ic))
	unsub := c.subscribe(func(m string, p json.RawMessage) {
		if m != "network.beforeRequestSent" {
			return
		}
		var ev struct {
			IsBlocked bool
			Request   struct{ Request, URL string }
		}
		json.Unmarshal(p, &ev)
		if !ev.IsBlocked {
			return
		}
		go func() {
			if strings.HasSuffix(ev.Request.URL, "favicon.ico") {
				c.call(ctx, "network.provideResponse", map[string]any{"request": ev.Request.Request, "statusCode": 404, "reasonPhrase": "Not Found"}, nil)
				return
			}
			err := c.call(ctx, "network.provideResponse", map[string]any{"request": ev.Request.Request, "statusCode": 200, "reasonPhrase": "OK",
				"headers": []any{map[string]any{"name": "Content-Type", "value": map[string]string{"type": "string", "value": "text/html; charset=utf-8"}}},
				"body":    map[string]string{"type": "string", "value": "<!doctype html><title>p</title>"}}, nil)
			fmt.Println("provided", err)
		}()
	})
	must(c.call(ctx, "browsingContext.navigate", map[string]any{"context": bc.Context, "url": page, "wait": "complete"}, nil))
	unsub()
	must(c.call(ctx, "network.removeIntercept", map[string]any{"intercept": ic.Intercept}, nil))
	var res json.RawMessage
	must(c.call(ctx, "script.evaluate", map[string]any{"expression": "self.origin", "target": map[string]any{"context": bc.Context}, "awaitPromise": true}, &res))
	t.Logf("origin: %s", res)
	js := fmt.Sprintf(`(async () => { const out = []; for (const [u, m, h] of %s) { try { const r = await fetch(u, {method: m, headers: h, credentials: "include"}); out.push([u, r.status]); } catch (e) { out.push([u, String(e)]); } } return JSON.stringify(out); })()`,
		mustJSON([][]any{{srv.URL + "/ok?__corscheck=a", "PUT", map[string]string{"x-a": "1"}}, {srv.URL + "/ok?__corscheck=a", "PUT", map[string]string{"x-a": "1"}}, {srv.URL + "/noacao?__corscheck=b", "GET", map[string]string{}}, {srv.URL + "/pfnomethod?__corscheck=c", "PUT", map[string]string{}}, {srv.URL + "/redir?__corscheck=d", "GET", map[string]string{}}}))
	must(c.call(ctx, "script.evaluate", map[string]any{"expression": js, "target": map[string]any{"context": bc.Context}, "awaitPromise": true}, &res))
	t.Logf("result: %s", res)
	time.Sleep(time.Second)
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
