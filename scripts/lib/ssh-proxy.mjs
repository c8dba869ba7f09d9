import net from 'node:net'

/**
 * A TCP proxy in front of sshd that notes when the first connection after `arm()` is accepted and
 * when its first byte (the SSH client's identification line) arrives. Used to time the action's
 * start-up up to its first SSH packet.
 * @param {number} upstreamPort
 */
export async function startSshProxy(upstreamPort) {
  /** @type {Set<net.Socket>} */
  const sockets = new Set()
  let armed = false
  /** @type {number | undefined} */
  let acceptAt
  /** @type {number | undefined} */
  let firstByteAt
  // Nagle off on both legs, as the action's own socket has it: the proxy must not add the delayed
  // ACK waits that the action avoids.
  const server = net.createServer({ noDelay: true }, (client) => {
    if (armed && acceptAt === undefined) acceptAt = performance.now()
    client.once('data', () => {
      if (armed && firstByteAt === undefined) firstByteAt = performance.now()
    })
    const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true })
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.once('close', () => sockets.delete(s))
      s.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(undefined))
  })
  return {
    port: /** @type {net.AddressInfo} */ (server.address()).port,
    arm() {
      armed = true
      acceptAt = undefined
      firstByteAt = undefined
    },
    take() {
      armed = false
      return { acceptAt, firstByteAt }
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(() => resolve(undefined)))
    },
  }
}
