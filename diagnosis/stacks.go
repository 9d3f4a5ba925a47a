package diagnosis

import (
	"fmt"
	"github.com/corscheck/corscheck/scenarios"
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

// SnippetPart is one piece of a snippet and the place it goes: what it
// replaces there (the settings at fault, to delete), then the text.
type SnippetPart struct {
	Slot, Where, Text string
	// Replaces names what the part takes the place of, for a person to
	// delete ("every CORS_* setting", "the CORS(app) call"): a snippet
	// changes the setting at fault, it does not add a second one.
	Replaces string
}

// Stack is what corscheck knows about one server stack: how to recognise
// it from responses, and its fix for each cause. One file per stack.
type Stack struct {
	Name, Title string
	// Layer is where it sits: a proxy in front, or the application.
	Layer Layer
	// Signals are the evidence it leaves in its answers (detect.go).
	Signals []Signal
	// Verified: a fixture runs this stack here and tests prove its snippets.
	Verified bool
	// Fix is the stack's fix for a cause, under a policy.
	Fix func(cause string, f *Finding, p *scenarios.Policy) (StackFix, bool)
	// Mechanisms say, per cause, how this stack produces it, in its own
	// terms: the finding's message names it instead of a generic guess.
	Mechanisms map[string]string
}

// Stacks are the stacks corscheck knows, in the order they are shown
// (stackOrder; each stack registers itself from its own file).
var Stacks = []*Stack{}

// stackOrder is the display order: the servers and proxies that run here,
// the Go middlewares, then the stacks whose snippets are unverified.
var stackOrder = []string{"nginx", "apache", "caddy", "haproxy", "lighttpd", "express", "fastify", "koa", "hono", "flask", "django", "fastapi", "rails",
	"go-rs-cors", "go-chi-cors", "gorilla-handlers", "echo", "gin-cors", "fiber", "aspnetcore", "spring", "go", "envoy", "cloudflare", "aws"}

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

// FixesFor is a finding's fix in every stack that has one, the chosen
// stack first. When the answers showed which layer sent the CORS headers
// (an application behind a proxy), the other layer's fixes are left out:
// putting the headers there too would send them twice.
func FixesFor(f *Finding, p *scenarios.Policy, stack string) []StackFix {
	return fixesFor(f, p, Detection{Stack: stack})
}

func fixesFor(f *Finding, p *scenarios.Policy, d Detection) []StackFix {
	var out []StackFix
	for _, s := range Stacks {
		if s.Fix == nil {
			continue
		}
		if d.Proxy != "" && s.layer() == LayerProxy && s.Name != d.Stack {
			continue // the application sends the headers: not the proxy too
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
	sort.SliceStable(out, func(i, j int) bool { return out[i].Stack == d.Stack && out[j].Stack != d.Stack })
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
		if pt.Replaces != "" {
			b.WriteString(pt.Replaces + "\n")
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
