// Package apitest is test support shared by both API faces: it finds the
// contracts in ../shared/specs and validates recorded HTTP responses against
// an OpenAPI document with kin-openapi. The faces' own kratostest and
// hankotest packages load their documents through it.
package apitest
