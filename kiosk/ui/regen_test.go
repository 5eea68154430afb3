//go:build !race

package ui

// Regenerating the dictionary from the installed Unihan takes about a
// minute under the race detector and tests nothing it would find: it runs
// only without -race.
const regenerate = true
