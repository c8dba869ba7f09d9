/** Finds the built jar in the workspace and fingerprints it, reading it as a stream. */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { basename, isAbsolute, join, relative, resolve } from 'node:path'

export interface Artifact {
  path: string
  fileName: string
  size: number
  sha256: string
}

export class ArtifactError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ArtifactError'
  }
}

/** A glob (`*`, `?`, `**`) as a regular expression over `/`-separated relative paths. */
export function globToRegExp(glob: string): RegExp {
  let source = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/'
      source += slash ? '(?:.*/)?' : '.*'
      i += slash ? 2 : 1
    } else if (c === '*') source += '[^/]*'
    else if (c === '?') source += '[^/]'
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${source}$`)
}

async function walk(dir: string, depthLeft: number, found: string[]): Promise<void> {
  if (depthLeft < 0) return
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const entry of entries) {
    if (entry.name === '.git' || entry.name === 'node_modules') continue
    const full = join(dir, entry.name)
    if (entry.isDirectory()) await walk(full, depthLeft - 1, found)
    else if (entry.isFile()) found.push(full)
  }
}

/**
 * The one file `pattern` names, relative to `workspace`. Spring Boot's `*-plain.jar` (classes
 * only, not runnable) is set aside when the pattern also matches the runnable jar.
 */
export async function findArtifact(pattern: string, workspace: string): Promise<string> {
  if (!/[*?]/.test(pattern)) {
    const path = isAbsolute(pattern) ? pattern : resolve(workspace, pattern)
    const info = await stat(path).catch(() => undefined)
    if (!info?.isFile())
      throw new ArtifactError(
        `artifact: "${pattern}" matched no file in ${workspace}; expected the path of the built jar (did the build step run first?)`,
      )
    return path
  }
  const segments = pattern.split('/')
  const firstWild = segments.findIndex((segment) => /[*?]/.test(segment))
  const root = resolve(workspace, segments.slice(0, firstWild).join('/') || '.')
  const rest = segments.slice(firstWild).join('/')
  const matcher = globToRegExp(rest)
  const files: string[] = []
  await walk(root, rest.includes('**') ? 32 : rest.split('/').length - 1, files)
  const matched = files.filter((f) => matcher.test(relative(root, f).split('\\').join('/'))).sort()
  const runnable = matched.filter((f) => !f.endsWith('-plain.jar'))
  if (runnable.length === 1) return runnable[0]
  const shown = matched.map((f) => relative(workspace, f)).join(', ')
  if (matched.length === 0)
    throw new ArtifactError(
      `artifact: "${pattern}" matched no file in ${workspace}; expected one built jar (did the build step run first?)`,
    )
  throw new ArtifactError(
    `artifact: "${pattern}" matched ${runnable.length} files (${shown}); expected exactly one once *-plain.jar files are set aside. Make the pattern more specific.`,
  )
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256')
  // Small reads keep the memory flat: 1 MiB buffers pile up faster than they are collected.
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export async function describeArtifact(path: string): Promise<Artifact> {
  const info = await stat(path)
  return { path, fileName: basename(path), size: info.size, sha256: await sha256OfFile(path) }
}

export async function resolveArtifact(pattern: string, workspace: string): Promise<Artifact> {
  return describeArtifact(await findArtifact(pattern, workspace))
}
