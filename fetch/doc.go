// Package fetch reads the small documents a configuration points at by URL —
// Jsonnet mappers, JSON Web Key sets — from file://, base64:// or
// http(s)://, with a size cap and, over the network, the caller's client
// (whose timeout bounds the request). It is used at start, so an unreachable
// document stops the start with the URL named instead of failing a request
// later.
package fetch
