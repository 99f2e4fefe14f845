// A security key as second factor through hanko-elements 2.7.0 (unchanged)
// in headless Chromium against `latchkey serve --dev`: a user made through
// the Hanko admin API signs in with a password, adds a security key in
// <hanko-profile> (Chromium's virtual authenticator on USB, CDP WebAuthn
// domain), and the next password login asks for the key
// (login_security_key → "Use security key"); the session's amr is
// ["pwd","security_key"]. Then the browser is trusted, the next login skips
// the key, and the key is deleted in <hanko-profile>.
//
// Configuration as elements.test.js (set by e2e/run.sh): LATCHKEY_PUBLIC_URL,
// LATCHKEY_ADMIN_URL (the Hanko admin API at the admin listener's root),
// E2E_PAGE_PORT, E2E_ARTIFACTS, E2E_CHROMIUM.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { adminAPIKey, adminURL } from '../../lib/server.js'
import { api, openBrowser } from './browser.js'

const email = `seckey-${randomUUID().slice(0, 8)}@example.com`
const password = 'security key password 1'

let b, context, page, pageOrigin, shot, checked, cdp, authenticatorId

before(async () => {
  // No autofill: the login page then sends no conditional request that
  // the virtual authenticator would answer by itself.
  b = await openBrowser({
    initScript: () => {
      if (window.PublicKeyCredential) window.PublicKeyCredential.isConditionalMediationAvailable = async () => false
    },
  })
  ;({ context, page, pageOrigin, shot, step: checked } = b)
  // A roaming security key: USB, no user verification of its own.
  cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  ;({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: true, hasUserVerification: false,
      automaticPresenceSimulation: true },
  }))
})

after(() => b?.close())

// show loads the page with <hanko-auth> or <hanko-profile> and waits out
// hanko-elements' re-render of a new flow's first state (500 ms after it
// starts; hanko-protocol notes §7).
async function show(view) {
  await page.goto(`${pageOrigin}/?api=${encodeURIComponent(api)}&view=${view}`)
  await page.waitForFunction(() => window.hankoReady || window.hankoError)
  assert.equal(await page.evaluate(() => window.hankoError), undefined)
  await page.getByRole('heading', { name: view === 'profile' ? /emails/i : /sign in|create account/i }).waitFor()
  await page.waitForLoadState('networkidle')
  await page.waitForTimeout(800)
}

// amr reads the amr claim of the session cookie's JWT.
async function amr() {
  const c = (await context.cookies(api)).find((c) => c.name === 'hanko')
  assert.ok(c, 'hanko cookie set')
  return JSON.parse(Buffer.from(c.value.split('.')[1], 'base64url').toString()).amr
}

// signIn enters the e-mail address and the password; what follows is the
// caller's.
async function signIn() {
  await show('auth')
  await page.getByPlaceholder(/email/i).fill(email)
  await page.getByRole('button', { name: /^continue$/i }).click()
  const choose = page.getByRole('button', { name: /password/i })
  const input = page.getByPlaceholder(/password/i)
  await choose.or(input).first().waitFor()
  if (!(await input.isVisible())) await choose.click()
  await input.fill(password)
  await page.getByRole('button', { name: /^sign in$/i }).click()
}

// finish answers the pages that follow the credentials until the session
// exists: it skips the passkey prompt, and at device_trust trusts the
// browser when trust is true (else skips). It returns the pages seen.
async function finish({ trust = false } = {}) {
  const seen = []
  const created = page.waitForFunction(() => window.hankoEvents.some((e) => e.type === 'session-created'))
  for (;;) {
    const which = await Promise.race([
      created.then(() => 'done'),
      page.getByRole('heading', { name: /passkey/i }).waitFor().then(() => 'passkey', () => new Promise(() => {})),
      page.getByText(/trust this browser\?/i).waitFor().then(() => 'trust', () => new Promise(() => {})),
    ])
    if (which === 'done') return seen
    seen.push(which)
    // After the last step <hanko-auth> may keep showing the page it left;
    // the session event ends the wait as well.
    if (which === 'passkey') {
      await page.getByText(/^skip$/i).click()
      await Promise.race([created, page.getByRole('heading', { name: /passkey/i }).waitFor({ state: 'detached' }).catch(() => created)])
    } else {
      if (trust) await page.getByRole('button', { name: /^trust this browser$/i }).click()
      else await page.getByText(/^skip$/i).click()
      await Promise.race([created, page.getByText(/trust this browser\?/i).waitFor({ state: 'detached' }).catch(() => created)])
    }
  }
}

