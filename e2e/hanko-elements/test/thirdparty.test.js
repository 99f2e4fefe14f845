// Third-party sign-in in Hanko's <hanko-auth> (hanko-elements, unchanged)
// in headless Chromium, through the local OpenID Connect provider
// e2e/run.sh starts (e2e/oidcprovider; PKCE, nonce and registered redirect
// URIs enforced), which Latchkey's one provider list holds as the generic
// provider "e2e" — offered on the Hanko face as custom_e2e, labelled
// "E2E provider". A person signs up with the provider's button (Hanko's
// thirdparty_oauth → provider → /thirdparty/callback → the page with
// ?hanko_token → exchange_token), lands signed in with the hanko cookie,
// logs out, and signs in with the button again as the same user.
//
// Configuration as elements.test.js (set by e2e/run.sh): the page runs on
// E2E_PAGE_PORT, which the server allows in
// hanko.third_party.allowed_redirect_urls.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { api, openBrowser } from './browser.js'

const email = `elements-oidc-${randomUUID().slice(0, 8)}@example.com`

let b, context, page, pageOrigin, shot, step

before(async () => {
  b = await openBrowser({ apiOnly: false, prefix: 'thirdparty-' })
  ;({ context, page, pageOrigin, shot, step } = b)
})

after(() => b?.close())

// open loads the page with <hanko-auth> and waits out hanko-elements'
// re-render of a new flow's first page (see elements.test.js settle).
async function open() {
  await page.goto(`${pageOrigin}/?api=${encodeURIComponent(api)}&view=auth`)
  await page.waitForFunction(() => window.hankoReady || window.hankoError)
  assert.equal(await page.evaluate(() => window.hankoError), undefined)
  await page.getByRole('heading', { name: /sign in|create account/i }).waitFor()
  await page.waitForLoadState('networkidle')
  await page.waitForTimeout(800)
}

// viaProvider clicks the provider's button, signs in at the provider as
// email, and waits for hanko-elements' session-created event back on the
// page.
async function viaProvider(shotName) {
  await page.getByRole('button', { name: /E2E provider/ }).click()
  await page.waitForURL((u) => u.pathname === '/oidc/authorize')
  const u = new URL(page.url())
  assert.equal(u.searchParams.get('code_challenge_method'), 'S256', 'PKCE')
  assert.ok(u.searchParams.get('nonce'), 'a nonce')
  assert.equal(u.searchParams.get('redirect_uri'), `${api}/thirdparty/callback`)
  await page.getByLabel('E-mail address').fill(email)
  await shot(shotName)
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.waitForURL((u) => u.origin === pageOrigin)
  await page.waitForFunction(() => window.hankoReady)
  // A new user is offered a passkey first (Hanko's onboarding; passkeys are
  // on and Chromium reports WebAuthn): skip it, as a user without one would.
  const created = () => page.waitForFunction(() => (window.hankoEvents ?? []).some((e) => e.type === 'session-created'))
  const passkeyPage = page.getByRole('heading', { name: /passkey/i })
  if ((await Promise.race([created().then(() => 'done'), passkeyPage.waitFor().then(() => 'passkey')])) === 'passkey') {
    await shot(`${shotName}-onboarding`)
    await page.getByText(/^skip$/i).click()
    await created()
  }
  return (await page.evaluate(() => window.hankoEvents.find((e) => e.type === 'session-created'))).detail
}

async function sessionCookie() {
  const c = (await context.cookies(api)).find((c) => c.name === 'hanko')
  assert.ok(c, 'hanko cookie set')
  assert.equal(c.httpOnly, true)
  assert.match(c.value, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'the cookie holds a JWT')
  return c
}

let userID

test('the flow offers the provider as custom_e2e', async () => {
  const post = async (url, body) => {
    const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
    assert.equal(r.status, 200, url)
    return r.json()
  }
  // The flow's first state asks for the client's capabilities, as
  // hanko-elements sends them; login_init then offers thirdparty_oauth.
  let f = await post(`${api}/login`, {})
  const caps = f.actions.register_client_capabilities
  f = await post(new URL(caps.href, api), { csrf_token: f.csrf_token, input_data: { webauthn_available: false } })
  assert.equal(f.name, 'login_init')
  const values = f.actions?.thirdparty_oauth?.inputs?.provider?.allowed_values ?? []
  assert.deepEqual(values.map((v) => [v.value, v.name]), [['custom_e2e', 'E2E provider']], JSON.stringify(f.actions))
})

test('sign up with the third-party button', async () => {
  await step('signup', async () => {
    await open()
    await shot('1-auth')
    const detail = await viaProvider('2-provider')
    userID = detail.claims?.subject ?? detail.userID
    assert.ok(userID, `session detail ${JSON.stringify(detail)}`)
    await sessionCookie()
    assert.ok(!new URL(page.url()).searchParams.has('hanko_token'), 'the one-time token leaves the address bar')
    const me = await page.evaluate(() => window.hanko.user.getCurrent())
    assert.equal(me.id, userID)
    const user = await page.evaluate(() => window.hanko.user.getCurrentUser ? window.hanko.user.getCurrentUser() : null)
    if (user) assert.equal(user.emails?.[0]?.address ?? user.email, email)
    await shot('3-signed-up')
  })
})

test('log out, sign in with the third-party button as the same user', async () => {
  await step('signin', async () => {
    await page.evaluate(() => window.hanko.user.logout())
    await page.waitForFunction(() => window.hankoEvents.some((e) => e.type === 'user-logged-out'))
    await open()
    const detail = await viaProvider('4-provider-again')
    assert.equal(detail.claims?.subject ?? detail.userID, userID, 'the same user')
    await sessionCookie()
    const valid = await page.evaluate(() => window.hanko.session.validate())
    assert.equal(valid.is_valid, true)
    await shot('5-signed-in')
  })
})
