package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxListLen bounds the origins, methods, headers and exposed headers of a
// policy, so the matrix of one route stays in the hundreds.
const MaxListLen = 32

// MaxSkip bounds the skip list (each entry is compared with every case).
const MaxSkip = 64

// MaxRoutes bounds the routes of a policy (paths:, or an OpenAPI file).
const MaxRoutes = 2000

// MaxPolicySize bounds a policy file: policies come from users and are untrusted.
const MaxPolicySize = 1 << 20

// Length limits for values that end up in IDs, URLs and reports.
const (
	maxHostLen  = 253
	maxLabelLen = 63
	maxPathLen  = 2048
	maxValueLen = 4096
)

// Policy is the CORS policy a team declares: what a correct server allows.
// Its JSON form is what results.json records "as loaded" (secrets stay
// ${VAR} references there).
type Policy struct {
	// Origins are allowed origins, exact (https://app.example.com), or a
	// subdomain pattern (https://*.example.com), or "*" (only without credentials).
	Origins []string `json:"origins"`
	// Methods are allowed methods, case-sensitive as browsers compare them.
	Methods []string `json:"methods"`
	// Headers are allowed request headers, case-insensitive.
	Headers []string `json:"headers"`
	// Credentials says whether credentialed requests must work.
	Credentials bool `json:"credentials"`
	// MaxAge is the preflight cache lifetime in seconds, if the server sets one.
	MaxAge *int `json:"maxAge,omitempty"`
	// ExposeHeaders are response headers script must be able to read.
	ExposeHeaders []string `json:"exposeHeaders,omitempty"`
	// Target is the URL to probe; --target overrides it.
	Target string `json:"target,omitempty"`
	// Paths are routes probed besides the target, each with the policy or
	// its own overrides.
	Paths []RouteSpec `json:"paths,omitempty"`
	// RefuseOrigins are extra origins that must be refused.
	RefuseOrigins []string `json:"refuseOrigins,omitempty"`
	// Skip lists cases not to run, each with a reason.
	Skip []Skip `json:"skip,omitempty"`
	// Resolve maps host names to addresses for the browser (like --resolve).
	Resolve map[string]string `json:"resolve,omitempty"`
	// Auth are the credentials real users' requests carry.
	Auth *Auth `json:"auth,omitempty"`
	// ExpectStatus lists statuses (401, 429, 5xx) that are expected answers
	// here, so they do not fail the run.
	ExpectStatus []int `json:"expectStatus,omitempty"`
	// ErrorPaths name paths that really answer an error status, for the
	// errors family: {404: /missing, 500: /boom}.
	ErrorPaths map[int]string `json:"errorPaths,omitempty"`
	// Stack names the server stack whose fixes to show (nginx, apache, ...).
	Stack string `json:"stack,omitempty"`
	// StackAt is where the policy names it (file:line), for the error when
	// no stack has that name (the stacks are known to package diagnosis).
	StackAt string `json:"-"`
	// OpenAPI is an OpenAPI file whose operations are routes (relative to
	// the policy file).
	OpenAPI string `json:"openapi,omitempty"`
	// PathParams give sample values for path parameters ({id}: 42).
	PathParams map[string]string `json:"pathParams,omitempty"`
	// Never names requests corscheck must never send (POST /logout,
	// DELETE /*): the cases that would send one are skipped, and the run's
	// plan refuses them whatever asks.
	Never []NeverRule `json:"never,omitempty"`
}

// RouteSpec is one entry of paths: a path (or a pattern ending in /*) and,
// optionally, the policy keys that differ on it.
type RouteSpec struct {
	Path          string   `json:"path"`
	Origins       []string `json:"origins,omitempty"`
	Methods       []string `json:"methods,omitempty"`
	Headers       []string `json:"headers,omitempty"`
	Credentials   *bool    `json:"credentials,omitempty"`
	MaxAge        *int     `json:"maxAge,omitempty"`
	ExposeHeaders []string `json:"exposeHeaders,omitempty"`
	// Stack names the stack that serves this route (its fixes come first
	// here), when it differs from the run's; StackAt is where (file:line).
	Stack   string `json:"stack,omitempty"`
	StackAt string `json:"-"`
}

