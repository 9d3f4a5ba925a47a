package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
)

// Three shards of the demo, merged, are the unsharded run: the same
// results.json, junit.xml and report.html, timings aside.
func TestShardsMergeToTheUnshardedRun(t *testing.T) {
	pol, err := fixtures.Policy("demo")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fixtures.Start("reference", pol, "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	target := srv.URL + "/api/items"
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole")
	if r := corscheck(t, nil, "run", "--target", target, "--out", whole); r.code != 0 {
		t.Fatalf("unsharded: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var shards []string
	total := 0
	for _, k := range []string{"1/3", "2/3", "3/3"} {
		out := filepath.Join(dir, "shard-"+k[:1])
		r := corscheck(t, nil, "run", "--target", target, "--out", out, "--shard", k)
		if r.code != 0 {
			t.Fatalf("shard %s: exit %d\n%s%s", k, r.code, r.stdout, r.stderr)
		}
		res, err := reports.ReadResults(filepath.Join(out, "results.json"))
		if err != nil || res.Shard == nil || res.Shard.String() != k {
			t.Fatalf("shard %s results: %v %+v", k, err, res.Shard)
		}
		total += len(res.Cases)
		shards = append(shards, out)
	}
	merged := filepath.Join(dir, "merged")
	r := corscheck(t, nil, append([]string{"merge", "--out", merged}, shards...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "merged 3 shards") {
		t.Fatalf("merge: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	a, b := normalized(t, filepath.Join(whole, "results.json")), normalized(t, filepath.Join(merged, "results.json"))
	if a == normalized(t, filepath.Join(shards[0], "results.json")) || timeless(t, filepath.Join(whole, "report.html")) == timeless(t, filepath.Join(shards[0], "report.html")) {
		t.Fatal("the comparison cannot tell one shard from the whole run")
	}
	if whole, _ := reports.ReadResults(filepath.Join(whole, "results.json")); whole == nil || len(whole.Cases) != total || total < 400 {
		t.Fatalf("the shards hold %d cases, the unsharded run another number", total)
	}
	if a != b {
		t.Fatalf("merged results.json differs from the unsharded run's (%d cases in the shards)", total)
	}
	for _, name := range []string{"junit.xml", "report.html"} {
		x, y := timeless(t, filepath.Join(whole, name)), timeless(t, filepath.Join(merged, name))
		if x != y {
			t.Errorf("merged %s differs from the unsharded run's", name)
		}
	}

	// A shard missing, or given twice, is exit 2 naming it.
	if r := corscheck(t, nil, "merge", "--out", filepath.Join(dir, "m2"), shards[0], shards[2]); r.code != 2 || !strings.Contains(r.stderr, "shard 2/3 missing") {
		t.Errorf("missing shard: exit %d %s", r.code, r.stderr)
	}
	if r := corscheck(t, nil, "merge", "--out", filepath.Join(dir, "m3"), shards[0], shards[1], shards[1], shards[2]); r.code != 2 || !strings.Contains(r.stderr, "given twice") {
		t.Errorf("duplicate shard: exit %d %s", r.code, r.stderr)
	}
	if r := corscheck(t, nil, "run", "--shard", "4/3"); r.code != 2 || !strings.Contains(r.stderr, "K must be between 1 and N") {
		t.Errorf("--shard 4/3: exit %d %s", r.code, r.stderr)
	}
}

// normalized is results.json without what differs between two runs of the
// same matrix: timings, the shard mark, Date headers.
func normalized(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	v = dropKeys(v, map[string]bool{"startedAt": true, "durationMs": true, "ms": true, "date": true, "shard": true})
	out, _ := json.MarshalIndent(v, "", " ")
	return string(out)
}

func dropKeys(v any, drop map[string]bool) any {
	switch x := v.(type) {
	case map[string]any:
		for k := range x {
			if drop[k] {
				delete(x, k)
			} else {
				x[k] = dropKeys(x[k], drop)
			}
		}
	case []any:
		for i := range x {
			x[i] = dropKeys(x[i], drop)
		}
	}
	return v
}

var timings = regexp.MustCompile(`(time|timestamp|durationMs|startedAt|ms|date)(=|":\s*|&#34;:)("[^"]*"|[0-9.e+-]+|&#34;[^&]*&#34;)|[0-9.]+ s\b|[0-9]+(\.[0-9]+)? ms\b|started [0-9TZ:-]+|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT`)

func timeless(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return timings.ReplaceAllString(string(data), "T")
}

// Shards of the built-in demo (no --target: each shard starts the demo on
// a port of its own) merge into one run of the demo.
func TestDemoShardsMerge(t *testing.T) {
	dir := t.TempDir()
	var shards []string
	total := 0
	for _, k := range []string{"1/2", "2/2"} {
		out := filepath.Join(dir, "shard-"+k[:1])
		if r := corscheck(t, nil, "run", "--out", out, "--shard", k); r.code != 0 {
			t.Fatalf("demo shard %s: exit %d\n%s%s", k, r.code, r.stdout, r.stderr)
		}
		res, err := reports.ReadResults(filepath.Join(out, "results.json"))
		if err != nil || res.Fixture != "reference" {
			t.Fatalf("shard %s: %v, fixture %q", k, err, res.Fixture)
		}
		total += len(res.Cases)
		shards = append(shards, out)
	}
	merged := filepath.Join(dir, "merged")
	r := corscheck(t, nil, append([]string{"merge", "--out", merged}, shards...)...)
	if r.code != 0 {
		t.Fatalf("merge of the demo's shards: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	res, err := reports.ReadResults(filepath.Join(merged, "results.json"))
	if err != nil || len(res.Cases) != total || total < 400 || res.Summary.Passed != total {
		t.Fatalf("merged demo: %v, %d cases of %d", err, len(res.Cases), total)
	}
}
