package suite_test

import (
	"flag"
	"testing"

	. "github.com/onsi/ginkgo/v2"

	"github.com/corscheck/corscheck/suite"
)

// The same flags as `corscheck run`: go test ./suite -args --policy P --target URL
// or ginkgo ./suite -- --policy P --target URL. With neither, the demo runs.
var cfg suite.Config

func init() { cfg.RegisterFlags(flag.CommandLine) }

func TestConformance(t *testing.T) {
	s, err := suite.Prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	suite.Define(s, nil)
	RunSpecs(t, "corscheck conformance: "+s.Target)
}