// Overrides reports whether the route changes anything besides the path.
func (r RouteSpec) Overrides() bool {
	return r.Origins != nil || r.Methods != nil || r.Headers != nil || r.Credentials != nil || r.MaxAge != nil || r.ExposeHeaders != nil
}

// MarshalJSON writes a route with no overrides as its path alone, as the
// first release's results recorded paths.
func (r RouteSpec) MarshalJSON() ([]byte, error) {
	if !r.Overrides() && r.Stack == "" {
		return json.Marshal(r.Path)
	}
	type plain RouteSpec
	return json.Marshal(plain(r))
}

// UnmarshalJSON reads either form.
func (r *RouteSpec) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &r.Path)
	}
	type plain RouteSpec
	return json.Unmarshal(b, (*plain)(r))
}

// Auth are credentials added to every request: headers (bearer tokens, API
// keys) and cookies put in the browser's jar. Values may reference
// environment variables as ${NAME}, so secrets never sit in the file.
type Auth struct {
	Headers map[string]string `json:"headers,omitempty"`
	Cookies []CookieDef       `json:"cookies,omitempty"`
}

// CookieDef is a cookie for the target's host, with its attributes.
type CookieDef struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Domain   string `json:"domain,omitempty"`
	Path     string `json:"path,omitempty"`
	SameSite string `json:"sameSite,omitempty"`
	Secure   *bool  `json:"secure,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
}

// Skip names cases (an exact ID, or a prefix ending in "*") not to run, and why.
type Skip struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// PolicyError is a problem at a line of a policy file, with what to write instead.
type PolicyError struct {
	File string
	Line int
	Msg  string
}

func (e *PolicyError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// LoadPolicy reads and parses a policy file.
func LoadPolicy(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return ParsePolicy(path, data)
}

// policyKeys lists every key a policy may have, for typo suggestions.
var policyKeys = []string{"origins", "methods", "headers", "credentials", "maxAge", "exposeHeaders", "target", "paths",
	"refuseOrigins", "skip", "resolve", "auth", "expectStatus", "errorPaths", "stack", "openapi", "pathParams", "never"}

// routeKeys are the keys a route entry of paths may have.
var routeKeys = []string{"path", "origins", "methods", "headers", "credentials", "maxAge", "exposeHeaders", "stack"}

// ParsePolicy parses YAML (or JSON, which is YAML) strictly: unknown keys,
// wrong types, invalid origins, methods and header names, a second
// document, control characters and contradictions are errors with the file
// and line, saying what to write instead.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	if len(data) > MaxPolicySize {
		return nil, &PolicyError{File: name, Msg: fmt.Sprintf("file is larger than %d bytes; a policy is a few lines", MaxPolicySize)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &PolicyError{File: name, Msg: "empty policy: write at least `origins: [https://app.example.com]`"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, &PolicyError{File: name, Line: yamlErrLine(err), Msg: "not valid YAML or JSON: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		line := extra.Line
		msg := "a policy is one YAML document, but a second one follows (---): merge them into one, or remove the second"
		if err != nil {
			line, msg = yamlErrLine(err), "trailing data after the policy ("+strings.TrimPrefix(err.Error(), "yaml: ")+"): remove it"
		}
		return nil, &PolicyError{File: name, Line: line, Msg: msg}
	}
	if len(doc.Content) == 0 {
		return nil, &PolicyError{File: name, Msg: "empty policy: write at least `origins: [https://app.example.com]`"}
	}
	root := doc.Content[0]
	if err := checkNodes(name, root, 0); err != nil {
		return nil, err
	}
	if root.Kind != yaml.MappingNode {
		return nil, &PolicyError{File: name, Line: root.Line, Msg: "a policy is a mapping of keys (origins:, methods:, ...), not a " + kindName(root)}
	}
	p := &Policy{}
	pp := parser{file: name}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return nil, pp.errAt(k, "key %q appears twice; keep one", k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "origins":
			p.Origins, err = pp.origins(k.Value, v, true)
		case "refuseOrigins":
			p.RefuseOrigins, err = pp.origins(k.Value, v, false)
		case "methods":
			p.Methods, err = pp.methods(k.Value, v)
		case "headers":
			p.Headers, err = pp.headers(k.Value, v)
		case "exposeHeaders":
			p.ExposeHeaders, err = pp.exposeHeaders(k.Value, v)
		case "paths":
			p.Paths, err = pp.routes(v)
		case "credentials":
			var b bool
			b, err = pp.boolean(k.Value, v)
			p.Credentials = b
		case "maxAge":
			p.MaxAge, err = pp.maxAge(v)
		case "target":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
				return nil, pp.errAt(v, "target: want a URL such as https://staging.api.example.com/v1/items, got %s", describe(v))
			}
			if err := CheckTargetURL(v.Value); err != nil {
				return nil, pp.errAt(v, "target: %v", err)
			}
			p.Target = v.Value
		case "skip":
			p.Skip, err = pp.skipList(v)
		case "resolve":
			p.Resolve, err = pp.resolve(v)
		case "auth":
			p.Auth, err = pp.auth(v)
		case "expectStatus":
			p.ExpectStatus, err = pp.statuses(v)
		case "errorPaths":
			p.ErrorPaths, err = pp.errorPaths(v)
		case "stack":
			p.Stack, err = pp.stack(v)
			p.StackAt = fmt.Sprintf("%s:%d", name, v.Line)
		case "openapi":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || v.Value == "" {
				return nil, pp.errAt(v, "openapi: want the path of an OpenAPI file, e.g. openapi: api.yaml")
			}
			p.OpenAPI = v.Value
		case "never":
			p.Never, err = pp.never(v)
		case "pathParams":
			p.PathParams, err = pp.stringMap("pathParams", v, func(k, _ string) error {
				if !isParamName(k) {
					return fmt.Errorf("%q is not a path parameter name (letters, digits, _ and -)", k)
				}
				return nil
			})
		default:
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if s := Closest(k.Value, policyKeys); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return nil, pp.errAt(k, "%s (keys: %s)", msg, strings.Join(policyKeys, ", "))
		}
		if err != nil {
			return nil, err
		}
	}
	if !seen["origins"] || len(p.Origins) == 0 {
		return nil, &PolicyError{File: name, Line: root.Line, Msg: "no origins: add `origins: [https://app.example.com]` with the origins that must be allowed"}
	}
	if err := p.contradictions(name, root); err != nil {
		return nil, err
	}
	return p, nil
}

