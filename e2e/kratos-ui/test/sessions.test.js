// "Sessions and devices" on the hosted settings page (/ui/settings), with
// three browsers (contexts, each its own cookie jar) signed in to one
// account: the first lists the other two, signs one out, then signs out
// everywhere else; the signed-out browsers lose their sessions, the first
// keeps its own. axe-core checks the list (light and dark).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { atPage, audit, base, createUser, launch, leftPage, newPage, shots, step, whoami } from './browser.js'

const email = `kratos-ui-sessions-${randomUUID().slice(0, 8)}@example.com`
const password = `Sessions-${randomUUID()}`

let browser

before(async () => {
  browser = await launch()
  await createUser(email, password)
})
after(async () => { await browser?.close() })

async function signIn() {
  const page = await newPage(browser)
  await page.goto(`${base}/ui/login`)
  await page.locator('input[name="identifier"]').fill(email)
  await page.locator('input[name="password"]').fill(password)
  await page.getByRole('button', { name: 'Sign in with password' }).click()
  await leftPage(page, '/ui/login')
  const s = await whoami(page)
  assert.ok(s?.id, 'signed in')
  page.sessionID = s.id
  return page
}

test('the settings list the other sessions; sign out one, then everywhere else', async () => {
  const a = await signIn()
  await step(a, 'sessions-alone', async () => {
    await a.goto(`${base}/ui/settings`)
    await atPage(a, '/ui/settings')
    const section = a.getByRole('region', { name: 'Sessions and devices' })
    await section.getByText('This device').waitFor()
    await section.getByText('No other sessions are signed in.').waitFor()
    await shots(a, 'sessions-1-alone')
  })
  const b = await signIn()
  const c = await signIn()
  await step(a, 'sessions-list', async () => {
    await a.reload()
    const section = a.getByRole('region', { name: 'Sessions and devices' })
    assert.equal(await section.locator('li').count(), 3, 'this browser and two others')
    for (const other of [b, c]) {
      assert.equal(await section.locator(`button[name="revoke"][value="${other.sessionID}"]`).count(), 1, 'a sign-out button for each other session')
    }
    assert.equal(await section.locator(`button[value="${a.sessionID}"]`).count(), 0, 'none for this one')
    await section.getByText('Chrome · Linux').first().waitFor()
    await audit(a, 'sessions-2-list')

    // Sign one out.
    await section.locator(`button[name="revoke"][value="${b.sessionID}"]`).click()
    await a.getByRole('status').getByText('The session was signed out.').waitFor()
    assert.equal(await whoami(b), null, 'the signed-out browser has no session')
    assert.equal((await whoami(c))?.id, c.sessionID)
    assert.equal((await whoami(a))?.id, a.sessionID)
    assert.equal(await a.locator('.sessions li').count(), 2)
    await shots(a, 'sessions-3-one-signed-out')

    // Everywhere else.
    await a.getByRole('button', { name: 'Sign out everywhere else' }).click()
    await a.getByRole('status').getByText('All your other sessions were signed out.').waitFor()
    await a.getByText('No other sessions are signed in.').waitFor()
    assert.equal(await whoami(c), null)
    assert.equal((await whoami(a))?.id, a.sessionID, 'this browser stays signed in')
    await shots(a, 'sessions-4-everywhere-else')
  })
  await step(b, 'sessions-signed-out', async () => {
    // The signed-out browser's next visit to the settings asks it to sign in.
    await b.goto(`${base}/ui/settings`)
    await atPage(b, '/ui/login')
  })
  for (const p of [a, b, c]) await p.context().close()
})
