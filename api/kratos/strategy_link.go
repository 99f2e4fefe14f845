package kratos

// linkAddressNodes renders the link method's recovery and verification
// nodes: the address (kept after sending, so the user can send again) and
// the submit button (notes §3.4, §3.5). The link itself arrives by e-mail
// as GET /self-service/<flow>?flow=<id>&token=<token>.
func linkAddressNodes(v *view) []Node {
	email := inputNode(methodLink, "email", "email", true, textPtr(labelEmail))
	email.Attributes.Value = val(keyAddress, v.res.Stash)
	return []Node{email, submitNode(methodLink, "method", methodLink, labelContinue)}
}
