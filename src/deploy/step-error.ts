/** A step failed in a way the user can act on; the message says which step, what and what to do. */
export class StepError extends Error {
  constructor(
    readonly step: string,
    message: string,
    /** nginx was reloaded while the new instance was its target, so it may have sent it requests. */
    readonly afterReload = false,
  ) {
    super(`${step}: ${message}`)
    this.name = 'StepError'
  }
}
