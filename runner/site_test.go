package runner

import "testing"

// Same site is the registrable domain (.test is no public suffix).
func TestSameSite(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"https://app.shop.example.test", "https://api.backend.example.test:8443/x", true},
		{"https://app.shop.test", "https://api.shopbackend.test", false},
		{"https://app.example.com", "https://127.0.0.1:8443", false},
		{"http://app.example.com", "https://api.example.com", false},
		{"https://a.github.io", "https://b.github.io", false},
	} {
		if got := SameSite(c.a, c.b); got != c.same {
			t.Errorf("%s / %s: %v", c.a, c.b, got)
		}
	}
}
