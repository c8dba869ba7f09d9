// Several "machines" on this one: Linux network namespaces joined by bridges, for e2e tests of
// rolling deploys and jump hosts. Everything stays on this machine:
// - every address is one this code assigns, from 10.213.X.0/24 subnets (X picked free at random),
//   and, for a segment made with `ipv6: true`, also from fd00:213:Y::/64 (a unique local prefix, Y
//   random);
// - each segment's bridge lives in a namespace of its own (the "hub"), not in the root namespace;
// - the root namespace (where the tests and the action run) gets only what `attachRunner` gives it:
//   one veth end with one address per attached segment, plus, for every segment of the lab, an
//   `unreachable` route (metric 4242) so that a packet for a segment the runner is not attached to
//   fails at once with EHOSTUNREACH instead of following the default route off the machine.
// Needs root and iproute2 (`ip`). No npm dependencies.
import { execFile as execFileCb, execFileSync } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { promisify } from 'node:util'

const execFile = promisify(execFileCb)

/** The private test range; a segment is one /24 inside it. */
const RANGE = '10.213'
/** Metric of the root namespace's guard routes, so they never shadow a connected route. */
const GUARD_METRIC = '4242'

/**
 * @typedef {object} Segment
 * @property {string} key the name the test gave it, e.g. 'front'
 * @property {string} subnet e.g. '10.213.77' (the /24 is `${subnet}.0/24`)
 * @property {string} cidr e.g. '10.213.77.0/24'
 * @property {string} hub the namespace that holds this segment's bridge (`br0`)
 * @property {(host: number) => string} address `${subnet}.${host}`
 * @property {string | undefined} cidr6 with `ipv6: true`, e.g. 'fd00:213:4a2f::/64'
 * @property {(host: number) => string} address6 with `ipv6: true`, e.g. 'fd00:213:4a2f::11' for host 11
 *   (the host number in hex digits is read as hex: 11 -> ::11, as an easy-to-read twin of .11)
 */

/**
 * @typedef {object} Lab
 * @property {string} id random part of every name, e.g. 'a1b2c3'
 * @property {string} prefix `zdd-${id}-`: every namespace of the lab starts with it
 * @property {(key: string, options?: { subnet?: string, ipv6?: boolean }) => Promise<Segment>} segment
 *   a new segment (a bridge in its own hub namespace) on a free /24 of 10.213.0.0/16; with `ipv6`,
 *   also on a /64 of fd00:213::/32, every attached namespace (and the runner) getting an address
 *   there too
 * @property {(key: string) => Promise<string>} namespace a new namespace with `lo` up; returns its name
 * @property {(namespace: string, segment: Segment, host: number) => Promise<string>} attach
 *   joins the namespace to the segment with a veth pair; returns the address given to it
 * @property {(segment: Segment, host?: number) => Promise<string>} attachRunner
 *   joins the root namespace to the segment (default host number 1); returns its address there
 * @property {(segment: Segment) => Promise<void>} detachRunner removes that link again
 * @property {() => Promise<void>} destroy deletes every namespace, link and route of the lab; idempotent
 */

/**
 * @param {string[]} args
 * @returns {Promise<string>} stdout
 */
async function ip(args) {
  try {
    const { stdout } = await execFile('ip', args)
    return stdout
  } catch (err) {
    const e = /** @type {Error & { stderr?: string }} */ (err)
    throw new Error(`ip ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`, { cause: err })
  }
}

/** @param {string[]} args */
async function ipQuiet(args) {
  await execFile('ip', args).catch(() => undefined)
}

/**
 * Whether this process can build what the fleet tests need: root, `ip netns add`, bridges and veth
 * pairs, and mount and PID namespaces inside a network namespace (none of it works in some
 * containers). Makes and deletes one probe namespace.
 * @returns {Promise<{ ok: boolean, reason?: string }>}
 */
