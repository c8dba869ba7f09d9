/**
 * Which processes on a port of the pair are this service, so that a deploy may stop them (SPEC, step
 * 6): an instance the action started (proven on the host, see find_instance), or, on a host moving
 * from a script-based deploy, a JVM whose jar is named like the artifact but for the version. Any
 * other process (another service, a database, a typo in `ports`) is never signalled.
 */

/** A jar's name without its version and `.jar`: `shop-api-1.0.0.jar` and `shop-api-0.9.3-SNAPSHOT.jar` give `shop-api`. */
export function jarStem(fileName: string): string {
  const base = fileName.replace(/\.jar$/i, '')
  // The version starts at the first `-` or `_` followed by a digit: `shop-api-2-1.0.jar` keeps `shop-api`.
  const versioned = /^(.+?)[-_]v?\d[^/]*$/i.exec(base)
  return versioned ? versioned[1] : base
}

/**
 * Whether a command line (its arguments joined by spaces, as the host reports it) is a JVM running a
 * jar named like `artifactFileName`: the program is `java`, and one argument is a `.jar` whose stem
 * is the artifact's.
 */
export function runsJarLike(commandLine: string, artifactFileName: string): boolean {
  const words = commandLine.trim().split(/\s+/)
  const program = words[0]?.split('/').pop() ?? ''
  if (program !== 'java') return false
  const stem = jarStem(artifactFileName)
  return words.slice(1).some((word) => {
    const name = word.split('/').pop() ?? ''
    return /\.jar$/i.test(name) && !/-plain\.jar$/i.test(name) && jarStem(name) === stem
  })
}
