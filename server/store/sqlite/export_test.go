package sqlite

// SetMaxBatch sets the largest group-commit batch of stores opened
// afterwards (1 disables group commit) and returns the previous value.
func SetMaxBatch(n int) int {
	old := maxBatch
	maxBatch = n
	return old
}
