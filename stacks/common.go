package stacks

import (
	"regexp"
	"strings"

	"github.com/corscheck/corscheck/diagnosis"
	"github.com/corscheck/corscheck/scenarios"
)

// The helpers every stack's snippets share.

// policyList is a policy list for a config: the allowed request headers,
// methods (with OPTIONS) or exposed headers.
func exposed(p *scenarios.Policy) []string {
	var out []string
	for _, h := range p.ExposeHeaders {
		if h != "*" {
			out = append(out, h)
		}
	}
	return out
}

// exactOrigins are the policy's origins without patterns, for stacks that
// match exact strings.
func exactOrigins(p *scenarios.Policy) []string {
	var out []string
	for _, o := range p.Origins {
		if o != "*" && !strings.Contains(o, "*") {
			out = append(out, o)
		}
	}
	return out
}

// originRegexp is an anchored regular expression matching the policy's
// origins exactly (dots escaped; *.domain patterns as one or more labels).
func originRegexp(p *scenarios.Policy) string {
	var alts []string
	for _, o := range p.Origins {
		if o == "*" {
			return "^.*$"
		}
		q := regexp.QuoteMeta(o)
		q = strings.Replace(q, `://\*\.`, `://([a-z0-9-]+\.)+`, 1)
		alts = append(alts, q)
	}
	return "^(" + strings.Join(alts, "|") + ")$"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// policyMethods are the policy's methods with OPTIONS, for a config.
func policyMethods(p *scenarios.Policy) []string { return diagnosis.PolicyMethods(p) }

// corsCauses are the causes a stack's complete configuration fixes (a
// variable, not an init func: variants built at package initialisation
// read it).
var corsCauses = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range diagnosis.CORSCauses() {
		m[c] = true
	}
	return m
}()

// Stacks that cannot run on corscheck's machine: their snippets are
// written from each project's documentation and shown as unverified.

// unverified registers a documentation-based stack.
func unverified(name, title string, detect []diagnosis.Signal, why map[string]string, render func(p *scenarios.Policy) string) *diagnosis.Stack {
	layer := diagnosis.LayerApp
	if name == "envoy" || name == "cloudflare" || name == "aws" {
		layer = diagnosis.LayerProxy
	}
	return diagnosis.Register(&diagnosis.Stack{Name: name, Title: title, Signals: detect, Layer: layer,
		Fix: func(cause string, f *diagnosis.Finding, p *scenarios.Policy) (diagnosis.StackFix, bool) {
			if !corsCauses[cause] {
				return diagnosis.StackFix{}, false
			}
			return diagnosis.StackFix{Why: why[cause], Snippet: render(p)}, true
		}})
}

func quoted(list []string, q string) string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = q + s + q
	}
	return strings.Join(out, ", ")
}

func rule(header, re string) diagnosis.Signal { return diagnosis.HeaderSignal(header, re) }

func maxAgeSeconds(p *scenarios.Policy) int {
	if p.MaxAge == nil {
		return 600
	}
	return *p.MaxAge
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// Slots are a stack configuration's CORS lines by slot name: the stack
// fixtures' configuration templates have these places, a snippet's parts
// name the slot they go in.
type Slots map[string]string

// Overlay is s with a snippet's parts in their slots: each part replaces
// what its slot held (the settings at fault), as the snippet says.
func (s Slots) Overlay(parts []diagnosis.SnippetPart) Slots {
	out := Slots{}
	for k, v := range s {
		out[k] = v
	}
	for _, p := range parts {
		text := strings.NewReplacer("PROTECTED_PATHS", "/api/private*", "USERS", "{{users}}").Replace(p.Text)
		out[p.Slot] = text
	}
	return out
}

// Variant is a configuration of a stack people ship, run on the real
// server by the stack tests: a known misconfiguration (from the stack's
// documentation, its issues, a popular answer) with exactly the findings
// it must produce, each fixed by the finding's snippet.
type Variant struct {
	Stack, Name, Source string
	Slots               Slots
	// Findings are the finding IDs corscheck must report.
	Findings []string
	// Base: the slots replace only their own places in the stack's correct
	// configuration (one mistake in an otherwise right setup).
	Base bool
	// Default says the variant is the middleware as its documentation
	// starts you: DefaultOutOfTheBox (no options) or DefaultCredentials
	// (the usual first step when credentials do not work). The site's
	// defaults view shows these.
	Default string
}

// The defaults a variant can stand for (Variant.Default).
const (
	DefaultOutOfTheBox = "out of the box"
	DefaultCredentials = "with credentials"
)

// SlotsFor are the variant's slots as they run: on the correct
// configuration for the policy when Base is set.
func (v Variant) SlotsFor(p *scenarios.Policy) Slots {
	if !v.Base {
		return v.Slots
	}
	out := CorrectSlots(v.Stack, p)
	for k, s := range v.Slots {
		out[k] = s
	}
	return out
}

// Variants are every stack's variants, registered from each stack's file.
var Variants []Variant

func addVariants(vs ...Variant) bool {
	Variants = append(Variants, vs...)
	return true
}

// CorrectSlots are a stack's slots filled with the snippet corscheck prints
// for a policy (the one for authentication in front of CORS, which has
// every part, the authentication rule's included).
func CorrectSlots(stack string, p *scenarios.Policy) Slots {
	if s := diagnosis.StackByName(stack); s != nil && s.Fix != nil {
		if fx, ok := s.Fix("auth-before-cors", &diagnosis.Finding{Cause: "auth-before-cors"}, p); ok {
			return Slots{}.Overlay(fx.Parts)
		}
	}
	return Slots{}
}

func mustPolicy(yaml string) *scenarios.Policy {
	p, err := scenarios.ParsePolicy("variant.yaml", []byte(yaml))
	if err != nil {
		panic(err)
	}
	return p
}

// StackPolicy is the policy the stack fixtures are judged against.
const StackPolicy = `origins: [https://app.example.com]
methods: [GET, POST, PUT, DELETE]
headers: [Content-Type, Authorization, X-Request-ID]
credentials: true
maxAge: 600
exposeHeaders: [X-Total-Count]
paths: [/api/private]
expectStatus: [401]
errorPaths: {404: /api/missing, 500: /api/boom}
`
