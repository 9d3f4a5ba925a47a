package scenarios

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"
)

// One place decides what a run sends. Everything that leads to a request
// (the precheck, discovery, fingerprints, the matrix, the adaptive samples,
// corroboration, retries) asks the Plan, which is built from the cases the
// user selected (--label-filter, --focus, skip:, the shard) and the
// policy's never: rules. A request no selected case sends, or one a never:
// rule names, is refused there, whatever optimisation asked for it.

// NeverRule names requests a run must never send: a method (or * for
// every method) and a path pattern. `never: [POST /logout, DELETE /*]`.
// The pattern is matched against a request's path and against the route's
// declared path (an OpenAPI template such as /items/{id}); * matches any
// run of characters, / included.
type NeverRule struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

// String is the rule as the user writes it.
func (r NeverRule) String() string { return r.Method + " " + r.Path }

// MarshalJSON writes the rule as written ("POST /logout").
func (r NeverRule) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", r.String())), nil }

// UnmarshalJSON reads the rule as written.
func (r *NeverRule) UnmarshalJSON(b []byte) error {
	var s string
	if _, err := fmt.Sscanf(string(b), "%q", &s); err != nil {
		return fmt.Errorf("never: want a string such as \"POST /logout\"")
	}
	rule, err := ParseNeverRule(s)
	if err != nil {
		return err
	}
	*r = rule
	return nil
}

// ParseNeverRule reads "METHOD /path" (METHOD may be *, or a comma list
// such as "PUT,DELETE"); a bare "/path" means every method.
func ParseNeverRule(s string) (NeverRule, error) {
	fields := strings.Fields(s)
	var method, p string
	switch len(fields) {
	case 1:
		method, p = "*", fields[0]
	case 2:
		method, p = fields[0], fields[1]
	default:
		return NeverRule{}, fmt.Errorf("%q: write METHOD /path, e.g. \"POST /logout\", \"DELETE /*\" or \"* /admin/*\"", Visible(s))
	}
	if !strings.HasPrefix(p, "/") {
		return NeverRule{}, fmt.Errorf("%q: the path must start with /, e.g. \"%s /%s\"", Visible(s), method, strings.TrimLeft(p, "*/"))
	}
	if method != "*" {
		var ms []string
		for _, m := range strings.Split(method, ",") {
			if err := checkToken("method", m, false); err != nil || m == "" {
				return NeverRule{}, fmt.Errorf("%q: %q is not a method: write a method such as DELETE, or * for every method", Visible(s), Visible(m))
			}
			ms = append(ms, strings.ToUpper(m))
		}
		method = strings.Join(ms, ",")
	}
	return NeverRule{Method: method, Path: p}, nil
}

// matchesMethod reports whether the rule covers a method. A rule for
// OPTIONS covers every request that makes the browser send a preflight.
func (r NeverRule) matchesMethod(req Request) bool {
	if r.Method == "*" {
		return true
	}
	m := strings.ToUpper(req.Method)
	for _, rm := range strings.Split(r.Method, ",") {
		if rm == m || rm == "OPTIONS" && req.ModeOrDefault() == "cors" && NeedsPreflight(req) {
			return true
		}
	}
	return false
}

// Matches reports whether the rule names a request sent to a route
// declared as routePath ("" for the target itself).
func (r NeverRule) Matches(req Request, routePath string) bool {
	if !r.matchesMethod(req) {
		return false
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return true // unreadable: refuse rather than guess
	}
	for _, p := range []string{u.Path, routePath} {
		if p != "" && globMatch(r.Path, p) {
			return true
		}
	}
	return false
}

// globMatch matches a pattern where * is any run of characters.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s || strings.TrimSuffix(pattern, "/") == strings.TrimSuffix(s, "/") && pattern != "/"
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, part := range parts[1:] {
		last := i == len(parts)-2
		if last {
			return strings.HasSuffix(s, part)
		}
		j := strings.Index(s, part)
		if j < 0 {
			return false
		}
		s = s[j+len(part):]
	}
	return true
}

