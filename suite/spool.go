package suite

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	. "github.com/onsi/ginkgo/v2"

	"github.com/corscheck/corscheck/reports"
	"github.com/corscheck/corscheck/scenarios"
)

// spool carries each case's full result from the process that ran it to
// the one that writes results.json. Ginkgo's parallel processes only share
// their reports, and a report entry is copied into every machine-readable
// report Ginkgo writes (twice per spec in --junit-report): a 30 KB result
// per spec made the demo's JUnit file 14 MB. So the result goes to a
// JSON-lines file per process in a directory process 1 creates, and specs
// add no report entry at all (Ginkgo keeps every spec's report until the
// suite ends).
type spool struct {
	dir string
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
}

// newSpoolDir makes the directory (process 1, before the suite).
func newSpoolDir() (string, error) {
	return os.MkdirTemp("", "corscheck-spool-")
}

func (sp *spool) add(cr reports.CaseResult) error {
	b, err := json.Marshal(cr.WithoutSnippets())
	if err != nil {
		return err
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.dir == "" {
		return fmt.Errorf("no spool directory: the suite's BeforeSuite did not run")
	}
	if sp.f == nil {
		name := filepath.Join(sp.dir, fmt.Sprintf("process-%d.jsonl", GinkgoParallelProcess()))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		sp.f, sp.w = f, bufio.NewWriter(f)
	}
	sp.w.Write(b)
	sp.w.WriteByte('\n')
	// Flushed per case: a process killed mid-run keeps what it recorded.
	return sp.w.Flush()
}

func (sp *spool) close() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.f != nil {
		sp.w.Flush()
		sp.f.Close()
		sp.f, sp.w = nil, nil
	}
}

// read returns every process's results (the last one of an ID wins) and
// their index by case ID. One copy of each result: a run of 40,000 cases
// is not held twice.
func (sp *spool) read() ([]reports.CaseResult, map[string]int, error) {
	sp.close()
	var out []reports.CaseResult
	index := map[string]int{}
	if sp.dir == "" {
		return out, index, nil
	}
	files, err := filepath.Glob(filepath.Join(sp.dir, "process-*.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(files)
	var in scenarios.Interner
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
		for sc.Scan() {
			var cr reports.CaseResult
			if err := json.Unmarshal(sc.Bytes(), &cr); err != nil {
				continue // a line cut short by a killed process
			}
			cr.Intern(&in)
			if i, ok := index[cr.ID]; ok {
				out[i] = cr
				continue
			}
			index[cr.ID] = len(out)
			out = append(out, cr)
		}
		f.Close()
	}
	return out, index, nil
}

func (sp *spool) remove() {
	sp.close()
	if sp.dir != "" {
		os.RemoveAll(sp.dir)
	}
}
