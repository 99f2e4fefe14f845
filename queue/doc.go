// Package queue is the delivery mechanism shared by Latchkey's leased job
// queues (the courier's messages and the Hanko face's webhook deliveries):
// the poll loop that claims a batch at a time, the drain that delivers a
// claimed batch and hands the rest back on shutdown, the jittered
// exponential back-off between attempts, and the detached contexts that let
// a started attempt finish and be recorded after cancellation.
//
// It knows nothing about what is queued or how it is stored: each worker
// passes its own claim, deliver and release functions.
package queue
