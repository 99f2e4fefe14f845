// Package kratostest is test support for the Kratos face: it validates HTTP
// responses against Ory's OpenAPI document (kratos-api.json) with
// kin-openapi, so every test of a Kratos endpoint can check that SDK clients
// would accept what it returns. It is imported only by tests.
package kratostest
