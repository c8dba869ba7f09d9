# prune-releases.sh: removes the releases named in PRUNE (one a line) under DEPLOY_DIR, except
# any that a live instance's run/<port>.release still names.
# Prints pruned=<name> or kept_running=<name> for each. Exits 0, also when DEPLOY_DIR is gone.
cd -- "$DEPLOY_DIR" || exit 0
in_use=" "
for file in run/*.release; do
  [ -r "$file" ] && read -r name < "$file" && in_use="$in_use$name "
done
printf '%s\n' "$PRUNE" | while IFS= read -r name; do
  # shellcheck disable=SC2015 # a missing name or release is skipped alike
  [ -n "$name" ] && [ -d "releases/$name" ] || continue
  case "$in_use" in *" $name "*) echo "kept_running=$name"; continue ;; esac
  rm -rf -- "releases/$name" && echo "pruned=$name"
done
