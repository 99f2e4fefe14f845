// A small app around Ory's own React components (@ory/elements-react,
// unchanged): one page per self-service flow, as Ory's docs build it. The
// flows' ui_urls point here (/login, /registration, /settings, /recovery,
// /verification, /error); a page without ?flow= starts a browser flow at
// Latchkey, which sends the browser back with one. "/" shows the session.
import { StrictMode, useEffect, useState } from 'react'
import { createRoot } from 'react-dom/client'
import { Configuration, FrontendApi } from '@ory/client-fetch'
import { SessionProvider } from '@ory/elements-react/client'
import { Error as OryError, Login, Recovery, Registration, Settings, Verification } from '@ory/elements-react/theme'
import '@ory/elements-react/theme/styles.css'

const sdkUrl = String(window.LATCHKEY_SDK_URL ?? '').replace(/\/$/, '')
const origin = window.location.origin
const frontend = new FrontendApi(
  new Configuration({ basePath: sdkUrl, credentials: 'include', headers: { Accept: 'application/json' } }),
)

const config = {
  sdk: { url: sdkUrl },
  project: {
    name: 'Latchkey',
    registration_enabled: true,
    verification_enabled: true,
    recovery_enabled: true,
    login_ui_url: `${origin}/login`,
    registration_ui_url: `${origin}/registration`,
    recovery_ui_url: `${origin}/recovery`,
    verification_ui_url: `${origin}/verification`,
    settings_ui_url: `${origin}/settings`,
    error_ui_url: `${origin}/error`,
    default_redirect_url: `${origin}/`,
  },
}

// The flow pages: how to fetch a flow, and the component that renders it.
const flows = {
  '/login': { kind: 'login', get: (id) => frontend.getLoginFlow({ id }), Component: Login },
  '/registration': { kind: 'registration', get: (id) => frontend.getRegistrationFlow({ id }), Component: Registration },
  '/settings': { kind: 'settings', get: (id) => frontend.getSettingsFlow({ id }), Component: Settings },
  '/recovery': { kind: 'recovery', get: (id) => frontend.getRecoveryFlow({ id }), Component: Recovery },
  '/verification': { kind: 'verification', get: (id) => frontend.getVerificationFlow({ id }), Component: Verification },
}

// report lets the test see what the app is doing (window.e2e).
function report(state) {
  window.e2e = { ...window.e2e, ...state }
}

// startFlow sends the browser to Latchkey to create a new browser flow.
function startFlow(kind) {
  window.location.assign(`${sdkUrl}/self-service/${kind}/browser`)
}

function FlowPage({ kind, get, Component }) {
  const id = new URLSearchParams(window.location.search).get('flow')
  const [flow, setFlow] = useState()
  useEffect(() => {
    if (!id) {
      startFlow(kind)
      return
    }
    get(id)
      .then((f) => {
        setFlow(f)
        report({ page: kind, flowId: f.id, ready: true })
      })
      .catch(async (err) => {
        // An expired, unknown or foreign flow: start a new one, as Ory's
        // examples do; anything else is shown.
        const status = err?.response?.status
        report({ page: kind, error: `fetching the ${kind} flow: ${status ?? err}` })
        if ([403, 404, 410].includes(status)) startFlow(kind)
      })
  }, [id])
  if (!flow) return <p data-testid="loading">Loading…</p>
  const card = <Component flow={flow} config={config} />
  return kind === 'settings' ? <SessionProvider baseUrl={sdkUrl}>{card}</SessionProvider> : card
}

function ErrorPage() {
  const id = new URLSearchParams(window.location.search).get('id')
  const [error, setError] = useState()
  useEffect(() => {
    frontend
      .getFlowError({ id })
      .then((e) => {
        setError(e)
        report({ page: 'error', ready: true, errorId: e?.error?.id })
      })
      .catch((err) => report({ page: 'error', error: String(err) }))
  }, [id])
  return error ? <OryError error={error} config={config} /> : <p data-testid="loading">Loading…</p>
}

// Home shows who is signed in, with links into the flows.
function Home() {
  const [session, setSession] = useState()
  useEffect(() => {
    frontend
      .toSession()
      .then((s) => {
        setSession(s)
        report({ page: 'home', ready: true, identity: s.identity?.id })
      })
      .catch(() => {
        setSession(null)
        report({ page: 'home', ready: true, identity: null })
      })
  }, [])
  if (session === undefined) return <p data-testid="loading">Loading…</p>
  return (
    <main style={{ fontFamily: 'sans-serif', padding: '2rem' }}>
      <h1>Latchkey × Ory Elements</h1>
      {session ? (
        <>
          <p data-testid="signed-in">
            Signed in as <b>{session.identity?.traits?.email}</b> ({session.authenticator_assurance_level})
          </p>
          <a href="/settings">Settings</a>
        </>
      ) : (
        <>
          <p data-testid="signed-out">Not signed in</p>
          <a href="/login">Sign in</a> · <a href="/registration">Sign up</a>
        </>
      )}
    </main>
  )
}

function App() {
  const path = window.location.pathname.replace(/\/$/, '') || '/'
  if (flows[path]) return <FlowPage {...flows[path]} />
  if (path === '/error') return <ErrorPage />
  return <Home />
}

window.addEventListener('error', (e) => report({ error: String(e.message) }))
createRoot(document.getElementById('root')).render(
  <StrictMode>
    <App />
  </StrictMode>,
)
