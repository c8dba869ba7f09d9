# finalize-release.sh: makes releases/$RELEASE out of an upload. With UPLOADED=1 it checks the
# sha256 of .partial-$RELEASE/$FILE_NAME (written from INLINE_BASE64 first when that is set),
# writes its checksum, chunk manifest (MANIFEST_TEXT), artifact name, state "new" (in
# RELEASE_STATE_FILE) and env file (ENV_TEXT, mode 0600), then renames it into place; else it
# replaces the env file of the existing release by rename. Takes DEPLOY_DIR, RELEASE, FILE_NAME,
# SHA256, UPLOADED, ENV_TEXT, MANIFEST_TEXT, INLINE_BASE64, RELEASE_STATE_FILE.
# Prints release=<name>, or error=<why> (and remote_sha256=). Exits 40 when the releases dir is
# not there, 41 on a checksum mismatch, 42 when the release cannot be written, 43 when its file is
# missing, 44 when the env file cannot be written, 45 when the inline file cannot be.
cd -- "$DEPLOY_DIR/releases" || exit 40
if [ "$UPLOADED" = 1 ]; then
  partial=".partial-$RELEASE"
  if [ -n "$INLINE_BASE64" ]; then
    # shellcheck disable=SC2015 # a failure of either step is the same failure
    mkdir -p -- "$partial" && printf '%s' "$INLINE_BASE64" | base64 -d > "$partial/$FILE_NAME" || {
      echo "error=inline_write"; rm -rf -- "$partial"; exit 45
    }
  fi
  # shellcheck disable=SC2046 # splitting sha256sum's output into words is the point
  set -- $(sha256sum < "$partial/$FILE_NAME")
  if [ "${1:-}" != "$SHA256" ]; then
    echo "error=sha256_mismatch"; echo "remote_sha256=${1:-none}"
    rm -rf -- "$partial"
    exit 41
  fi
  echo "$SHA256" > "$partial/sha256"
  if [ -n "$MANIFEST_TEXT" ]; then
    { printf '%s' "$MANIFEST_TEXT" > "$partial/chunks"; } 2>/dev/null || rm -f -- "$partial/chunks"
  fi
  printf '%s\n' "$FILE_NAME" > "$partial/.artifact"
  printf 'new\n' > "$partial/$RELEASE_STATE_FILE" || exit 42
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
echo "release=$RELEASE"
