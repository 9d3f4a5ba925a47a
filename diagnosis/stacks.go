package diagnosis

import (
	"fmt"
	"github.com/corscheck/corscheck/scenarios"
	"regexp"
	"sort"
	"strings"
)

// StackFix is the fix of a finding in one server stack.
type StackFix struct {
	Stack string `json:"stack"`
	Title string `json:"title"`
	// Why names the mechanism in that stack's terms.
	Why string `json:"why,omitempty"`
	// Where says where the snippet goes.
	Where   string `json:"where,omitempty"`
	Snippet string `json:"snippet"`
	// Verified is true when corscheck's own tests apply this stack's
	// snippets to a broken configuration of the real server and see the
	// finding disappear; false for stacks that cannot run here (written
	// from their documentation).
	Verified bool `json:"verified"`
	// Parts are the snippet's pieces by the slot of the configuration they
	// go in (the tests put each in its place).
	Parts []SnippetPart `json:"-"`
}

// SnippetPart is one piece of a snippet and the place it goes.
type SnippetPart struct {
	Slot, Where, Text string
}

// Stack is what corscheck knows about one server stack: how to recognise
// it from responses, and its fix for each cause. One file per stack.
type Stack struct {
	Name, Title string
	// Detect are evidence rules over response headers.
	Detect []DetectRule
	// Verified: a fixture runs this stack here and tests prove its snippets.
	Verified bool
	// Fix is the stack's fix for a cause, under a policy.
	Fix func(cause string, f *Finding, p *scenarios.Policy) (StackFix, bool)
}

// DetectRule recognises a stack from one response header.
type DetectRule struct {
	Header string
	Match  *regexp.Regexp
}

// Stacks are the stacks corscheck knows, in the order they are shown
// (stackOrder; each stack registers itself from its own file).
var Stacks = []*Stack{}

// stackOrder is the display order: the servers and proxies that run here,
// the Go middlewares, then the stacks whose snippets are unverified.
var stackOrder = []string{"nginx", "apache", "caddy", "haproxy", "express", "go-rs-cors", "go-chi-cors", "gorilla-handlers", "echo", "gin-cors", "fiber",
	"aspnetcore", "spring", "django", "flask", "fastapi", "rails", "go", "envoy", "cloudflare", "aws"}

func Register(s *Stack) *Stack {
	Stacks = append(Stacks, s)
	rank := func(name string) int {
		for i, n := range stackOrder {
			if n == name {
				return i
			}
		}
		return len(stackOrder)
	}
	sort.SliceStable(Stacks, func(i, j int) bool { return rank(Stacks[i].Name) < rank(Stacks[j].Name) })
	return s
}

// StackByName finds a stack.
func StackByName(name string) *Stack {
	for _, s := range Stacks {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// StackNames lists the stack names, for messages.
func StackNames() []string {
	var out []string
	for _, s := range Stacks {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// CheckStack validates a --stack / stack: value.
func CheckStack(name string) error {
	if StackByName(name) == nil {
		msg := fmt.Sprintf("unknown stack %q", name)
		var names []string
		for _, s := range Stacks {
			names = append(names, s.Name)
		}
		if c := scenarios.Closest(name, names); c != "" {
			msg += fmt.Sprintf("; did you mean %q?", c)
		}
		return fmt.Errorf("%s (stacks: %s)", msg, strings.Join(StackNames(), ", "))
	}
	return nil
}

// Detection is a stack recognised from responses, with the evidence.
type Detection struct {
	Stack    string `json:"stack"`
	Evidence string `json:"evidence"`
}

// DetectStack recognises the server stack from the responses of a run:
// the stack whose rules match the most responses, with the header that
// gave it away. A proxy and an app can both show; the proxy (the layer
// that answers first) wins on ties.
func DetectStack(obs []scenarios.Observation) (Detection, bool) {
	score := map[string]int{}
	evidence := map[string]string{}
	seen := map[string]bool{}
	check := func(h map[string]string) {
		for _, s := range Stacks {
			for _, r := range s.Detect {
				v, ok := scenarios.HeaderLookup(h, r.Header)
				if !ok || !r.Match.MatchString(v) {
					continue
				}
				key := s.Name + "\x00" + r.Header + "\x00" + v
				if !seen[key] {
					seen[key] = true
					if evidence[s.Name] == "" {
						evidence[s.Name] = scenarios.Visible(r.Header + ": " + v)
					}
				}
				score[s.Name]++
				break
			}
		}
	}
	for _, o := range obs {
		if o.Preflight != nil {
			check(o.Preflight.ResponseHeaders)
		}
		if o.Response != nil {
			check(o.Response.Headers)
		}
	}
	best, bestScore := "", 0
	for _, s := range Stacks {
		if score[s.Name] > bestScore {
			best, bestScore = s.Name, score[s.Name]
		}
	}
	if best == "" {
		return Detection{}, false
	}
	return Detection{Stack: best, Evidence: evidence[best]}, true
}

// FixesFor is a finding's fix in every stack that has one: the chosen
// stack first (--stack, the policy's stack:, or the detected one).
func FixesFor(f *Finding, p *scenarios.Policy, stack string) []StackFix {
	var out []StackFix
	for _, s := range Stacks {
		if s.Fix == nil {
			continue
		}
		fx, ok := s.Fix(f.Cause, f, p)
		if !ok {
			continue
		}
		fx.Stack, fx.Title, fx.Verified = s.Name, s.Title, s.Verified
		if fx.Snippet == "" {
			fx.Snippet = joinParts(fx.Parts)
		}
		out = append(out, fx)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Stack == stack && out[j].Stack != stack })
	return out
}

// joinParts renders a snippet's parts with where each goes.
func joinParts(parts []SnippetPart) string {
	var b strings.Builder
	for i, pt := range parts {
		if i > 0 {
			b.WriteString("\n")
		}
		if pt.Where != "" && len(parts) > 1 {
			b.WriteString(pt.Where + ":\n")
		}
		b.WriteString(strings.TrimRight(pt.Text, "\n"))
		b.WriteString("\n")
	}
	return b.String()
}

// CORSCauses lists the causes a stack's complete CORS configuration fixes.
func CORSCauses() []string {
	out := make([]string, 0, len(corsCauses))
	for c := range corsCauses {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// corsCauses are the causes a stack's CORS configuration fixes: a stack
// whose Fix answers these with its complete configuration.
var corsCauses = map[string]bool{
	"route-outside-cors": true, "auth-before-cors": true, "options-not-routed": true, "no-cors-on-preflight": true,
	"preflight-status": true, "methods-missing": true, "headers-missing": true, "invalid-methods-list": true,
	"invalid-headers-list": true, "no-cors-on-errors": true, "no-cors-on-actual": true, "no-acao": true,
	"wildcard-all-origins": true, "wildcard-with-credentials": true, "multiple-acao": true, "invalid-acao": true,
	"fixed-origin": true, "origin-mismatch": true, "acac-missing": true, "acac-invalid": true, "credentials-allowed": true,
	"null-allowed": true, "reflect-any-origin": true, "origin-match": true, "extra-methods": true, "extra-headers": true,
	"expose-missing": true, "expose-extra": true, "max-age": true, "vary-missing": true, "no-cors-for-method": true,
}