export async function namespaceSupport() {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'network namespaces need root (ip netns add)' }
  const probe = `zdd-probe-${randomBytes(3).toString('hex')}`
  try {
    await ip(['netns', 'add', probe])
  } catch (err) {
    return { ok: false, reason: `"ip netns add" does not work here: ${/** @type {Error} */ (err).message}` }
  }
  try {
    await ip(['-n', probe, 'link', 'add', 'br0', 'type', 'bridge'])
    // (Not "a"/"b": ip would read a lone "a" as the "address" keyword.)
    await ip(['-n', probe, 'link', 'add', 'zddprobe0', 'type', 'veth', 'peer', 'name', 'zddprobe1'])
  } catch (err) {
    await ipQuiet(['netns', 'delete', probe])
    return { ok: false, reason: `bridges or veth pairs are not available: ${/** @type {Error} */ (err).message}` }
  }
  try {
    // What startTarget's machineDir needs as well: mount and PID namespaces, a /proc of their own.
    const unshare = ['unshare', '--pid', '--mount', '--fork', '--mount-proc', '--propagation', 'private', 'true']
    await execFile('ip', ['netns', 'exec', probe, ...unshare], { timeout: 10_000 })
    return { ok: true }
  } catch (err) {
    const e = /** @type {Error & { stderr?: string }} */ (err)
    return { ok: false, reason: `mount and PID namespaces (unshare, util-linux) are not available: ${(e.stderr ?? '').trim() || e.message}` }
  } finally {
    await ipQuiet(['netns', 'delete', probe])
  }
}

/**
 * @param {string} cidr a.b.c.d/n
 * @returns {[number, number]} first and last address as 32-bit numbers
 */
function rangeOf(cidr) {
  const [addr, bitsText] = cidr.split('/')
  const bits = bitsText === undefined ? 32 : Number(bitsText)
  const value = addr.split('.').reduce((n, part) => n * 256 + Number(part), 0)
  const size = 2 ** (32 - bits)
  const first = Math.floor(value / size) * size
  return [first, first + size - 1]
}

/**
 * Every IPv4 route and address of the root namespace except the default route: a /24 the lab
 * takes must overlap none of them.
 * @returns {Promise<string[]>}
 */
async function rootPrefixes() {
  /** @type {string[]} */
  const prefixes = []
  const routes = JSON.parse((await ip(['-4', '-j', 'route', 'show', 'table', 'all'])) || '[]')
  for (const r of routes) if (r.dst && r.dst !== 'default') prefixes.push(r.dst.includes('/') ? r.dst : `${r.dst}/32`)
  const links = JSON.parse((await ip(['-4', '-j', 'addr', 'show'])) || '[]')
  for (const link of links) for (const a of link.addr_info ?? []) prefixes.push(`${a.local}/${a.prefixlen}`)
  return prefixes
}

/**
 * Creates an empty lab. Call `destroy()` when done (also run, synchronously, if the process exits
 * without it).
 * @returns {Promise<Lab>}
 */
