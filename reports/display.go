package reports

import (
	"bytes"
	"encoding/json"

	"github.com/corscheck/corscheck/scenarios"
)

// display returns a copy of v in which every string (header names and
// values, URLs, messages, console sentences) has gone through
// scenarios.VisibleLines: the copy the human-facing writers render (HTML,
// JUnit, Markdown, the terminal), so nothing a target sends can drive a
// terminal or reorder corscheck's own text. results.json keeps the data
// as observed.
func display[T any](v *T) *T {
	data, err := json.Marshal(v)
	if err != nil {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return v
	}
	clean, err := json.Marshal(visibleTree(tree))
	if err != nil {
		return v
	}
	var out T
	if err := json.Unmarshal(clean, &out); err != nil {
		return v
	}
	return &out
}

func visibleTree(v any) any {
	switch x := v.(type) {
	case string:
		return scenarios.VisibleLines(x)
	case []any:
		for i := range x {
			x[i] = visibleTree(x[i])
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[scenarios.VisibleLines(k)] = visibleTree(val)
		}
		return out
	}
	return v
}

// Display is the results as the human-facing outputs show them.
func (r *Results) Display() *Results {
	d := display(r)
	d.WriteError = r.WriteError
	return d
}
