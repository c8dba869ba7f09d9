/** ssh2's packet helpers (not part of its public API, and untyped); see prompt-ack.ts. */
declare module 'ssh2/lib/protocol/utils.js' {
  const utils: { sendPacket?: (protocol: object, packet: Buffer, bypass?: boolean) => boolean }
  export default utils
}
