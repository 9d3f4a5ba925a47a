//go:build heavy

package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
)

// The same server, the same verdicts, as a release gate sees it: a
// 41-operation API behind real nginx (TLS, HTTP/2, Access-Control-Max-Age
// 600), its exhaustive matrix run five times in each engine by the CLI:
// every case gets the same verdict every time, and the run passes (the
// API implements its policy; the run is anonymous, as the browsers but
// Chrome keep a cross-site session cookie out anyway). Firefox's repeated preflights, which vary
// between runs, are judged on the server's answer.
func TestSameAPISameVerdicts(t *testing.T) {
	shop, err := fixtures.StartShopWide()
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()
	if shop.Operations() != 41 {
		t.Fatalf("%d operations", shop.Operations())
	}
	dir := t.TempDir()
	api := writeFile(t, dir, "api.yaml", string(shop.OpenAPI()))
	policy := writeFile(t, dir, "policy.yaml", fixtures.ShopPolicy+"openapi: "+filepath.Base(api)+"\npathParams: {id: \"7\"}\nnever: [\"POST /logout\"]\nexpectStatus: [401]\n")
	for _, engine := range []string{"chrome", "firefox", "webkit"} {
		t.Run(engine, func(t *testing.T) {
			var first map[string]string
			for run := range 5 {
				out := filepath.Join(dir, fmt.Sprintf("%s-%d", engine, run))
				r := corscheck(t, nil, "run", "--browser", engine, "--policy", policy, "--target", shop.URL+"/",
					"--resolve", fixtures.ShopHost+":127.0.0.1", "--ca-cert", shop.CAFile,
					"--exhaustive", "--label-filter", "!method:DELETE && !family:origins", "--out", out)
				res, err := reports.ReadResults(filepath.Join(out, "results.json"))
				if err != nil {
					t.Fatalf("run %d: exit %d: %v\n%s", run+1, r.code, err, lastLines(r.stderr, 5))
				}
				got := map[string]string{}
				for _, c := range res.Cases {
					got[c.ID] = c.Verdict.String()
				}
				if run == 0 {
					first = got
					if r.code != 0 || len(got) < 300 {
						t.Fatalf("run 1: exit %d, %d cases\n%s\n%s", r.code, len(got), r.stdout, lastLines(r.stderr, 8))
					}
					continue
				}
				var diff []string
				for id, v := range first {
					if got[id] != v {
						diff = append(diff, fmt.Sprintf("%s: %s, then %s", id, v, got[id]))
					}
				}
				sort.Strings(diff)
				if len(diff) > 0 || r.code != 0 {
					t.Fatalf("run %d of 5 (exit %d) differs from run 1:\n%v", run+1, r.code, diff)
				}
			}
			t.Logf("%s: %d cases, 5 runs, identical verdicts", engine, len(first))
		})
	}
}
