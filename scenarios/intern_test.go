package scenarios

import (
	"encoding/json"
	"reflect"
	"sync"
	"testing"
)

func sameMap[V any](a, b map[string]V) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func internSample(origin, date string) Observation {
	v := "X-Request-ID"
	return Observation{
		Request: Request{URL: "http://127.0.0.1:8080/items", Origin: origin, Method: "PUT", Headers: map[string]string{"X-Request-ID": "1"}},
		Outcome: Allowed,
		Preflight: &Exchange{Status: 204,
			RequestHeaders:  map[string]string{"origin": origin, "access-control-request-method": "PUT"},
			ResponseHeaders: map[string]string{"access-control-allow-origin": origin, "vary": "Origin"}},
		Response:        &Response{Status: 200, Headers: map[string]string{"date": date, "access-control-allow-origin": origin}},
		ReadableHeaders: map[string]*string{"x-request-id": &v, "x-secret": nil},
		Browser:         "HeadlessChrome/156",
	}
}

// Equal header sets become one map, different ones stay apart, and no
// value changes.
func TestInternerSharesEqualSetsOnly(t *testing.T) {
	var in Interner
	a, b := internSample("https://a.example", "d1"), internSample("https://a.example", "d2")
	c := internSample("https://c.example", "d1")
	before, _ := json.Marshal([]Observation{a, b, c})
	for _, o := range []*Observation{&a, &b, &c} {
		in.Observation(o)
	}
	after, _ := json.Marshal([]Observation{a, b, c})
	if string(before) != string(after) {
		t.Fatalf("interning changed observations:\n%s\n%s", before, after)
	}
	if !sameMap(a.Preflight.ResponseHeaders, b.Preflight.ResponseHeaders) || !sameMap(a.Request.Headers, c.Request.Headers) {
		t.Error("equal header sets were not shared")
	}
	if !sameMap(a.ReadableHeaders, c.ReadableHeaders) {
		t.Error("equal readable sets were not shared")
	}
	if sameMap(a.Response.Headers, b.Response.Headers) || sameMap(a.Preflight.ResponseHeaders, c.Preflight.ResponseHeaders) {
		t.Error("different header sets were merged")
	}
	// A readable header and an unreadable one of the same name differ.
	v := "X-Request-ID"
	d := internSample("https://a.example", "d1")
	d.ReadableHeaders = map[string]*string{"x-request-id": nil, "x-secret": &v}
	in.Observation(&d)
	if sameMap(a.ReadableHeaders, d.ReadableHeaders) || d.ReadableHeaders["x-request-id"] != nil {
		t.Error("readable sets that differ in what is readable were merged")
	}
}

// One interner serves all of a batch's pages at once.
func TestInternerConcurrent(t *testing.T) {
	var in Interner
	obs := make([]Observation, 64)
	var wg sync.WaitGroup
	for i := range obs {
		obs[i] = internSample("https://a.example", "d")
		wg.Go(func() { in.Observation(&obs[i]) })
	}
	wg.Wait()
	for i := range obs {
		if !sameMap(obs[i].Response.Headers, obs[0].Response.Headers) {
			t.Fatalf("observation %d kept its own copy", i)
		}
	}
}
