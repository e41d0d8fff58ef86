// Package redisstore shares a ratellmiter quota between processes through
// Redis: the limiters of every process that create their limiter with
// ratellmiter.WithStore(store, key) count their tickets, pause, probe and
// learn together.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	store := redisstore.New(rdb)
//	limiter, err := ratellmiter.NewBucketRateLimiter(600,
//		ratellmiter.WithStore(store, "openai-org-1"))
//
// Each Sync is one round trip: a Lua script (sync.lua) that applies the
// request and computes the grant atomically, with the semantics of
// ratellmiter.MemoryStore. A quota lives under five keys named after it:
// a hash of tickets per second (the sixty-second window is its sum), a
// hash of the shared state (pause, probe lease with its expiry, ramp,
// learned limit, incarnation, the caps in force), a sorted set of limiter
// ids by their last heartbeat, a hash of each limiter's last request
// applied and its grant, and a hash of the caps each limiter told with its
// last heartbeat. The quota's name is put in a hash tag, so the five are
// in one slot of a Redis Cluster: "ratellmiter:{name}:counts" and so on.
// So that the tag ends where the name does, a '%' or '}' in the name is
// written %25 or %7D ("a}b" is "ratellmiter:{a%7Db}:counts"); other names
// are written as they are. Keys of a quota no process syncs for an hour
// expire.
//
// Mixing versions: processes of this version and of earlier ones count a
// quota together, except a quota whose name holds '%' or '}', whose keys
// were named as the name was written. A limiter's record of its last
// request now keeps its grant's time slots, which earlier versions cannot
// read: a process of an earlier version that reuses the id of a limiter of
// this version (a fixed WithProcessID, after a rollback) fails every sync
// until that record expires, an hour after the limiter's last sync. The
// caps of a process of an earlier version are not known to the store: its
// grants are checked against its own caps only, and those of this
// version's processes against the least of the caps of the live ones of
// this version. A limiter of this version that ends says so
// (ratellmiter.SyncRequest.Leaving) and its caps stop holding the quota at
// once; those of a limiter of an earlier version hold until LiveTTL after
// its last sync. A request numbered below the last one applied for its id
// is now told that one (ratellmiter.SyncReply.LastSeq), so that a limiter
// restarted with a fixed id on a host whose clock is behind numbers on
// above it; a limiter of an earlier version does not read it, and is
// granted nothing until its predecessor's record expires, as before. The
// probe lease is now granted only while the second has room for the
// canary under the caps in force; a process of an earlier version
// (whose script grants it whatever the second's count) may send its
// canary one ticket over the per-second cap, as every version did before.
// The store now keeps whether the quota's pause is one of overloads alone
// (ratellmiter.QuotaEvent.Overload), so that a rate limit soon after its
// resume lowers no limiter's limit. A process of an earlier version tells
// no overloads: a pause it starts is one for the rate, as before, and it
// still lowers its own limit at a rate limit soon after any pause. A rate
// limit it sees during a pause of overloads started by this version is not
// known to the store, which keeps taking that pause for one of overloads
// alone.
package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"

	"github.com/ratellmiter/ratellmiter"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix starts the name of every key the store writes, unless
// WithPrefix says otherwise.
const DefaultPrefix = "ratellmiter:"

// ErrBadReply is wrapped by the error of a Sync whose reply from Redis does
// not have the script's shape.
var ErrBadReply = errors.New("redisstore: unexpected reply from redis")

//go:embed sync.lua
var syncSource string

var syncScript = redis.NewScript(syncSource)

// Store is a ratellmiter.Store on a Redis server (or cluster). It is safe
// for concurrent use; create one per Redis client and share it between
// limiters. It does not own the client: closing the client is the
// caller's.
type Store struct {
	rdb    redis.Scripter
	prefix string
}

var _ ratellmiter.Store = (*Store)(nil)

// Option configures a Store.
type Option interface {
	apply(*Store)
}

type prefixOption string

func (p prefixOption) apply(s *Store) { s.prefix = string(p) }

// WithPrefix sets the start of every key name; DefaultPrefix otherwise.
// Two applications that share a Redis server and name a quota alike keep
// their quotas apart with different prefixes. The prefix should hold no
// '{': a hash tag in it would decide the slot instead of the quota's name,
// and an empty one ("{}") would put a quota's keys in different slots of a
// Redis Cluster.
func WithPrefix(prefix string) Option { return prefixOption(prefix) }

// New returns a Store that syncs through rdb: a *redis.Client,
// *redis.ClusterClient, *redis.Ring or any other Scripter. It panics if
// rdb is nil or a nil pointer, a mistake in the program that would
// otherwise crash the Monitor's goroutine at the first sync.
func New(rdb redis.Scripter, opts ...Option) *Store {
	if isNil(rdb) {
		panic(fmt.Sprintf("redisstore: New: nil redis client (%T)", rdb))
	}
	s := &Store{rdb: rdb, prefix: DefaultPrefix}
	for _, o := range opts {
		if o != nil {
			o.apply(s)
		}
	}
	return s
}

