// Sign-in with a code mailed to the address (Kratos' passwordless `code`
// method) on the hosted pages (/ui) in headless Chromium, against a server
// of its own with code.passwordless_enabled (run.sh: npm run test-code):
// the address, "Send sign in code", a wrong code refused, then the code
// the dev courier logged (read from that server's log) signs in.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { base, courierCode, courierMessages, createUser, launch, leftPage, newPage, shots, step, whoami } from './browser.js'

const email = `kratos-ui-code-${randomUUID().slice(0, 8)}@example.com`

let browser

before(async () => {
  browser = await launch()
  await createUser(email, `Unused-${randomUUID()}`)
})
after(async () => { await browser?.close() })

test('sign in with a code sent by e-mail', async () => {
  const page = await newPage(browser)
  await step(page, 'code-login', async () => {
    await page.goto(`${base}/ui/login`)
    await page.locator('input[name="identifier"]').fill(email)
    const template = 'login_code_valid'
    const sent = (await courierMessages(email, { template })).length
    await shots(page, 'code-login-1-address')
    await page.getByRole('button', { name: 'Send sign in code' }).click()
    const code = page.locator('input[name="code"]')
    await code.waitFor()
    assert.equal(await code.getAttribute('autocomplete'), 'one-time-code')
    await shots(page, 'code-login-2-code')
    await code.fill('000000')
    await page.locator('button[name="method"][value="code"]').first().click()
    await page.locator('[role="alert"]').first().waitFor()
    assert.equal(await whoami(page), null, 'a wrong code signs no one in')
    await shots(page, 'code-login-3-wrong-code')
    await page.locator('input[name="code"]').fill(await courierCode(email, { template, after: sent }))
    await page.locator('button[name="method"][value="code"]').first().click()
    await leftPage(page, '/ui/login')
    const s = await whoami(page)
    assert.equal(s?.identity?.traits?.email, email)
    assert.deepEqual(s.authentication_methods.map((m) => m.method), ['code'])
    await shots(page, 'code-login-4-signed-in')
  })
})
