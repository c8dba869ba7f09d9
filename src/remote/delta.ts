/**
 * Scripts for the delta upload: read the chunk manifests of the releases on the host, and rebuild
 * a new jar in its partial directory from byte ranges of old jars plus the uploaded delta file.
 * Only POSIX sh and coreutils: GNU dd copies a byte range with one process; elsewhere tail and head.
 */
import type { DeltaPlan } from '../delta/manifest.js'
import { MANIFEST_FILE } from '../delta/manifest.js'
import { shellScript } from './quote.js'
import { ASSEMBLE_DELTA_SH, READ_MANIFESTS_SH } from './sh/generated.js'

/** The delta file's name inside the partial directory (hidden: never taken for the jar). */
export const DELTA_FILE = '.delta'

/** Exit codes of the assemble script: the new file could not be built; upload it whole instead. */
export const ASSEMBLE_EXIT = {
  /** The partial directory or the delta file is missing. */
  noDelta: 50,
  /** A byte range could not be copied: an old jar is missing or unreadable, or dd failed. */
  copyFailed: 51,
  /** The assembled file has the wrong size or sha256: an old jar changed since its manifest was written. */
  mismatch: 52,
} as const

/**
 * Prints, for each release given (`<release>/<file name>`, relative to `releases/`) whose jar and
 * manifest both exist, a line `release <index> <jar size>` followed by its manifest's lines, all in
 * the section `@@manifests`.
 */
export function readManifestsScript(p: { deployDir: string; jars: string[] }): string {
  return shellScript({ DEPLOY_DIR: p.deployDir, JARS: p.jars.join('\n'), MANIFEST: MANIFEST_FILE }, READ_MANIFESTS_SH)
}

/** Parses readManifestsScript's section: the manifest text and jar size of each release index. */
export function parseManifestListing(section: string | undefined): Array<{ index: number; size: number; text: string }> {
  const found: Array<{ index: number; size: number; text: string }> = []
  let current: { index: number; size: number; lines: string[] } | undefined
  const close = () => {
    if (current) found.push({ index: current.index, size: current.size, text: current.lines.join('\n') })
  }
  for (const line of (section ?? '').split('\n')) {
    const header = /^release (\d+) +(\d+)$/.exec(line.trim())
    if (header) {
      close()
      current = { index: Number(header[1]), size: Number(header[2]), lines: [] }
    } else if (current) {
      current.lines.push(line)
    }
  }
  close()
  return found
}

/**
 * Builds `releases/.partial-<release>/<fileName>` from the plan's runs, in order: copy runs read
 * from the old jars, send runs from the uploaded delta file. Then checks the size and the sha256;
 * on any failure removes what it wrote and exits with an ASSEMBLE_EXIT code. Always removes the
 * delta file.
 */
export function assembleScript(p: {
  deployDir: string
  release: string
  fileName: string
  sha256: string
  plan: DeltaPlan
  /** The delta file, base64-encoded, when it travels in this script rather than over SFTP. */
  inlineDelta?: string
}): string {
  const sources = p.plan.sources
  const vars: Record<string, string | number> = {
    DEPLOY_DIR: p.deployDir,
    RELEASE: p.release,
    FILE_NAME: p.fileName,
    SHA256: p.sha256,
    SIZE: p.plan.totalBytes,
    DELTA: DELTA_FILE,
    PLAN: planText(p.plan),
    INLINE_DELTA: p.inlineDelta ?? '',
    EXIT_NO_DELTA: ASSEMBLE_EXIT.noDelta,
    EXIT_COPY_FAILED: ASSEMBLE_EXIT.copyFailed,
    EXIT_MISMATCH: ASSEMBLE_EXIT.mismatch,
  }
  sources.forEach((s, i) => (vars[`SRC_${i}`] = `../${s.release}/${s.fileName}`))
  return shellScript(vars, ASSEMBLE_DELTA_SH)
}

/** The plan as the assemble script reads it: `<source> <offset> <length>` a line; source `d` or an index. */
export function planText(plan: DeltaPlan): string {
  const index = new Map(plan.sources.map((s, i) => [`${s.release}/${s.fileName}`, i]))
  return plan.runs
    .map((run) => {
      const source = run.source.kind === 'send' ? 'd' : String(index.get(`${run.source.release}/${run.source.fileName}`))
      return `${source} ${run.sourceOffset} ${run.length}`
    })
    .join('\n')
}
