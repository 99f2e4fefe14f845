// Every hosted page (/ui) in headless Chromium, in light and dark (the
// pages follow prefers-color-scheme): axe-core (npm, injected into each
// page) finds no serious or critical accessibility violation, and a
// full-page screenshot of each is kept in the artifacts folder. Then a
// person signs in with the keyboard only, and changes the language with
// the switcher (the choice is remembered on the next page).
//
// e2e/run.sh starts the server (LATCHKEY_PUBLIC_URL).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { randomUUID } from 'node:crypto'
import { chromium } from 'playwright-core'

const base = (process.env.LATCHKEY_PUBLIC_URL ?? 'http://localhost:4433').replace('127.0.0.1', 'localhost')
const artifacts = process.env.E2E_ARTIFACTS ?? new URL('../../artifacts/', import.meta.url).pathname
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
const email = `pages-${randomUUID().slice(0, 8)}@example.com`
const password = `Pages-${randomUUID()}`

let browser
before(async () => {
  await mkdir(artifacts, { recursive: true })
  browser = await chromium.launch({
    executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  })
})
after(async () => { await browser?.close() })

// newPage opens a page in a fresh context with the colour scheme; the
// axe script is evaluated through the DevTools protocol, which the pages'
// CSP does not govern, so the pages keep their strict policy.
async function newPage(colorScheme = 'light', locale = 'en-US') {
  const context = await browser.newContext({ viewport: { width: 800, height: 900 }, colorScheme, locale })
  context.setDefaultTimeout(15_000)
  const page = await context.newPage()
  page.errors = []
  page.on('pageerror', (err) => page.errors.push(`page error: ${err.message}`))
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) page.errors.push(`CSP: ${m.text()}`)
  })
  return page
}

// audit runs axe-core on the page and fails on serious or critical
// violations, then keeps a screenshot.
async function audit(page, name, scheme) {
  await page.evaluate(axeSource)
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] })
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
  })
  await page.screenshot({ path: `${artifacts}/pages-${name}-${scheme}.png`, fullPage: true })
  assert.deepEqual(found, [], `${name} (${scheme}) at ${page.url()}`)
  assert.deepEqual(page.errors, [], `${name} (${scheme}): no CSP violation or page error`)
}

// signedIn waits until the browser has left the sign-in or sign-up page
// (the face sends it to its default return URL) and has a session.
async function signedIn(page) {
  await page.waitForURL((u) => u.pathname !== '/ui/login' && u.pathname !== '/ui/registration')
  const r = await page.context().request.get(`${base}/sessions/whoami`, { headers: { Accept: 'application/json' } })
  assert.ok(r.ok(), `signed in (whoami ${r.status()}) at ${page.url()}`)
}

async function signUp(page) {
  await page.goto(`${base}/ui/registration`)
  await page.locator('input[name="traits.email"]').fill(email)
  await page.getByRole('button', { name: 'Sign up', exact: true }).click()
  await page.locator('input[name="password"]').waitFor()
}

