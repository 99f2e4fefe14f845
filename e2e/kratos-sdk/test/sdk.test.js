// Ory's @ory/client SDK, unchanged, against `latchkey serve --dev`.
//
// Every call goes through the SDK's generated FrontendApi / IdentityApi:
// the SDK builds the request, axios rejects any status the operation does
// not declare as success, and the assertions read the answer through the
// SDK's types. The steps run in order and share state, like an app would.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { Configuration, CourierApi, FrontendApi, IdentityApi } from '@ory/client'
import { adminAPIKey, adminURL, courierCode, courierMessages, publicURL } from '../../lib/server.js'

const frontend = new FrontendApi(new Configuration({ basePath: publicURL }))
const identities = new IdentityApi(
  new Configuration({
    basePath: adminURL,
    ...(adminAPIKey ? { accessToken: adminAPIKey } : {}),
  }),
)

const courier = new CourierApi(
  new Configuration({
    basePath: adminURL,
    ...(adminAPIKey ? { accessToken: adminAPIKey } : {}),
  }),
)

const run = randomUUID().slice(0, 8)
const admin = { email: `admin-${run}@example.com`, password: `admin password ${run}` }
const user = { email: `user-${run}@example.com`, password: `user password ${run}`, newPassword: `recovered ${run}` }
const state = {}

// sdkError turns an axios rejection into an assertion message with the body.
function explain(err) {
  if (err?.response) {
    return `${err.config?.method?.toUpperCase()} ${err.config?.url}: HTTP ${err.response.status} ${JSON.stringify(err.response.data)}`
  }
  return String(err)
}

async function call(promise) {
  try {
    return await promise
  } catch (err) {
    assert.fail(explain(err))
  }
}

// rejects expects the SDK call to fail with HTTP status.
async function rejects(promise, status) {
  try {
    const res = await promise
    assert.fail(`expected HTTP ${status}, got ${res.status}`)
  } catch (err) {
    if (!err?.response) throw err
    assert.equal(err.response.status, status, explain(err))
  }
}

function assertIdentity(id, email) {
  assert.match(id.id, /^[0-9a-f-]{36}$/)
  assert.equal(id.schema_id, 'default')
  assert.equal(typeof id.schema_url, 'string')
  assert.equal(id.traits.email, email)
  assert.ok(['active', 'inactive'].includes(id.state), `state ${id.state}`)
}

function assertSession(s, email) {
  assert.match(s.id, /^[0-9a-f-]{36}$/)
  assert.equal(s.active, true)
  assert.ok(Date.parse(s.expires_at) > Date.now(), `expires_at ${s.expires_at}`)
  assert.ok(Array.isArray(s.authentication_methods) && s.authentication_methods.length > 0)
  assertIdentity(s.identity, email)
}

function assertFlow(f, type) {
  assert.match(f.id, /^[0-9a-f-]{36}$/)
  assert.equal(f.type, type)
  assert.ok(Date.parse(f.expires_at) > Date.now())
  assert.ok(Array.isArray(f.ui.nodes) && f.ui.nodes.length > 0, 'ui.nodes')
  assert.equal(typeof f.ui.action, 'string')
  assert.equal(typeof f.ui.method, 'string')
}

test('admin createIdentity with a password', async () => {
  const { data, status } = await call(
    identities.createIdentity({
      createIdentityBody: {
        schema_id: 'default',
        traits: { email: admin.email, name: 'Admin Created' },
        credentials: { password: { config: { password: admin.password } } },
      },
    }),
  )
  assert.equal(status, 201)
  assertIdentity(data, admin.email)
  assert.equal(data.traits.name, 'Admin Created')
  state.adminID = data.id
})

test('admin listIdentities by credentialsIdentifier', async () => {
  const { data } = await call(identities.listIdentities({ credentialsIdentifier: admin.email }))
  assert.equal(data.length, 1)
  assert.equal(data[0].id, state.adminID)
})

