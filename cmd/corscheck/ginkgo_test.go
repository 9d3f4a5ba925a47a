package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corscheck/corscheck/reports"
)

// The Ginkgo route from the repository root (make suite): relative paths
// resolve from the root, parallel processes give one results.json, and
// Ginkgo's own JUnit report stays small (results travel beside it).
func TestGinkgoRouteFromRoot(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	rel := fmt.Sprintf("bin/ginkgo-route-test-%d", os.Getpid())
	t.Cleanup(func() { os.RemoveAll(filepath.Join(root, rel)) })
	junit := filepath.Join(t.TempDir(), "ginkgo-junit.xml")
	cmd := exec.Command("make", "-s", "suite",
		"ARGS=--policy fixtures/policies/sample.yaml --fixture reference --out "+rel,
		"GINKGO_FLAGS=--procs=2 --junit-report="+junit)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make suite: %v\n%s", err, tail(string(out), 2000))
	}
	res, err := reports.ReadResults(filepath.Join(root, rel, "results.json"))
	if err != nil {
		t.Fatalf("results.json is not where the relative --out points (from the root): %v\n%s", err, tail(string(out), 2000))
	}
	if res.Summary.Total < 200 || res.Summary.Passed != res.Summary.Total {
		t.Errorf("results: %+v", res.Summary)
	}
	if _, err := os.Stat(filepath.Join(root, "suite", rel)); err == nil {
		t.Error("the output landed under suite/")
	}
	st, err := os.Stat(junit)
	if err != nil {
		t.Fatal(err)
	}
	// Under 2 KB a spec keeps the demo's 460 specs under 1 MB (it was ~30 KB).
	if per := st.Size() / int64(res.Summary.Total); st.Size() > 1<<20 || per > 2000 {
		t.Errorf("Ginkgo's JUnit report is %d bytes for %d specs (%d a spec); want under 2 KB a spec", st.Size(), res.Summary.Total, per)
	}
	if data, _ := os.ReadFile(junit); !strings.Contains(string(data), `status="passed"`) {
		t.Error("Ginkgo's JUnit report has no passed spec")
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
