/**
 * Secrets beyond the inputs named as such: `env` values, system properties in java-opts
 * (`-Ddb.password=...` is how many JVM services take credentials), and the command lines of
 * processes the action did not start, which a JVM of an older deploy fills with the same kind of
 * properties.
 *
 * Two sets, for two maskers. The runner's (core.setSecret) masks a value in every line of the job
 * log, but also drops every output that contains it: only what may be a credential goes there
 * (mayBeSecret). The action's own (maskLine, redactCommandLine), for what the host sends back, masks
 * every env and java-opts value besides, since a credential can hide under any name.
 */

/** Masks shorter than this would hide every occurrence of a common word or number in the log. */
export const MIN_SECRET_LENGTH = 3

/** The values of the `-Dname=value` options in java-opts long enough to mask. */
export function javaOptionValues(javaOpts: string): string[] {
  return javaOptions(javaOpts)
    .map(([, value]) => value)
    .filter((value) => value.length >= MIN_SECRET_LENGTH)
}

const SECRET_INPUTS = ['private-key', 'passphrase', 'password', 'proxy-private-key', 'proxy-passphrase']

/**
 * Values that never hold a credential, and of which the action's own outputs are made: booleans,
 * and numbers (with a unit, as `512m` or `30s`, or dotted, as a version `1.2.3`).
 */
const ORDINARY = /^(?:true|false|yes|no|on|off|null|none|[-+]?\d+(?:[.,]\d+)*[a-z]{0,2})$/i

/** A boolean carries no secret; masking one hides every "true" of a log. */
export function isBoolean(value: string): boolean {
  return /^(?:true|false|yes|no|on|off)$/i.test(value.trim())
}

/** Words in a name that say its value is a credential, anywhere in it: DB_PASSWORD, jwtSecret, OAUTH_TOKEN. */
const SECRET_NAME_PARTS = ['PASSWORD', 'PASSWD', 'PASSPHRASE', 'SECRET', 'TOKEN', 'CREDENTIAL', 'PRIVATE', 'KEY', 'AUTH']
/** Short words that say so only as a whole word of the name (PIN in SPRING is none): DB_PASS, SMTP_PWD. */
const SECRET_NAME_WORDS = new Set(['PASS', 'PWD', 'PW', 'PIN', 'SALT', 'DSN'])

/** Whether a name (an env key, a `-D` property) says that its value is a credential. */
export function namesSecret(name: string): boolean {
  const upper = name.toUpperCase()
  if (SECRET_NAME_PARTS.some((part) => upper.includes(part))) return true
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .split(/[^A-Z0-9]+/)
  return words.some((word) => SECRET_NAME_WORDS.has(word))
}

/** Words (letters only) joined by `.`, `_`, `-`, `/` or `:`: a profile, a time zone, a log level, a MIME type. */
const PLAIN_WORDS = /^[A-Za-z]+(?:[._\-/:]+[A-Za-z]+)*$/

/**
 * Whether a value looks like a credential whatever its name: a URL with a password in it, or eight
 * characters and more, without a space, that are neither a number nor plain words (so letters mixed
 * with digits or other signs: `S3cr3t-pw`, a token, a base64 or hex key).
 */
export function looksLikeSecret(value: string): boolean {
  if (/:\/\/[^/@\s]*:[^/@\s]+@/.test(value)) return true
  return value.length >= 8 && !/\s/.test(value) && !ORDINARY.test(value) && !PLAIN_WORDS.test(value)
}

/**
 * The rule for what the action registers with the runner as a secret, besides the credential inputs:
 * an `env` entry or a java-opts `-D` property whose name names a credential (namesSecret) or whose
 * value looks like one (looksLikeSecret). Never a value shorter than MIN_SECRET_LENGTH, a boolean or
 * a number, nor one that occurs in `shown` (the hosts, users, ports, app name and deploy-dir, which
 * the outputs and the summary show): the runner drops every output that holds a registered value,
 * and masks it in every line of the log. Values outside this rule are still masked by the action
 * itself wherever it prints what the host sent (a hook's output, a log, a stranger's command line).
 */
export function mayBeSecret(name: string, value: string, shown: string[] = []): boolean {
  if (value.trim().length < MIN_SECRET_LENGTH || ORDINARY.test(value.trim())) return false
  if (shown.some((text) => text.includes(value))) return false
  return namesSecret(name) || looksLikeSecret(value)
}

/** The `-Dname=value` options in java-opts, split as `sh` splits `$JAVA_OPTS`. */
export function javaOptions(javaOpts: string): Array<[string, string]> {
  return javaOpts.split(/\s+/).flatMap((word): Array<[string, string]> => {
    const option = /^-D([^=]+)=(.*)$/s.exec(word)
    return option ? [[option[1], option[2]]] : []
  })
}

/** What the inputs show of themselves in the outputs and the summary: a value in them is no secret. */
const SHOWN_INPUTS = ['host', 'port', 'username', 'proxy-host', 'proxy-port', 'proxy-username', 'ports', 'app-name', 'deploy-dir']

/**
 * Secrets read from the raw inputs, before they are checked: a problem with any input must not
 * print one that is not registered yet. registeredSecretsOf (inputs.ts) follows once they are valid.
 * Only what mayBeSecret keeps, with the credential inputs.
 */
export function secretsBeforeParsing(get: (name: string) => string, shown: string[] = []): string[] {
  const visible = [...shown, ...SHOWN_INPUTS.map((name) => get(name) ?? '')].filter((text) => text !== '')
  const envEntries = (get('env') ?? '')
    .split('\n')
    .filter((line) => line.includes('=') && !line.trimStart().startsWith('#'))
    .map((line): [string, string] => [line.slice(0, line.indexOf('=')).trim(), line.slice(line.indexOf('=') + 1).replace(/\r$/, '')])
  const entries = [...envEntries, ...javaOptions((get('java-opts') ?? '').trim())]
  return [
    ...SECRET_INPUTS.map((name) => get(name) ?? '').filter((value) => value.trim() !== ''),
    ...entries.filter(([name, value]) => mayBeSecret(name, value, visible)).map(([, value]) => value),
  ]
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
