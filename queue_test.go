package ratellmiter

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func queueOrder(q *waitQueue) []int {
	var ids []int
	for t := q.front(); t != nil; t = t.next {
		ids = append(ids, int(t.attempts))
	}
	return ids
}

func TestQueueRetriesGoFirstInArrivalOrder(t *testing.T) {
	var q waitQueue
	tk := func(id int) *Ticket { return &Ticket{attempts: int32(id)} }
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
	a, b, c, d := &Ticket{attempts: 1}, &Ticket{attempts: 2}, &Ticket{attempts: 10}, &Ticket{attempts: 11}
	q.pushBack(a)
	q.pushBack(b)
	q.pushRetry(c)
	q.pushRetry(d)
	q.remove(d) // the last retry leaves: the next retry goes after c
	q.remove(d) // removing twice does nothing
	q.pushRetry(&Ticket{attempts: 12})
	assert.Equal(t, []int{10, 12, 1, 2}, queueOrder(&q))
	q.remove(c)
	q.remove(a)
	assert.Equal(t, []int{12, 2}, queueOrder(&q))
	assert.Equal(t, int32(12), q.pop().attempts)
	assert.Equal(t, int32(2), q.pop().attempts)
	assert.Nil(t, q.pop())
	assert.Equal(t, 0, q.len())
	assert.Equal(t, 0, q.retries)
	q.pushRetry(&Ticket{attempts: 13}) // an empty queue takes retries too
	assert.Equal(t, []int{13}, queueOrder(&q))
}