test('admin getIdentity with the password credential', async () => {
  const { data } = await call(identities.getIdentity({ id: state.adminID, includeCredential: ['password'] }))
  assertIdentity(data, admin.email)
  assert.deepEqual(data.credentials.password.identifiers, [admin.email])
  assert.equal(data.credentials.password.type, 'password')
})

test('admin patchIdentity (JSON Patch)', async () => {
  const { data } = await call(
    identities.patchIdentity({
      id: state.adminID,
      jsonPatch: [{ op: 'replace', path: '/traits/name', value: 'Admin Patched' }],
    }),
  )
  assertIdentity(data, admin.email)
  assert.equal(data.traits.name, 'Admin Patched')
})

test('admin batchPatchIdentities creates identities', async () => {
  const patchIDs = [randomUUID(), randomUUID()]
  const { data } = await call(
    identities.batchPatchIdentities({
      patchIdentitiesBody: {
        identities: patchIDs.map((patch_id, i) => ({
          patch_id,
          create: { schema_id: 'default', traits: { email: `batch-${i}-${run}@example.com` } },
        })),
      },
    }),
  )
  assert.equal(data.identities.length, 2)
  for (const [i, r] of data.identities.entries()) {
    assert.equal(r.action, 'create')
    assert.equal(r.patch_id, patchIDs[i])
    assert.match(r.identity, /^[0-9a-f-]{36}$/)
  }
  state.batchIDs = data.identities.map((r) => r.identity)
})

test('native registration with a password', async () => {
  const { data: flow } = await call(frontend.createNativeRegistrationFlow())
  assertFlow(flow, 'api')
  assert.ok(flow.ui.nodes.some((n) => n.attributes.name === 'traits.email'), 'traits.email node')
  const { data } = await call(
    frontend.updateRegistrationFlow({
      flow: flow.id,
      updateRegistrationFlowBody: {
        method: 'password',
        password: user.password,
        traits: { email: user.email, name: 'Native User' },
      },
    }),
  )
  assert.equal(typeof data.session_token, 'string')
  assertIdentity(data.identity, user.email)
  assertSession(data.session, user.email)
  state.userID = data.identity.id
  state.registrationToken = data.session_token
})

test('native verification by code', async () => {
  const { data: flow } = await call(frontend.createNativeVerificationFlow())
  assertFlow(flow, 'api')
  const { data: sent } = await call(
    frontend.updateVerificationFlow({ flow: flow.id, updateVerificationFlowBody: { method: 'code', email: user.email } }),
  )
  assert.equal(sent.state, 'sent_email')
  // The registration mailed a verification code too: take this flow's.
  const code = await courierCode(user.email, { template: 'verification_code_valid', flow: flow.id })
  const { data: done } = await call(
    frontend.updateVerificationFlow({ flow: flow.id, updateVerificationFlowBody: { method: 'code', code } }),
  )
  assert.equal(done.state, 'passed_challenge')
  const { data: fetched } = await call(frontend.getVerificationFlow({ id: flow.id }))
  assert.equal(fetched.state, 'passed_challenge')
  const { data: id } = await call(identities.getIdentity({ id: state.userID }))
  assert.equal(id.verifiable_addresses[0].value, user.email)
  assert.equal(id.verifiable_addresses[0].verified, true)
  assert.equal(id.verifiable_addresses[0].status, 'completed')
})

test('admin listCourierMessages shows the mails sent', async () => {
  const { data } = await call(courier.listCourierMessages({ recipient: user.email }))
  assert.ok(data.length >= 2, `${data.length} messages`)
  for (const m of data) {
    assert.equal(m.recipient, user.email)
    assert.equal(m.type, 'email')
    assert.ok(['queued', 'sent', 'processing', 'abandoned'].includes(m.status), m.status)
  }
})

test('toSession (whoami) with the registration token', async () => {
  const { data } = await call(frontend.toSession({ xSessionToken: state.registrationToken }))
  assertSession(data, user.email)
  assert.equal(data.identity.id, state.userID)
})

