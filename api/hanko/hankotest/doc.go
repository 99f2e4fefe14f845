// Package hankotest helps test the Hanko face: it validates responses
// against Hanko's OpenAPI documents (openapi-public.yaml,
// openapi-admin.yaml, openapi-flow.yaml in shared/specs/hanko) with
// github.com/getkin/kin-openapi. Tests of both Hanko engineers use it.
package hankotest
