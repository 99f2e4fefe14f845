// Browser flows through @ory/client as a server-side rendered app (Kratos'
// reference UI) drives them: the app creates and fetches flows with the
// SDK, forwarding the browser's cookies, and the browser's JSON submissions
// carry the CSRF token from the flow's nodes. A tiny cookie jar stands in
// for the browser.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Configuration, FrontendApi } from '@ory/client'
import { publicURL } from '../../lib/server.js'

const frontend = new FrontendApi(new Configuration({ basePath: publicURL }))
const email = `browser-${randomUUID().slice(0, 8)}@example.com`
const password = `browser password ${randomUUID().slice(0, 8)}`

// jar keeps the cookies the server set, as a browser would for one site.
const jar = new Map()
function keep(res) {
  for (const line of res.headers['set-cookie'] ?? []) {
    const [pair, ...attrs] = line.split(';')
    const eq = pair.indexOf('=')
    const name = pair.slice(0, eq).trim()
    const value = pair.slice(eq + 1).trim()
    const expired = attrs.some((a) => /^\s*max-age=(0|-)/i.test(a)) || value === ''
    if (expired) jar.delete(name)
    else jar.set(name, value)
  }
  return res
}
const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ')

function explain(err) {
  if (err?.response) {
    return `${err.config?.method?.toUpperCase()} ${err.config?.url}: HTTP ${err.response.status} ${JSON.stringify(err.response.data)}`
  }
  return String(err)
}

async function call(promise) {
  try {
    return keep(await promise)
  } catch (err) {
    assert.fail(explain(err))
  }
}

// csrf is the csrf_token node's value of a browser flow.
function csrf(flow) {
  const node = flow.ui.nodes.find((n) => n.attributes.name === 'csrf_token')
  assert.ok(node?.attributes.value, 'browser flow has a csrf_token node')
  return node.attributes.value
}

let sessionID

test('browser registration: create, fetch with the cookie, submit as JSON', async () => {
  const { data: created } = await call(frontend.createBrowserRegistrationFlow())
  assert.equal(created.type, 'browser')
  assert.ok(jar.size > 0, 'the flow set the anti-CSRF cookie')
  const { data: flow } = await call(frontend.getRegistrationFlow({ id: created.id, cookie: cookie() }))
  assert.equal(flow.id, created.id)
  const { data } = await call(
    frontend.updateRegistrationFlow({
      flow: flow.id,
      cookie: cookie(),
      updateRegistrationFlowBody: { method: 'password', csrf_token: csrf(flow), password, traits: { email } },
    }),
  )
  assert.equal(data.identity.traits.email, email)
  assert.equal(data.session_token, undefined, 'browser flows answer with a cookie, not a token')
  sessionID = data.session?.id
})

test('toSession with the session cookie', async () => {
  const { data } = await call(frontend.toSession({ cookie: cookie() }))
  assert.equal(data.identity.traits.email, email)
  if (sessionID) assert.equal(data.id, sessionID)
})

test('browser logout: createBrowserLogoutFlow, updateLogoutFlow', async () => {
  const { data: logout } = await call(frontend.createBrowserLogoutFlow({ cookie: cookie() }))
  assert.match(logout.logout_url, /\/self-service\/logout\?token=/)
  assert.equal(typeof logout.logout_token, 'string')
  const res = await call(frontend.updateLogoutFlow({ token: logout.logout_token, cookie: cookie() }))
  assert.equal(res.status, 204)
  try {
    await frontend.toSession({ cookie: cookie() })
    assert.fail('the session outlived the logout')
  } catch (err) {
    assert.equal(err.response?.status, 401, explain(err))
  }
})

test('browser login: create, fetch with the cookie, submit as JSON', async () => {
  const { data: created } = await call(frontend.createBrowserLoginFlow())
  assert.equal(created.type, 'browser')
  const { data: flow } = await call(frontend.getLoginFlow({ id: created.id, cookie: cookie() }))
  const { data } = await call(
    frontend.updateLoginFlow({
      flow: flow.id,
      cookie: cookie(),
      updateLoginFlowBody: { method: 'password', csrf_token: csrf(flow), identifier: email, password },
    }),
  )
  assert.equal(data.session.identity.traits.email, email)
  const { data: who } = await call(frontend.toSession({ cookie: cookie() }))
  assert.equal(who.id, data.session.id)
})

test('browser settings: create with the cookie, change a trait', async () => {
  const { data: flow } = await call(frontend.createBrowserSettingsFlow({ cookie: cookie() }))
  assert.equal(flow.type, 'browser')
  const { data } = await call(
    frontend.updateSettingsFlow({
      flow: flow.id,
      cookie: cookie(),
      updateSettingsFlowBody: { method: 'profile', csrf_token: csrf(flow), traits: { email, name: 'Browser User' } },
    }),
  )
  assert.equal(data.state, 'success')
  assert.equal(data.identity.traits.name, 'Browser User')
})
