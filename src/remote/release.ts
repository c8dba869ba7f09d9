/** Scripts that make a release out of an uploaded file, and prune old ones. */
import { shellScript } from './quote.js'
import { FINALIZE_RELEASE_SH, PRUNE_RELEASES_SH } from './sh/generated.js'

/**
 * The file in a release directory that says whether it has served: `new` from when the release is
 * made, `served` once a switch gave it all the traffic with nothing left to judge it (not a canary
 * step, not the switch into a bake: see releaseServedBy), and `new` again when a run sends it back
 * (see rejectedRelease). A run cut off while its release started leaves `new`, so rollback does not
 * mistake that release for the previous version. Releases made before this file existed have none,
 * and count as served. Written and read by shell builtins only.
 */
export const RELEASE_STATE_FILE = '.state'

/** The release's RELEASE_STATE_FILE on the host. */
export function releaseStatePath(deployDir: string, release: string): string {
  return `${deployDir}/releases/${release}/${RELEASE_STATE_FILE}`
}

/**
 * A file up to this size travels inside the script that uses it, base64-encoded, instead of over
 * SFTP: that saves SFTP's four round trips (mkdir, open, write, close), a second or more to a host
 * far away. Delta uploads of a fat jar are mostly this small.
 */
export const INLINE_UPLOAD_MAX_BYTES = 256 * 1024

/** Where an upload lands before its checksum is known good: a release only appears whole. */
export function partialDir(deployDir: string, release: string): string {
  return `${deployDir}/releases/.partial-${release}`
}

/**
 * Checks the uploaded file's sha256 (when `uploaded`), moves its directory into place as the
 * release, in state `new` (see RELEASE_STATE_FILE), and writes the env file with mode 0600. Its
 * text travels inside the script, which the session shell reads from its stdin: it never appears
 * on a command line. `manifestText`, when given with an upload, becomes the release's chunk
 * manifest (`chunks`), there before the release appears; failing to write it only costs the next
 * deploy its delta.
 */
export function finalizeReleaseScript(p: {
  deployDir: string
  release: string
  fileName: string
  sha256: string
  uploaded: boolean
  envText: string
  manifestText?: string
  /** The file itself, base64-encoded, when it travels in this script rather than over SFTP. */
  inlineBase64?: string
}): string {
  return shellScript(
    {
      DEPLOY_DIR: p.deployDir,
      RELEASE: p.release,
      FILE_NAME: p.fileName,
      SHA256: p.sha256,
      UPLOADED: p.uploaded ? 1 : 0,
      ENV_TEXT: p.envText,
      MANIFEST_TEXT: p.manifestText ?? '',
      INLINE_BASE64: p.inlineBase64 ?? '',
      RELEASE_STATE_FILE,
    },
    FINALIZE_RELEASE_SH,
  )
}

/** Removes the named releases, except any that a live instance still runs from. */
export function pruneScript(p: { deployDir: string; releases: string[] }): string {
  return shellScript({ DEPLOY_DIR: p.deployDir, PRUNE: p.releases.join('\n') }, PRUNE_RELEASES_SH)
}

/** The env file's text: `export KEY='value'` lines, so values are read, never expanded or run. */
export function envFileText(entries: Array<[string, string]>, quote: (value: string) => string): string {
  return entries.map(([key, value]) => `export ${key}=${quote(value)}\n`).join('')
}
