/**
 * Scripts for the delta upload: read the chunk manifests of the releases on the host, and rebuild
 * a new jar in its partial directory from byte ranges of old jars plus the uploaded delta file.
 * Only POSIX sh and coreutils: GNU dd copies a byte range with one process; elsewhere tail and head.
 */
import type { DeltaPlan } from '../delta/manifest.js'
import { MANIFEST_FILE } from '../delta/manifest.js'
import { shellScript } from './quote.js'

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
  return shellScript(
    { DEPLOY_DIR: p.deployDir, JARS: p.jars.join('\n'), MANIFEST: MANIFEST_FILE },
    `
cd -- "$DEPLOY_DIR/releases" 2>/dev/null || exit 0
echo "@@manifests"
i=0
printf '%s\\n' "$JARS" | while IFS= read -r jar; do
  i=$((i + 1))
  [ -n "$jar" ] && [ -f "$jar" ] || continue
  manifest="\${jar%/*}/$MANIFEST"
  [ -f "$manifest" ] || continue
  size=$(wc -c < "$jar") || continue
  echo "release $((i - 1)) $size"
  cat -- "$manifest"
  echo
done`,
  )
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
  }
  sources.forEach((s, i) => (vars[`SRC_${i}`] = `../${s.release}/${s.fileName}`))
  // Static text: one case branch per source index, each naming its own variable.
  const branches = sources.map((_, i) => `    ${i}) file=$SRC_${i} ;;`).join('\n')
  return shellScript(
    vars,
    `
if [ -n "$INLINE_DELTA" ]; then
  mkdir -p -- "$DEPLOY_DIR/releases/.partial-$RELEASE" &&
    printf '%s' "$INLINE_DELTA" | base64 -d > "$DEPLOY_DIR/releases/.partial-$RELEASE/$DELTA" || { echo "error=delta_missing"; exit ${ASSEMBLE_EXIT.noDelta}; }
fi
cd -- "$DEPLOY_DIR/releases/.partial-$RELEASE" 2>/dev/null && [ -f "$DELTA" ] || { echo "error=delta_missing"; exit ${ASSEMBLE_EXIT.noDelta}; }
if dd if=/dev/null of=/dev/null iflag=skip_bytes,count_bytes status=none 2>/dev/null; then gnu_dd=1; else gnu_dd=; fi
# Writes bytes [$2, $2 + $3) of file $1 to stdout.
copy_range() {
  [ -r "$1" ] || return 1
  if [ -n "$gnu_dd" ]; then
    dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=1M status=none
  else
    tail -c "+$(($2 + 1))" "$1" | head -c "$3"
  fi
}
give_up() {
  rm -f -- "$FILE_NAME" "$DELTA"
  echo "error=$1"
  exit "$2"
}
exec 3>&1
printf '%s\\n' "$PLAN" | while read -r src offset length; do
  [ -n "$src" ] || continue
  case $src in
    d) file=$DELTA ;;
${branches}
    *) exit ${ASSEMBLE_EXIT.copyFailed} ;;
  esac
  copy_range "$file" "$offset" "$length" || { echo "failed_source=$file" >&3; exit ${ASSEMBLE_EXIT.copyFailed}; }
done > "$FILE_NAME"
[ $? = 0 ] || give_up copy_failed ${ASSEMBLE_EXIT.copyFailed}
size=$(wc -c < "$FILE_NAME")
[ "$size" = "$SIZE" ] || { echo "assembled_size=$size"; give_up size_mismatch ${ASSEMBLE_EXIT.mismatch}; }
set -- $(sha256sum < "$FILE_NAME")
[ "\${1:-}" = "$SHA256" ] || { echo "remote_sha256=\${1:-none}"; give_up sha256_mismatch ${ASSEMBLE_EXIT.mismatch}; }
rm -f -- "$DELTA"
echo "assembled=$SIZE"`,
  )
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
