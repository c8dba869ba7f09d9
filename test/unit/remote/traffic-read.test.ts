/**
 * The traffic log's reader (readTrafficScript), run by every shell a host may have, each with the
 * awk, tail and wc a host of that kind has (BusyBox's own applets for BusyBox).
 */
import { spawnSync } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseAnswer } from '../../../src/remote/protocol.js'
import { parseTraffic, readTrafficScript } from '../../../src/remote/traffic.js'
import { cleanUpAfterAll, tempDir } from './local-host.js'

cleanUpAfterAll()

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync)

/** A PATH where awk, tail, wc and the rest are BusyBox's applets. */
function busyboxPath(): string {
  const bin = tempDir('zdd-bb-')
  for (const tool of ['awk', 'tail', 'wc', 'sed', 'cat', 'mktemp', 'rm']) symlinkSync(BUSYBOX!, join(bin, tool))
  return bin
}

const SHELLS: Array<[string, () => { command: string[]; path?: string }]> = [
  ['sh', () => ({ command: ['/bin/sh'] })],
  ['dash', () => ({ command: ['/bin/dash'] })],
  ['bash --posix', () => ({ command: ['/bin/bash', '--posix'] })],
  ...(existsSync('/usr/bin/nawk')
    ? [['dash with nawk', () => ({ command: ['/bin/dash'], path: nawkPath() })] as [string, () => { command: string[] }]]
    : []),
  ...(BUSYBOX
    ? [['busybox ash and applets', () => ({ command: [BUSYBOX, 'ash'], path: busyboxPath() })] as [string, () => { command: string[] }]]
    : []),
]

/** A PATH whose rm refuses, as it does where the deploy user may not remove the log. */
function failingRm(): string {
  const bin = tempDir('zdd-rm-')
  writeFileSync(join(bin, 'rm'), '#!/bin/sh\necho "rm: cannot remove: Permission denied" >&2\nexit 1\n', { mode: 0o755 })
  return bin
}

function nawkPath(): string {
  const bin = tempDir('zdd-nawk-')
  symlinkSync('/usr/bin/nawk', join(bin, 'awk'))
  return bin
}

function read(shell: { command: string[]; path?: string }, log: string, offset: number) {
  const run = spawnSync(shell.command[0], [...shell.command.slice(1), '-c', readTrafficScript({ log, offset })], {
    encoding: 'utf8',
    env: { ...process.env, PATH: shell.path ? `${shell.path}:${process.env.PATH}` : process.env.PATH },
  })
  expect(run.stderr).toBe('')
  expect(run.status).toBe(0)
  const answer = parseAnswer(run.stdout)
  return { answer, ...parseTraffic(answer) }
}

const line = (status: number, addr: string, time: string) => `1765000000.123|${status}|${addr}|${time}|zdd\n`
const sorted = <T>(samples: T[]) => [...samples].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))

describe.concurrent('readTrafficScript', () => {
  for (const [name, shellOf] of SHELLS) {
    it(`${name}: adds complete lines up by port, status and ms; a partial last line waits for the next read`, () => {
      const shell = shellOf()
      const dir = tempDir()
      mkdirSync(join(dir, 'run'))
      const log = join(dir, 'run', 'traffic.log')
      writeFileSync(
        log,
        line(200, '127.0.0.1:8082', '0.012') +
          line(200, '127.0.0.1:8082', '0.0124') +
          line(500, '127.0.0.1:8082', '0.003') +
          line(502, '127.0.0.1:8082', '0.000') +
          // retried on another server of an upstream block: the last one answered, both took time
          line(200, '127.0.0.1:8082, 127.0.0.1:8081', '0.001, 0.004') +
          line(504, '127.0.0.1:8081 : 127.0.0.1:8082', '0.002 : 1.000') +
          // never reached an upstream (a maintenance 503, a static file)
          line(503, '-', '-') +
          'not ours\n' +
          '1765000000.125|200|127.0.0.1:80',
      )
      const first = read(shell, log, 0)
      expect(sorted(first.samples)).toEqual(
        sorted([
          { port: 8082, status: 200, ms: 12, count: 2 },
          { port: 8082, status: 500, ms: 3, count: 1 },
          { port: 8082, status: 502, ms: 0, count: 1 },
          { port: 8081, status: 200, ms: 5, count: 1 },
          { port: 8082, status: 504, ms: 1002, count: 1 },
          { port: 0, status: 503, ms: 0, count: 1 },
        ]),
      )
      const partialAt = first.offset
      expect(partialAt).toBe(readFileSync(log).length - '1765000000.125|200|127.0.0.1:80'.length)

      // Nothing new: the same offset, no sample.
      expect(read(shell, log, partialAt)).toMatchObject({ offset: partialAt, samples: [] })

      // The line is finished: it is read once, from where the partial line began.
      appendFileSync(log, '82|0.020|zdd\n')
      const second = read(shell, log, partialAt)
      expect(second.samples).toEqual([{ port: 8082, status: 200, ms: 20, count: 1 }])
      expect(read(shell, log, second.offset).samples).toEqual([])
    })

    it(`${name}: a negative offset starts a new log; a shorter log is read from its start; a missing one is said`, () => {
      const shell = shellOf()
      const dir = tempDir()
      const log = join(dir, 'traffic.log')
      expect(read(shell, log, -1)).toMatchObject({ offset: 0, samples: [], answer: { facts: { missing: 'yes' } } })
      // An earlier run's lines: gone, so that the log never holds more than one run's.
      writeFileSync(log, line(200, '127.0.0.1:8082', '0.001').repeat(3))
      const fresh = read(shell, log, -1)
      expect(fresh).toMatchObject({ offset: 0, samples: [], answer: { facts: { removed: 'yes', missing: 'yes' } } })
      expect(existsSync(log)).toBe(false)
      // Where it cannot be removed, reading starts at its end, as nginx appends to it.
      writeFileSync(log, line(200, '127.0.0.1:8082', '0.001').repeat(3))
      const end = read({ ...shell, path: [failingRm(), shell.path].filter(Boolean).join(':') }, log, -1)
      expect(end.samples).toEqual([])
      expect(end.answer.facts.removed).toBeUndefined()
      expect(end.offset).toBe(3 * line(200, '127.0.0.1:8082', '0.001').length)
      writeFileSync(log, line(500, '127.0.0.1:8082', '0.001'))
      const rotated = read(shell, log, end.offset)
      expect(rotated.answer.facts.rotated).toBe('yes')
      expect(rotated.samples).toEqual([{ port: 8082, status: 500, ms: 1, count: 1 }])
    })
  }
})
