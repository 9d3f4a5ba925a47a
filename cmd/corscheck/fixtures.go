package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/corscheck/corscheck/fixtures"
	"github.com/corscheck/corscheck/scenarios"
	"github.com/corscheck/corscheck/suite"
)

func cmdFixtures(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("fixtures: want `fixtures list` or `fixtures serve NAME [--addr HOST:PORT]`")
	}
	switch args[0] {
	case "list":
		for _, n := range fixtures.Names() {
			fmt.Fprintln(stdout, n)
		}
		return nil
	case "serve":
		fs := newFlagSet("fixtures serve", stderr)
		addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
		anyAddr := fs.Bool("listen-any", false, "allow a non-loopback --addr such as 0.0.0.0:8080 (inside a container)")
		policyPath := fs.String("policy", "", "policy the fixture implements (default: the shared sample policy)")
		pos, err := parseInterleaved(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageErr("fixtures serve takes one NAME; `corscheck fixtures list` shows them")
		}
		if err := checkListenAddr(*addr, *anyAddr); err != nil {
			return &exitError{2, err}
		}
		var p *scenarios.Policy
		if *policyPath != "" {
			p, err = scenarios.LoadPolicy(*policyPath)
		} else {
			p, err = fixtures.Policy("sample")
		}
		if err != nil {
			return &exitError{2, err}
		}
		srv, err := fixtures.Start(pos[0], p, *addr)
		if err != nil {
			return &exitError{2, err}
		}
		defer srv.Close()
		fmt.Fprintln(stdout, srv.URL)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		return nil
	}
	return usageErr("fixtures: unknown subcommand %q (list, serve)", args[0])
}

// checkListenAddr keeps fixtures on loopback unless --listen-any.
func checkListenAddr(addr string, any bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want HOST:PORT, e.g. 127.0.0.1:8080", addr)
	}
	if any || suite.IsLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("--addr %q: fixtures are test servers and listen on loopback only (127.0.0.1, ::1, localhost); add --listen-any inside a container", addr)
}