// parser carries the file name for errors.
type parser struct{ file string }

func (pp parser) errAt(n *yaml.Node, format string, a ...any) error {
	return &PolicyError{File: pp.file, Line: n.Line, Msg: fmt.Sprintf(format, a...)}
}

func (pp parser) origins(key string, v *yaml.Node, allow bool) ([]string, error) {
	return pp.stringList(key, v, MaxListLen, func(n *yaml.Node) error { return checkPolicyOrigin(n.Value, allow) })
}

func (pp parser) methods(key string, v *yaml.Node) ([]string, error) {
	return pp.stringList(key, v, MaxListLen, func(n *yaml.Node) error { return checkMethod(n.Value) })
}

func (pp parser) headers(key string, v *yaml.Node) ([]string, error) {
	return pp.stringList(key, v, MaxListLen, func(n *yaml.Node) error { return CheckRequestHeader(n.Value) })
}

func (pp parser) exposeHeaders(key string, v *yaml.Node) ([]string, error) {
	return pp.stringList(key, v, MaxListLen, func(n *yaml.Node) error { return checkToken("header name", n.Value, true) })
}

func (pp parser) boolean(key string, v *yaml.Node) (bool, error) {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
		return false, pp.errAt(v, "%s: want true or false, got %s", key, describe(v))
	}
	return v.Value == "true", nil
}

func (pp parser) maxAge(v *yaml.Node) (*int, error) {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!int" {
		return nil, pp.errAt(v, "maxAge: want a whole number of seconds such as 600, got %s", describe(v))
	}
	n, err := strconv.Atoi(v.Value)
	if err != nil || n < 0 || n > 86400*365 {
		return nil, pp.errAt(v, "maxAge: want seconds between 0 and 86400 (Chrome caps at 7200), got %s", v.Value)
	}
	return &n, nil
}

