package runner

import (
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// SameSite reports whether two URLs (or origins) are on the same site:
// the same scheme and registrable domain (public suffix list; .test is no
// public suffix, so app.shop.example.test and api.backend.example.test are
// same-site). IP literals are their own site.
func SameSite(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil || ua.Scheme != ub.Scheme {
		return false
	}
	return Site(ua.Hostname()) == Site(ub.Hostname())
}

// Site is a host's registrable domain (the host itself for IP literals
// and single labels).
func Site(host string) string {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if net.ParseIP(strings.Trim(host, "[]")) != nil || !strings.Contains(host, ".") {
		return host
	}
	if site, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		return site
	}
	return host
}
