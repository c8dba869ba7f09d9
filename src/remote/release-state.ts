/** A release's mark as one that has served or not (see RELEASE_STATE_FILE), set back after a canary is sent back. */
import { shellScript } from './quote.js'
import { releaseStatePath } from './release.js'
import { RELEASE_UNSERVED_SH } from './sh/generated.js'

export function releaseUnservedScript(p: { deployDir: string; release: string }): string {
  return shellScript({ STATE_FILE: releaseStatePath(p.deployDir, p.release) }, RELEASE_UNSERVED_SH)
}