// routes parses paths: a list of paths, or of {path: ..., <policy keys>}.
func (pp parser) routes(v *yaml.Node) ([]RouteSpec, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, pp.errAt(v, "paths: want a list of paths such as [/v1/items], or of {path: /v1/admin/*, methods: [...]}")
	}
	if len(v.Content) > MaxRoutes {
		return nil, pp.errAt(v, "paths: %d entries; at most %d", len(v.Content), MaxRoutes)
	}
	var out []RouteSpec
	seen := map[string]bool{}
	for _, item := range v.Content {
		var r RouteSpec
		switch {
		case item.Kind == yaml.ScalarNode && item.Tag == "!!str":
			r.Path = item.Value
		case item.Kind == yaml.MappingNode:
			var err error
			if r, err = pp.route(item); err != nil {
				return nil, err
			}
		default:
			return nil, pp.errAt(item, "paths: each entry is a path (/v1/items) or {path: /v1/items, ...}, got %s", describe(item))
		}
		if err := checkPath(r.Path); err != nil {
			return nil, pp.errAt(item, "paths: %v", err)
		}
		if seen[r.Path] {
			return nil, pp.errAt(item, "paths: %q is listed twice", r.Path)
		}
		seen[r.Path] = true
		out = append(out, r)
	}
	return out, nil
}

func (pp parser) route(n *yaml.Node) (RouteSpec, error) {
	var r RouteSpec
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := "paths." + k.Value
		var err error
		switch k.Value {
		case "path":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
				return r, pp.errAt(v, "paths: path must be a string such as /v1/items")
			}
			r.Path = v.Value
		case "origins":
			r.Origins, err = pp.origins(key, v, true)
		case "methods":
			r.Methods, err = pp.methods(key, v)
		case "headers":
			r.Headers, err = pp.headers(key, v)
		case "exposeHeaders":
			r.ExposeHeaders, err = pp.exposeHeaders(key, v)
		case "credentials":
			var b bool
			b, err = pp.boolean(key, v)
			r.Credentials = &b
		case "maxAge":
			r.MaxAge, err = pp.maxAge(v)
		case "stack":
			r.Stack, err = pp.stack(v)
			r.StackAt = fmt.Sprintf("%s:%d", pp.file, v.Line)
		default:
			msg := fmt.Sprintf("paths: unknown key %q in a route", k.Value)
			if s := Closest(k.Value, routeKeys); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			return r, pp.errAt(k, "%s (keys: %s)", msg, strings.Join(routeKeys, ", "))
		}
		if err != nil {
			return r, err
		}
	}
	if r.Path == "" {
		return r, pp.errAt(n, "paths: a route needs a path, e.g. {path: /v1/admin/*, credentials: false}")
	}
	return r, nil
}

func (pp parser) stringMap(key string, v *yaml.Node, check func(k, v string) error) (map[string]string, error) {
	if v.Kind != yaml.MappingNode {
		return nil, pp.errAt(v, "%s: want a mapping of NAME: VALUE", key)
	}
	if len(v.Content)/2 > MaxListLen {
		return nil, pp.errAt(v, "%s: %d entries; at most %d", key, len(v.Content)/2, MaxListLen)
	}
	out := map[string]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if val.Kind != yaml.ScalarNode {
			return nil, pp.errAt(val, "%s: %s must be a string", key, k.Value)
		}
		if _, dup := out[k.Value]; dup {
			return nil, pp.errAt(k, "%s: %q appears twice", key, k.Value)
		}
		if err := check(k.Value, val.Value); err != nil {
			return nil, pp.errAt(k, "%s: %v", key, err)
		}
		out[k.Value] = val.Value
	}
	return out, nil
}

