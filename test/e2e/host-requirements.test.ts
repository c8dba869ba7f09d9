// A host that lacks what the deploy needs is refused before anything is stopped or switched:
// no curl nor wget, no java, a deploy-dir that cannot be written, a full disk.
import { execFile as execFileCb } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
import { removeWorkspaces, run, served, why, workspaceWithJar } from './support.js'

const execFile = promisify(execFileCb)

describe('a host that lacks a tool or room', () => {
  let target: any
  let root: string
  let bin: string
  let servedBefore: string
  let includeBefore: string

  /** The SSH sessions' PATH is `bin`, a copy of /usr/bin made of links: tools can be taken away. */
  const hide = (...tools: string[]) => Promise.all(tools.map((tool) => unlink(path.join(bin, tool)).catch(() => undefined)))
  const restore = (...tools: string[]) =>
    Promise.all(tools.map((tool) => symlink(path.join('/usr/bin', tool), path.join(bin, tool)).catch(() => undefined)))

  async function expectNothingChanged(): Promise<void> {
    expect(await readFile(target.includePath, 'utf8')).toBe(includeBefore)
    expect(await served(target)).toBe(servedBefore)
  }

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'zdd-req-'))
    bin = path.join(root, 'bin')
    await mkdir(bin)
    for (const tool of await readdir('/usr/bin')) await symlink(path.join('/usr/bin', tool), path.join(bin, tool)).catch(() => undefined)
    target = await startTarget({ sessionEnv: { PATH: `${bin}:/usr/sbin` } })
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
    servedBefore = await served(target)
    includeBefore = await readFile(target.includePath, 'utf8')
  })
  afterAll(async () => {
    await target?.stop()
    await execFile('umount', [path.join(root, 'tiny')]).catch(() => undefined)
    await rm(root, { recursive: true, force: true })
    await removeWorkspaces()
  })

  it('no curl nor wget: says so, and what to install', async () => {
    await hide('curl', 'wget')
    try {
      const result = await run(target, await workspaceWithJar('2'))
      expect(result.code, why(result)).toBe(1)
      expect(result.stdout).toContain('::error::inspect: the host has neither curl nor wget, and the health check needs one. Install curl')
      await expectNothingChanged()
    } finally {
      await restore('curl', 'wget')
    }
  })

  it('wget alone is enough', async () => {
    await hide('curl')
    try {
      const result = await run(target, await workspaceWithJar('2'))
      expect(result.code, why(result)).toBe(0)
      expect(await served(target)).toMatch(/^200 version=2 /)
      servedBefore = await served(target)
      includeBefore = await readFile(target.includePath, 'utf8')
    } finally {
      await restore('curl')
    }
  })

  // Alpine's only HTTP client: BusyBox wget, which knows fewer options than GNU wget.
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((file) => existsSync(file))
  it.skipIf(!busybox)('BusyBox wget alone, as on Alpine, is enough: health check and verify-url', async () => {
    await hide('curl', 'wget')
    await symlink(busybox!, path.join(bin, 'wget'))
    try {
      const result = await run(target, await workspaceWithJar('2-busybox'), { 'verify-url': `${target.url}/`, 'health-timeout': '20' })
      expect(result.code, why(result)).toBe(0)
      expect(await served(target)).toMatch(/^200 version=2-busybox /)
      servedBefore = await served(target)
      includeBefore = await readFile(target.includePath, 'utf8')
    } finally {
      await hide('wget')
      await restore('curl', 'wget')
    }
  })

  it('no java on the PATH: says so before stopping anything', async () => {
    const javaLink = path.join(bin, 'java')
    await hide('java')
    try {
      const result = await run(target, await workspaceWithJar('3'))
      expect(result.code, why(result)).toBe(1)
      expect(result.stdout).toContain(
        `::error::inspect: "java" is not on the PATH of user "${target.user}" on the host, and start-command runs java.`,
      )
      await expectNothingChanged()
    } finally {
      await symlink('/usr/bin/java', javaLink).catch(() => undefined)
    }
  })

  it('a deploy-dir that cannot be created: names it and the user', async () => {
    const file = path.join(root, 'a-file')
    await writeFile(file, 'not a directory')
    const result = await run(target, await workspaceWithJar('3'), { 'deploy-dir': path.join(file, 'app') })
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toContain(
      `::error::lock: deploy-dir "${path.join(file, 'app')}" cannot be created or written by user "${target.user}".`,
    )
    await expectNothingChanged()
  })

  it('a full disk: refused with the figures, before anything is stopped', async (context) => {
    const tiny = path.join(root, 'tiny')
    await mkdir(tiny)
    try {
      await execFile('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', tiny])
    } catch {
      context.skip('cannot mount a small tmpfs here (needs root)')
    }
    const result = await run(target, await workspaceWithJar('3'), { 'deploy-dir': path.join(tiny, 'app') })
    expect(result.code, why(result)).toBe(1)
    expect(result.stdout).toMatch(
      /::error::inspect: not enough disk space in deploy-dir ".*tiny\/app": \d+ MB free, the artifact needs \d+ MB plus 16 MB of room/,
    )
    await expectNothingChanged()
  })
})
