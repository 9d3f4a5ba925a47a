package scenarios

import (
	"strings"
	"testing"
)

func TestParseShard(t *testing.T) {
	if s, err := ParseShard("2/3"); err != nil || s != (ShardSpec{2, 3}) {
		t.Fatalf("2/3: %v %v", s, err)
	}
	for _, bad := range []string{"", "3", "0/3", "4/3", "1/0", "a/b", "1/999", "-1/3"} {
		if _, err := ParseShard(bad); err == nil || !strings.Contains(err.Error(), "--shard") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// The shards of a matrix are disjoint, cover it, keep each request's
// origins together, and are roughly even.
func TestShardsPartitionTheMatrix(t *testing.T) {
	cases := mustExpand(t, samplePolicy(t))
	const n = 3
	seen := map[string]int{}
	keyShard := map[string]int{}
	for k := 1; k <= n; k++ {
		part := ShardSpec{k, n}.Shard(cases)
		if len(part) < len(cases)/n/2 {
			t.Errorf("shard %d/%d has %d of %d cases", k, n, len(part), len(cases))
		}
		for _, c := range part {
			seen[c.ID]++
			if prev, ok := keyShard[ShardKey(c)]; ok && prev != k {
				t.Errorf("%s: its origins are split across shards %d and %d", c.ID, prev, k)
			}
			keyShard[ShardKey(c)] = k
		}
	}
	if len(seen) != len(cases) {
		t.Fatalf("shards cover %d of %d cases", len(seen), len(cases))
	}
	for id, times := range seen {
		if times != 1 {
			t.Errorf("%s is in %d shards", id, times)
		}
	}
	if got := (ShardSpec{1, 1}).Shard(cases); len(got) != len(cases) {
		t.Fatal("1/1 is not the whole matrix")
	}
}
