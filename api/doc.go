// Package api holds the HTTP plumbing both API faces share: middleware for
// request ids, panic recovery, access logs, CORS and body size limits; strict
// JSON decoding; the health endpoints; and client address extraction. It
// knows no wire format of either face: each face writes its own errors.
package api
