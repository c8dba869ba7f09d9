import net from 'node:net'

/**
 * A TCP proxy in front of sshd that notes when the first connection after `arm()` is accepted and
 * when its first byte (the SSH client's identification line) arrives. Used to time the action's
 * start-up up to its first SSH packet. With `oneWayDelayMs`, it holds the connection's opening and
 * every chunk, in each direction, that long: a link whose round trip is twice that.
 * @param {number} upstreamPort
 * @param {{ oneWayDelayMs?: number }} [options]
 */
export async function startSshProxy(upstreamPort, { oneWayDelayMs = 0 } = {}) {
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
    sockets.add(client)
    client.once('close', () => sockets.delete(client))
    const toHost = delayedWriter(oneWayDelayMs, client)
    client.on('data', (chunk) => toHost.push(chunk))
    client.on('end', () => toHost.push(undefined))
    client.on('error', () => client.destroy())
    // The client's SYN takes its way to the host too.
    later(oneWayDelayMs, () => {
      if (client.destroyed) return
      const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true })
      sockets.add(upstream)
      upstream.once('close', () => sockets.delete(upstream))
      for (const s of [client, upstream]) {
        s.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      toHost.attach(upstream)
      const toClient = delayedWriter(oneWayDelayMs, upstream)
      toClient.attach(client)
      upstream.on('data', (chunk) => toClient.push(chunk))
      upstream.on('end', () => toClient.push(undefined))
    })
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

/** @param {number} ms @param {() => void} fn */
function later(ms, fn) {
  if (ms > 0) setTimeout(fn, ms)
  else fn()
}

/**
 * Writes each chunk (undefined: the end) `delayMs` after it was pushed, in order, to the socket
 * attached by then. Without a delay, it writes at once and pauses `source` while the socket's
 * buffer is full; with one, it holds whatever comes (the bench sends small jars that way).
 * @param {number} delayMs
 * @param {net.Socket} source
 */
function delayedWriter(delayMs, source) {
  /** @type {net.Socket | undefined} */
  let to
  /** @type {Array<{ due: number, chunk?: Buffer }>} */
  const queue = []
  let timer = false
  const drain = () => {
    timer = false
    if (!to) return
    while (queue.length > 0 && queue[0].due <= performance.now()) {
      const { chunk } = /** @type {{ due: number, chunk?: Buffer }} */ (queue.shift())
      if (to.destroyed) return
      if (!chunk) to.end()
      else if (!to.write(chunk) && delayMs === 0) {
        source.pause()
        to.once('drain', () => source.resume())
      }
    }
    if (queue.length > 0 && !timer) {
      timer = true
      setTimeout(drain, Math.max(0, queue[0].due - performance.now()))
    }
  }
  return {
    /** @param {Buffer | undefined} chunk */
    push(chunk) {
      queue.push({ due: performance.now() + delayMs, chunk })
      if (delayMs === 0) return drain()
      if (!timer) {
        timer = true
        setTimeout(drain, delayMs)
      }
    },
    /** @param {net.Socket} socket */
    attach(socket) {
      to = socket
      drain()
    },
  }
}
