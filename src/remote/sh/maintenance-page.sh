# maintenance-page.sh: prints the file PAGE (maintenance-page) in a section "@@page", each line
# after a "|" (so that no line of it can open a section), when it is a
# readable file of at most LIMIT bytes; else error=page_missing, page_not_file, page_unreadable or
# page_too_big (with size=), and exits with EXIT_NO_PAGE.
if [ ! -e "$PAGE" ]; then
  echo "error=page_missing"; exit "$EXIT_NO_PAGE"
elif [ ! -f "$PAGE" ]; then
  echo "error=page_not_file"; exit "$EXIT_NO_PAGE"
elif [ ! -r "$PAGE" ]; then
  echo "error=page_unreadable"; exit "$EXIT_NO_PAGE"
fi
size=$(wc -c < "$PAGE") || { echo "error=page_unreadable"; exit "$EXIT_NO_PAGE"; }
size=$(( size + 0 ))
if [ "$size" -gt "$LIMIT" ]; then
  echo "error=page_too_big"; echo "size=$size"; exit "$EXIT_NO_PAGE"
fi
echo "@@page"
sed 's/^/|/' < "$PAGE"
