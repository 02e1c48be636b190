// What the Java frame tests (java-frames.test.ts, java-admin-frames.test.ts) share: their
// fixtures (frames built to Java's encoding by fixtures/make-java*-requests.cjs), building a frame
// from a header and a body, and one raw-socket exchange with a live remoting server.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { RemotingFrameDecoder } from '../../src/remoting/frame.js';

export interface JavaFrame {
  name: string;
  code: number;
  opaque: number;
  version?: number;
  extFields: Record<string, string> | null;
  /** The header JSON (java-requests.json only). */
  header?: string;
  bodyHex: string | null;
  hex: string;
}

/** The frames of fixtures/<file>. */
export function loadJavaFrames(file: string): JavaFrame[] {
  return (JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'fixtures', file), 'utf8')) as { frames: JavaFrame[] }).frames;
}

export const hexOf = (frame: JavaFrame): Buffer => Buffer.from(frame.hex, 'hex');

/** A remoting frame (JSON header): total length, header length, header, body. */
export function frameOf(header: Buffer, body: Buffer): Buffer {
  const out = Buffer.alloc(8 + header.length + body.length);
  out.writeInt32BE(4 + header.length + body.length, 0);
  out.writeInt32BE(header.length, 4);
  header.copy(out, 8);
  body.copy(out, 8 + header.length);
  return out;
}

export interface Answer { code: number; opaque: number; remark: string | null; body: Buffer | null; extFields: Record<string, string> }
export interface Outcome { answers: Answer[]; closed: boolean }

export interface ExchangeOptions {
  /** Answers to wait for (1). */
  readonly expect?: number;
  /** Half-close after the write (a cut frame then EOF). */
  readonly endAfterWrite?: boolean;
  /** How long to wait for them or the server's close (5000 ms). */
  readonly waitMs?: number;
}

/** Write bytes on a fresh connection; collect answers until `expect` arrived (then linger 30 ms) or the server closed. */
export async function exchange(addr: string, bytes: Buffer, options: ExchangeOptions = {}): Promise<Outcome> {
  const { expect = 1, endAfterWrite = false, waitMs = 5000 } = options;
  const i = addr.lastIndexOf(':');
  const socket = net.connect({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)) });
  const outcome: Outcome = { answers: [], closed: false };
  const decoder = new RemotingFrameDecoder();
  socket.on('data', (chunk: Buffer) => {
    for (const c of decoder.push(chunk)) outcome.answers.push({ code: c.code, opaque: c.opaque, remark: c.remark, body: c.body, extFields: c.extFields });
  });
  socket.on('error', () => undefined);
  socket.on('close', () => { outcome.closed = true; });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(bytes);
  if (endAfterWrite) socket.end();
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && !outcome.closed && outcome.answers.length < expect) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 30)); // nothing more may arrive
  socket.destroy();
  return outcome;
}
