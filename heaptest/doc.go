// Package heaptest helps tests that count what a piece of code leaves on
// the heap: it runs such a test again in a fresh process, where nothing
// ran before it, and reads the heap in use after the collector ran.
package heaptest