func (pp parser) resolve(v *yaml.Node) (map[string]string, error) {
	out, err := pp.stringMap("resolve", v, func(host, addr string) error {
		if strings.ContainsAny(host, " /*,:[]") || host == "" || net.ParseIP(host) != nil {
			return fmt.Errorf("%q must be a host name such as api.staging.example.test", host)
		}
		if net.ParseIP(strings.Trim(addr, "[]")) == nil {
			return fmt.Errorf("%s: %q must be an IP address such as 127.0.0.1 (a port belongs in the target URL)", host, addr)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	lower := map[string]string{}
	for h, a := range out {
		lower[strings.ToLower(h)] = strings.Trim(a, "[]")
	}
	return lower, nil
}

func (pp parser) auth(v *yaml.Node) (*Auth, error) {
	if v.Kind != yaml.MappingNode {
		return nil, pp.errAt(v, "auth: want {headers: {Authorization: \"Bearer ${TOKEN}\"}, cookies: [\"session=${SESSION}\"]}")
	}
	a := &Auth{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		switch k.Value {
		case "headers":
			h, err := pp.stringMap("auth.headers", val, func(name, _ string) error { return CheckRequestHeader(name) })
			if err != nil {
				return nil, err
			}
			a.Headers = h
		case "cookies":
			if val.Kind != yaml.SequenceNode {
				return nil, pp.errAt(val, "auth.cookies: want a list such as [\"session=${SESSION}; SameSite=None; Secure\"]")
			}
			if len(val.Content) > MaxListLen {
				return nil, pp.errAt(val, "auth.cookies: %d entries; at most %d", len(val.Content), MaxListLen)
			}
			for _, item := range val.Content {
				c, err := pp.cookie(item)
				if err != nil {
					return nil, err
				}
				a.Cookies = append(a.Cookies, c)
			}
		default:
			return nil, pp.errAt(k, "auth: unknown key %q (keys: headers, cookies)", k.Value)
		}
	}
	return a, nil
}

func (pp parser) cookie(n *yaml.Node) (CookieDef, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		c, err := ParseCookie(n.Value)
		if err != nil {
			return c, pp.errAt(n, "auth.cookies: %v", err)
		}
		return c, nil
	}
	if n.Kind != yaml.MappingNode {
		return CookieDef{}, pp.errAt(n, "auth.cookies: each entry is \"name=value; Attr\" or {name: ..., value: ..., sameSite: None}")
	}
	var c CookieDef
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return c, pp.errAt(v, "auth.cookies: %s must be a scalar", k.Value)
		}
		switch k.Value {
		case "name":
			c.Name = v.Value
		case "value":
			c.Value = v.Value
		case "domain":
			c.Domain = v.Value
		case "path":
			c.Path = v.Value
		case "sameSite":
			c.SameSite = v.Value
		case "secure":
			b := v.Value == "true"
			c.Secure = &b
		case "httpOnly":
			c.HTTPOnly = v.Value == "true"
		default:
			return c, pp.errAt(k, "auth.cookies: unknown key %q (keys: name, value, domain, path, sameSite, secure, httpOnly)", k.Value)
		}
	}
	if err := c.check(); err != nil {
		return c, pp.errAt(n, "auth.cookies: %v", err)
	}
	return c, nil
}

// ParseCookie parses "name=value; SameSite=None; Secure; Path=/; Domain=x;
// HttpOnly", the Set-Cookie form users copy from a browser.
func ParseCookie(s string) (CookieDef, error) {
	parts := strings.Split(s, ";")
	name, value, ok := strings.Cut(strings.TrimSpace(parts[0]), "=")
	c := CookieDef{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)}
	if !ok {
		return c, fmt.Errorf("%q: write name=value, optionally followed by ; SameSite=None; Secure", redactValue(s))
	}
	for _, attr := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(attr), "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "":
		case "samesite":
			c.SameSite = strings.TrimSpace(v)
		case "secure":
			t := true
			c.Secure = &t
		case "httponly":
			c.HTTPOnly = true
		case "path":
			c.Path = strings.TrimSpace(v)
		case "domain":
			c.Domain = strings.TrimSpace(v)
		case "expires", "max-age", "priority", "partitioned":
		default:
			return c, fmt.Errorf("cookie %s: unknown attribute %q (SameSite, Secure, HttpOnly, Path, Domain)", c.Name, k)
		}
	}
	return c, c.check()
}

