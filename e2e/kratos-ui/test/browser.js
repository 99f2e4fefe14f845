// Helpers of the kratos-ui journeys (mfa, recovery, sessions, journey):
// one headless Chromium, pages that record CSP violations and page errors,
// Chromium's virtual WebAuthn authenticator, axe-core and screenshots in
// light and dark, whoami with the page's cookies, and TOTP codes computed
// from the secret the settings page shows. Not a test file itself.
//
// e2e/run.sh starts the server (LATCHKEY_PUBLIC_URL on host localhost,
// LATCHKEY_ADMIN_URL, LATCHKEY_LOG_FILE for the dev courier's codes).
import assert from 'node:assert/strict'
import { mkdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import { chromium } from 'playwright-core'
import { TOTP } from 'otpauth'

export { courierCode, courierMessages } from '../../lib/server.js'

export const base = (process.env.LATCHKEY_PUBLIC_URL ?? 'http://localhost:4433').replace('127.0.0.1', 'localhost')
export const admin = process.env.LATCHKEY_ADMIN_URL ?? 'http://127.0.0.1:4434'
export const artifacts = process.env.E2E_ARTIFACTS ?? new URL('../../artifacts/', import.meta.url).pathname
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

// launch starts Debian's Chromium, headless.
export async function launch() {
  await mkdir(artifacts, { recursive: true })
  return chromium.launch({
    executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  })
}

// newPage opens a page in a fresh context (its own cookie jar). Its
// problems (CSP violations, page errors, the WebAuthn script's errors)
// are collected in page.problems; page.calls lists the responses of the
// server, for failure messages. autofill: false makes it a browser without
// passkey autofill (conditional mediation), so a sign-in page waits for a
// click: with it, the virtual authenticator answers the autofill request
// on load.
export async function newPage(browser, { locale = 'en-US', autofill = true } = {}) {
  const context = await browser.newContext({ viewport: { width: 800, height: 900 }, locale, colorScheme: 'light' })
  context.setDefaultTimeout(15_000)
  if (!autofill) {
    await context.addInitScript(() => {
      if (window.PublicKeyCredential) window.PublicKeyCredential.isConditionalMediationAvailable = async () => false
    })
  }
  const page = await context.newPage()
  page.problems = []
  page.calls = []
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`))
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to|Latchkey WebAuthn/i.test(m.text())) page.problems.push(m.text())
  })
  page.on('response', (r) => {
    if (r.url().startsWith(base)) page.calls.push(`${r.request().method()} ${r.url().slice(base.length)} → ${r.status()}`)
  })
  return page
}

// step runs fn; on failure it keeps a screenshot and the requests made
// during the step. It fails on any CSP violation or page error.
export async function step(page, name, fn) {
  const from = page.calls.length
  try {
    await fn()
    assert.deepEqual(page.problems, [], 'no CSP violation or page error')
  } catch (err) {
    await page.screenshot({ path: `${artifacts}/kratos-ui-failed-${name}.png`, fullPage: true }).catch(() => {})
    err.message += `\nat ${page.url()}\nrequests during "${name}":\n  ${page.calls.slice(from).join('\n  ')}`
    throw err
  }
}

// shots keeps a full-page screenshot of the page in light and in dark
// (prefers-color-scheme), as kratos-ui-<name>-<scheme>.png.
export async function shots(page, name) {
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme })
    await page.screenshot({ path: `${artifacts}/kratos-ui-${name}-${scheme}.png`, fullPage: true })
  }
  await page.emulateMedia({ colorScheme: 'light' })
}

// audit runs axe-core on the page in light and in dark and fails on
// serious or critical violations; it keeps the screenshots (shots). axe
// is evaluated through the DevTools protocol, which the pages' CSP does
// not govern.
export async function audit(page, name) {
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme })
    if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource)
    const found = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations'] })
      return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
    })
    await page.screenshot({ path: `${artifacts}/kratos-ui-${name}-${scheme}.png`, fullPage: true })
    assert.deepEqual(found, [], `axe: ${name} (${scheme}) at ${page.url()}`)
  }
  await page.emulateMedia({ colorScheme: 'light' })
}

// authenticator adds a virtual platform authenticator (resident keys,
// user verification, presence answered automatically) to the page.
export async function authenticator(page) {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('WebAuthn.enable', { enableUI: false })
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true },
  })
  return { credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials }
}

// whoami returns the page's session (its cookies, sent by the context's
// request client: the pages' CSP lets no script fetch), or null.
export async function whoami(page) {
  const r = await page.context().request.get(`${base}/sessions/whoami`, { headers: { Accept: 'application/json' } })
  return r.ok() ? r.json() : null
}

// leftPage waits until the browser has left the page at path (a form's
// redirects done).
export async function leftPage(page, path) {
  await page.waitForURL((u) => u.pathname !== path)
}

// atPage waits until the browser is at path.
export async function atPage(page, path) {
  await page.waitForURL((u) => u.pathname === path)
}

// createUser makes a password user through the admin API.
export async function createUser(email, password) {
  const r = await fetch(`${admin}/admin/identities`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ schema_id: 'default', traits: { email }, credentials: { password: { config: { password } } } }),
  })
  const body = await r.text()
  assert.equal(r.status, 201, `create ${email}: ${body}`)
  return JSON.parse(body)
}

// authenticatorApp is the person's TOTP app for secret (RFC 6238, SHA1, 6
// digits, 30 s). Latchkey accepts each time step's code once, and the step
// before and after the current one: code() hands out the code of a step
// not used yet within that window, waiting for the clock to move on when
// all three are used.
export function authenticatorApp(secret) {
  const totp = new TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 })
  const used = new Set()
  return {
    // wrong is a code of a step far away (refused).
    wrong: () => totp.generate({ timestamp: Date.now() + 15 * 60_000 }),
    async code() {
      for (;;) {
        const now = Math.floor(Date.now() / 30_000)
        for (const s of [now, now + 1, now - 1]) {
          if (!used.has(s)) {
            used.add(s)
            return totp.generate({ timestamp: s * 30_000 + 1 })
          }
        }
        await sleep(500)
      }
    },
  }
}

// totpSecret reads the secret the TOTP section of the settings page shows
// (the totp_secret_key text node).
export async function totpSecret(page) {
  const codes = await page.locator('form code').allInnerTexts()
  const secret = codes.find((c) => /^[A-Z2-7]{16,}=*$/.test(c.trim()))
  assert.ok(secret, `a TOTP secret on the page: ${JSON.stringify(codes)}`)
  return secret.trim()
}

// formWith is the form holding the input named name (each settings
// section is a form of its own).
export function formWith(page, name) {
  return page.locator('form', { has: page.locator(`input[name="${name}"]`) })
}
