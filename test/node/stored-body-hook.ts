// The store hook of apply-stored-body.test.ts in a module of its own, so that a node on a Raft
// worker (raftWorker=true) can import it by name (DLedgerServerOptions.patchBodyModule): a
// function cannot cross to another thread.

/** The hook: the entry's position, little-endian, in the body's first 8 bytes. */
export function writePos(body: Uint8Array, pos: number): void {
  new DataView(body.buffer, body.byteOffset, body.byteLength).setBigUint64(0, BigInt(pos), true);
}

export function readPos(body: Uint8Array): number {
  return Number(new DataView(body.buffer, body.byteOffset, body.byteLength).getBigUint64(0, true));
}
