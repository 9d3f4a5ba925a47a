// Package firefox is the Firefox engine: Firefox ESR over WebDriver BiDi,
// started by corscheck with a profile of its own.
package firefox

import (
	"github.com/corscheck/corscheck/runner"
)

func init() {
	runner.Register(runner.Engine{
		Name:         runner.EngineFirefox,
		Order:        1,
		StartTimeout: runner.DefaultSlowStartTimeout,
		Find:         Find,
		Validate:     Validate,
		Start:        startFirefox,
	})
}
