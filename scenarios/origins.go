package scenarios

import (
	"net/url"
	"strconv"
	"strings"
)

// hostileOrigin is an origin an attacker can use, with what it imitates.
type hostileOrigin struct {
	origin, kind string
	compact      bool
}

// HostileKinds describes each class of hostile origin with the server bug
// that letting it in proves. Every kind is a label (hostile:KIND).
var HostileKinds = map[string]string{
	"null":             "the server allows the opaque origin null, which any page can produce (a sandboxed iframe, a data: URL)",
	"unrelated":        "the server allows an origin it has no reason to know: it reflects any Origin",
	"suffix":           "the origin check accepts any origin that ends with the allowed host (an unanchored suffix match or endsWith without a dot)",
	"suffix-dash":      "the origin check accepts any origin that ends with the allowed host (an unanchored suffix match)",
	"prefix":           "the origin check accepts any origin that starts with the allowed origin (a prefix match, or a regex without $)",
	"subdomain":        "the origin check accepts subdomains of the allowed host that the policy does not list",
	"apex":             "a *.domain pattern also accepts the bare domain",
	"downgrade":        "the origin check ignores the scheme: an http:// page (readable by anyone on the network) is allowed",
	"port":             "the origin check ignores the port",
	"listed":           "the server allows an origin the policy says must be refused",
	"unescaped-dot":    "the origin regex has an unescaped '.', which matches any character (appxexample.com passes for app.example.com)",
	"special-chars":    "the origin check parses the host loosely: characters browsers allow in host names (_ ! $ ' ( ) * + , ; = ~ `) end its host before the attacker's domain",
	"substring":        "the origin check tests whether the allowed host contains the request's host (a substring match)",
	"third-party":      "the server allows a shared hosting origin (github.io, codepen.io, jsfiddle.net, jsbin.com, repl.it) where anyone can publish a page",
	"localhost-prefix": "the origin check accepts anything starting with http://localhost, so http://localhost.attacker.example passes",
}

// thirdPartyOrigins are shared hosting origins where anyone can run script.
var thirdPartyOrigins = []string{"https://corscheck.github.io", "https://codepen.io", "https://jsfiddle.net", "https://jsbin.com", "https://repl.it"}

// hostileFrom are hostile origins generated from one allowed origin or pattern.
func hostileFrom(allowed string) []hostileOrigin {
	pattern := false
	if scheme, rest, ok := strings.Cut(allowed, "://*."); ok {
		allowed, pattern = scheme+"://"+rest, true
	}
	u, err := url.Parse(allowed)
	if err != nil || u.Host == "" {
		return nil
	}
	host, port := u.Hostname(), u.Port()
	withPort := func(scheme, h string) string {
		if port != "" {
			return scheme + "://" + h + ":" + port
		}
		return scheme + "://" + h
	}
	out := []hostileOrigin{
		{withPort(u.Scheme, "evil"+host), "suffix", false},
		{withPort(u.Scheme, "evil-"+host), "suffix-dash", false},
		{withPort(u.Scheme, host+".evil.test"), "prefix", false},
	}
	if pattern {
		out = append(out, hostileOrigin{allowed, "apex", false})
	} else {
		out = append(out, hostileOrigin{withPort(u.Scheme, "x."+host), "subdomain", false})
	}
	if u.Scheme == "https" {
		out = append(out, hostileOrigin{withPort("http", host), "downgrade", false})
	}
	other := 8443
	if port != "" {
		n, _ := strconv.Atoi(port)
		other = n + 1
		if other > 65535 {
			other = n - 1
		}
	} else if u.Scheme == "http" {
		other = 8080
	}
	out = append(out, hostileOrigin{u.Scheme + "://" + host + ":" + strconv.Itoa(other), "port", false})
	if dot := strings.IndexByte(host, '.'); dot > 0 && dot < len(host)-1 && !isIPv4(host) {
		out = append(out, hostileOrigin{withPort(u.Scheme, host[:dot]+"x"+host[dot+1:]), "unescaped-dot", true})
	}
	out = append(out, hostileOrigin{withPort(u.Scheme, host+"_.evil.test"), "special-chars", true})
	if sub := substringHost(host); sub != "" {
		out = append(out, hostileOrigin{withPort(u.Scheme, sub), "substring", true})
	}
	return out
}

// substringHost is a host that the allowed one contains: the host without
// its first character(s), so it still starts with a letter or digit.
func substringHost(host string) string {
	for i := 1; i < len(host)-1; i++ {
		c := host[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if strings.Contains(host[i:], ".") && !isIPv4(host) {
				return host[i:]
			}
			return ""
		}
	}
	return ""
}

func isIPv4(h string) bool {
	parts := strings.Split(h, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if !allDigits(p) {
			return false
		}
	}
	return true
}

// representative returns a concrete origin for a policy origin entry.
func representative(o string) string {
	if o == "*" {
		return "https://any.corscheck.test"
	}
	if scheme, rest, ok := strings.Cut(o, "://*."); ok {
		return scheme + "://corscheck." + rest
	}
	return o
}

// Slug turns an origin into an ID-safe fragment: https://app.example.com:8443 → https-app.example.com-8443.
func Slug(origin string) string {
	s := strings.ReplaceAll(origin, "://", "-")
	s = strings.ReplaceAll(s, ":", "-")
	s = strings.ReplaceAll(s, "*", "star")
	return strings.ReplaceAll(s, "/", "-")
}

// originRoles lists the allowed origins, then the hostile ones generated
// from them, then refuseOrigins, each once and never one the policy allows.
// The classes real bypasses use that the first release did not probe are
// compact (a few requests each).
func (p *Policy) originRoles() []originRole {
	var origins []originRole
	seen := map[string]bool{}
	for _, o := range p.Origins {
		r := representative(o)
		if !seen[r] {
			seen[r] = true
			origins = append(origins, originRole{origin: r, kind: "allowed"})
		}
	}
	addHostile := func(o, kind string, compact bool) {
		if !seen[o] && !p.OriginAllowed(o) {
			seen[o] = true
			origins = append(origins, originRole{origin: o, kind: kind, hostile: true, compact: compact})
		}
	}
	addHostile("null", "null", false)
	addHostile("https://corscheck-attacker.test", "unrelated", false)
	var compact []hostileOrigin
	for _, o := range p.Origins {
		if o != "*" {
			for _, h := range hostileFrom(o) {
				if h.compact {
					compact = append(compact, h)
					continue
				}
				addHostile(h.origin, h.kind, false)
			}
		}
	}
	for _, o := range p.RefuseOrigins {
		addHostile(o, "listed", false)
	}
	for _, h := range compact {
		addHostile(h.origin, h.kind, true)
	}
	if !contains(p.Origins, "*") {
		for _, o := range thirdPartyOrigins {
			addHostile(o, "third-party", true)
		}
		addHostile("http://localhost.evil.test", "localhost-prefix", true)
	}
	return origins
}
