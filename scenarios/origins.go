package scenarios

import (
	"net/url"
	"strconv"
	"strings"
)

// hostileOrigin is an origin an attacker can use, with what it imitates.
type hostileOrigin struct {
	origin, kind string
}

// Hostile origins generated from one allowed origin or pattern.
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
		{withPort(u.Scheme, "evil"+host), "suffix"},
		{withPort(u.Scheme, "evil-"+host), "suffix-dash"},
		{withPort(u.Scheme, host+".evil.test"), "prefix"},
	}
	if pattern {
		out = append(out, hostileOrigin{allowed, "apex"})
	} else {
		out = append(out, hostileOrigin{withPort(u.Scheme, "x."+host), "subdomain"})
	}
	if u.Scheme == "https" {
		out = append(out, hostileOrigin{withPort("http", host), "downgrade"})
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
	out = append(out, hostileOrigin{u.Scheme + "://" + host + ":" + strconv.Itoa(other), "port"})
	return out
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
func (p *Policy) originRoles() []originRole {
	var origins []originRole
	seen := map[string]bool{}
	for _, o := range p.Origins {
		r := representative(o)
		if !seen[r] {
			seen[r] = true
			origins = append(origins, originRole{r, "allowed", false})
		}
	}
	addHostile := func(o, kind string) {
		if !seen[o] && !p.OriginAllowed(o) {
			seen[o] = true
			origins = append(origins, originRole{o, kind, true})
		}
	}
	addHostile("null", "null")
	addHostile("https://corscheck-attacker.test", "unrelated")
	for _, o := range p.Origins {
		if o != "*" {
			for _, h := range hostileFrom(o) {
				addHostile(h.origin, h.kind)
			}
		}
	}
	for _, o := range p.RefuseOrigins {
		addHostile(o, "listed")
	}
	return origins
}
