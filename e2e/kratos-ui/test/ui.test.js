// Latchkey's hosted Kratos pages (/ui) in headless Chromium, with
// Chromium's virtual WebAuthn authenticator (CDP WebAuthn domain) standing
// in for a fingerprint reader: a person signs up with a passkey (no
// password), signs out, signs in with "Sign in with passkey", adds a
// passkey from another device in the settings, removes the first one, and
// signs in with the new one. The pages load /.well-known/ory/webauthn.js
// with a CSP nonce; every step also checks that no Content-Security-Policy
// violation and no page error happened.
//
// e2e/run.sh starts the server (LATCHKEY_PUBLIC_URL, on host localhost:
// browsers refuse an IP address as WebAuthn relying party).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { chromium } from 'playwright-core'

const base = (process.env.LATCHKEY_PUBLIC_URL ?? 'http://localhost:4433').replace('127.0.0.1', 'localhost')
const artifacts = process.env.E2E_ARTIFACTS ?? new URL('../../artifacts/', import.meta.url).pathname
const email = `kratos-ui-${randomUUID().slice(0, 8)}@example.com`

let browser, context, page
const problems = []
const calls = []

before(async () => {
  await mkdir(artifacts, { recursive: true })
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
    const t = m.text()
    if (/Content.Security.Policy|Refused to/i.test(t)) problems.push(`CSP: ${t}`)
    if (m.type() === 'error') calls.push(`console error: ${t}`)
    if (/Latchkey WebAuthn/.test(t)) problems.push(`WebAuthn script: ${t}`)
  })
  page.on('response', (r) => {
    if (r.url().startsWith(base)) calls.push(`${r.request().method()} ${r.url().slice(base.length)} → ${r.status()}`)
    if (r.request().resourceType() === 'document' && r.status() === 200) lastCSP = r.headers()['content-security-policy'] ?? ''
  })
})

after(async () => {
  await browser?.close()
})

// authenticator adds a virtual platform authenticator (resident keys,
// user verification, presence answered automatically) to the page.
async function authenticator() {
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable', { enableUI: false })
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true },
  })
  return {
    id: authenticatorId,
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
    remove: () => cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId }),
  }
}

async function shot(name) {
  await page.screenshot({ path: `${artifacts}/kratos-ui-${name}.png`, fullPage: true })
}

// step runs fn; on failure it keeps a screenshot and the requests made.
async function step(name, fn) {
  const from = calls.length
  try {
    await fn()
    assert.deepEqual(problems, [], 'no CSP violation or page error')
  } catch (err) {
    await shot(`failed-${name}`).catch(() => {})
    err.message += `\nat ${page.url()}\nrequests during "${name}":\n  ${calls.slice(from).join('\n  ')}`
    throw err
  }
}

// whoami returns the browser's session (its cookies, sent by the
// context's request client: the pages' CSP lets no script fetch), or null.
async function whoami() {
  const r = await context.request.get(`${base}/sessions/whoami`, { headers: { Accept: 'application/json' } })
  return r.ok() ? r.json() : null
}

// lastCSP is the Content-Security-Policy of the last page loaded.
let lastCSP = ''

// waitForPath waits until the page is at path (after a form's redirects).
async function waitForPath(path) {
  await page.waitForURL((u) => u.pathname === path)
}

// signOut follows the landing page's "Log out" link; the browser ends on
// the sign-in page.
async function signOut() {
  await page.goto(`${base}/ui/`)
  await page.getByRole('link', { name: 'Log out' }).click()
  await waitForPath('/ui/login')
  assert.equal(await whoami(), null)
}

// withoutAutofill makes the context's pages a browser without conditional
// mediation (passkey autofill), so a sign-in page waits for the button:
// with it, Chromium's virtual authenticator answers the autofill request
// at once.
async function withoutAutofill() {
  await context.addInitScript(() => {
    if (window.PublicKeyCredential) window.PublicKeyCredential.isConditionalMediationAvailable = async () => false
  })
}

let first, second

