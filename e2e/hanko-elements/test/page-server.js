// A tiny static server for the test page and hanko-elements' bundle, as an
// app would serve them (no CDN, no build step).
import http from 'node:http'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const files = {
  '/': { path: fileURLToPath(new URL('../page/index.html', import.meta.url)), type: 'text/html; charset=utf-8' },
  '/favicon.ico': null,
  '/elements.js': { path: require.resolve('@teamhanko/hanko-elements'), type: 'text/javascript; charset=utf-8' },
}

// startPageServer listens on host:port (port 0 picks one) and resolves to
// the server and its origin as the browser sees it (http://localhost:PORT).
export async function startPageServer({ host = '127.0.0.1', port = 0 } = {}) {
  const server = http.createServer(async (req, res) => {
    const f = files[new URL(req.url, 'http://x').pathname]
    if (f === null) {
      res.writeHead(204).end()
      return
    }
    if (!f || req.method !== 'GET') {
      res.writeHead(404).end('not found')
      return
    }
    try {
      const body = await readFile(f.path)
      res.writeHead(200, { 'Content-Type': f.type, 'Cache-Control': 'no-store' }).end(body)
    } catch (err) {
      res.writeHead(500).end(String(err))
    }
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  return { server, origin: `http://localhost:${server.address().port}` }
}
