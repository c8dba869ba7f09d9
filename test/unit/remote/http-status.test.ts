/**
 * http_status (src/remote/sh/lib.sh), the one HTTP client of the health check, verify-url and
 * probes, run by a local `sh` whose PATH offers exactly one client: BusyBox wget (as on Alpine),
 * GNU wget, or curl. Each must read the same status codes from a local server.
 */
import { existsSync, readFileSync, symlinkSync } from 'node:fs'
import { type Server, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shellQuote } from '../../../src/remote/quote.js'
import { SHELL_LIB } from '../../../src/remote/shell-lib.js'
import { cleanUpAfterAll, freePort, runScript, tempDir } from './local-host.js'

cleanUpAfterAll()

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync)
const GNU_WGET = existsSync('/usr/bin/wget') ? '/usr/bin/wget' : undefined
const CURL = existsSync('/usr/bin/curl') ? '/usr/bin/curl' : undefined

/** The tools http_status may run besides its HTTP client. */
const TOOLS = ['sed', 'head', 'tail', 'timeout']

/** A directory for PATH with those tools and `wget` or `curl` as given: no other HTTP client. */
function pathWith(name: 'wget' | 'curl', target: string): string {
  const bin = tempDir('zdd-http-')
  for (const tool of TOOLS) {
    const found = ['/usr/bin', '/bin'].map((dir) => join(dir, tool)).find(existsSync)
    if (found) symlinkSync(found, join(bin, tool))
  }
  symlinkSync(target, join(bin, name))
  return bin
}

let server: Server
let port: number
beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url === '/up') response.writeHead(200).end('{"status":"UP"}')
    else if (request.url === '/down') response.writeHead(503).end('{"status":"DOWN"}')
    else if (request.url === '/moved') response.writeHead(302, { Location: '/up' }).end()
    // /silent: never answers
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})
afterAll(() => {
  server.closeAllConnections()
  server.close()
})

const clients: Array<[string, 'wget' | 'curl', string | undefined]> = [
  ['BusyBox wget', 'wget', BUSYBOX],
  ['GNU wget', 'wget', GNU_WGET],
  ['curl', 'curl', CURL],
]

describe.concurrent.each(clients)('http_status with %s alone', { timeout: 30_000 }, (_label, name, target) => {
  let path = ''
  beforeAll(() => {
    if (target) path = pathWith(name, target)
  })
  const status = async (url: string, seconds = 5) => {
    const body = join(tempDir(), 'body')
    const run = await runScript(`${SHELL_LIB}\nhttp_status ${shellQuote(url)} ${shellQuote(body)} ${seconds}`, {
      env: { ...process.env, PATH: path },
    })
    return { code: run.stdout.trim(), body: existsSync(body) ? readFileSync(body, 'utf8') : '', ms: run.ms }
  }

  it.skipIf(!target)('reads 200 and writes the body', async () => {
    expect(await status(`http://127.0.0.1:${port}/up`)).toMatchObject({ code: '200', body: '{"status":"UP"}' })
  })

  it.skipIf(!target)('reads 503', async () => {
    expect((await status(`http://127.0.0.1:${port}/down`)).code).toBe('503')
  })

  it.skipIf(!target)('reports a redirect as the answer it is, not where it leads', async () => {
    expect((await status(`http://127.0.0.1:${port}/moved`)).code).toBe('302')
  })

  it.skipIf(!target)('prints 000 for a closed port', async () => {
    expect((await status(`http://127.0.0.1:${await freePort()}/up`)).code).toBe('000')
  })

  it.skipIf(!target)('gives up on a server that never answers after its time', async () => {
    const silent = await status(`http://127.0.0.1:${port}/silent`, 1)
    expect(silent.code).toBe('000')
    expect(silent.ms).toBeLessThan(4_000)
  })
})
