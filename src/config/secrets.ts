/**
 * Secrets beyond the inputs named as such: system properties in java-opts (`-Ddb.password=...` is
 * how many JVM services take credentials), and the command lines of processes the action did not
 * start, which a JVM of an older deploy fills with the same kind of properties.
 */

/** Masks shorter than this would hide every occurrence of a common word or number in the log. */
export const MIN_SECRET_LENGTH = 3

/** The values of the `-Dname=value` options in java-opts, split as `sh` splits `$JAVA_OPTS`. */
export function javaOptionValues(javaOpts: string): string[] {
  return javaOpts
    .split(/\s+/)
    .map((word) => /^-D[^=]+=(.*)$/s.exec(word)?.[1] ?? '')
    .filter((value) => value.length >= MIN_SECRET_LENGTH)
}

const SECRET_INPUTS = ['private-key', 'passphrase', 'password', 'proxy-private-key', 'proxy-passphrase']

/**
 * Secrets read from the raw inputs, before they are checked: a problem with any input must not
 * print one that is not masked yet. parseInputs' own view (secretsOf) follows once they are valid.
 */
export function secretsBeforeParsing(get: (name: string) => string): string[] {
  const javaOpts = (get('java-opts') ?? '').trim()
  const envValues = (get('env') ?? '')
    .split('\n')
    .filter((line) => line.includes('=') && !line.trimStart().startsWith('#'))
    .map((line) => line.slice(line.indexOf('=') + 1).replace(/\r$/, ''))
  const longEnough = [javaOpts, ...javaOptionValues(javaOpts), ...envValues].filter((value) => value.length >= MIN_SECRET_LENGTH)
  return [...SECRET_INPUTS.map((name) => get(name) ?? ''), ...longEnough]
}

/**
 * What to register with the runner's masker for these values: each whole, and each line of a
 * multi-line value, since the runner matches a mask within one log line at a time (a key's lines
 * are 8 characters and more; its BEGIN and END lines are no secret).
 */
export function masksFor(values: string[]): string[] {
  const masks = new Set<string>()
  for (const value of values) {
    if (value.trim() === '') continue
    masks.add(value)
    for (const line of value.split('\n')) if (line.trim().length >= 8 && !line.includes('-----')) masks.add(line.trim())
  }
  return [...masks]
}

const REMOVED = '***'

/**
 * A stranger's command line (as command_of prints it: arguments joined by spaces, cut at 200
 * characters), fit for the log: every `-Dname=` argument shortened to `-Dname=…`, and every
 * masked value (or line of one) removed, also one of which the cut left only the start.
 */
export function redactCommandLine(commandLine: string, secrets: string[]): string {
  // Each argument ends with a NUL, which command_of turns into a space: no space at the end, cut.
  const cut = commandLine !== '' && !/\s$/.test(commandLine)
  let text = commandLine.trim().replace(/(^|\s)(-D[^=\s]+)=\S*/g, '$1$2=…')
  const values = secrets
    .flatMap((secret) => [secret, ...secret.split('\n').map((line) => line.trim())])
    .filter((value) => value.length >= MIN_SECRET_LENGTH)
    .sort((a, b) => b.length - a.length)
  for (const value of values) text = text.split(value).join(REMOVED)
  if (!cut) return text
  for (const value of values) {
    for (let length = value.length - 1; length >= MIN_SECRET_LENGTH; length--) {
      if (text.endsWith(value.slice(0, length))) return text.slice(0, text.length - length) + REMOVED
    }
  }
  return text
}
