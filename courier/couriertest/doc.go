// Package couriertest is test support for code that sends mail through the
// courier: an in-process SMTP server (StartSMTP) that records every mail it
// accepts, decoded (subject, text and HTML parts), so tests read codes and
// links from real SMTP deliveries as a user would.
package couriertest
