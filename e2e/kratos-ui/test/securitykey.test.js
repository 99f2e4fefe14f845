// Security keys on Latchkey's hosted pages (/ui) in headless Chromium: a
// password user adds a security key in the settings (Chromium's virtual
// authenticator on USB, a roaming key), signs out, signs in with the
// password and is sent to the second-factor page, where "Sign in with a
// hardware key" (window.oryWebAuthnLogin of webauthn.js) completes the
// login at aal2. Run by e2e/run.sh after ui.test.js, on the same server
// (passkeys and security keys on).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { chromium } from 'playwright-core'

const base = (process.env.LATCHKEY_PUBLIC_URL ?? 'http://localhost:4433').replace('127.0.0.1', 'localhost')
const admin = process.env.LATCHKEY_ADMIN_URL ?? 'http://127.0.0.1:4434'
const artifacts = process.env.E2E_ARTIFACTS ?? new URL('../../artifacts/', import.meta.url).pathname
const email = `kratos-ui-key-${randomUUID().slice(0, 8)}@example.com`
const password = 'a long key user password'

let browser, context, page, key
const problems = []

before(async () => {
  await mkdir(artifacts, { recursive: true })
  const r = await fetch(`${admin}/admin/identities`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ schema_id: 'default', traits: { email }, credentials: { password: { config: { password } } } }),
  })
  assert.equal(r.status, 201, `create the user: ${await r.text()}`)
  browser = await chromium.launch({
    executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  })
  context = await browser.newContext({ viewport: { width: 800, height: 900 } })
  context.setDefaultTimeout(15_000)
  page = await context.newPage()
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to|Latchkey WebAuthn/i.test(m.text())) problems.push(m.text())
  })
  // A roaming security key: USB, no resident keys, no user verification.
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable', { enableUI: false })
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'usb', hasResidentKey: false, hasUserVerification: false, automaticPresenceSimulation: true },
  })
  key = { credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials }
})

after(async () => {
  await browser?.close()
})

async function whoami() {
  const r = await context.request.get(`${base}/sessions/whoami`, { headers: { Accept: 'application/json' } })
  return r.ok() ? r.json() : null
}

async function passwordSignIn() {
  await page.goto(`${base}/ui/login`)
  await page.locator('input[name="identifier"]').fill(email)
  await page.locator('input[name="password"]').fill(password)
  await page.getByRole('button', { name: 'Sign in with password' }).click()
}

test('add a security key in settings', async () => {
  await passwordSignIn()
  await page.waitForURL((u) => !u.pathname.startsWith('/ui/login'))
  await page.goto(`${base}/ui/settings`)
  await page.locator('input[name="webauthn_register_displayname"]').fill('Blue key')
  await page.waitForFunction(() => typeof window.oryWebAuthnRegistration === 'function')
  await page.getByRole('button', { name: 'Add security key' }).click()
  // The identity now has a second factor, and the settings ask for it
  // (session.whoami.required_aal / settings required_aal
  // highest_available): the settings page sends the browser to the
  // second-factor page first, as Kratos does.
  await page.getByRole('button', { name: 'Sign in with a hardware key' }).waitFor()
  assert.equal((await key.credentials()).length, 1, 'the key holds a credential')
  await page.waitForFunction(() => typeof window.oryWebAuthnLogin === 'function')
  await page.getByRole('button', { name: 'Sign in with a hardware key' }).click()
  await page.waitForURL((u) => u.pathname === '/ui/settings')
  await page.getByRole('button', { name: 'Remove security key "Blue key"' }).waitFor()
  await page.screenshot({ path: `${artifacts}/kratos-ui-key-1-added.png`, fullPage: true })
  assert.deepEqual(problems, [])
})

test('password, then the security key at aal2', async () => {
  await context.clearCookies()
  await passwordSignIn()
  // The identity has a second factor: the sign-in continues on the
  // second-factor page.
  const button = page.getByRole('button', { name: 'Sign in with a hardware key' })
  await button.waitFor()
  const first = await whoami()
  assert.equal(first?.authenticator_assurance_level, undefined, 'no usable session before the key (whoami asks for aal2)')
  await page.screenshot({ path: `${artifacts}/kratos-ui-key-2-aal2.png`, fullPage: true })
  await page.waitForFunction(() => typeof window.oryWebAuthnLogin === 'function')
  await button.click()
  await page.waitForURL((u) => !u.pathname.startsWith('/ui/login'))
  const s = await whoami()
  assert.equal(s?.authenticator_assurance_level, 'aal2')
  assert.deepEqual(s.authentication_methods.map((m) => `${m.method}:${m.aal}`), ['password:aal1', 'webauthn:aal2'])
  await page.screenshot({ path: `${artifacts}/kratos-ui-key-3-signed-in.png`, fullPage: true })
  assert.deepEqual(problems, [])
})
