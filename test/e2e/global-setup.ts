// The end-to-end suite needs a real sshd, nginx and JDK: on a fresh Debian machine, as root,
// they are installed before the first test, so that `npm ci && npm test` works there as it is.
// @ts-ignore -- plain JS helper shared with the demo
import { ensureSystemTools } from '../../scripts/lib/system-tools.mjs'

export default function setup(): void {
  ensureSystemTools((text: string) => console.log(`e2e setup: ${text}`), { forTests: true })
}