for (const scheme of ['light', 'dark']) {
  test(`every page passes axe-core (${scheme})`, async () => {
    const page = await newPage(scheme)
    // Signed out.
    await page.goto(`${base}/ui/`)
    await audit(page, 'welcome-signed-out', scheme)
    await page.goto(`${base}/ui/login`)
    await page.locator('input[name="identifier"]').waitFor()
    await audit(page, 'login', scheme)
    // A failed sign-in: the messages and the focus on the first error.
    await page.locator('input[name="identifier"]').fill('nobody@example.com')
    await page.locator('input[name="password"]').fill('wrong password')
    await page.getByRole('button', { name: 'Sign in with password' }).click()
    await page.locator('.msg-error').first().waitFor()
    await audit(page, 'login-error', scheme)
    await page.goto(`${base}/ui/recovery`)
    await page.locator('input[name="email"]').waitFor()
    await audit(page, 'recovery', scheme)
    await page.goto(`${base}/ui/verification`)
    await page.locator('input[name="email"]').waitFor()
    await audit(page, 'verification', scheme)
    await page.goto(`${base}/ui/error?id=00000000-0000-4000-8000-000000000000`)
    await audit(page, 'error', scheme)
    await page.goto(`${base}/ui/nowhere`)
    await audit(page, 'not-found', scheme)
    await page.goto(`${base}/ui/registration`)
    await page.locator('input[name="traits.email"]').waitFor()
    await audit(page, 'registration', scheme)
    if (scheme === 'light') {
      // Signed in (the account is made once, in the light run).
      await signUp(page)
      await audit(page, 'registration-credentials', scheme)
      await page.locator('input[name="password"]').fill(password)
      await page.getByRole('button', { name: 'Sign up', exact: true }).click()
      await signedIn(page)
    } else {
      await page.goto(`${base}/ui/login`)
      await page.locator('input[name="identifier"]').fill(email)
      await page.locator('input[name="password"]').fill(password)
      await page.getByRole('button', { name: 'Sign in with password' }).click()
      await signedIn(page)
    }
    await page.goto(`${base}/ui/`)
    await audit(page, 'welcome-signed-in', scheme)
    await page.goto(`${base}/ui/settings`)
    await page.locator('form').first().waitFor()
    await audit(page, 'settings', scheme)
    await page.context().close()
  })
}

test('keyboard-only sign-in', async () => {
  const page = await newPage()
  await page.goto(`${base}/ui/login`)
  await page.locator('input[name="identifier"]').waitFor()
  // The identifier has the focus on arrival; Tab, typing and Enter do the rest.
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'identifier')
  await page.keyboard.type(email)
  await page.keyboard.press('Tab')
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'password')
  await page.keyboard.type('not the password')
  await page.keyboard.press('Enter')
  // A wrong password: the page comes back with an alert and the focus in a field.
  await page.locator('[role="alert"]').first().waitFor()
  assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'INPUT')
  await page.locator('input[name="password"]').focus()
  await page.keyboard.type(password)
  await page.keyboard.press('Enter')
  await signedIn(page)
  await page.goto(`${base}/ui/`)
  assert.match(await page.locator('.account').innerText(), new RegExp(email.replace(/[.]/g, '\\.')))
  // Every control on the landing page is reachable with Tab, and shows its focus.
  const reached = new Set()
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab')
    const el = await page.evaluate(() => {
      const a = document.activeElement
      return a && a !== document.body ? { text: a.textContent.trim(), outline: getComputedStyle(a).outlineStyle } : null
    })
    if (el) {
      reached.add(el.text)
      assert.notEqual(el.outline, 'none', `focus is visible on ${el.text}`)
    }
  }
  for (const name of ['Account settings', 'Log out', 'Deutsch']) assert.ok(reached.has(name), `Tab reaches ${name}: ${[...reached]}`)
  await page.context().close()
})

test('change language', async () => {
  const page = await newPage('light', 'en-US')
  await page.goto(`${base}/ui/login`)
  assert.equal(await page.locator('h1').innerText(), 'Sign in')
  await page.getByRole('navigation', { name: 'Language' }).getByRole('link', { name: 'Deutsch' }).click()
  await page.locator('html[lang="de"]').waitFor()
  assert.equal(await page.locator('h1').innerText(), 'Anmelden')
  assert.ok(await page.getByRole('button', { name: 'Mit Passwort anmelden' }).isVisible())
  // Remembered: the next page (a new flow) is German too.
  await page.goto(`${base}/ui/registration`)
  await page.locator('html[lang="de"]').waitFor()
  assert.equal(await page.locator('h1').innerText(), 'Konto erstellen')
  await page.screenshot({ path: `${artifacts}/pages-registration-de.png`, fullPage: true })
  // Accept-Language picks the language when none was chosen.
  const pl = await newPage('light', 'pl-PL')
  await pl.goto(`${base}/ui/login`)
  await pl.locator('html[lang="pl"]').waitFor()
  assert.equal(await pl.locator('h1').innerText(), 'Zaloguj się')
  await page.context().close()
  await pl.context().close()
})
