package audit

// SetTestHookBatch installs a function the writer goroutine runs before it
// takes each batch, and returns a function that removes it.
func SetTestHookBatch(f func()) (restore func()) {
	testHookBatch = f
	return func() { testHookBatch = nil }
}
