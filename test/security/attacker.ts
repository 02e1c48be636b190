// An attacker on the peer port who knows what is public — the group name and the member ids — and
// what a running group shows (its term, its commit index), but not the group secret. It builds
// its frames itself (4-byte length, 1-byte protocol version, one msgpack value, as
// src/node/peer-frame.ts) rather than through the node's encoder, so the same attacks run
// against any build: the old one (protocol 1: a hello naming group and a member id was all it
// took) and this one. Each attack is sent twice: once after a protocol-1 hello, once after a
// protocol-2 handshake answered with a guessed proof. Not a test file itself.
import crypto from 'node:crypto';
import net from 'node:net';
import { Packr, Unpackr } from 'msgpackr';

const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export function frame(version: number, value: unknown): Buffer {
  const payload = packr.pack(value);
  const out = Buffer.alloc(5 + payload.length);
  out.writeUInt32BE(1 + payload.length, 0);
  out.writeUInt8(version, 4);
  payload.copy(out, 5);
  return out;
}

/** The frames of a byte stream (complete ones only). */
export function decodeFrames(bytes: Buffer): unknown[] {
  const values: unknown[] = [];
  for (let at = 0; at + 4 <= bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    if (at + 4 + length > bytes.length) break;
    try {
      values.push(unpackr.unpack(bytes.subarray(at + 5, at + 4 + length)));
    } catch {
      values.push(null);
    }
    at += 4 + length;
  }
  return values;
}

export interface AttackOutcome {
  /** True when the victim closed the connection within the wait. */
  readonly closedByVictim: boolean;
  /** Frames the victim sent back (a refusal, a challenge, client responses ...). */
  readonly received: unknown[];
}

/**
 * Connect to `port`, introduce ourselves as `hello` says, send `frames` (values), and watch the
 * connection for `waitMs`. 'v1' speaks the old protocol's hello; 'v2' runs the new handshake
 * with a random (wrong) proof.
 */
export async function attack(port: number, protocol: 'v1' | 'v2', hello: { group: string; from: string; to: string; client?: boolean }, frames: readonly unknown[], waitMs = 1500): Promise<AttackOutcome> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  let buffered = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (chunk: Buffer) => { buffered = Buffer.concat([buffered, chunk]); });
  const closedPromise = new Promise<void>((resolve) => socket.once('close', () => { closed = true; resolve(); }));
  // A victim that is not listening any more (it exited) refuses the connection: report it closed.
  if (!(await connected(socket))) return { closedByVictim: true, received: [] };
  if (protocol === 'v1') {
    socket.write(frame(1, hello.client === true ? { hello: 1, group: hello.group, client: true } : { hello: 1, group: hello.group, from: hello.from }));
    for (const value of frames) socket.write(frame(1, value));
  } else {
    const role = hello.client === true ? 'client' : 'peer';
    socket.write(frame(2, { hello: 2, group: hello.group, role, from: hello.client === true ? 'client' : hello.from, to: hello.to, nonce: crypto.randomBytes(32) }));
    // Whatever the challenge says, answer with a guess and go on as if accepted.
    await Promise.race([closedPromise, new Promise((resolve) => setTimeout(resolve, 200))]);
    socket.write(frame(2, { auth: 2, proof: crypto.randomBytes(32) }));
    for (const value of frames) socket.write(frame(2, value));
  }
  await Promise.race([closedPromise, new Promise((resolve) => setTimeout(resolve, waitMs))]);
  const outcome = { closedByVictim: closed, received: decodeFrames(buffered) };
  socket.destroy();
  return outcome;
}

/**
 * A TCP proxy to `targetPort` that records what the dialer sent on its first connection that the
 * target answered (a whole handshake: a connection dialed before the target listened holds only
 * the hello).
 */
export async function recordingProxy(targetPort: number): Promise<{ port: number; recorded: () => Buffer; close: () => Promise<void> }> {
  let chosen: Buffer[] | null = null;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const chunks: Buffer[] = [];
    let recordedBytes = 0;
    const up = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => { sockets.delete(s); down.destroy(); up.destroy(); });
    }
    down.on('data', (chunk: Buffer) => {
      if (recordedBytes < 256 * 1024) {
        chunks.push(Buffer.from(chunk));
        recordedBytes += chunk.length;
      }
      up.write(chunk);
    });
    up.on('data', (chunk: Buffer) => {
      if (chosen === null) chosen = chunks;
      down.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    // The dialer's bytes on that connection (hello, auth answer, then Raft traffic), live.
    recorded: () => Buffer.concat(chosen ?? []),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Send recorded bytes to `port` as they were, watch for `waitMs`. */
export async function replay(port: number, bytes: Buffer, waitMs = 1500): Promise<AttackOutcome> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  let buffered = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (chunk: Buffer) => { buffered = Buffer.concat([buffered, chunk]); });
  const closedPromise = new Promise<void>((resolve) => socket.once('close', () => { closed = true; resolve(); }));
  if (!(await connected(socket))) return { closedByVictim: true, received: [] };
  socket.write(bytes);
  await Promise.race([closedPromise, new Promise((resolve) => setTimeout(resolve, waitMs))]);
  socket.destroy();
  return { closedByVictim: closed, received: decodeFrames(buffered) };
}

function connected(socket: net.Socket): Promise<boolean> {
  return new Promise((resolve) => {
    socket.once('connect', () => resolve(true));
    socket.once('error', () => resolve(false));
  });
}

/** A connection to 127.0.0.1:`port` from `localAddress` (all of 127/8 is loopback on Linux); resolves on connect or close. */
export function connectFrom(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve(socket));
    socket.once('close', () => resolve(socket));
  });
}

/**
 * A slowloris remoting frame of `frameBytes`: its head (JSON, header length 16), then 1 MiB at a
 * time, never its last MiB. The socket goes into `sockets` (for the caller's teardown).
 */
export async function slowlorisFrame(port: number, from: string, frameBytes: number, sockets: net.Socket[]): Promise<void> {
  const MIB = 1024 * 1024;
  const socket = await connectFrom(port, from);
  sockets.push(socket);
  const head = Buffer.alloc(8);
  head.writeInt32BE(frameBytes - 4, 0);
  head.writeUInt32BE(16, 4); // JSON, header length 16
  socket.write(head);
  const chunk = Buffer.alloc(MIB, 0x20);
  for (let sent = 8; sent < frameBytes - MIB && !socket.destroyed; sent += MIB) {
    // Bounded wait: a closed socket never drains (and may have closed before we listen).
    if (!socket.write(chunk)) await new Promise((resolve) => { socket.once('drain', resolve); socket.once('close', resolve); setTimeout(resolve, 200); });
  }
}
