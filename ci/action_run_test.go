package ci

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/reports"
)

// runner runs action.yml's run: steps the way GitHub's runner does (bash
// -eo pipefail, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ACTION_PATH,
// env: with expressions filled in); uses: steps (setup-go, artifacts) are
// GitHub's own and are recorded, not run.
type actionRun struct {
	inputs  map[string]string
	outputs map[string]map[string]string // step id -> outputs
	summary string
	log     string
	failed  string // the step that failed
	skipped []string
}

var expr = regexp.MustCompile(`\$\{\{\s*([a-z_.-]+)\s*\}\}`)

func runAction(t *testing.T, inputs map[string]string) *actionRun {
	t.Helper()
	a, _ := readAction(t)
	root, _ := filepath.Abs(root)
	temp := t.TempDir()
	r := &actionRun{inputs: map[string]string{}, outputs: map[string]map[string]string{}}
	for name, in := range a.Inputs {
		r.inputs[name] = in.Default
	}
	for k, v := range inputs {
		if _, ok := a.Inputs[k]; !ok {
			t.Fatalf("input %s is not declared in action.yml", k)
		}
		r.inputs[k] = v
	}
	summary := filepath.Join(temp, "summary.md")
	fill := func(s string) string {
		return expr.ReplaceAllStringFunc(s, func(m string) string {
			name := expr.FindStringSubmatch(m)[1]
			switch {
			case strings.HasPrefix(name, "inputs."):
				return r.inputs[strings.TrimPrefix(name, "inputs.")]
			case name == "runner.temp":
				return temp
			case name == "github.action_path":
				return root
			case name == "github.token":
				return "token"
			case strings.HasPrefix(name, "steps."):
				parts := strings.Split(name, ".") // steps.ID.outputs.NAME
				return r.outputs[parts[1]][parts[3]]
			}
			t.Fatalf("expression %s: not known to this runner", m)
			return ""
		})
	}
	for _, st := range a.Runs.Steps {
		name, _ := st["name"].(string)
		script, ok := st["run"].(string)
		if !ok {
			r.skipped = append(r.skipped, name)
			continue
		}
		if cond, ok := st["if"]; ok {
			t.Fatalf("step %q: run steps have no if: (got %v); they check their inputs themselves", name, cond)
		}
		out := filepath.Join(temp, "output-"+strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(out, nil, 0o644)
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
		cmd.Env = append(os.Environ(), "GITHUB_ACTION_PATH="+root, "RUNNER_TEMP="+temp, "GITHUB_OUTPUT="+out,
			"GITHUB_STEP_SUMMARY="+summary, "GITHUB_PATH="+filepath.Join(temp, "path"), "GITHUB_ACTIONS=true")
		if env, ok := st["env"].(map[string]any); ok {
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+fill(v.(string)))
			}
		}
		cmd.Dir = temp // the workspace
		b, err := cmd.CombinedOutput()
		r.log += "## " + name + "\n" + string(b)
		if id, ok := st["id"].(string); ok {
			r.outputs[id] = map[string]string{}
			data, _ := os.ReadFile(out)
			for _, line := range strings.Split(string(data), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok {
					r.outputs[id][k] = v
				}
			}
		}
		if err != nil {
			r.failed = name
			break
		}
	}
	data, _ := os.ReadFile(summary)
	r.summary = string(data)
	return r
}

// The action's scripts, run for real against the demo target: build, run,
// summary, a baseline diff that fails on lost coverage, and fail-on.
func TestActionRuns(t *testing.T) {
	pol, err := fixtures.Policy("demo")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := fixtures.Start("reference", pol, "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	policy, _ := filepath.Abs(filepath.Join(root, "fixtures", "policies", "demo.yaml"))
	out := filepath.Join(t.TempDir(), "out")
	base := map[string]string{"policy": policy, "target": srv.URL + "/api/items", "wait": "10s", "out": out,
		"args": "--label-filter=family:simple\n\n--timeout=10s\n"}

	r := runAction(t, base)
	if r.failed != "" || r.outputs["run"]["exit-code"] != "0" {
		t.Fatalf("passing run: failed step %q, outputs %v\n%s", r.failed, r.outputs, r.log)
	}
	if !strings.Contains(r.summary, "### ✅ corscheck:") || !strings.Contains(r.log, "corscheck v") && !strings.Contains(r.log, "corscheck dev") {
		t.Errorf("summary %q\n%s", r.summary, r.log)
	}
	if strings.Join(r.skipped, ",") != "Set up Go (from the action's go.mod),Upload the report,Download the baseline" {
		t.Errorf("uses: steps %v", r.skipped)
	}
	res, err := reports.ReadResults(filepath.Join(out, "results.json"))
	if err != nil || res.Summary.Total == 0 || res.Summary.Total != res.Summary.Passed {
		t.Fatalf("results: %v %+v", err, res)
	}

	// A baseline with one more case: lost coverage fails the step.
	res.Cases = append(res.Cases, res.Cases[0])
	res.Cases[len(res.Cases)-1].ID = "simple.get.dropped-route"
	data, _ := json.Marshal(res)
	baseline := filepath.Join(t.TempDir(), "baseline.json")
	os.WriteFile(baseline, data, 0o644)
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	r = runAction(t, with(map[string]string{"baseline": baseline}))
	if r.failed != "Verdict" || r.outputs["diff"]["exit-code"] != "1" || !strings.Contains(r.log, "::error file=") || !strings.Contains(r.summary, "1 removed") {
		t.Fatalf("baseline with lost coverage: failed %q, outputs %v\n%s\nsummary:\n%s", r.failed, r.outputs, r.log, r.summary)
	}
	if r = runAction(t, with(map[string]string{"baseline": baseline, "fail-on": "never"})); r.failed != "" {
		t.Errorf("fail-on never: failed %q\n%s", r.failed, r.log)
	}
	if r = runAction(t, with(map[string]string{"baseline": baseline, "fail-on": "errors"})); r.failed != "" {
		t.Errorf("fail-on errors with a failing diff: failed %q\n%s", r.failed, r.log)
	}
	if r = runAction(t, with(map[string]string{"fail-on": "sometimes"})); r.failed != "Verdict" || !strings.Contains(r.log, "use failures, errors or never") {
		t.Errorf("fail-on sometimes: failed %q\n%s", r.failed, r.log)
	}
	// The target down: exit 2, the summary says so, errors fails the step.
	srv.Close()
	r = runAction(t, with(map[string]string{"fail-on": "errors", "wait": "0s"}))
	if r.failed != "Verdict" || r.outputs["run"]["exit-code"] != "2" || !strings.Contains(r.summary, "could not run") {
		t.Errorf("target down: failed %q, outputs %v\n%s\n%s", r.failed, r.outputs, r.log, r.summary)
	}
}
