package core

import (
	"testing"
)

func TestWithoutToken(t *testing.T) {
	for in, want := range map[string]string{
		"http://h/p?__corscheck=ab.1":       "http://h/p",
		"http://h/p?a=1&__corscheck=ab.1":   "http://h/p?a=1",
		"http://h/p?__corscheck=ab.1&a=1":   "http://h/p?a=1",
		"http://h/p?a=1&__corscheck=ab.1#f": "http://h/p?a=1#f",
		"http://h/p":                        "http://h/p",
	} {
		if got := WithoutToken(in); got != want {
			t.Errorf("WithoutToken(%q) = %q, want %q", in, got, want)
		}
		if tok := TokenOf(withToken(want, "ab.1")); tok != "ab.1" {
			t.Errorf("TokenOf(withToken(%q)) = %q", want, tok)
		}
	}
}