export async function createLab() {
  const id = randomBytes(3).toString('hex')
  const prefix = `zdd-${id}-`
  /** @type {string[]} namespaces, in creation order */
  const namespaces = []
  /** @type {string[]} guard routes (cidr) in the root namespace */
  const guards = []
  /** @type {string[]} IPv6 guard routes (cidr) in the root namespace */
  const guards6 = []
  /** @type {Map<string, string>} segment key -> root-side veth name */
  const runnerLinks = new Map()
  /** @type {Map<string, number>} hub namespace -> ports on its bridge */
  const hubPorts = new Map()
  let linkCount = 0
  /** @type {Promise<void> | undefined} */
  let destroying

  /** @param {string} key */
  const nsName = (key) => {
    if (!/^[a-z0-9-]{1,20}$/.test(key)) throw new Error(`namespace key ${JSON.stringify(key)}: expected 1 to 20 of a-z, 0-9, "-"`)
    return `${prefix}${key}`
  }

  /** @param {string} key */
  const namespace = async (key) => {
    const name = nsName(key)
    await ip(['netns', 'add', name])
    namespaces.push(name)
    await ip(['-n', name, 'link', 'set', 'lo', 'up'])
    return name
  }

  /** A veth pair: `inner` in `namespace` (or the root namespace), its peer on the hub's bridge. */
  const plug = async (/** @type {string | undefined} */ inside, /** @type {string} */ inner, /** @type {Segment} */ segment) => {
    const port = `p${(hubPorts.get(segment.hub) ?? 0) + 1}`
    hubPorts.set(segment.hub, (hubPorts.get(segment.hub) ?? 0) + 1)
    await ip(['link', 'add', inner, ...(inside ? ['netns', inside] : []), 'type', 'veth', 'peer', 'name', port, 'netns', segment.hub])
    await ip(['-n', segment.hub, 'link', 'set', port, 'master', 'br0'])
    await ip(['-n', segment.hub, 'link', 'set', port, 'up'])
  }

  /** @type {Lab['segment']} */
  const segment = async (key, options = {}) => {
    const taken = await rootPrefixes()
    const free = (/** @type {string} */ subnet) => {
      const [a, b] = rangeOf(`${subnet}.0/24`)
      return taken.every((p) => {
        const [c, d] = rangeOf(p)
        return d < a || c > b
      })
    }
    // The guard route goes in first: it keeps the segment's packets on this machine, and adding it
    // fails if the /24 is taken (e.g. by a lab of another test process): then try another one.
    const claim = async (/** @type {string} */ subnet) => {
      try {
        await ip(['route', 'add', 'unreachable', `${subnet}.0/24`, 'metric', GUARD_METRIC])
      } catch {
        return false
      }
      guards.push(`${subnet}.0/24`)
      return true
    }
    let subnet = options.subnet
    if (subnet !== undefined) {
      if (!new RegExp(`^${RANGE.replace('.', '\\.')}\\.\\d{1,3}$`).test(subnet) || Number(subnet.split('.')[2]) > 255) {
        throw new Error(`segment ${key}: subnet ${subnet} is not in ${RANGE}.0.0/16`)
      }
      if (!free(subnet) || !(await claim(subnet))) throw new Error(`segment ${key}: ${subnet}.0/24 overlaps a route or address of this machine`)
    } else {
      for (let tries = 0; tries < 50 && subnet === undefined; tries++) {
        const candidate = `${RANGE}.${randomInt(1, 255)}`
        if (free(candidate) && (await claim(candidate))) subnet = candidate
      }
      if (subnet === undefined) throw new Error(`no free /24 in ${RANGE}.0.0/16: this machine routes that range`)
    }
    const cidr = `${subnet}.0/24`
    /** @type {string | undefined} */
    let prefix6
    if (options.ipv6) {
      for (let tries = 0; tries < 50 && prefix6 === undefined; tries++) {
        const candidate = `fd00:213:${randomInt(1, 0xffff).toString(16)}`
        try {
          await ip(['-6', 'route', 'add', 'unreachable', `${candidate}::/64`, 'metric', GUARD_METRIC])
          guards6.push(`${candidate}::/64`)
          prefix6 = candidate
        } catch {
          // taken: try another
        }
      }
      if (prefix6 === undefined) throw new Error(`segment ${key}: no free /64 in fd00:213::/32`)
    }
    const hub = await namespace(`${key}-hub`)
    await ip(['-n', hub, 'link', 'add', 'br0', 'type', 'bridge'])
    await ip(['-n', hub, 'link', 'set', 'br0', 'up'])
    const s = /** @type {string} */ (subnet)
    const address6 = (/** @type {number} */ host) => {
      if (prefix6 === undefined) throw new Error(`segment ${key} was made without ipv6`)
      return `${prefix6}::${host}`
    }
    return { key, subnet: s, cidr, hub, address: (host) => `${s}.${host}`, cidr6: prefix6 && `${prefix6}::/64`, address6 }
  }

  /** The segment's IPv6 address for `host` on `dev` of `name` (or the root namespace); nodad: usable at once. */
  const addAddress6 = async (/** @type {string | undefined} */ name, /** @type {Segment} */ seg, /** @type {string} */ dev, /** @type {number} */ host) => {
    if (!seg.cidr6) return
    await ip([...(name ? ['-n', name] : []), '-6', 'addr', 'add', `${seg.address6(host)}/64`, 'dev', dev, 'nodad'])
  }

  /** @type {Lab['attach']} */
  const attach = async (name, seg, host) => {
    if (!namespaces.includes(name)) throw new Error(`${name} is not a namespace of this lab`)
    const address = seg.address(host)
    const inner = `v-${seg.key}`.slice(0, 15)
    await plug(name, inner, seg)
    await ip(['-n', name, 'addr', 'add', `${address}/24`, 'dev', inner])
    await addAddress6(name, seg, inner, host)
    await ip(['-n', name, 'link', 'set', inner, 'up'])
    return address
  }

  /** @type {Lab['attachRunner']} */
  const attachRunner = async (seg, host = 1) => {
    if (runnerLinks.has(seg.key)) throw new Error(`the runner is already attached to ${seg.key}`)
    const address = seg.address(host)
    // Root-namespace names are global: the lab id keeps them apart from everything else.
    const link = `zdd${id}r${++linkCount}`
    await plug(undefined, link, seg)
    runnerLinks.set(seg.key, link)
    await ip(['addr', 'add', `${address}/24`, 'dev', link])
    await addAddress6(undefined, seg, link, host)
    await ip(['link', 'set', link, 'up'])
    return address
  }

  /** @type {Lab['detachRunner']} */
  const detachRunner = async (seg) => {
    const link = runnerLinks.get(seg.key)
    if (!link) return
    runnerLinks.delete(seg.key)
    // Deleting one end deletes the pair; the guard route takes over the segment's /24.
    await ip(['link', 'delete', link])
  }

  const destroySync = () => {
    const run = (/** @type {string[]} */ args) => {
      try {
        execFileSync('ip', args, { stdio: 'ignore' })
      } catch {
        // already gone
      }
    }
    for (const link of runnerLinks.values()) run(['link', 'delete', link])
    for (const ns of [...namespaces].reverse()) run(['netns', 'delete', ns])
    for (const cidr of guards) run(['route', 'delete', 'unreachable', cidr, 'metric', GUARD_METRIC])
    for (const cidr of guards6) run(['-6', 'route', 'delete', 'unreachable', cidr, 'metric', GUARD_METRIC])
  }
  const onExit = () => destroySync()
  process.once('exit', onExit)

  /** @type {Lab['destroy']} */
  const destroy = () => {
    destroying ??= (async () => {
      process.removeListener('exit', onExit)
      for (const link of runnerLinks.values()) await ipQuiet(['link', 'delete', link])
      runnerLinks.clear()
      // A namespace's links go with it; a veth's peer in another namespace goes too.
      for (const ns of [...namespaces].reverse()) await ipQuiet(['netns', 'delete', ns])
      for (const cidr of guards) await ipQuiet(['route', 'delete', 'unreachable', cidr, 'metric', GUARD_METRIC])
      for (const cidr of guards6) await ipQuiet(['-6', 'route', 'delete', 'unreachable', cidr, 'metric', GUARD_METRIC])
      // Anything of this lab that an interrupted step left behind.
      const left = (await ip(['netns', 'list']).catch(() => '')).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(prefix))
      for (const ns of left) await ipQuiet(['netns', 'delete', ns])
    })()
    return destroying
  }

  return { id, prefix, segment, namespace, attach, attachRunner, detachRunner, destroy }
}

/**
 * Runs a command inside a namespace (`ip netns exec`).
 * @param {string} namespace
 * @param {string} command
 * @param {string[]} args
 * @param {{ timeoutMs?: number }} [options]
 * @returns {Promise<{ stdout: string, stderr: string }>}
 */
export async function execIn(namespace, command, args, { timeoutMs = 15_000 } = {}) {
  return execFile('ip', ['netns', 'exec', namespace, command, ...args], { timeout: timeoutMs })
}
