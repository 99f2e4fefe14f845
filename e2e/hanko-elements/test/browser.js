// The browser set-up the hanko-elements tests share: the page server with
// <hanko-auth>/<hanko-profile>, headless Chromium, a record of the requests
// the page made, and a step wrapper that, on failure, saves a screenshot and
// lists those requests.
//
// Configuration (set by e2e/run.sh): LATCHKEY_PUBLIC_URL, E2E_PAGE_PORT,
// E2E_ARTIFACTS, E2E_CHROMIUM.
import { mkdir } from 'node:fs/promises'
import { chromium } from 'playwright-core'
import { startPageServer } from './page-server.js'

// api is the server's public URL as the page calls it (localhost: the
// WebAuthn relying party of serve --dev).
export const api = (process.env.LATCHKEY_PUBLIC_URL ?? 'http://localhost:4433').replace('127.0.0.1', 'localhost')
export const artifacts = process.env.E2E_ARTIFACTS ?? new URL('../../artifacts/', import.meta.url).pathname

// openBrowser starts the page server and Chromium with one page.
// initScript runs in every document before the page's scripts; apiOnly
// records only requests to api (as paths), otherwise every request with
// its URL; prefix is put before screenshot names.
export async function openBrowser({ initScript, apiOnly = true, prefix = '', timeout = 15_000 } = {}) {
  await mkdir(artifacts, { recursive: true })
  const { server: pageServer, origin: pageOrigin } = await startPageServer({ port: Number(process.env.E2E_PAGE_PORT ?? 0) })
  const browser = await chromium.launch({
    executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  })
  const context = await browser.newContext({ viewport: { width: 800, height: 720 } })
  context.setDefaultTimeout(timeout)
  if (initScript) await context.addInitScript(initScript)
  const page = await context.newPage()
  const requests = []
  page.on('response', (r) => {
    if (!apiOnly) requests.push(`${r.request().method()} ${r.url()} → ${r.status()}`)
    else if (r.url().startsWith(api)) requests.push(`${r.request().method()} ${r.url().slice(api.length)} → ${r.status()}`)
  })
  page.on('pageerror', (err) => requests.push(`page error: ${err.message}`))

  // shot saves a screenshot of the page as <prefix><name>.png in artifacts.
  const shot = (name) => page.screenshot({ path: `${artifacts}/${prefix}${name}.png`, fullPage: true })
  // step runs fn; when it fails it saves a screenshot and adds the page's
  // URL and the requests made meanwhile to the error.
  const step = async (name, fn) => {
    const from = requests.length
    try {
      await fn()
    } catch (err) {
      await shot(`failed-${name}`).catch(() => {})
      err.message += `\nat ${page.url()}\nrequests during "${name}":\n  ${requests.slice(from).join('\n  ')}`
      throw err
    }
  }
  const close = async () => {
    await browser.close()
    pageServer.close()
  }
  return { browser, context, page, pageOrigin, requests, shot, step, close }
}
