package suite_test

import (
	"context"
	"flag"
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"

	"github.com/corscheck/corscheck/suite"
)

// The same flags as `corscheck run`: go test ./suite -args --policy P --target URL
// or ginkgo ./suite -- --policy P --target URL. With neither, the demo runs.
// go test runs inside suite/: relative paths resolve against --base-dir
// (default $CORSCHECK_BASE_DIR; `make suite` sets it to where you stand).
var cfg suite.Config

func init() {
	cfg.RegisterFlags(flag.CommandLine)
	flag.StringVar(&cfg.BaseDir, "base-dir", os.Getenv("CORSCHECK_BASE_DIR"), "directory relative --policy, --openapi and --out paths are resolved from")
}

func TestConformance(t *testing.T) {
	s, err := suite.Prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Setup(context.Background()); err != nil {
		s.Close()
		t.Fatal(err)
	}
	suite.Define(s, nil)
	RunSpecs(t, "corscheck conformance: "+s.Target)
}
