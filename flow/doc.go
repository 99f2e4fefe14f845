// Package flow is the engine both API faces run their self-service flows on:
// Hanko's /login, /registration and /profile state machines and Kratos'
// login, registration, settings, recovery and verification flows.
//
// A face declares each flow once, at start, as data: a [Definition] built
// with [New] lists states, the [Action]s offered in each state with the
// [Input]s they accept, hooks that run around states, and reusable
// [SubFlow]s. [Builder.Build] checks the whole graph (every referenced state
// exists, every input is sane, no name is declared twice) and returns an
// immutable Definition shared by all requests.
//
// The [Engine] runs a definition against the store. [Engine.Start] creates a
// flow record; [Engine.Submit] validates the submitted input against the
// action's declared inputs, runs the action and the hooks inside one store
// transaction together with the flow update (so a courier message queued by
// an action commits with the step or not at all), rotates the CSRF token and
// persists with optimistic locking. Every call returns a [Result] the face
// renders in its own wire format.
//
// The engine knows no face and no credential method: actions are closures the
// face writes over the method packages. Per-flow data lives in a [Stash]
// addressed through typed keys ([Key]), so a misspelt key or a wrong type is
// a compile error rather than a run-time surprise.
//
// This package must not import net/http or database/sql.
package flow