async function logout() {
  const n = await page.evaluate(() => window.hankoEvents.filter((e) => e.type === 'user-logged-out').length)
  await page.evaluate(() => window.hanko.user.logout())
  await page.waitForFunction((n) => window.hankoEvents.filter((e) => e.type === 'user-logged-out').length > n, n)
}

test('security key: added in <hanko-profile>, asked for after the password, deleted', async () => {
  await checked('security-key', async () => {
    // The user, through the Hanko admin API.
    const headers = { 'Content-Type': 'application/json', ...(adminAPIKey ? { Authorization: `Bearer ${adminAPIKey}` } : {}) }
    let res = await fetch(`${adminURL}/users`, { method: 'POST', headers,
      body: JSON.stringify({ emails: [{ address: email, is_primary: true, is_verified: true }] }) })
    assert.equal(res.status, 200, await res.clone().text())
    const { id } = await res.json()
    res = await fetch(`${adminURL}/users/${id}/password`, { method: 'POST', headers, body: JSON.stringify({ password }) })
    assert.equal(res.status, 200, await res.clone().text())

    // Password only; then the key in the profile.
    await signIn()
    await finish()
    assert.deepEqual(await amr(), ['pwd'])
    await show('profile')
    await page.getByRole('heading', { name: /security keys/i }).waitFor()
    await page.getByText(/^add a security key$/i).first().click()
    const [created] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('action=webauthn_verify_attestation_response')),
      page.getByRole('button', { name: /^add a security key$/i }).click(),
    ])
    assert.equal(created.status(), 200)
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
    assert.equal(credentials.length, 1, 'the authenticator holds the key')
    const me = await page.evaluate((api) => fetch(`${api}/me`, { credentials: 'include' }).then((r) => r.json()), api)
    assert.equal(me.security_keys?.length, 1, JSON.stringify(me))
    assert.equal(me.security_keys[0].mfa_only, true)
    assert.equal(me.mfa_config?.security_keys_enabled, true)
    await page.getByText(/^securitykey-/i).first().waitFor()
    await shot('seckey-1-profile-key-added')

    // The password now leads to the key.
    await logout()
    await signIn()
    await page.getByRole('heading', { name: /^security key$/i }).waitFor()
    await shot('seckey-2-login-security-key')
    const [verified] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('action=webauthn_verify_assertion_response')),
      page.getByRole('button', { name: /use security key/i }).click(),
    ])
    assert.equal(verified.status(), 200)
    assert.ok((await finish({ trust: true })).includes('trust'), 'device_trust offered after the key')
    assert.deepEqual(await amr(), ['pwd', 'security_key'])
    await shot('seckey-3-login-password-security-key')

    // The trusted browser is not asked for the key again.
    await logout()
    await signIn()
    assert.ok(!(await finish()).includes('trust'))
    assert.deepEqual(await amr(), ['pwd'])

    // Deleted in the profile, the key is gone from /me.
    await show('profile')
    const row = page.getByText(/^securitykey-/i).first()
    await row.click()
    // Collapsed accordion items stay in the DOM: work inside the open one.
    const item = page.locator('hanko-profile .hanko_accordionItem', { has: row })
    await item.getByText(/^delete security key$/i).waitFor()
    await shot('seckey-4-profile-delete')
    await item.getByRole('button', { name: /^delete$/i }).click()
    const [deleted] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('action=security_key_delete')),
      item.getByRole('button', { name: /^yes$/i }).click(), // "Delete no / yes"
    ])
    assert.equal(deleted.status(), 200)
    const after = await page.evaluate((api) => fetch(`${api}/me`, { credentials: 'include' }).then((r) => r.json()), api)
    assert.equal(after.security_keys?.length ?? 0, 0, JSON.stringify(after))
    await shot('seckey-5-profile-key-deleted')
  })
})
