// Package firefox is the Firefox engine: Firefox ESR over WebDriver BiDi,
// started by corscheck with a profile of its own, or attached to with
// --browser-url (a BiDi socket, or a WebDriver endpoint such as geckodriver
// or a Selenium Grid; several make a pool).
package firefox

import (
	"github.com/corscheck/corscheck/runner"
	"github.com/corscheck/corscheck/runner/internal/core"
)

func init() {
	runner.Register(runner.Engine{
		Name:         runner.EngineFirefox,
		Order:        1,
		StartTimeout: runner.DefaultSlowStartTimeout,
		Find:         Find,
		Attach:       true,
		Validate:     Validate,
		Start:        core.Attachable(runner.EngineFirefox, startFirefox),
	})
}
