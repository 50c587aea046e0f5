package store

// SetCapLock replaces the cap lock's SQL (its one argument is the lock
// key) so a test can show what counting without it lets through.
func SetCapLock(sql string) (restore func()) {
	old := capLock
	capLock = sql
	return func() { capLock = old }
}
