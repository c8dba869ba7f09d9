/**
 * The failure mark (see ShellSession) of the stage's steps that the start depends on: freeing the
 * idle port and the upload's check. The start may then be sent right behind them, without waiting
 * for their answers, and the host skips it if either failed.
 */
export const STAGE_MARK = 'stage'
