package fakeprovider

import "time"

// unit is the bucket's fixed-point scale: one request or token is worth one
// minute of nanoseconds, so a bucket refilling perMinute items a minute gains
// exactly perMinute units every nanosecond and all arithmetic is exact.
const unit = int64(time.Minute)

// bucket is a continuously refilling token bucket with exact integer
// arithmetic. It is not safe for concurrent use.
type bucket struct {
	perMinute int64 // refill rate in items per minute, i.e. units per ns
	capacity  int64 // in units
	level     int64 // in units
	last      time.Time
}

// newBucket returns a full bucket that holds capacity items and refills
// perMinute items a minute.
func newBucket(perMinute, capacity int64, now time.Time) *bucket {
	b := &bucket{perMinute: perMinute, capacity: capacity * unit, last: now}
	b.level = b.capacity
	return b
}

// requestCapacity is the capacity in units of a request bucket for rpm:
// rpm/60 requests, but never less than one request.
func requestCapacity(rpm int64) int64 {
	return max(rpm*int64(time.Second), unit)
}

// newRequestBucket returns a full request bucket for rpm.
func newRequestBucket(rpm int64, now time.Time) *bucket {
	b := &bucket{perMinute: rpm, capacity: requestCapacity(rpm), last: now}
	b.level = b.capacity
	return b
}

// refill adds what accrued since the last call. Time going backwards is
// ignored.
func (b *bucket) refill(now time.Time) {
	elapsed := int64(now.Sub(b.last))
	if elapsed <= 0 {
		return
	}
	b.last = now
	need := b.capacity - b.level
	if need <= 0 {
		return
	}
	if elapsed >= ceilDiv(need, b.perMinute) {
		b.level = b.capacity
		return
	}
	b.level += elapsed * b.perMinute
}

// wait is how long until n items are available; 0 when they already are.
// The caller must refill first.
func (b *bucket) wait(n int64) time.Duration {
	short := n*unit - b.level
	if short <= 0 {
		return 0
	}
	return time.Duration(ceilDiv(short, b.perMinute))
}

// fits reports whether n items could ever be taken at once. It divides
// rather than multiplies so that a huge n cannot overflow.
func (b *bucket) fits(n int64) bool { return n >= 0 && n <= b.capacity/unit }

// take removes n items; the caller must have checked wait(n) == 0.
func (b *bucket) take(n int64) { b.level -= n * unit }

// give returns n items, never beyond capacity.
func (b *bucket) give(n int64) {
	n = min(n, ceilDiv(b.capacity-b.level, unit)) // n*unit cannot overflow
	b.level = min(b.capacity, b.level+n*unit)
}

// available is the whole number of items in the bucket.
func (b *bucket) available() int64 { return max(b.level, 0) / unit }

// deficit is the whole number of items missing from a full bucket, rounded
// up.
func (b *bucket) deficit() int64 { return ceilDiv(b.capacity-b.level, unit) }

// untilFull is how long until the bucket is full again.
func (b *bucket) untilFull() time.Duration {
	return time.Duration(ceilDiv(b.capacity-b.level, b.perMinute))
}

// setRate changes the refill rate and capacity. A larger capacity adds its
// growth to the level, so what was spent stays spent; a smaller one trims
// the level to the new capacity.
func (b *bucket) setRate(perMinute, capacity int64) {
	if grow := capacity - b.capacity; grow > 0 {
		b.level += grow
	}
	b.perMinute = perMinute
	b.capacity = capacity
	b.level = min(b.level, capacity)
}

// ceilDiv is a/b rounded up for b > 0; it is 0 for a <= 0.
func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}
