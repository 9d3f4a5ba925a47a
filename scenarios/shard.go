package scenarios

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"
)

// ShardSpec is one of N stable slices of a matrix (--shard K/N).
type ShardSpec struct {
	Index int `json:"index"` // 1-based
	Count int `json:"count"`
}

func (s ShardSpec) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// MaxShards bounds --shard N.
const MaxShards = 256

var shardRe = regexp.MustCompile(`^([0-9]+)/([0-9]+)$`)

// ParseShard reads "K/N" (1 ≤ K ≤ N).
func ParseShard(s string) (ShardSpec, error) {
	m := shardRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return ShardSpec{}, fmt.Errorf("--shard %q: write K/N, e.g. --shard 2/3 for the second of three shards", s)
	}
	k, _ := strconv.Atoi(m[1])
	n, _ := strconv.Atoi(m[2])
	if n < 1 || n > MaxShards || k < 1 || k > n {
		return ShardSpec{}, fmt.Errorf("--shard %q: K must be between 1 and N, and N between 1 and %d", s, MaxShards)
	}
	return ShardSpec{Index: k, Count: n}, nil
}

// ShardKey is what a case is sharded by: its ID without the origin, so the
// same request from every origin lands in one shard (a hostile case is
// corroborated by its allowed-origin twin, which must run beside it).
func ShardKey(c Case) string {
	if c.Request.Origin == "" {
		return c.ID
	}
	return strings.TrimSuffix(c.ID, Slug(c.Request.Origin))
}

// In reports whether a case belongs to the shard: a stable hash of its
// key, so the split does not depend on the order or the other cases.
func (s ShardSpec) In(c Case) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(ShardKey(c)))
	return int(h.Sum32()%uint32(s.Count)) == s.Index-1
}

// Shard returns the cases of the shard, in their order.
func (s ShardSpec) Shard(cases []Case) []Case {
	if s.Count <= 1 {
		return cases
	}
	var out []Case
	for _, c := range cases {
		if s.In(c) {
			out = append(out, c)
		}
	}
	return out
}
