/**
 * The inspection and the shell library's port check (src/remote/host.ts, src/remote/sh/inspect.sh
 * and lib.sh), run by a local `sh` in temporary directories: what they do on a host, without SSH.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { type Server, connect, createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readHostState } from '../../../src/deploy/host-state.js'
import { inspectScript } from '../../../src/remote/host.js'
import { shellScript } from '../../../src/remote/quote.js'
import { SHELL_LIB } from '../../../src/remote/shell-lib.js'
import { finalizeReleaseScript, partialDir } from '../../../src/remote/release.js'
import { runScript, tempDir, freePort, listener, makeRelease, sha256, cleanUpAfterAll } from './local-host.js'

cleanUpAfterAll()

describe.concurrent('host scripts, run by a local sh', { timeout: 30_000 }, () => {
  describe('port_in_use', () => {
    it('reads a kernel table only as far as its listening sockets', async () => {
      const dir = tempDir()
      const row = (n: number, port: string, state: string) =>
        `  ${n}: 0100007F:${port} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000     0        0 ${1000 + n} 1 0000000000000000 100 0 0 10 0`
      const table = [
        '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
        row(0, '1F90', '0A'),
        row(1, 'C350', '03'), // a half-open connection, listed among the listeners before Linux 4.4
        row(2, '1F91', '0A'),
        row(3, 'D431', '01'), // the established and TIME_WAIT sockets begin here
        row(4, '1F92', '0A'), // never listed after them; here it shows where reading stopped
      ].join('\n')
      writeFileSync(join(dir, 'tcp'), `${table}\n`)
      const script = shellScript(
        { TABLE: join(dir, 'tcp') },
        `${SHELL_LIB}\nfor port in 8080 8081 8082 8083; do port_hex "$port"; listed_as_listening "$HEX" "$TABLE" && echo "listening=$port"; done; exit 0`,
      )
      expect((await runScript(script)).answer.lists.listening).toEqual(['8080', '8081'])
      // The inodes of those listeners (what tells whose they are) come from the same top of the table.
      const inodes = shellScript(
        { TABLE: join(dir, 'tcp') },
        `${SHELL_LIB}\nfor port in 8080 8081 8082; do port_hex "$port"; for inode in $(listening_inodes_in "$HEX" "$TABLE"); do echo "inode=$port $inode"; done; done; exit 0`,
      )
      expect((await runScript(inodes)).answer.lists.inode).toEqual(['8080 1000', '8081 1002'])
    })

    for (const how of ['with ss', 'without ss (the kernel tables)']) {
      it(`sees listeners in the IPv4 and IPv6 tables, not a port that only has connections, ${how}`, async () => {
        // A function named ss that fails stands for a host without it (or with one too old for -H).
        const noSs = how === 'with ss' ? '' : 'ss() { return 127; }\n'
        const servers: Server[] = []
        const listen = (host: string, port = 0) =>
          new Promise<number | undefined>((resolve) => {
            const server = createServer((socket) => socket.on('error', () => undefined))
            server.once('error', () => resolve(undefined)) // no IPv6 here
            server.listen(port, host, () => {
              servers.push(server)
              resolve((server.address() as { port: number }).port)
            })
          })
        try {
          const v4 = await listen('127.0.0.1')
          const v6 = await listen('::1')
          // A connected client: its sockets come after the listeners in the tables, on ports that do not listen.
          const client = connect(v4!, '127.0.0.1')
          await new Promise((resolve) => client.once('connect', resolve))
          const closed = await freePort()
          const ports = [v4!, ...(v6 ? [v6] : []), closed, client.localPort!]
          const run = await runScript(
            shellScript(
              { PORTS: ports.join(' ') },
              `${SHELL_LIB}\n${noSs}for port in $PORTS; do port_in_use "$port" && echo "in_use=$port"; for inode in $(listen_inodes "$port"); do echo "inode=$port $inode"; done; done; exit 0`,
            ),
          )
          client.destroy()
          expect(run.answer.lists.in_use).toEqual([String(v4), ...(v6 ? [String(v6)] : [])])
          // One inode for each listener, the socket's own: what tells whose it is.
          const inodes = run.answer.lists.inode ?? []
          expect(inodes.map((line) => line.split(' ')[0])).toEqual([String(v4), ...(v6 ? [String(v6)] : [])])
          for (const line of inodes) expect(line).toMatch(/^\d+ [1-9]\d*$/)
        } finally {
          for (const server of servers) server.close()
        }
      })
    }
  })

  describe('inspectScript', () => {
    const params = (deployDir: string, include: string, ports: [number, number], prepare = true) => ({
      deployDir,
      include,
      ports,
      prepare,
      checkListeners: !prepare,
      needJava: false,
    })

    it('on an empty dir with prepare: creates releases/ run/ logs/, include absent, both instances stopped', async () => {
      const root = tempDir()
      const deployDir = join(root, 'apps', 'shop')
      const [a, b] = [await freePort(), await freePort()]
      const run = await runScript(inspectScript(params(deployDir, join(root, 'service-url.inc'), [a, b])))
      expect(run.code, run.stderr).toBe(0)
      for (const sub of ['releases', 'run', 'logs']) expect(statSync(join(deployDir, sub)).isDirectory()).toBe(true)
      expect(run.answer.facts).toMatchObject({
        deploy_dir: deployDir,
        writable: 'yes',
        deploy_dir_exists: 'yes',
        include: 'absent',
        uid: String(process.getuid!()),
      })
      // A deploy (the inspection that prepares) frees the idle port itself: the kernel's tables are not read.
      expect(run.answer.lists.instance).toEqual([`${a} - stopped - -`, `${b} - stopped - -`])
      const state = readHostState(run.answer)
      expect(state.instances.map((i) => i.listening)).toEqual([undefined, undefined])
      expect(state).toMatchObject({ deployDir, writable: true, deployDirExists: true, releases: [], include: undefined })
      expect(state.freeBytes).toBeGreaterThan(0)
      expect(['curl', 'wget']).toContain(state.http)
      expect(state.base64).toBe(true) // coreutils
      expect(readdirSync(deployDir).sort()).toEqual(['logs', 'releases', 'run'])
    })

    it('without prepare (dry-run, status) it creates nothing and clears nothing', async () => {
      const root = tempDir()
      const deployDir = join(root, 'apps', 'shop')
      const run = await runScript(inspectScript(params(deployDir, join(root, 'x.inc'), [8081, 8082], false)))
      expect(run.code).toBe(0)
      expect(existsSync(deployDir)).toBe(false)
      expect(run.answer.facts.deploy_dir_exists).toBe('no')
      expect(run.answer.facts.writable).toBeUndefined()

      mkdirSync(join(deployDir, 'releases', '.partial-20260101-000000-aaaaaaaa'), { recursive: true })
      await runScript(inspectScript(params(deployDir, join(root, 'x.inc'), [8081, 8082], false)))
      expect(existsSync(join(deployDir, 'releases', '.partial-20260101-000000-aaaaaaaa'))).toBe(true)
    })

    it("a relative deploy-dir is under the remote user's home", async () => {
      const home = tempDir()
      const run = await runScript(inspectScript(params('apps/shop', join(home, 'x.inc'), [8081, 8082])), {
        env: { ...process.env, HOME: home },
      })
      expect(run.answer.facts.deploy_dir).toBe(join(home, 'apps/shop'))
      expect(run.answer.facts.home).toBe(home)
      expect(statSync(join(home, 'apps/shop/releases')).isDirectory()).toBe(true)
    })

    it('the include section is the include file, byte for byte', async () => {
      const root = tempDir()
      const include = join(root, 'conf.d', 'service-url.inc')
      mkdirSync(dirname(include))
      const content =
        'set $service_url http://127.0.0.1:8082;\n# ünïcödé ✓ "double" \'single\' $var `tick` \\ back\ttab\r\n\n  last line, no newline'
      writeFileSync(include, content)
      const run = await runScript(inspectScript(params(join(root, 'app'), include, [8081, 8082])))
      expect(run.answer.facts.include).toBe('present')
      expect(run.answer.sections.include).toBe(content)
      expect(readHostState(run.answer).include).toBe(content)
    })

    it('an include ending in newlines: the section is its text without them', async () => {
      const root = tempDir()
      const include = join(root, 'service-url.inc')
      writeFileSync(include, 'set $service_url http://127.0.0.1:8081;\n\n')
      const run = await runScript(inspectScript(params(join(root, 'app'), include, [8081, 8082])))
      expect(run.answer.sections.include).toBe('set $service_url http://127.0.0.1:8081;')
    })

    it('an empty include is present and empty', async () => {
      const root = tempDir()
      const include = join(root, 'service-url.inc')
      writeFileSync(include, '')
      const state = readHostState((await runScript(inspectScript(params(join(root, 'app'), include, [8081, 8082])))).answer)
      expect(state.include).toBe('')
    })

    it('lists the releases with their sha256 and jar, and clears upload leftovers', async () => {
      const root = tempDir()
      const deployDir = join(root, 'app')
      rmSync(join(makeRelease(deployDir, '20260101-000000-aaaaaaaa', [['A', '1']], 'shop-1.0.jar'), 'server.js'))
      const second = makeRelease(deployDir, '20260102-000000-bbbbbbbb', [], 'my shop.jar')
      rmSync(join(second, 'sha256'))
      rmSync(join(second, 'server.js'))
      mkdirSync(join(deployDir, 'releases', '.partial-20260103-000000-cccccccc'))
      writeFileSync(join(deployDir, 'releases', '.partial-20260103-000000-cccccccc', 'app.jar'), 'half')
      const run = await runScript(inspectScript(params(deployDir, join(root, 'x.inc'), [8081, 8082])))
      const state = readHostState(run.answer)
      expect(state.releases).toEqual([
        // Made before releases were marked: they count as having served.
        { name: '20260101-000000-aaaaaaaa', sha256: 'f'.repeat(64), fileName: 'shop-1.0.jar', neverServed: false },
        { name: '20260102-000000-bbbbbbbb', sha256: '', fileName: 'my shop.jar', neverServed: false },
      ])
      expect(existsSync(join(deployDir, 'releases', '.partial-20260103-000000-cccccccc'))).toBe(false)
    })

    it('files the app wrote into its release directory (its working directory) are not taken for the jar', async () => {
      // The start command runs in releases/<release>/: apps write logs, pid files, H2 databases there.
      // rollback restarts a release by the file name inspect reports, and a deploy reuses a release
      // only when the names match.
      const root = tempDir()
      const deployDir = join(root, 'app')
      mkdirSync(partialDir(deployDir, 'r1'), { recursive: true })
      writeFileSync(join(partialDir(deployDir, 'r1'), 'shop.jar'), 'jar bytes')
      const finalized = await runScript(
        finalizeReleaseScript({ deployDir, release: 'r1', fileName: 'shop.jar', sha256: sha256('jar bytes'), uploaded: true, envText: '' }),
      )
      expect(finalized.code).toBe(0)
      writeFileSync(join(deployDir, 'releases', 'r1', 'spring.log'), 'started\n')
      writeFileSync(join(deployDir, 'releases', 'r1', 'application.pid'), '123\n')
      mkdirSync(join(deployDir, 'releases', 'r1', 'tomcat-work'))
      const state = readHostState((await runScript(inspectScript(params(deployDir, join(root, 'x.inc'), [8081, 8082])))).answer)
      // A fresh release has never served until a switch to it succeeds.
      expect(state.releases).toEqual([{ name: 'r1', sha256: sha256('jar bytes'), fileName: 'shop.jar', neverServed: true }])
    })

    it('reports a running instance from its pid file, and a port something else listens on', async () => {
      const root = tempDir()
      const deployDir = join(root, 'app')
      const [a, b] = [await freePort(), await freePort()]
      // A pid file as earlier versions wrote it (the pid alone), of a process in its release directory.
      const ours = await listener(a, { detached: true, cwd: makeRelease(deployDir, '20260101-000000-aaaaaaaa') })
      await listener(b)
      writeFileSync(join(deployDir, 'run', `${a}.pid`), `${ours.pid}\n`)
      writeFileSync(join(deployDir, 'run', `${a}.release`), '20260101-000000-aaaaaaaa\n')
      writeFileSync(join(deployDir, 'run', `${b}.pid`), '999999999\n')
      const state = readHostState((await runScript(inspectScript(params(deployDir, join(root, 'x.inc'), [a, b], false)))).answer)
      expect(state.instances).toEqual([
        { port: a, pid: ours.pid, running: true, listening: true, release: '20260101-000000-aaaaaaaa' },
        { port: b, pid: 999999999, running: false, listening: true, release: undefined },
      ])
    })

    it('hostile paths are data, not code', async () => {
      const root = tempDir()
      const deployDir = join(root, "it's $(touch PWNED) `x`")
      const run = await runScript(inspectScript(params(deployDir, join(root, '$(touch PWNED).inc'), [8081, 8082])), { cwd: root })
      expect(run.code).toBe(0)
      expect(run.answer.facts.deploy_dir).toBe(deployDir)
      expect(existsSync(join(root, 'PWNED'))).toBe(false)
      expect(statSync(join(deployDir, 'releases')).isDirectory()).toBe(true)
    })

    it('needJava: reports whether java is on the PATH', async () => {
      const root = tempDir()
      const hasJava = spawnSync('sh', ['-c', 'command -v java']).status === 0
      const run = await runScript(inspectScript({ ...params(join(root, 'app'), join(root, 'x.inc'), [8081, 8082]), needJava: true }))
      expect(readHostState(run.answer).javaFound).toBe(hasJava)
      const noJava = await runScript(inspectScript({ ...params(join(root, 'app'), join(root, 'x.inc'), [8081, 8082]), needJava: true }), {
        env: { ...process.env, PATH: '/nonexistent' },
      })
      // sh itself was found by absolute path; without PATH nothing else is
      expect(noJava.answer.facts.java).toBe('no')
    })
  })

  // ---------------------------------------------------------------------------------------------
})
