// The browser, the app's page and the helpers of the ory-elements suite's
// journey (elements.test.js): one Chromium, one context (one cookie jar)
// and one page for the whole journey, so that each step starts where the
// one before it left the user.
//
// The page (src/main.jsx, built by `vite build` into dist/) is served by
// test/page-server.js on E2E_PAGE_PORT; Latchkey's flows send the browser
// there (selfservice.flows.*.ui_url, set by e2e/run.sh), and the page calls
// Latchkey's public API (LATCHKEY_PUBLIC_URL, on host localhost: same site
// as the page) with credentials. LATCHKEY_LOG_FILE is the server's JSON log
// (codes sent by the dev courier), E2E_ARTIFACTS where screenshots go,
// E2E_CHROMIUM the browser (default /usr/bin/chromium).
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { chromium } from 'playwright-core'
import { courierCode, courierMessages } from '../../lib/server.js'
import { startPageServer } from './page-server.js'

export { courierCode, courierMessages }

export const api = (process.env.LATCHKEY_PUBLIC_URL ?? 'http://localhost:4433').replace('127.0.0.1', 'localhost')
const artifacts = process.env.E2E_ARTIFACTS ?? new URL('../../artifacts/', import.meta.url).pathname
export const email = `ory-elements-${randomUUID().slice(0, 8)}@example.com`
export const password = 'elements password 1'
export const newPassword = 'elements password 2'
// Generous: CI machines are shared, and a password hash takes a while there.
const timeout = 30_000

export let browser, context, page, origin, authenticator
let pageServer
const calls = []

// setup starts the page server and the browser (call it in before()).
export async function setup() {
  await mkdir(artifacts, { recursive: true })
  ;({ server: pageServer, origin } = await startPageServer({ sdkURL: api, port: Number(process.env.E2E_PAGE_PORT ?? 0) }))
  browser = await chromium.launch({
    executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
  context = await browser.newContext({ viewport: { width: 900, height: 900 } })
  context.setDefaultTimeout(timeout)
  page = await context.newPage()
  page.on('response', (r) => {
    if (r.url().startsWith(api)) calls.push(`${r.request().method()} ${r.url().slice(api.length)} → ${r.status()}`)
  })
  page.on('pageerror', (err) => calls.push(`page error: ${err.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') calls.push(`console ${m.type()}: ${m.text()}`)
  })
  authenticator = await addVirtualAuthenticator()
}

// teardown closes the browser and the page server (call it in after()).
export async function teardown() {
  await browser?.close()
  pageServer?.close()
}

// addVirtualAuthenticator gives the page Chromium's virtual WebAuthn
// authenticator (CDP WebAuthn domain): a platform authenticator with
// resident keys and user verification that answers navigator.credentials
// by itself, as a person touching a fingerprint reader would. setup()
// adds one; steps with passkeys or security keys use it through
// authenticator.cdp (e.g. WebAuthn.getCredentials with
// authenticator.authenticatorId) and may add others (options: CDP's
// VirtualAuthenticatorOptions, e.g. { transport: 'usb' } for a key).
export async function addVirtualAuthenticator(options = {}) {
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable', { enableUI: false })
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      ...options,
    },
  })
  return { cdp, authenticatorId }
}

// shot saves a screenshot of the page as <name>.png in the artifacts folder.
export async function shot(name) {
  await page.screenshot({ path: `${artifacts}/ory-elements-${name}.png`, fullPage: true })
}

// step runs fn and, when it fails, saves a screenshot and the API calls,
// page errors and console errors of the step, so a failure shows what the
// user saw and what the page asked.
export async function step(name, fn) {
  const from = calls.length
  try {
    await fn()
  } catch (err) {
    await shot(`failed-${name}`).catch(() => {})
    err.message += `\nat ${page.url()}\nAPI calls and page errors during "${name}":\n  ${calls.slice(from).join('\n  ')}`
    throw err
  }
}

// open loads one of the app's pages (/login, /registration, /settings, /)
// and waits until it has rendered its flow (the app reports window.e2e).
// A flow page without ?flow= goes to Latchkey first, which creates the
// flow and sends the browser back with one.
export async function open(path, kind = path.replace(/^\//, '') || 'home') {
  await page.goto(`${origin}${path}`)
  await ready(kind)
}

// ready waits until the app shows the page of kind (login, registration,
// settings, verification, recovery, home) with its data loaded.
export async function ready(kind) {
  await page.waitForFunction((kind) => window.e2e?.ready && window.e2e.page === kind, kind)
  assert.equal(await page.evaluate(() => window.e2e.error), undefined, 'the app reports no error')
}

// input returns the form field that submits as name.
export function input(name) {
  return page.locator(`input[name="${name}"]`)
}

// submit clicks the submit button that sends name=value (Ory Elements
// renders the flow's submit nodes as <button name value>).
export function submitButton(name, value) {
  return page.locator(`button[name="${name}"][value="${value}"]`)
}

// session returns the session the browser holds (whoami with its cookie),
// or null.
export async function session() {
  return page.evaluate(async (api) => {
    const r = await fetch(`${api}/sessions/whoami`, { credentials: 'include', headers: { Accept: 'application/json' } })
    return r.ok ? r.json() : null
  }, api)
}

// sessionCookie returns Latchkey's session cookie for the API's host.
export async function sessionCookie() {
  return (await context.cookies(api)).find((c) => c.name === 'ory_kratos_session')
}

// logout signs out through the settings page's user menu (Ory Elements'
// own logout link: GET <logout_url>, which Latchkey answers with 303 to the
// default return URL, the app's home page).
export async function logout() {
  await open('/settings')
  await page.getByTitle('User Menu').click()
  const item = page.getByRole('menuitem', { name: /logout/i })
  await page.waitForFunction(() => !!document.querySelector('[role="menuitem"] a[href*="/self-service/logout?token="], a[role="menuitem"][href*="/self-service/logout?token="]'))
  await item.click()
  await ready('home')
  assert.equal(await session(), null, 'no session after logout')
  await page.getByTestId('signed-out').waitFor()
}

// passwordLogin signs in on a fresh login page: the identifier and the
// password, then "Sign in with password".
export async function passwordLogin(identifier, pw) {
  await input('identifier').fill(identifier)
  await input('password').fill(pw)
  await submitButton('method', 'password').click()
}

