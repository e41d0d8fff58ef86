package ratellmiter

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func queueOrder(q *waitQueue) []int {
	var ids []int
	for t := q.front(); t != nil; t = t.next {
		ids = append(ids, int(t.issuedAt))
	}
	return ids
}

func TestQueueRetriesGoFirstInArrivalOrder(t *testing.T) {
	var q waitQueue
	tk := func(id int) *Ticket { return &Ticket{issuedAt: int64(id)} }
	q.pushBack(tk(1))
	q.pushBack(tk(2))
	q.pushRetry(tk(10))
	q.pushBack(tk(3))
	q.pushRetry(tk(11))
	assert.Equal(t, []int{10, 11, 1, 2, 3}, queueOrder(&q))
	assert.Equal(t, 5, q.len())
	assert.Equal(t, 2, q.retries)
}

func TestQueueRemoveKeepsOrderAndRetryTail(t *testing.T) {
	var q waitQueue
	a, b, c, d := &Ticket{issuedAt: 1}, &Ticket{issuedAt: 2}, &Ticket{issuedAt: 10}, &Ticket{issuedAt: 11}
	q.pushBack(a)
	q.pushBack(b)
	q.pushRetry(c)
	q.pushRetry(d)
	q.remove(d) // the last retry leaves: the next retry goes after c
	q.remove(d) // removing twice does nothing
	q.pushRetry(&Ticket{issuedAt: 12})
	assert.Equal(t, []int{10, 12, 1, 2}, queueOrder(&q))
	q.remove(c)
	q.remove(a)
	assert.Equal(t, []int{12, 2}, queueOrder(&q))
	assert.Equal(t, int64(12), q.pop().issuedAt)
	assert.Equal(t, int64(2), q.pop().issuedAt)
	assert.Nil(t, q.pop())
	assert.Equal(t, 0, q.len())
	assert.Equal(t, 0, q.retries)
	q.pushRetry(&Ticket{issuedAt: 13}) // an empty queue takes retries too
	assert.Equal(t, []int{13}, queueOrder(&q))
}
