// Package chrome is the Chrome engine: headless Chromium over the DevTools
// protocol (chromedp), started by corscheck or attached to with
// --browser-url (one endpoint, or several as a pool).
package chrome

import (
	"context"

	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
)

func init() {
	runner.Register(runner.Engine{
		Name:   runner.EngineChrome,
		Order:  0,
		Attach: true,
		Find:   Find,
		Start:  core.Attachable(runner.EngineChrome, startOne),
	})
}

func startOne(ctx context.Context, o runner.Options) (runner.Browser, error) {
	b, err := startChrome(ctx, o)
	if err != nil {
		return nil, err
	}
	return b, nil
}
