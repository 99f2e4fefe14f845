//go:build !linux

package main

// releaseStartupPages is a no-op outside Linux (see memory_linux.go).
func releaseStartupPages() int64 { return 0 }