test('native login with the password', async () => {
  const { data: flow } = await call(frontend.createNativeLoginFlow())
  assertFlow(flow, 'api')
  const { data } = await call(
    frontend.updateLoginFlow({
      flow: flow.id,
      updateLoginFlowBody: { method: 'password', identifier: user.email, password: user.password },
    }),
  )
  assert.equal(typeof data.session_token, 'string')
  assertSession(data.session, user.email)
  assert.equal(data.session.authentication_methods.at(-1).method, 'password')
  state.loginToken = data.session_token
  state.loginSessionID = data.session.id
  const { data: who } = await call(frontend.toSession({ xSessionToken: data.session_token }))
  assert.equal(who.id, data.session.id)
  // The flow can be fetched by id, as UIs do.
  const { data: fetched } = await call(frontend.getLoginFlow({ id: flow.id }))
  assert.equal(fetched.id, flow.id)
})

test('listMySessions and the admin session APIs', async () => {
  const { data: mine } = await call(frontend.listMySessions({ xSessionToken: state.loginToken }))
  assert.ok(mine.some((s) => s.id !== state.loginSessionID), 'the registration session is listed as another session')
  assert.ok(!mine.some((s) => s.id === state.loginSessionID), 'the current session is not among the others')
  const { data: one } = await call(identities.getSession({ id: state.loginSessionID, expand: ['identity'] }))
  assertSession(one, user.email)
  const { data: extended } = await call(identities.extendSession({ id: state.loginSessionID }))
  assert.ok(Date.parse(extended.expires_at) >= Date.parse(one.expires_at))
  const { data: all } = await call(identities.listSessions({ active: true }))
  assert.ok(all.some((s) => s.id === state.loginSessionID))
})

test('native settings changes a trait', async () => {
  const { data: flow } = await call(frontend.createNativeSettingsFlow({ xSessionToken: state.loginToken }))
  assertFlow(flow, 'api')
  assert.equal(flow.identity.id, state.userID)
  const { data } = await call(
    frontend.updateSettingsFlow({
      flow: flow.id,
      xSessionToken: state.loginToken,
      updateSettingsFlowBody: { method: 'profile', traits: { email: user.email, name: 'Renamed User' } },
    }),
  )
  assert.equal(data.state, 'success')
  assert.equal(data.identity.traits.name, 'Renamed User')
  // The address was mailed at registration: a name change sends nothing.
  assert.ok(!data.continue_with?.some((c) => c.action === 'show_verification_ui'), JSON.stringify(data.continue_with))
  const { data: who } = await call(frontend.toSession({ xSessionToken: state.loginToken }))
  assert.equal(who.identity.traits.name, 'Renamed User')
})

test('native recovery by code, then a new password in settings', async () => {
  const template = 'recovery_code_valid'
  const before = (await courierMessages(user.email, { template })).length
  const { data: flow } = await call(frontend.createNativeRecoveryFlow())
  assertFlow(flow, 'api')
  const { data: sent } = await call(
    frontend.updateRecoveryFlow({ flow: flow.id, updateRecoveryFlowBody: { method: 'code', email: user.email } }),
  )
  assert.equal(sent.state, 'sent_email')
  const code = await courierCode(user.email, { template, after: before })
  assert.match(code, /^\d{6}$/)
  const { data: done } = await call(
    frontend.updateRecoveryFlow({ flow: flow.id, updateRecoveryFlowBody: { method: 'code', code } }),
  )
  assert.equal(done.state, 'passed_challenge')
  const token = done.continue_with?.find((c) => c.action === 'set_ory_session_token')?.ory_session_token
  const settings = done.continue_with?.find((c) => c.action === 'show_settings_ui')?.flow
  assert.equal(typeof token, 'string', `continue_with ${JSON.stringify(done.continue_with)}`)
  assert.equal(typeof settings?.id, 'string', `continue_with ${JSON.stringify(done.continue_with)}`)

  const { data: updated } = await call(
    frontend.updateSettingsFlow({
      flow: settings.id,
      xSessionToken: token,
      updateSettingsFlowBody: { method: 'password', password: user.newPassword },
    }),
  )
  assert.equal(updated.state, 'success')

  const { data: flow2 } = await call(frontend.createNativeLoginFlow())
  const { data: login } = await call(
    frontend.updateLoginFlow({
      flow: flow2.id,
      updateLoginFlowBody: { method: 'password', identifier: user.email, password: user.newPassword },
    }),
  )
  assertSession(login.session, user.email)
  state.recoveredToken = login.session_token
})

