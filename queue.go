package ratellmiter

// waitQueue holds the tickets waiting to be issued, in the order they will
// be served: first every ticket handed back after a rate-limit error (in the
// order those errors arrived), then every new request (in the order they
// asked). It is an intrusive doubly linked list, so adding, removing a
// cancelled waiter and popping the head are O(1) and allocate nothing.
//
// Not safe for concurrent use: the limiter's mutex guards it.
type waitQueue struct {
	head, tail *Ticket
	retryTail  *Ticket // the last rate-limited ticket; nil when there is none
	n          int
	retries    int
}

// len returns the number of waiting tickets.
func (q *waitQueue) len() int { return q.n }

// front returns the ticket that is served next, or nil.
func (q *waitQueue) front() *Ticket { return q.head }

// pushBack queues a new request behind everyone.
func (q *waitQueue) pushBack(t *Ticket) {
	t.prev, t.next = q.tail, nil
	if q.tail != nil {
		q.tail.next = t
	} else {
		q.head = t
	}
	q.tail = t
	t.queued, t.retry = true, false
	q.n++
}

// pushRetry queues a rate-limited ticket ahead of every new request and
// behind the rate-limited tickets already waiting.
func (q *waitQueue) pushRetry(t *Ticket) {
	after := q.retryTail
	t.prev = after
	if after == nil {
		t.next = q.head
		q.head = t
	} else {
		t.next = after.next
		after.next = t
	}
	if t.next != nil {
		t.next.prev = t
	} else {
		q.tail = t
	}
	q.retryTail = t
	t.queued, t.retry = true, true
	q.n++
	q.retries++
}

// remove takes t out of the queue. It does nothing if t is not queued.
func (q *waitQueue) remove(t *Ticket) {
	if !t.queued {
		return
	}
	if q.retryTail == t {
		if t.prev != nil && t.prev.retry {
			q.retryTail = t.prev
		} else {
			q.retryTail = nil
		}
	}
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		q.head = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	} else {
		q.tail = t.prev
	}
	t.prev, t.next = nil, nil
	t.queued = false
	q.n--
	if t.retry {
		q.retries--
	}
}

// pop removes and returns the head, or nil.
func (q *waitQueue) pop() *Ticket {
	t := q.head
	if t != nil {
		q.remove(t)
	}
	return t
}