func (c CookieDef) check() error {
	if c.Name == "" || strings.ContainsAny(c.Name, " ;=,\t") {
		return fmt.Errorf("cookie name %q: want a token such as session", c.Name)
	}
	switch strings.ToLower(c.SameSite) {
	case "", "none", "lax", "strict":
	default:
		return fmt.Errorf("cookie %s: SameSite=%s: want None, Lax or Strict", c.Name, c.SameSite)
	}
	if strings.ContainsAny(c.Value, ";\r\n") {
		return fmt.Errorf("cookie %s: a value has no ; or line break", c.Name)
	}
	return nil
}

// redactValue shows the name of a name=value pair and hides the value.
func redactValue(s string) string {
	if name, _, ok := strings.Cut(s, "="); ok {
		return name + "=***"
	}
	return "***"
}

func (pp parser) statuses(v *yaml.Node) ([]int, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, pp.errAt(v, "expectStatus: want a list of HTTP statuses such as [401, 429]")
	}
	if len(v.Content) > MaxListLen {
		return nil, pp.errAt(v, "expectStatus: %d entries; at most %d", len(v.Content), MaxListLen)
	}
	var out []int
	for _, item := range v.Content {
		n, err := strconv.Atoi(item.Value)
		if item.Kind != yaml.ScalarNode || item.Tag != "!!int" || err != nil || n < 100 || n > 599 {
			return nil, pp.errAt(item, "expectStatus: %q is not an HTTP status (100-599)", item.Value)
		}
		out = append(out, n)
	}
	return out, nil
}

func (pp parser) errorPaths(v *yaml.Node) (map[int]string, error) {
	if v.Kind != yaml.MappingNode {
		return nil, pp.errAt(v, "errorPaths: want {404: /missing, 500: /boom}")
	}
	out := map[int]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		n, err := strconv.Atoi(k.Value)
		if err != nil || n < 400 || n > 599 {
			return nil, pp.errAt(k, "errorPaths: %q is not an error status (400-599)", k.Value)
		}
		if val.Kind != yaml.ScalarNode || val.Tag != "!!str" {
			return nil, pp.errAt(val, "errorPaths: %d: want a path such as /missing", n)
		}
		if err := checkPath(val.Value); err != nil {
			return nil, pp.errAt(val, "errorPaths: %v", err)
		}
		out[n] = val.Value
	}
	return out, nil
}

func (pp parser) stack(v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
		return "", pp.errAt(v, "stack: want a stack name such as nginx")
	}
	if strings.TrimSpace(v.Value) == "" {
		return "", pp.errAt(v, "stack: want a stack name such as nginx")
	}
	return v.Value, nil
}

// contradictions rejects policies no browser can satisfy.
func (p *Policy) contradictions(name string, root *yaml.Node) error {
	at := func(key string) int {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == key {
				return root.Content[i].Line
			}
		}
		return 0
	}
	why := "browsers never accept a wildcard on a credentialed request (Fetch Standard, CORS check); list the exact values, or set credentials: false"
	check := func(creds bool, where string, lists map[string][]string) error {
		if !creds {
			return nil
		}
		for _, key := range []string{"origins", "methods", "headers", "exposeHeaders"} {
			if contains(lists[key], "*") {
				return &PolicyError{File: name, Line: at(where), Msg: fmt.Sprintf("%s: [\"*\"] with credentials: true contradicts itself: %s", key, why)}
			}
		}
		return nil
	}
	if err := check(p.Credentials, "origins", map[string][]string{"origins": p.Origins, "methods": p.Methods, "headers": p.Headers, "exposeHeaders": p.ExposeHeaders}); err != nil {
		return err
	}
	for _, r := range p.Paths {
		rp := p.ForRoute(r)
		if err := check(rp.Credentials, "paths", map[string][]string{"origins": rp.Origins, "methods": rp.Methods, "headers": rp.Headers, "exposeHeaders": rp.ExposeHeaders}); err != nil {
			return err
		}
	}
	if p.Auth != nil {
		for h := range p.Auth.Headers {
			if err := p.AllowsHeader(h); err != nil {
				return &PolicyError{File: name, Line: at("auth"), Msg: "auth.headers: " + err.Error()}
			}
		}
	}
	return nil
}

