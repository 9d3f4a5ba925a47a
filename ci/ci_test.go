// Package ci checks the CI integrations: the GitHub Action (action.yml),
// the GitLab template, and every CI snippet in the README, so none of them
// can rot.
package ci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const root = ".."

// readmeSnippets returns the yaml code blocks of the README's "In CI" section.
func readmeSnippets(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	start := strings.Index(s, "\n## In CI")
	if start < 0 {
		t.Fatal("README has no In CI section")
	}
	end := strings.Index(s[start+1:], "\n## ")
	section := s[start:]
	if end >= 0 {
		section = s[start : start+1+end]
	}
	var out []string
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(section, -1) {
		out = append(out, m[1])
	}
	return out
}

func isWorkflow(snippet string) bool { return regexp.MustCompile(`(?m)^jobs:`).MatchString(snippet) }

// lint runs actionlint (with shellcheck on run: scripts) on a project
// holding this repository's action.yml at its root and the given workflows.
const actionlintVersion = "v1.7.12"

// lintError is one error in actionlint's JSON output.
type lintError struct {
	Message  string `json:"message"`
	Filepath string `json:"filepath"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Kind     string `json:"kind"`
}

func lint(t *testing.T, workflows map[string]string) []lintError {
	t.Helper()
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Fatal("shellcheck is not installed (make deps installs it): actionlint would not check the scripts")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".github", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	action, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "action.yml"), action, 0o644)
	os.Mkdir(filepath.Join(dir, ".git"), 0o755) // the project root
	var files []string
	for name, content := range workflows {
		// The README uses the published action; here it is this checkout.
		content = regexp.MustCompile(`uses: corscheck/corscheck@\S+`).ReplaceAllString(content, "uses: ./")
		p := filepath.Join(dir, ".github", "workflows", name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	sort.Strings(files)
	// actionlint runs as its own module (go run pkg@version): its YAML
	// library's version conflicts with the one kin-openapi needs here.
	args := append([]string{"run", "github.com/rhysd/actionlint/cmd/actionlint@" + actionlintVersion,
		"-shellcheck", shellcheck, "-format", "{{json .}}"}, files...)
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 1) {
		t.Fatalf("actionlint did not run: %v\n%s", err, stderr.String())
	}
	var errs []lintError
	if strings.TrimSpace(stdout.String()) != "" {
		if err := json.Unmarshal(stdout.Bytes(), &errs); err != nil {
			t.Fatalf("actionlint output: %v\n%s", err, stdout.String())
		}
	}
	if err != nil && len(errs) == 0 {
		t.Fatalf("actionlint failed without errors: %s", stderr.String())
	}
	for _, e := range errs {
		t.Logf("%s:%d:%d: %s [%s]", filepath.Base(e.Filepath), e.Line, e.Column, e.Message, e.Kind)
	}
	return errs
}

// Every GitHub snippet in the README passes actionlint, with the action's
// inputs checked against action.yml.
func TestReadmeWorkflowsPassActionlint(t *testing.T) {
	workflows := map[string]string{}
	for i, s := range readmeSnippets(t) {
		if isWorkflow(s) {
			workflows[fmt.Sprintf("readme-%d.yml", i)] = s
		}
	}
	if len(workflows) < 3 {
		t.Fatalf("%d GitHub workflows in the README's In CI section, want the action, the plain steps and the sharded one", len(workflows))
	}
	if errs := lint(t, workflows); len(errs) > 0 {
		t.Fatalf("actionlint: %d errors in the README's workflows", len(errs))
	}
}

// The linter is not a rubber stamp: a wrong input name, a missing on:, and
// a script shellcheck rejects are all caught.
func TestActionlintCatchesMistakes(t *testing.T) {
	bad := map[string]string{
		"no-on.yml":      "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n",
		"bad-input.yml":  "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: corscheck/corscheck@main\n        with:\n          polcy: p.yaml\n",
		"bad-script.yml": "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cd $DIR; rm -rf $X/*\n",
	}
	errs := lint(t, bad)
	got := map[string]bool{}
	for _, e := range errs {
		got[filepath.Base(e.Filepath)] = true
	}
	for name := range bad {
		if !got[name] {
			t.Errorf("%s: actionlint found nothing", name)
		}
	}
}

type actionMeta struct {
	Inputs map[string]struct {
		Required bool
		Default  string
	} `yaml:"inputs"`
	Outputs map[string]struct{ Value string } `yaml:"outputs"`
	Runs    struct {
		Using string           `yaml:"using"`
		Steps []map[string]any `yaml:"steps"`
	} `yaml:"runs"`
}

func readAction(t *testing.T) (actionMeta, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a actionMeta
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return a, data
}

// actionlint does not check a composite action's steps; the same steps as
// a reusable workflow's job (inputs as workflow_call inputs) are checked
// fully: expressions, contexts, step outputs and the scripts.
func TestActionStepsPassActionlint(t *testing.T) {
	a, _ := readAction(t)
	if a.Runs.Using != "composite" || len(a.Runs.Steps) == 0 {
		t.Fatalf("action.yml: runs.using %q with %d steps", a.Runs.Using, len(a.Runs.Steps))
	}
	inputs := map[string]any{}
	for name, in := range a.Inputs {
		def := in.Default
		if strings.Contains(def, "${{") {
			def = "" // workflow_call defaults cannot hold expressions
		}
		in2 := map[string]any{"type": "string", "required": in.Required}
		if !in.Required {
			in2["default"] = def
		}
		inputs[name] = in2
	}
	steps := make([]map[string]any, len(a.Runs.Steps))
	for i, st := range a.Runs.Steps {
		if _, ok := st["run"]; ok {
			if st["shell"] != "bash" {
				t.Errorf("step %v: a composite run step needs shell: bash", st["name"])
			}
		}
		steps[i] = st
	}
	wf := map[string]any{
		"on":   map[string]any{"workflow_call": map[string]any{"inputs": inputs}},
		"jobs": map[string]any{"action": map[string]any{"runs-on": "ubuntu-latest", "steps": steps}},
	}
	b, err := yaml.Marshal(wf)
	if err != nil {
		t.Fatal(err)
	}
	// github.action_path exists only in actions; in the job it is a path.
	text := strings.ReplaceAll(string(b), "${{ github.action_path }}", ".")
	if errs := lint(t, map[string]string{"action-steps.yml": text}); len(errs) > 0 {
		t.Fatalf("actionlint: %d errors in action.yml's steps", len(errs))
	}
	ids := map[string]bool{}
	for _, st := range a.Runs.Steps {
		if id, ok := st["id"].(string); ok {
			ids[id] = true
		}
	}
	for name, o := range a.Outputs {
		for _, m := range regexp.MustCompile(`steps\.([a-z-]+)\.outputs`).FindAllStringSubmatch(o.Value, -1) {
			if !ids[m[1]] {
				t.Errorf("output %s reads step %q, which does not exist", name, m[1])
			}
		}
	}
}

// GitLab: job keywords (https://docs.gitlab.com/ci/yaml/), the ones a job
// may have; anything else at the top level is a job or a global keyword.
var gitlabGlobal = map[string]bool{"default": true, "include": true, "stages": true, "variables": true, "workflow": true,
	"image": true, "services": true, "cache": true, "before_script": true, "after_script": true}
var gitlabJob = map[string]bool{"after_script": true, "allow_failure": true, "artifacts": true, "before_script": true, "cache": true,
	"coverage": true, "dast_configuration": true, "dependencies": true, "environment": true, "extends": true, "hooks": true,
	"identity": true, "id_tokens": true, "image": true, "inherit": true, "interruptible": true, "manual_confirmation": true,
	"needs": true, "pages": true, "parallel": true, "release": true, "resource_group": true, "retry": true, "rules": true,
	"run": true, "script": true, "secrets": true, "services": true, "stage": true, "tags": true, "timeout": true,
	"trigger": true, "variables": true, "when": true}
var gitlabArtifacts = map[string]bool{"paths": true, "exclude": true, "expire_in": true, "expose_as": true, "name": true,
	"public": true, "access": true, "reports": true, "untracked": true, "when": true}

// checkGitLab validates a GitLab CI document against the keywords and
// the shapes this project uses, resolves extends and !reference against
// known (the template), and syntax-checks the job scripts with bash -n.
func checkGitLab(t reporter, name string, data []byte, known map[string]*yaml.Node) map[string]*yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Errorf("%s: not YAML: %v", name, err)
		return nil
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Errorf("%s: a GitLab CI file is a mapping", name)
		return nil
	}
	jobs := map[string]*yaml.Node{}
	top := doc.Content[0]
	for i := 0; i < len(top.Content); i += 2 {
		k, v := top.Content[i].Value, top.Content[i+1]
		if gitlabGlobal[k] {
			continue
		}
		if v.Kind != yaml.MappingNode {
			t.Errorf("%s:%d: job %s is not a mapping", name, v.Line, k)
			continue
		}
		jobs[k] = v
	}
	all := map[string]*yaml.Node{}
	for k, v := range known {
		all[k] = v
	}
	for k, v := range jobs {
		all[k] = v
	}
	for jn, job := range jobs {
		hasScript := false
		for i := 0; i < len(job.Content); i += 2 {
			k, v := job.Content[i].Value, job.Content[i+1]
			if !gitlabJob[k] {
				t.Errorf("%s:%d: job %s: %q is not a GitLab job keyword", name, job.Content[i].Line, jn, k)
			}
			switch k {
			case "script", "before_script", "after_script":
				hasScript = hasScript || k == "script"
				script := resolveScript(t, name, v, all)
				if script != "" {
					cmd := exec.Command("bash", "-n")
					cmd.Stdin = strings.NewReader(script)
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Errorf("%s: job %s %s: bash -n: %s\n%s", name, jn, k, out, script)
					}
				}
			case "extends":
				if _, ok := all[v.Value]; !ok {
					t.Errorf("%s:%d: job %s extends %s, which is not defined", name, v.Line, jn, v.Value)
				}
				hasScript = true
			case "artifacts":
				for j := 0; j < len(v.Content); j += 2 {
					if !gitlabArtifacts[v.Content[j].Value] {
						t.Errorf("%s:%d: artifacts: %q is not an artifacts keyword", name, v.Content[j].Line, v.Content[j].Value)
					}
					if v.Content[j].Value == "reports" {
						var r map[string]any
						v.Content[j+1].Decode(&r)
						if p, _ := r["junit"].(string); !strings.HasSuffix(p, "junit.xml") {
							t.Errorf("%s: artifacts:reports:junit is %v, want corscheck's junit.xml", name, r["junit"])
						}
					}
				}
			case "variables":
				for j := 1; j < len(v.Content); j += 2 {
					if v.Content[j].Kind != yaml.ScalarNode {
						t.Errorf("%s:%d: variable %s is not a string", name, v.Content[j].Line, v.Content[j-1].Value)
					}
				}
			}
		}
		if !hasScript && !strings.HasPrefix(jn, ".") {
			t.Errorf("%s: job %s has no script", name, jn)
		}
	}
	return jobs
}

// resolveScript flattens a script list, expanding !reference [job, key].
func resolveScript(t reporter, name string, n *yaml.Node, jobs map[string]*yaml.Node) string {
	var lines []string
	for _, item := range n.Content {
		switch {
		case item.Tag == "!reference":
			if len(item.Content) != 2 {
				t.Errorf("%s:%d: !reference takes [job, key]", name, item.Line)
				continue
			}
			job, ok := jobs[item.Content[0].Value]
			if !ok {
				t.Errorf("%s:%d: !reference to %s, which is not defined", name, item.Line, item.Content[0].Value)
				continue
			}
			for i := 0; i < len(job.Content); i += 2 {
				if job.Content[i].Value == item.Content[1].Value {
					lines = append(lines, resolveScript(t, name, job.Content[i+1], jobs))
				}
			}
		case item.Kind == yaml.ScalarNode:
			lines = append(lines, item.Value)
		default:
			t.Errorf("%s:%d: a script line is a string", name, item.Line)
		}
	}
	return strings.Join(lines, "\n")
}

func TestGitLabTemplateAndReadme(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(root, "ci", "corscheck.gitlab-ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := checkGitLab(t, "corscheck.gitlab-ci.yml", data, nil)
	if tmpl[".corscheck"] == nil {
		t.Fatal("the template defines no .corscheck job")
	}
	n := 0
	for _, s := range readmeSnippets(t) {
		if isWorkflow(s) {
			continue
		}
		n++
		if !strings.Contains(s, "ci/corscheck.gitlab-ci.yml") {
			t.Errorf("a GitLab snippet that does not include the template:\n%s", s)
		}
		checkGitLab(t, "README GitLab snippet", []byte(s), tmpl)
	}
	if n == 0 {
		t.Fatal("no GitLab snippet in the README")
	}
	// The check is not a rubber stamp.
	for _, bad := range []string{
		"cors:\n  extend: .corscheck\n  script: [echo]\n",
		"cors:\n  script:\n    - if [ x; then\n",
		"cors:\n  extends: .nothing\n",
		"cors:\n  script:\n    - !reference [.nothing, script]\n",
	} {
		if !failsGitLab(bad, tmpl) {
			t.Errorf("the GitLab check accepts:\n%s", bad)
		}
	}
}

// reporter is what the GitLab check reports to: a *testing.T, or fakeT.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

type fakeT struct{ failed bool }

func (f *fakeT) Helper()               {}
func (f *fakeT) Errorf(string, ...any) { f.failed = true }

// failsGitLab reports whether the GitLab check finds a problem in doc.
func failsGitLab(doc string, known map[string]*yaml.Node) bool {
	ft := &fakeT{}
	checkGitLab(ft, "bad", []byte(doc), known)
	return ft.failed
}
