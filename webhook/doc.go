// Package webhook delivers the Hanko face's outgoing webhook events and runs
// the Kratos face's web_hook hooks (kratos.go).
//
// A Dispatcher queues an event in the store inside the transaction of the
// change that caused it, one delivery per matching webhook: the webhooks of
// the configuration (hanko.webhooks.hooks) and those created through the
// Hanko admin API (store.Webhooks). A hook listening to an event name also
// receives the events below it, as in Hanko: "user" matches "user.create"
// and "user.update.email.primary", "user.update" matches every
// "user.update.*".
//
// A Worker claims due deliveries (ClaimWebhookDeliveries, so replicas never
// send one twice), signs a fresh token for each (sub "hanko webhooks", aud,
// iat, exp five minutes later, and the claims "evt" and "data"), and POSTs
// {"token": …, "event": …} to the callback. A delivery that fails is tried
// again with jittered exponential back-off up to hanko.webhooks.max_attempts
// times; a stored webhook whose deliveries fail hanko.webhooks.max_failures
// times in a row is disabled, and a success resets its count (and, with
// allow_time_expiration, moves its expiry 30 days ahead).
//
// Kratos runs web_hook hooks: it renders a hook's Jsonnet body (function of
// ctx) and either calls the configured URL at once (the answer may change
// the identity or interrupt the flow) or, with response.ignore, queues the
// call as a delivery of event KratosEvent in the same queue: Enqueue does
// so through the transaction of the change that triggered the hook (the
// Kratos face's login, registration and settings steps), so that no call
// is lost between that change's commit and its queueing. The Worker
// sends those with Kratos.Deliver, looking the hook up by its fingerprint
// (credentials are never stored), and tries them as Kratos' web hook
// client does: KratosMaxAttempts times, KratosRetryDelay apart (or the
// receiver's Retry-After on 429 and 503, up to MaxRetryAfter), giving up at
// once on answers trying again cannot change (4xx other than 429, 501, an
// untrusted certificate). One Worker serves both kinds; either sender may
// be absent, and the deliveries it would send then wait.
package webhook