// AllowsHeader returns an error naming both the header and the policy when
// a request header real users send (auth) is not one the policy allows.
func (p *Policy) AllowsHeader(name string) error {
	if IsSafelistedHeader(name, "") || containsFold(p.Headers, name) || contains(p.Headers, "*") && !p.Credentials && !strings.EqualFold(name, "authorization") {
		return nil
	}
	return fmt.Errorf("%s is sent with every request, but the policy's headers do not allow it (headers: [%s]); add %s to headers:, or do not send it",
		name, strings.Join(p.Headers, ", "), name)
}

// ForRoute is the policy in force on a route: the policy with the route's
// overrides.
func (p *Policy) ForRoute(r RouteSpec) *Policy {
	q := *p
	if r.Origins != nil {
		q.Origins = r.Origins
	}
	if r.Methods != nil {
		q.Methods = r.Methods
	}
	if r.Headers != nil {
		q.Headers = r.Headers
	}
	if r.Credentials != nil {
		q.Credentials = *r.Credentials
	}
	if r.MaxAge != nil {
		q.MaxAge = r.MaxAge
	}
	if r.ExposeHeaders != nil {
		q.ExposeHeaders = r.ExposeHeaders
	}
	return &q
}

// ErrUnsetVariable marks a ${NAME} whose variable is not set.
var ErrUnsetVariable = errors.New("environment variable not set")

// ExpandEnv replaces ${NAME} with the variable's value; an unset variable
// is an error that names it (a token that silently became "" would make
// every request unauthenticated).
func ExpandEnv(s string, getenv func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		name := s[i+2 : i+j]
		v, ok := getenv(name)
		if !ok {
			return "", fmt.Errorf("${%s}: %w: export %s=... before the run", name, ErrUnsetVariable, name)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+1:]
	}
}

// Secrets are the auth values after ${VAR} expansion, which must appear in
// no output.
func (a *Auth) Resolved(getenv func(string) (string, bool)) (*Auth, []string, error) {
	if a == nil {
		return nil, nil, nil
	}
	out := &Auth{Headers: map[string]string{}}
	var secrets []string
	for _, name := range slices.Sorted(maps.Keys(a.Headers)) {
		v, err := ExpandEnv(a.Headers[name], getenv)
		if err != nil {
			return nil, nil, fmt.Errorf("auth.headers.%s: %w", name, err)
		}
		out.Headers[name] = v
		secrets = append(secrets, headerSecret(v))
	}
	for _, c := range a.Cookies {
		v, err := ExpandEnv(c.Value, getenv)
		if err != nil {
			return nil, nil, fmt.Errorf("auth.cookies.%s: %w", c.Name, err)
		}
		c.Value = v
		out.Cookies = append(out.Cookies, c)
		secrets = append(secrets, v)
	}
	return out, secrets, nil
}

// headerSecret is the secret part of a header value: the credentials after
// an auth scheme ("Bearer xyz" → "xyz"), else the whole value.
func headerSecret(v string) string {
	if scheme, cred, ok := strings.Cut(v, " "); ok && isTokenLike(scheme) && strings.TrimSpace(cred) != "" {
		return strings.TrimSpace(cred)
	}
	return v
}

func isTokenLike(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

func isParamName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

func (pp parser) stringList(key string, v *yaml.Node, limit int, check func(*yaml.Node) error) ([]string, error) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
		return nil, pp.errAt(v, "%s: want a list, such as %s: [%s]", key, key, v.Value)
	}
	if v.Kind != yaml.SequenceNode {
		return nil, pp.errAt(v, "%s: want a list of strings, got %s", key, describe(v))
	}
	if len(v.Content) > limit {
		return nil, pp.errAt(v, "%s: %d entries; at most %d (the matrix grows with each)", key, len(v.Content), limit)
	}
	out := make([]string, 0, len(v.Content))
	dup := map[string]bool{}
	for _, item := range v.Content {
		if item.Kind != yaml.ScalarNode || item.Tag != "!!str" {
			return nil, pp.errAt(item, "%s: each entry must be a string, got %s", key, describe(item))
		}
		if err := check(item); err != nil {
			return nil, pp.errAt(item, "%s: %v", key, err)
		}
		if dup[strings.ToLower(item.Value)] {
			return nil, pp.errAt(item, "%s: %q is listed twice", key, item.Value)
		}
		dup[strings.ToLower(item.Value)] = true
		out = append(out, item.Value)
	}
	return out, nil
}

