//go:build race

package ui

const regenerate = false
