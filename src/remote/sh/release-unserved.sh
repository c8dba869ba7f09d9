# release-unserved.sh: marks a release as one that has not served (its state file STATE_FILE, see
# RELEASE_STATE_FILE, says "new" again): a release a run sent back is no version for a rollback to go back
# to. Nothing when the release directory is gone. Prints release_state=new.
[ ! -d "${STATE_FILE%/*}" ] || printf 'new\n' > "$STATE_FILE" || exit 1
echo "release_state=new"
