package config

// legacyKeys maps the keys Kratos still reads under older names onto
// Latchkey's keys in the raw file tree, with a warning each, so an old
// kratos.yml loads: selfservice.whitelisted_return_urls is
// selfservice.allowed_return_urls, and identity.default_schema_url is the
// URL of the default schema (identity.schemas [{id: default, url}]). A
// legacy key beside its new name is a problem: one of them would be
// ignored.
//
// Kratos' secrets.cookie, when secrets.default is not set, is read as
// secrets.default: Latchkey signs no cookie, and without secrets.default a
// Kratos config would not start outside --dev (Kratos itself makes up a
// random secrets.default at every start). The environment's SECRETS_COOKIE
// does the same (withKratosEnv).
func (c *checker) legacyKeys(raw map[string]any) {
	if sec, ok := raw["secrets"].(map[string]any); ok {
		_, c.fileDefaultSecret = sec["default"]
		if v, ok := sec["cookie"]; ok && !c.fileDefaultSecret {
			delete(sec, "cookie")
			sec["default"] = v
			c.warnings = append(c.warnings, Warning{Key: "secrets.cookie",
				Message: "read as secrets.default, which is not set (Latchkey signs no cookie; secrets.default keys its codes, tokens and flow state); move the secrets there"})
		}
	}
	if ss, ok := raw["selfservice"].(map[string]any); ok {
		if v, ok := ss["whitelisted_return_urls"]; ok {
			delete(ss, "whitelisted_return_urls")
			if _, both := ss["allowed_return_urls"]; both {
				c.problems.add("selfservice.whitelisted_return_urls", "is Kratos' old name of selfservice.allowed_return_urls, which is set too; remove one of them")
			} else {
				ss["allowed_return_urls"] = v
				c.warnings = append(c.warnings, Warning{Key: "selfservice.whitelisted_return_urls",
					Message: "Kratos' old name, read as selfservice.allowed_return_urls; rename it"})
			}
		}
	}
	if id, ok := raw["identity"].(map[string]any); ok {
		if v, ok := id["default_schema_url"]; ok {
			delete(id, "default_schema_url")
			url, isString := v.(string)
			_, hasSchemas := id["schemas"]
			switch {
			case !isString || url == "":
				c.problems.add("identity.default_schema_url", "must be the URL of the default identity schema (file://, https:// or base64://)")
			case hasSchemas:
				c.problems.add("identity.default_schema_url", "is Kratos' old way to name the default schema, and identity.schemas is set too; add the schema to identity.schemas and remove this key")
			default:
				id["schemas"] = []any{map[string]any{"id": "default", "url": url}}
				if _, set := id["default_schema_id"]; !set {
					id["default_schema_id"] = "default"
				}
				c.warnings = append(c.warnings, Warning{Key: "identity.default_schema_url",
					Message: "Kratos' old key, read as identity.schemas [{id: default, url: " + url + "}]; move it there"})
			}
		}
	}
}
