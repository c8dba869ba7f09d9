// A second nginx master that looks exactly like a target's: the same command line, in a network
// and mount namespace of its own where the target's dir holds other files, as a container's nginx
// or another network namespace's shows up in /proc. Nothing signals it but its own stop().
// Needs root (unshare --mount --net).
import { execFile as execFileCb } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { isAlive, readPid, signal } from './target-processes.mjs'

const execFile = promisify(execFileCb)
const NGINX = '/usr/sbin/nginx'

/**
 * Starts the twin of `target`'s nginx (a target of scripts/lib/target.mjs without machineDir).
 * @param {{ dir: string, nginxConfPath: string, includePath: string }} target
 * @returns {Promise<{ masterPid: number, workers: () => Promise<number[]>, stop: () => Promise<void> }>}
 */
export async function startNginxTwin(target) {
  const twinDir = await mkdtemp(path.join(os.tmpdir(), 'zdd-twin-'))
  // Its own copy of what nginx reads and writes, at the target's paths once bind-mounted.
  await writeFile(path.join(twinDir, 'nginx.conf'), await readFile(target.nginxConfPath))
  await mkdir(path.join(twinDir, path.relative(target.dir, path.dirname(target.includePath))), { recursive: true })
  await writeFile(path.join(twinDir, path.relative(target.dir, target.includePath)), await readFile(target.includePath))
  await mkdir(path.join(twinDir, 'nginx-temp'))
  const boot = 'ip link set lo up && mount --bind "$1" "$2" && exec "$3" -p "$2" -c "$2/nginx.conf"'
  try {
    // `daemon on`: the master forks and this returns once it runs; the namespaces live on with it.
    await execFile('unshare', ['--mount', '--net', '--propagation', 'private', 'sh', '-c', boot, 'sh', twinDir, target.dir, NGINX])
  } catch (err) {
    await rm(twinDir, { recursive: true, force: true })
    throw new Error(`the twin nginx did not start: ${/** @type {Error} */ (err).message}`, { cause: err })
  }
  const pidFile = path.join(twinDir, 'nginx.pid')
  let masterPid
  for (let i = 0; i < 100 && !(masterPid = await readPid(pidFile)); i++) await sleep(50)
  if (!masterPid) throw new Error(`the twin nginx wrote no pid file in ${twinDir}`)
  const pid = masterPid
  return {
    masterPid: pid,
    workers: async () =>
      (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => ''))
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number),
    stop: async () => {
      signal(pid, 'SIGTERM')
      for (let i = 0; i < 50 && (await isAlive(pid)); i++) await sleep(100)
      if (await isAlive(pid)) signal(pid, 'SIGKILL')
      await rm(twinDir, { recursive: true, force: true })
    },
  }
}
