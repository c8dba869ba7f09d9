/**
 * How the transport tells a live host from a silent one (src/ssh/transport.ts), against an ssh2
 * server in this process: a host that keeps sending but answers the keepalive asks late (as on a
 * slow uplink, where an ask waits behind queued SFTP writes) is alive; a host that sends nothing
 * and answers nothing is given up within the same bound as before.
 */
import ssh2, { type Connection, type ServerChannel } from 'ssh2'
import { afterEach, describe, expect, it } from 'vitest'
import { ConnectionError } from '../../src/ssh/errors.js'
import { RemoteHost } from '../../src/ssh/transport.js'

const { Server, utils } = ssh2
const HOST_KEY = utils.generateKeyPairSync('ed25519').private
/** The transport's count of unanswered asks before it gives up (KEEPALIVE_COUNT_MAX). */
const ASKS = 4
const INTERVAL_MS = 100

const open: Array<{ close(): void }> = []
afterEach(() => {
  for (const thing of open.splice(0)) thing.close()
})

/**
 * A host whose one command writes `chunks` lines, one every `everyMs`, then ends (or, with
 * `thenSilent`, goes silent); its replies to keepalive asks are held back for `replyDelayMs`
 * (never sent, when undefined).
 */
async function host(p: { chunks: number; everyMs: number; replyDelayMs?: number; thenSilent?: boolean }) {
  const seen = { asks: 0, lastChunkAt: 0 }
  const server = new Server({ hostKeys: [HOST_KEY] }, (client: Connection) => {
    const protocol = (client as unknown as { _protocol: { requestFailure: () => void } })._protocol
    const reply = protocol.requestFailure.bind(protocol)
    protocol.requestFailure = () => {
      seen.asks++
      if (p.replyDelayMs !== undefined) setTimeout(reply, p.replyDelayMs)
    }
    client.on('error', () => undefined)
    client.on('authentication', (context) => context.accept())
    client.on('ready', () =>
      client.on('session', (accept) =>
        accept().on('exec', (acceptExec) => {
          const channel: ServerChannel = acceptExec()
          let sent = 0
          const timer = setInterval(() => {
            if (sent < p.chunks) {
              channel.write(`chunk ${++sent}\n`)
              seen.lastChunkAt = performance.now()
              return
            }
            clearInterval(timer)
            if (p.thenSilent) return
            channel.exit(0)
            channel.end()
          }, p.everyMs)
          channel.on('close', () => clearInterval(timer))
        }),
      ),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  open.push(server)
  const { port } = server.address() as { port: number }
  const remote = await RemoteHost.connect({
    entry: { host: '127.0.0.1', port, username: 'deploy', label: `deploy@127.0.0.1:${port}` },
    auth: { password: 'secret' },
    hostKeys: { fingerprints: [], knownHosts: '', insecureSkip: true },
    connectTimeoutSeconds: 5,
    keepaliveIntervalMs: INTERVAL_MS,
  })
  open.push(remote)
  return { remote, seen }
}

describe('keepalive', () => {
  it('a host that keeps sending, while its replies to the keepalive asks come late, is not given up', async () => {
    // Every reply comes 10 intervals late: counting only replies, the connection would end after
    // ASKS + 1 intervals, long before the command's 2 s of output are through.
    const { remote, seen } = await host({ chunks: 14, everyMs: 150, replyDelayMs: 10 * INTERVAL_MS })
    const result = await remote.runBeside('true', 'upload')
    expect(result.code).toBe(0)
    expect(result.stdout.trim().split('\n')).toHaveLength(14)
    expect(seen.asks).toBeGreaterThan(ASKS)
    expect(remote.connected).toBe(true)
  })

  it('a host that goes silent, answering no ask, is given up within the same bound', async () => {
    const { remote, seen } = await host({ chunks: 6, everyMs: 150, thenSilent: true })
    const error = await remote.runBeside('true', 'upload').catch((e: unknown) => e)
    const silentMs = performance.now() - seen.lastChunkAt
    expect(error).toBeInstanceOf(ConnectionError)
    expect((error as Error).message).toMatch(/lost the connection to 127\.0\.0\.1: no answer for \d+ s/)
    expect(silentMs).toBeGreaterThanOrEqual((ASKS + 1) * INTERVAL_MS - 20)
    expect(silentMs).toBeLessThan((ASKS + 1) * INTERVAL_MS + 1500)
    expect(remote.connected).toBe(false)
  })
})
