/** Scripts that make a release out of an uploaded file, and prune old ones. */
import { shellScript } from './quote.js'

/**
 * The file in a release directory that says whether it has served: `new` from when the release is
 * made, `served` once a switch to it has succeeded. A run cut off while its release started leaves
 * `new`, so rollback does not mistake that release for the previous version. Releases made before
 * this file existed have none, and count as served. Written and read by shell builtins only.
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
    },
    `
cd -- "$DEPLOY_DIR/releases" || exit 40
if [ "$UPLOADED" = 1 ]; then
  partial=".partial-$RELEASE"
  if [ -n "$INLINE_BASE64" ]; then
    mkdir -p -- "$partial" && printf '%s' "$INLINE_BASE64" | base64 -d > "$partial/$FILE_NAME" || {
      echo "error=inline_write"; rm -rf -- "$partial"; exit 45
    }
  fi
  set -- $(sha256sum < "$partial/$FILE_NAME")
  if [ "\${1:-}" != "$SHA256" ]; then
    echo "error=sha256_mismatch"; echo "remote_sha256=\${1:-none}"
    rm -rf -- "$partial"
    exit 41
  fi
  echo "$SHA256" > "$partial/sha256"
  if [ -n "$MANIFEST_TEXT" ]; then
    { printf '%s' "$MANIFEST_TEXT" > "$partial/chunks"; } 2>/dev/null || rm -f -- "$partial/chunks"
  fi
  printf '%s\n' "$FILE_NAME" > "$partial/.artifact"
  printf 'new\n' > "$partial/${RELEASE_STATE_FILE}" || exit 42
  # A fresh file under umask 077 is 0600 from its first byte. Nothing reads it before the release
  # appears, so it needs no rename of its own.
  [ ! -e "$partial/env" ] || rm -f -- "$partial/env"
  (umask 077 && printf '%s' "$ENV_TEXT" > "$partial/env") || exit 44
  [ ! -e "$RELEASE" ] || rm -rf -- "$RELEASE"
  mv -- "$partial" "$RELEASE" || exit 42
  [ -f "$RELEASE/$FILE_NAME" ] || { echo "error=release_missing"; exit 43; }
else
  [ -f "$RELEASE/$FILE_NAME" ] || { echo "error=release_missing"; exit 43; }
  # A release that is kept may be running: its env is replaced whole, by rename. A leftover
  # .env.new could have another mode.
  [ ! -e "$RELEASE/.env.new" ] || rm -f -- "$RELEASE/.env.new"
  (umask 077 && printf '%s' "$ENV_TEXT" > "$RELEASE/.env.new") && mv -f -- "$RELEASE/.env.new" "$RELEASE/env" || exit 44
fi
echo "release=$RELEASE"`,
  )
}

/** Removes the named releases, except any that a live instance still runs from. */
export function pruneScript(p: { deployDir: string; releases: string[] }): string {
  return shellScript(
    { DEPLOY_DIR: p.deployDir, PRUNE: p.releases.join('\n') },
    `
cd -- "$DEPLOY_DIR" || exit 0
in_use=" "
for file in run/*.release; do
  [ -r "$file" ] && read -r name < "$file" && in_use="$in_use$name "
done
printf '%s\\n' "$PRUNE" | while IFS= read -r name; do
  [ -n "$name" ] && [ -d "releases/$name" ] || continue
  case "$in_use" in *" $name "*) echo "kept_running=$name"; continue ;; esac
  rm -rf -- "releases/$name" && echo "pruned=$name"
done`,
  )
}

/** The env file's text: `export KEY='value'` lines, so values are read, never expanded or run. */
export function envFileText(entries: Array<[string, string]>, quote: (value: string) => string): string {
  return entries.map(([key, value]) => `export ${key}=${quote(value)}\n`).join('')
}
