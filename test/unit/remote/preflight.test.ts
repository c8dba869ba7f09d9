/**
 * The preflight script (src/remote/preflight.ts), run by local shells: the facts it reports, and
 * that it changes nothing (no deploy dir made, the include untouched, nothing reloaded).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { preflightParams, readPreflightFacts } from '../../../src/deploy/preflight-facts.js'
import type { DeployConfig } from '../../../src/config/inputs.js'
import { preflightScript } from '../../../src/remote/preflight.js'
import { shellQuote } from '../../../src/remote/quote.js'
import { cleanUpAfterAll, freePort, listener, runScript, tempDir } from './local-host.js'

cleanUpAfterAll()

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync)
/** The shells a host may have, those that are here: the session's sh, dash, bash --posix, BusyBox ash. */
const SHELLS: Array<[string, string[]]> = (
  [
    ['sh', []],
    ['dash', ['/bin/dash']],
    ['bash --posix', ['/bin/bash', '--posix']],
    ['busybox ash', BUSYBOX ? [BUSYBOX, 'ash'] : ['/nonexistent/busybox']],
  ] as Array<[string, string[]]>
).filter(([, command]) => command.length === 0 || existsSync(command[0]))

function configOf(overrides: { deployDir: string; include: string; test: string; reload: string; ports: [number, number] }): DeployConfig {
  return {
    deployDir: overrides.deployDir,
    ports: overrides.ports,
    startCommand: 'java $JAVA_OPTS -jar "$ARTIFACT" --server.port="$PORT"',
    nginx: {
      include: overrides.include,
      template: 'set $service_url http://127.0.0.1:{port};',
      testCommand: overrides.test,
      reloadCommand: overrides.reload,
    },
  } as DeployConfig
}

/** Runs the script with the given shell (the session's own sh when `shell` is empty). */
async function preflight(config: DeployConfig, shell: string[]) {
  const script = preflightScript(preflightParams(config))
  const text = shell.length === 0 ? script : `${shell.map(shellQuote).join(' ')} -c ${shellQuote(script)}`
  const result = await runScript(text)
  expect(result.code, result.stderr).toBe(0)
  return readPreflightFacts(result.answer)
}

describe.concurrent.each(SHELLS)('preflight script under %s', { timeout: 30_000 }, (_name, shell) => {
  it('a deploy-dir under a file, an include in a missing directory, a failing test: facts, and nothing changed', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'a-file'), 'not a directory')
    const reloads = join(dir, 'reloads')
    const [portA, portB] = [await freePort(), await freePort()]
    const held = await listener(portB)
    const facts = await preflight(
      configOf({
        deployDir: join(dir, 'a-file', 'app'),
        include: join(dir, 'missing', 'service-url.inc'),
        test: `echo "nginx: [emerg] open() \\"${dir}/nope.conf\\" failed (2: No such file or directory)" >&2; false`,
        reload: `touch ${shellQuote(reloads)}`,
        ports: [portA, portB],
      }),
      shell,
    )
    expect(facts).toMatchObject({
      deployDir: join(dir, 'a-file', 'app'),
      deployDirKind: 'absent',
      parent: join(dir, 'a-file'),
      parentKind: 'other',
      include: { dirExists: false, exists: false },
      test: { ok: false, output: `nginx: [emerg] open() "${dir}/nope.conf" failed (2: No such file or directory)` },
      reload: { programPath: expect.stringMatching(/\/touch$/) },
    })
    expect(facts.freeBytes).toBeUndefined()
    expect(facts.ports).toEqual([
      { port: portA, listening: false, pid: undefined, command: undefined },
      expect.objectContaining({ port: portB, listening: true, pid: held.pid }),
    ])
    expect(facts.ports[1].command).toContain(process.execPath.split('/').pop())
    // Nothing was made or run.
    expect(readdirSync(dir).sort()).toEqual(['a-file'])
  })

  it('a deploy-dir yet to be made in a writable parent, and an include the user writes', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'nginx'))
    writeFileSync(join(dir, 'nginx', 'service-url.inc'), 'set $service_url http://127.0.0.1:8081;\n')
    const facts = await preflight(
      configOf({
        deployDir: `${join(dir, 'apps', 'sample')}/`,
        include: join(dir, 'nginx', 'service-url.inc'),
        test: 'true',
        reload: 'no-such-program-zdd -s reload',
        ports: [await freePort(), await freePort()],
      }),
      shell,
    )
    expect(facts).toMatchObject({
      deployDir: join(dir, 'apps', 'sample'),
      deployDirKind: 'absent',
      parent: dir,
      parentKind: 'writable',
      include: { dirExists: true, exists: true, readable: true, write: 'user' },
      test: { ok: true },
      reload: { programPath: '' },
    })
    expect(facts.freeBytes).toBeGreaterThan(0)
    expect(existsSync(join(dir, 'apps'))).toBe(false)
    expect(readFileSync(join(dir, 'nginx', 'service-url.inc'), 'utf8')).toBe('set $service_url http://127.0.0.1:8081;\n')
  })
})