test('admin createRecoveryCodeForIdentity: the user recovers with the code', async () => {
  const res = await call(
    identities.createRecoveryCodeForIdentity({
      createRecoveryCodeForIdentityBody: { identity_id: state.userID, flow_type: 'api', expires_in: '1h' },
    }),
  )
  assert.equal(res.status, 201)
  const { recovery_link: link, recovery_code: code, expires_at: expires } = res.data
  assert.match(code, /^\d{6}$/)
  assert.ok(Date.parse(expires) > Date.now() + 59 * 60 * 1000, `expires_at ${expires}`)
  const flowID = new URL(link).searchParams.get('flow')
  const { data: flow } = await call(frontend.getRecoveryFlow({ id: flowID }))
  assert.equal(flow.state, 'sent_email')
  const { data: done } = await call(
    frontend.updateRecoveryFlow({ flow: flowID, updateRecoveryFlowBody: { method: 'code', code } }),
  )
  assert.equal(done.state, 'passed_challenge')
  const token = done.continue_with?.find((c) => c.action === 'set_ory_session_token')?.ory_session_token
  const { data: who } = await call(frontend.toSession({ xSessionToken: token }))
  assert.equal(who.identity.id, state.userID)
})

test('admin createRecoveryLinkForIdentity: the link, opened in a browser, signs in', async () => {
  const { data, status } = await call(
    identities.createRecoveryLinkForIdentity({ createRecoveryLinkForIdentityBody: { identity_id: state.userID } }),
  )
  assert.equal(status, 200)
  assert.ok(Date.parse(data.expires_at) > Date.now())
  // A browser opens the link: 303 to the settings UI with a session cookie.
  const res = await fetch(data.recovery_link, { redirect: 'manual', headers: { Accept: 'text/html' } })
  assert.equal(res.status, 303)
  assert.match(res.headers.get('location'), /\/settings\?flow=/)
  const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0])
  const { data: who } = await call(frontend.toSession({ cookie: cookies.join('; ') }))
  assert.equal(who.identity.id, state.userID)
})

test('performNativeLogout ends the session', async () => {
  const { status } = await call(
    frontend.performNativeLogout({ performNativeLogoutBody: { session_token: state.loginToken } }),
  )
  assert.equal(status, 204)
  await rejects(frontend.toSession({ xSessionToken: state.loginToken }), 401)
  // Other sessions of the identity live on.
  const { data } = await call(frontend.toSession({ xSessionToken: state.recoveredToken }))
  assert.equal(data.identity.id, state.userID)
})

test('admin listIdentitySessions', async () => {
  const { data } = await call(identities.listIdentitySessions({ id: state.userID }))
  assert.ok(data.length >= 3, `${data.length} sessions`)
  for (const s of data) assert.equal(s.identity.id, state.userID)
  const { data: active } = await call(identities.listIdentitySessions({ id: state.userID, active: true }))
  assert.ok(active.length < data.length, 'the logged-out session is not active')
  assert.ok(active.every((s) => s.active))
})

test('admin deleteIdentity', async () => {
  for (const id of [state.userID, state.adminID, ...state.batchIDs]) {
    const { status } = await call(identities.deleteIdentity({ id }))
    assert.equal(status, 204)
    await rejects(identities.getIdentity({ id }), 404)
  }
  await rejects(frontend.toSession({ xSessionToken: state.recoveredToken }), 401)
})
