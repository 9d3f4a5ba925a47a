package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/reports"
)

// nginx in front, CORS split between the layers: nginx adds the headers on
// /api/items, a Go app's rs/cors adds them on /api/admin and echoes every
// Origin there. corscheck names the application's layer on /api/admin,
// prints the rs/cors fix for it, and no fix that would add a second
// Access-Control-Allow-Origin in nginx.
func TestMixedLayersGetTheirOwnFix(t *testing.T) {
	dir := t.TempDir()
	policy := writeFile(t, dir, "p.yaml", "origins: [https://app.example.com]\nmethods: [GET, POST, PUT, DELETE]\nheaders: [Content-Type, Authorization, X-Request-ID]\ncredentials: true\nmaxAge: 600\nexposeHeaders: [X-Total-Count]\npaths: [/api/admin]\n")
	out := filepath.Join(dir, "out")
	r := corscheck(t, nil, "run", "--policy", policy, "--fixture", "nginx-mixed", "--out", out)
	if r.code != 1 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, lastLines(r.stderr, 3))
	}
	res, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var nginx, app *diagnosis.Detection
	for i, d := range res.Stacks {
		switch d.Stack {
		case "nginx":
			nginx = &res.Stacks[i]
		case "go-rs-cors":
			app = &res.Stacks[i]
		}
	}
	if nginx == nil || app == nil || app.Proxy != "nginx" || app.Layer != diagnosis.LayerApp || strings.Join(app.Routes, ",") != "/api/admin" || strings.Join(nginx.Routes, ",") != "/api/items" {
		t.Fatalf("the layers per route: %+v", res.Stacks)
	}
	if len(res.Findings) == 0 {
		t.Fatal("no finding")
	}
	for _, f := range res.Findings {
		if strings.Join(f.Routes, ",") != "/api/admin" {
			t.Errorf("a finding beyond the application's route: %s %v", f.ID, f.Routes)
		}
		if f.Stack != "go-rs-cors" || !strings.Contains(f.Message, "come from the application") || !strings.Contains(f.Message, "nginx in front passes them through") {
			t.Errorf("%s does not name the layer: stack %q: %s", f.ID, f.Stack, f.Message)
		}
		if len(f.Fixes) == 0 || f.Fixes[0].Stack != "go-rs-cors" {
			t.Errorf("%s: the application's fix does not come first", f.ID)
		}
		for _, fx := range f.Fixes {
			if st := diagnosis.StackByName(fx.Stack); st != nil && st.Layer == diagnosis.LayerProxy {
				t.Errorf("%s: a %s fix would send the headers twice", f.ID, fx.Stack)
			}
		}
	}
	if strings.Contains(r.stdout, "add_header") || !strings.Contains(r.stdout, "cors.New(cors.Options{") {
		t.Errorf("the printed fix is not the application's:\n%s", r.stdout)
	}
}