// never reads the never: list: "METHOD /path" strings.
func (pp parser) never(v *yaml.Node) ([]NeverRule, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, pp.errAt(v, "never: want a list such as [\"POST /logout\", \"DELETE /*\"], got %s", describe(v))
	}
	if len(v.Content) > MaxSkip {
		return nil, pp.errAt(v, "never: %d entries; at most %d: use patterns such as \"DELETE /*\"", len(v.Content), MaxSkip)
	}
	var out []NeverRule
	for _, item := range v.Content {
		if item.Kind != yaml.ScalarNode || item.Tag != "!!str" {
			return nil, pp.errAt(item, "never: each entry is a string such as \"POST /logout\", got %s", describe(item))
		}
		r, err := ParseNeverRule(item.Value)
		if err != nil {
			return nil, pp.errAt(item, "never: %v", err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (pp parser) skipList(v *yaml.Node) ([]Skip, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, pp.errAt(v, "skip: want a list of {id: CASE-ID, reason: WHY}")
	}
	if len(v.Content) > MaxSkip {
		return nil, pp.errAt(v, "skip: %d entries; at most %d: skip a family or a route with a prefix such as {id: \"cache.*\", reason: ...}", len(v.Content), MaxSkip)
	}
	var out []Skip
	for _, item := range v.Content {
		if item.Kind != yaml.MappingNode {
			return nil, pp.errAt(item, "skip: each entry is {id: CASE-ID, reason: WHY}")
		}
		var s Skip
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, val := item.Content[i], item.Content[i+1]
			if val.Kind != yaml.ScalarNode {
				return nil, pp.errAt(val, "skip: %s must be a string", k.Value)
			}
			switch k.Value {
			case "id":
				s.ID = val.Value
			case "reason":
				s.Reason = val.Value
			default:
				return nil, pp.errAt(k, "skip: unknown key %q (keys: id, reason)", k.Value)
			}
		}
		if s.ID == "" || strings.TrimSpace(s.Reason) == "" {
			return nil, pp.errAt(item, "skip: each entry needs an id and a reason, e.g. {id: preflight.delete.include, reason: \"DELETE is not deployed yet\"}")
		}
		if len(s.ID) > maxPathLen {
			return nil, pp.errAt(item, "skip: an id of %d characters; case IDs are much shorter", len(s.ID))
		}
		out = append(out, s)
	}
	return out, nil
}

// checkNodes rejects anchors and aliases (the YAML-bomb vector), deep
// nesting, over-long values and control characters anywhere in the file:
// every value ends up in IDs, URLs, terminals or reports.
func checkNodes(file string, n *yaml.Node, depth int) error {
	if depth > 16 {
		return &PolicyError{File: file, Line: n.Line, Msg: "nested too deep; a policy is a flat mapping of lists"}
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return &PolicyError{File: file, Line: n.Line, Msg: "YAML anchors and aliases (&, *) are not supported in a policy; write the values out"}
	}
	if n.Kind == yaml.ScalarNode {
		if len(n.Value) > maxValueLen {
			return &PolicyError{File: file, Line: n.Line, Msg: fmt.Sprintf("a value of %d characters; at most %d", len(n.Value), maxValueLen)}
		}
		for _, r := range n.Value {
			if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || isBidiControl(r) {
				return &PolicyError{File: file, Line: n.Line, Msg: fmt.Sprintf("a control character (%s) in %q: remove it", Visible(string(r)), Visible(n.Value))}
			}
		}
	}
	for _, c := range n.Content {
		if err := checkNodes(file, c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	default:
		return "scalar"
	}
}

func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		t := strings.TrimPrefix(n.Tag, "!!")
		return fmt.Sprintf("%s %q", t, Visible(n.Value))
	}
	return "a " + kindName(n)
}

func yamlErrLine(err error) int {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return 0
	}
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		j := i + 5
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		n, _ := strconv.Atoi(s[i+5 : j])
		return n
	}
	return 0
}