test('sign up with a passkey', async () => {
  await step('registration', async () => {
    first = await authenticator()
    await page.goto(`${base}/ui/registration`)
    const csp = lastCSP
    await page.locator('input[name="traits.email"]').fill(email)
    await shot('1-registration')
    await page.getByRole('button', { name: 'Sign up', exact: true }).click()
    // The credentials screen: the page loads the WebAuthn script with its
    // nonce and shows "Sign up with passkey".
    const button = page.getByRole('button', { name: 'Sign up with passkey' })
    await button.waitFor()
    const script = page.locator('script[src$="/.well-known/ory/webauthn.js"]')
    assert.equal(await script.count(), 1, 'the page loads webauthn.js')
    const nonce = await script.evaluate((s) => s.nonce)
    assert.ok(nonce, 'the script tag carries a nonce')
    assert.ok(lastCSP.includes(`script-src 'nonce-${nonce}'`), `the credentials page allows its script by nonce: ${lastCSP}`)
    assert.doesNotMatch(csp ?? '', /script-src/, 'the traits page (no WebAuthn) allows no script')
    await page.waitForFunction(() => typeof window.oryPasskeyRegistration === 'function')
    await shot('2-registration-passkey')
    await button.click()
    // The script creates the passkey and posts the form natively: 303 to
    // the default return page.
    await page.waitForURL((u) => !u.pathname.startsWith('/ui/registration'))
    const s = await whoami()
    assert.ok(s?.active, 'a session after signing up')
    assert.equal(s.identity.traits.email, email)
    assert.deepEqual(s.authentication_methods.map((m) => m.method), ['passkey'])
    assert.equal((await first.credentials()).length, 1, 'the authenticator holds the passkey')
    await shot('3-signed-up')
  })
})

test('sign out, then sign in with the passkey button', async () => {
  await step('login', async () => {
    await withoutAutofill()
    await signOut()
    await page.goto(`${base}/ui/login`)
    const identifier = page.locator('input[name="identifier"]')
    assert.equal(await identifier.getAttribute('autocomplete'), 'username webauthn', 'the identifier offers passkey autofill')
    await page.waitForFunction(() => typeof window.oryPasskeyLogin === 'function')
    await shot('4-login')
    await page.getByRole('button', { name: 'Sign in with passkey' }).click()
    await page.waitForURL((u) => !u.pathname.startsWith('/ui/login'))
    const s = await whoami()
    assert.equal(s?.identity?.traits?.email, email)
    assert.deepEqual(s.authentication_methods.map((m) => m.method), ['passkey'])
    await shot('5-signed-in')
  })
})

test('add a passkey from another device in settings, remove the first', async () => {
  await step('settings', async () => {
    // The first device leaves; the second one answers from now on.
    await first.remove()
    second = await authenticator()
    await page.goto(`${base}/ui/settings`)
    await waitForPath('/ui/settings')
    const remove = page.getByRole('button', { name: /^Remove passkey/ })
    assert.equal(await remove.count(), 1)
    assert.equal(await remove.isDisabled(), true, 'the only passkey cannot be removed')
    await page.waitForFunction(() => typeof window.oryPasskeySettingsRegistration === 'function')
    await shot('6-settings')
    await page.getByRole('button', { name: 'Add passkey' }).click()
    await page.getByText('Your changes have been saved!').waitFor()
    assert.equal((await second.credentials()).length, 1, 'the new device holds a passkey')
    assert.equal(await page.getByRole('button', { name: /^Remove passkey/ }).count(), 2)
    await shot('7-settings-added')
    // Remove the first device's passkey (the older one, listed first).
    await page.getByRole('button', { name: /^Remove passkey/ }).first().click()
    await page.getByText('Your changes have been saved!').waitFor()
    assert.equal(await page.getByRole('button', { name: /^Remove passkey/ }).count(), 1)
    await shot('8-settings-removed')
  })
})

test('sign in with the new passkey', async () => {
  await step('login-again', async () => {
    await signOut()
    await page.goto(`${base}/ui/login`)
    await page.waitForFunction(() => typeof window.oryPasskeyLogin === 'function')
    await page.getByRole('button', { name: 'Sign in with passkey' }).click()
    await page.waitForURL((u) => !u.pathname.startsWith('/ui/login'))
    assert.equal((await whoami())?.identity?.traits?.email, email)
    await shot('9-signed-in-again')
  })
})

test('in a new browser, passkey autofill signs in without a click', async () => {
  await step('autofill', async () => {
    // The same passkey, on a fresh browser (no cookies) that offers
    // conditional mediation: the sign-in page starts the autofill request
    // on load (passkey_login's onload trigger) and the authenticator
    // answers it, so the form is sent without a click.
    const [cred] = await second.credentials()
    context = await browser.newContext({ viewport: { width: 800, height: 900 } })
    context.setDefaultTimeout(15_000)
    page = await context.newPage()
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    const device = await authenticator()
    const cdp = await context.newCDPSession(page)
    await cdp.send('WebAuthn.enable', { enableUI: false })
    await cdp.send('WebAuthn.addCredential', { authenticatorId: device.id, credential: cred })
    await page.goto(`${base}/ui/login`)
    await page.waitForURL((u) => !u.pathname.startsWith('/ui/login'))
    const s = await whoami()
    assert.equal(s?.identity?.traits?.email, email)
    assert.deepEqual(s.authentication_methods.map((m) => m.method), ['passkey'])
    await shot('10-autofill')
  })
})
