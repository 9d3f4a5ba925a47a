package scenarios

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Route is one URL the matrix probes, with the policy in force there.
// Routes are policy data: a route carries its own policy, and the matrix
// expands a route like any other dimension, with IDs derived from it.
type Route struct {
	// Path is the route as declared (/v1/items/{id}, /v1/admin/*); empty for
	// the target itself.
	Path string `json:"path"`
	// URL is the concrete URL probed (path parameters filled in).
	URL string `json:"url"`
	// Key is the route's ID fragment: empty for the target, "path-v1-items"
	// otherwise.
	Key string `json:"key"`
	// Policy is the policy in force on this route.
	Policy *Policy `json:"-"`
	// Methods are the methods the API serves here (from OpenAPI); nil means
	// the policy's methods.
	Methods []string `json:"methods,omitempty"`
	// Source says where the route came from: target, paths or openapi.
	Source string `json:"source"`
}

// Label is the route's --label-filter label, route:KEY (route:target for the target).
func (r Route) Label() string {
	if r.Key == "" {
		return "route:target"
	}
	return "route:" + strings.TrimPrefix(r.Key, "path-")
}

// Name is how reports name the route: its path, or the target's path.
func (r Route) Name() string {
	if r.Path != "" {
		return r.Path
	}
	u, err := url.Parse(r.URL)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}

// Operation is one route of an API description: a path template and the
// methods it serves.
type Operation struct {
	Path    string
	Methods []string
	// Sample is the path with every parameter filled in.
	Sample string
}

// Routes lists the routes a run probes: the target (unless an OpenAPI
// description replaces it with its operations), the policy's paths, and the
// operations. A path pattern (ending in /*) gives its overrides to the
// operations and paths it matches; one that matches none is probed with a
// sample segment. Operations outside the policy's methods keep their own
// methods: the policy decides what is expected of them.
func Routes(p *Policy, target string, ops []Operation) ([]Route, error) {
	base, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	var routes []Route
	seen := map[string]bool{}
	add := func(r Route) error {
		if seen[r.URL] {
			return nil
		}
		if len(routes) >= MaxRoutes {
			return fmt.Errorf("more than %d routes: narrow paths: or the OpenAPI file, or run in shards", MaxRoutes)
		}
		seen[r.URL] = true
		routes = append(routes, r)
		return nil
	}
	if len(ops) == 0 {
		add(Route{URL: target, Policy: p, Source: "target"})
	}
	var patterns []RouteSpec
	for _, spec := range p.Paths {
		if strings.HasSuffix(spec.Path, "/*") {
			patterns = append(patterns, spec)
			continue
		}
		u := *base
		u.Path, u.RawQuery, u.RawPath = fillParams(spec.Path, p.PathParams), "", ""
		if err := add(Route{Path: spec.Path, URL: u.String(), Key: routeKey(spec.Path), Policy: p.ForRoute(spec), Source: "paths"}); err != nil {
			return nil, err
		}
	}
	prefix := strings.TrimSuffix(base.Path, "/")
	for _, op := range ops {
		u := *base
		sample := op.Sample
		if sample == "" {
			sample = fillParams(op.Path, p.PathParams)
		}
		u.Path, u.RawQuery, u.RawPath = prefix+sample, "", ""
		if err := add(Route{Path: op.Path, URL: u.String(), Key: routeKey(op.Path), Policy: p, Methods: op.Methods, Source: "openapi"}); err != nil {
			return nil, err
		}
	}
	for _, pat := range patterns {
		matched := false
		for i := range routes {
			if routes[i].Path != "" && matchRoute(pat.Path, routes[i].Path) {
				routes[i].Policy = routes[i].Policy.ForRoute(pat)
				matched = true
			}
		}
		if !matched {
			u := *base
			u.Path, u.RawQuery, u.RawPath = fillParams(strings.TrimSuffix(pat.Path, "*")+"corscheck", p.PathParams), "", ""
			if err := add(Route{Path: pat.Path, URL: u.String(), Key: routeKey(pat.Path), Policy: p.ForRoute(pat), Source: "paths"}); err != nil {
				return nil, err
			}
		}
	}
	keys := map[string]string{}
	for _, r := range routes {
		if other, dup := keys[r.Key]; dup && r.Key != "" {
			return nil, fmt.Errorf("routes %s and %s have the same ID fragment %q; rename one", other, r.Path, r.Key)
		}
		keys[r.Key] = r.Path
	}
	return routes, nil
}

// matchRoute reports whether a pattern /a/b/* covers a route path.
func matchRoute(pattern, path string) bool {
	prefix := strings.TrimSuffix(pattern, "*")
	return strings.HasPrefix(path, prefix) || path+"/" == prefix
}

// fillParams replaces {name} with the sample value (pathParams), else a
// placeholder that a router accepts for most parameter types.
func fillParams(path string, params map[string]string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(path, '{')
		j := strings.IndexByte(path, '}')
		if i < 0 || j < i {
			b.WriteString(path)
			return b.String()
		}
		name := path[i+1 : j]
		v, ok := params[name]
		if !ok {
			v = "1"
		}
		b.WriteString(path[:i])
		b.WriteString(url.PathEscape(v))
		path = path[j+1:]
	}
}

// routeKey is a route's ID fragment: path- and the path's slug.
func routeKey(path string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(path) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			b.WriteRune(r)
		case r == '*':
			b.WriteString("star")
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	if s == "" {
		s = "root"
	}
	return "path-" + s
}

// RouteNames lists route names, sorted, for findings.

// CheckPathParams refuses pathParams (and --path-param) names that no
// route's path has: a typo (idd for id) would otherwise fill {id} with a
// placeholder without a word.
func CheckPathParams(p *Policy, ops []Operation) error {
	if len(p.PathParams) == 0 {
		return nil
	}
	known := map[string]bool{}
	collect := func(path string) {
		for {
			i := strings.IndexByte(path, '{')
			j := strings.IndexByte(path, '}')
			if i < 0 || j < i {
				return
			}
			known[path[i+1:j]] = true
			path = path[j+1:]
		}
	}
	for _, op := range ops {
		collect(op.Path)
	}
	for _, r := range p.Paths {
		collect(r.Path)
	}
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range sortedKeys(p.PathParams) {
		if known[n] {
			continue
		}
		msg := fmt.Sprintf("pathParams: %q is not a parameter of any route's path", Visible(n))
		if c := Closest(n, names); c != "" {
			msg += fmt.Sprintf("; did you mean %q?", c)
		}
		if len(names) > 0 {
			msg += " (parameters: " + strings.Join(names, ", ") + ")"
		} else {
			msg += " (no route has a {parameter})"
		}
		return errors.New(msg)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
