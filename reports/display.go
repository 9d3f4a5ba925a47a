package reports

import (
	"bytes"
	"encoding/json"
	"reflect"

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

// displayInPlace puts every string of v (struct fields, slices, map keys
// and values, through pointers) through scenarios.VisibleLines, in place:
// the human-facing writers of a large run share one sanitised document
// instead of each making a copy (a generic JSON tree of 33,000 cases took
// gigabytes). Strings that need no change are left as they are.
func displayInPlace(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			displayInPlace(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.CanSet() || f.Kind() == reflect.Pointer || f.Kind() == reflect.Slice || f.Kind() == reflect.Map {
				if v.Type().Field(i).IsExported() {
					displayInPlace(f)
				}
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			displayInPlace(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		type entry struct{ old, key, val reflect.Value }
		var entries []entry
		iter := v.MapRange()
		for iter.Next() {
			k, val := iter.Key(), iter.Value()
			nv := reflect.New(val.Type()).Elem()
			nv.Set(val)
			displayInPlace(nv)
			nk := k
			if k.Kind() == reflect.String {
				if vis := scenarios.VisibleLines(k.String()); vis != k.String() {
					nk = reflect.New(k.Type()).Elem()
					nk.SetString(vis)
				}
			}
			entries = append(entries, entry{k, nk, nv})
		}
		for _, e := range entries {
			if e.key.Interface() != e.old.Interface() {
				v.SetMapIndex(e.old, reflect.Value{})
			}
			v.SetMapIndex(e.key, e.val)
		}
	case reflect.String:
		if v.CanSet() {
			if vis := scenarios.VisibleLines(v.String()); vis != v.String() {
				v.SetString(vis)
			}
		}
	}
}

// DisplayInPlace sanitises r for the human-facing writers without a copy
// (see displayInPlace). r no longer holds the data as observed afterwards:
// write results.json first.
func (r *Results) DisplayInPlace() { displayInPlace(reflect.ValueOf(r)) }