// Keys returns the names of the keys that hold the quota named key: the
// per-second counts, the shared state, the heartbeats, each limiter's
// last request and each limiter's caps. They share the hash tag of key with its '%' and '}'
// escaped (see the package's doc), so that they are in one slot of a
// Redis Cluster, and no two names share a key.
func (s *Store) Keys(key string) []string {
	base := s.prefix + "{" + tagEscaper.Replace(key) + "}:"
	return []string{base + "counts", base + "state", base + "live", base + "acks", base + "caps"}
}

// tagEscaper writes a quota's name without '}', which would end its hash
// tag early (or at once, leaving the tag empty, so that each key would
// have a slot of its own), and without a bare '%', so that distinct names
// stay distinct.
var tagEscaper = strings.NewReplacer("%", "%25", "}", "%7D")

const nsPerMs = int64(1e6)

// Sync applies req to the quota named key in one round trip; see
// ratellmiter.Store.
func (s *Store) Sync(ctx context.Context, key string, req ratellmiter.SyncRequest) (ratellmiter.SyncReply, error) {
	args := make([]any, 0, 22+2*(len(req.Used)+len(req.Returned))+3*len(req.Events))
	args = append(args, req.ID, req.Now/nsPerMs, req.Sec, req.Want,
		req.Limit.PerSecond, req.Limit.PerMinute, req.Limit.RampStart, req.Limit.RampStep,
		strconv.FormatUint(req.Epoch, 10), flag(req.WantProbe),
		req.ProbeTTL.Milliseconds(), req.LiveTTL.Milliseconds(),
		flag(req.SetLearned), req.Learned,
		strconv.FormatUint(req.Incarnation, 10), strconv.FormatUint(newIncarnation(), 10),
		strconv.FormatUint(req.Seq, 10), strconv.FormatUint(req.Retry, 10), flag(req.Leaving))
	for _, list := range [][]ratellmiter.SecondCount{req.Used, req.Returned} {
		args = append(args, len(list))
		for _, c := range list {
			args = append(args, c.Sec, c.N)
		}
	}
	args = append(args, len(req.Events))
	for _, e := range req.Events {
		args = append(args, int(e.Kind), e.ProbeAt/nsPerMs, flag(e.Overload))
	}
	v, err := s.run(ctx, s.Keys(key), args)
	var rep ratellmiter.SyncReply
	if err == nil {
		rep, err = parseReply(v)
	}
	if err != nil {
		return ratellmiter.SyncReply{}, fmt.Errorf("redisstore: sync of quota %q: %w", key, err)
	}
	return rep, nil
}

// run runs the script and returns its reply, or ctx's error as soon as ctx
// ends. A go-redis client bounds its reads by the context only when
// created with ContextTimeoutEnabled; otherwise a Redis that hangs would
// hold the sync for the client's read timeout (seconds), past the sync
// timeout. A script cut short this way may still be applied: the limiter
// sends its request again, and the store applies it once. The command
// finishes on its connection within the client's own timeouts.
func (s *Store) run(ctx context.Context, keys []string, args []any) (any, error) {
	if ctx.Done() == nil {
		return syncScript.Run(ctx, s.rdb, keys, args...).Result()
	}
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := syncScript.Run(ctx, s.rdb, keys, args...).Result()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// newIncarnation draws the incarnation the script gives the quota's state
// if it has none: nonzero, and below 2^53, so that Lua's numbers hold it
// exactly.
func newIncarnation() uint64 {
	return rand.Uint64N(1<<53-1) + 1
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

// replyLen is the number of integers in the script's reply.
const replyLen = 17

// parseReply checks the script's reply: replyLen integers.
func parseReply(v any) (ratellmiter.SyncReply, error) {
	vals, ok := v.([]any)
	if !ok {
		return ratellmiter.SyncReply{}, fmt.Errorf("%w: %T, want an array", ErrBadReply, v)
	}
	if len(vals) != replyLen {
		return ratellmiter.SyncReply{}, fmt.Errorf("%w: %d values, want %d", ErrBadReply, len(vals), replyLen)
	}
	var n [replyLen]int64
	for i, x := range vals {
		if n[i], ok = x.(int64); !ok {
			return ratellmiter.SyncReply{}, fmt.Errorf("%w: value %d is %T (%v), want an integer", ErrBadReply, i, x, x)
		}
	}
	return ratellmiter.SyncReply{
		Granted:     int(n[0]),
		NotBefore:   n[1] * nsPerMs,
		Spacing:     n[2] * nsPerMs,
		Paused:      n[3] == 1,
		ProbeAt:     n[4] * nsPerMs,
		Epoch:       uint64(max(n[5], 0)),
		Probe:       n[6] == 1,
		Learned:     int(n[7]),
		Live:        int(n[8]),
		Window:      int(n[9]),
		Incarnation: uint64(max(n[10], 0)),
		Limit: ratellmiter.QuotaLimit{PerSecond: int(n[11]), PerMinute: int(n[12]),
			RampStart: int(n[13]), RampStep: int(n[14])},
		LastSeq:  uint64(max(n[15], 0)),
		Overload: n[16] == 1,
	}, nil
}

// isNil reports whether v is nil or holds a nil pointer.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