// Plan is what a run may send: the requests of the selected cases, minus
// what a never: rule names. It is built once per selection and consulted
// for every request, so no later pass can send what the user excluded.
type Plan struct {
	never []NeverRule
	// permitted are (method, URL without query) pairs some selected case sends.
	permitted map[string]bool
	// routePath maps a URL (without query) to its route's declared path.
	routePath map[string]string
	cases     []Case
}

// NewPlan builds the plan of a selection. Skipped cases send nothing.
func NewPlan(selected []Case, never []NeverRule) *Plan {
	p := &Plan{never: never, permitted: map[string]bool{}, routePath: map[string]string{}}
	for _, c := range selected {
		if c.SkipReason != "" {
			continue
		}
		p.cases = append(p.cases, c)
		for _, r := range append([]Request{c.Request}, c.Related...) {
			k := planKey(r)
			p.permitted[k] = true
			p.routePath[bareURL(r.URL)] = c.Route
		}
	}
	return p
}

// Cases are the selected cases that send requests, in selection order.
func (p *Plan) Cases() []Case { return p.cases }

// Permits says whether a run may send a request; the error names the
// rule or the exclusion that forbids it.
func (p *Plan) Permits(r Request) error {
	if rule, ok := p.neverRule(r, p.routePath[bareURL(r.URL)]); ok {
		return fmt.Errorf("%s %s is excluded by never: %s", NormalizeMethod(r.Method), Visible(r.URL), rule)
	}
	if !p.permitted[planKey(r)] {
		return fmt.Errorf("%s %s is not a request of the selected cases (--label-filter, --focus, skip: or the shard exclude it)", NormalizeMethod(r.Method), Visible(r.URL))
	}
	return nil
}

func (p *Plan) neverRule(r Request, routePath string) (NeverRule, bool) {
	for _, rule := range p.never {
		if rule.Matches(r, routePath) {
			return rule, true
		}
	}
	return NeverRule{}, false
}

// ApplyNever marks every case that would send a request a never: rule
// names as skipped, saying which rule: the case stays visible in the
// results, and nothing of it is sent.
func ApplyNever(cases []Case, never []NeverRule) {
	if len(never) == 0 {
		return
	}
	for i := range cases {
		c := &cases[i]
		if c.SkipReason != "" {
			continue
		}
		for _, r := range append([]Request{c.Request}, c.Related...) {
			for _, rule := range never {
				if rule.Matches(r, c.Route) {
					c.SkipReason = "never: " + rule.String() + " (this case would send " + NormalizeMethod(r.Method) + " " + pathOf(r.URL) + ")"
					break
				}
			}
			if c.SkipReason != "" {
				break
			}
		}
	}
}

// planKey is the part of a request the plan permits on: the method and the
// URL without its query (corscheck's token lives there).
func planKey(r Request) string { return NormalizeMethod(r.Method) + " " + bareURL(r.URL) }

func bareURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i]
	}
	return raw
}

func pathOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Path == "" {
		return "/"
	}
	return path.Clean(u.Path)
}

// Unsafe are the selected requests with methods that may change data
// (PUT, PATCH, DELETE, any other custom method, and POST to a path no API
// description declares POST on), counted by method and path, for the
// announcement before a run. routes say which paths declare which methods.
func (p *Plan) Unsafe(routes []Route) []string {
	declared := map[string]bool{} // "METHOD declared-path"
	for _, r := range routes {
		if r.Source == "openapi" {
			for _, m := range r.Methods {
				declared[m+" "+r.Path] = true
			}
		}
	}
	counts := map[string]int{}
	for _, c := range p.cases {
		for _, r := range append([]Request{c.Request}, c.Related...) {
			m := NormalizeMethod(r.Method)
			if m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "POST" && declared["POST "+c.Route] {
				continue
			}
			counts[m+" "+pathOf(r.URL)] += c.Fetches()
		}
	}
	var out []string
	for k, n := range counts {
		out = append(out, fmt.Sprintf("%s (%d)", k, n))
	}
	sort.Strings(out)
	return out
}
