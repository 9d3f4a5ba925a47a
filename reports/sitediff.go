package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ReadSite reads a compatibility site's data: its directory, or its
// index.json. ok is false (and err nil) when the file is JSON of another
// kind (a run's results.json).
func ReadSite(path string) (s *Site, ok bool, err error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "index.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, err
	}
	var probe struct {
		Columns json.RawMessage `json:"columns"`
		Rows    json.RawMessage `json:"rows"`
	}
	if json.Unmarshal(data, &probe) != nil || probe.Columns == nil || probe.Rows == nil {
		return nil, false, nil
	}
	s = &Site{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, true, fmt.Errorf("%s: %w", path, err)
	}
	return s, true, nil
}

// SiteDiff is what changed between two builds of the site: versions, and
// per row its status, its cells and its findings.
type SiteDiff struct {
	Versions []string
	// Worse and Better are changes of a row's cells or status; Other are
	// new and removed rows and finding changes with no change of state.
	Worse, Better, Other []string
}

// Changed reports whether anything but the build time changed.
func (d SiteDiff) Changed() bool {
	return len(d.Versions)+len(d.Worse)+len(d.Better)+len(d.Other) > 0
}

// DiffSites compares two builds of the site.
func DiffSites(old, cur *Site) SiteDiff {
	var d SiteDiff
	ver := func(what, a, b string) {
		if a != b {
			d.Versions = append(d.Versions, fmt.Sprintf("%s: %s → %s", what, orNone(a), orNone(b)))
		}
	}
	ver("corscheck", old.Corscheck, cur.Corscheck)
	oe := map[string]string{}
	for _, e := range old.Engines {
		oe[e.Engine] = e.Version
	}
	for _, e := range cur.Engines {
		ver(e.Title, oe[e.Engine], e.Version)
	}
	ov := map[string]string{}
	for _, s := range old.Stacks {
		ov[s.Name] = s.Version
	}
	for _, s := range cur.Stacks {
		ver(s.Title, ov[s.Name], s.Version)
	}
	rows := map[string]SiteRow{}
	for _, r := range old.Rows {
		rows[r.ID] = r
	}
	seen := map[string]bool{}
	v := siteView{cur}
	for _, r := range cur.Rows {
		seen[r.ID] = true
		o, had := rows[r.ID]
		if !had {
			d.Other = append(d.Other, fmt.Sprintf("new configuration %s: %s", r.ID, r.Status))
			continue
		}
		if o.Status != r.Status {
			line := fmt.Sprintf("%s: %s → %s", r.ID, o.Status, r.Status)
			switch {
			case r.Unexpected() && !o.Unexpected():
				d.Worse = append(d.Worse, line)
			case o.Unexpected() && !r.Unexpected():
				d.Better = append(d.Better, line)
			default:
				d.Other = append(d.Other, line)
			}
		}
		for _, e := range cur.Engines {
			for _, col := range cur.Columns {
				a, b := o.ColumnCell(e.Engine, col.ID), r.ColumnCell(e.Engine, col.ID)
				if a.State() == b.State() {
					continue
				}
				line := fmt.Sprintf("%s: %s, %s: %s %s → %s %s", r.ID, e.Title, v.ColumnTitle(col.ID), a.Symbol(), a.Label(), b.Symbol(), b.Label())
				if stateRank[b.State()] > stateRank[a.State()] {
					d.Worse = append(d.Worse, line)
				} else {
					d.Better = append(d.Better, line)
				}
			}
		}
		of := map[string]bool{}
		for _, f := range o.Findings {
			of[f.ID] = true
		}
		var added, gone []string
		for _, f := range r.Findings {
			if !of[f.ID] {
				added = append(added, f.ID)
			}
			delete(of, f.ID)
		}
		for _, f := range o.Findings {
			if of[f.ID] {
				gone = append(gone, f.ID)
			}
		}
		if len(added)+len(gone) > 0 {
			d.Other = append(d.Other, fmt.Sprintf("%s: findings +[%s] −[%s]", r.ID, strings.Join(added, ", "), strings.Join(gone, ", ")))
		}
	}
	for _, r := range old.Rows {
		if !seen[r.ID] {
			d.Other = append(d.Other, "configuration no longer built: "+r.ID)
		}
	}
	return d
}

// stateRank orders cell states from best to worst.
var stateRank = map[string]int{"none": 0, "pass": 1, "differs": 2, "error": 3, "fail": 4}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Text is the diff for a terminal.
func (d SiteDiff) Text() string {
	if !d.Changed() {
		return "site diff: nothing changed\n"
	}
	var b strings.Builder
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s (%d):\n", title, len(lines))
		for _, l := range lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	section("worse", d.Worse)
	section("better", d.Better)
	section("versions", d.Versions)
	section("other changes", d.Other)
	return b.String()
}
