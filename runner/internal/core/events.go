package core

import (
	"strings"
)

// TokenOf extracts the correlation token from a probe URL.
func TokenOf(u string) string {
	i := strings.Index(u, TokenParam+"=")
	if i < 0 {
		return ""
	}
	tok := u[i+len(TokenParam)+1:]
	if j := strings.IndexAny(tok, "&#"); j >= 0 {
		tok = tok[:j]
	}
	return tok
}

// WithoutToken removes the correlation parameter so messages show the URL
// the user asked for.
func WithoutToken(u string) string {
	i := strings.Index(u, TokenParam+"=")
	if i < 1 {
		return u
	}
	j := strings.IndexAny(u[i:], "&#")
	switch {
	case j < 0:
		return u[:i-1]
	case u[i+j] == '&':
		return u[:i] + u[i+j+1:]
	default:
		return u[:i-1] + u[i+j:]
	}
}

func Contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
