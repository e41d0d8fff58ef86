package ratellmiter

// GiveBack gives an issued ticket back unused, as a waiter does that gives
// up as its ticket is issued: for tests outside the package.
func GiveBack(t *Ticket) {
	l := t.l
	l.lock()
	defer l.mu.Unlock()
	l.giveBack(t)
}
