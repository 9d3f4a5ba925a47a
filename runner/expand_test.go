package runner_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/corscheck/corscheck/runner"
)

// dns+http://NAME:PORT is every address of NAME: a compose service scaled
// to several browsers becomes a pool.
func TestExpandBrowserURLs(t *testing.T) {
	lookup := func(_ context.Context, host string) ([]string, error) {
		if host == "chrome" {
			return []string{"172.18.0.5", "172.18.0.3", "172.18.0.4"}, nil
		}
		return nil, fmt.Errorf("no such host %s", host)
	}
	got, err := runner.ExpandBrowserURLs([]string{"dns+http://chrome:9222", "http://127.0.0.1:9222", "http://127.0.0.1:9222"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := "http://172.18.0.3:9222,http://172.18.0.4:9222,http://172.18.0.5:9222,http://127.0.0.1:9222"
	if strings.Join(got, ",") != want {
		t.Fatalf("got %v", got)
	}
	for _, bad := range []string{"dns+http://nothing:9222", "dns+http://chrome"} {
		if _, err := runner.ExpandBrowserURLs([]string{bad}, lookup); err == nil || !strings.Contains(err.Error(), "--browser-url") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// --browser-url names the browsers of one engine: with two engines it is
// refused, naming the fix; WebKit's endpoints must be on this machine.
func TestBrowserURLOneEngine(t *testing.T) {
	err := runner.Options{Browsers: "chrome,firefox", BrowserURLs: []string{"http://127.0.0.1:9222"}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "one engine at a time") {
		t.Errorf("two engines with --browser-url: %v", err)
	}
	for _, e := range []string{"chrome", "firefox", "webkit"} {
		if err := (runner.Options{Browsers: e, BrowserURLs: []string{"http://127.0.0.1:9222"}}).Validate(); err != nil {
			t.Errorf("%s with --browser-url: %v", e, err)
		}
	}
}
