// The ROCKETMQ binary header (serialize type 1, RocketMQSerializable in Java), big-endian:
//   code int16 | language byte | version int16 | opaque int32 | flag int32 |
//   remarkLength int32 + utf8 (0 = none) | extLength int32 + [keyLength int16, key, valueLength int32, value]*
// Every length is checked against what is left before it is read.
import { assert } from '../util/assert.js';
import { LANGUAGES } from './codes.js';
import { RemotingFrameError, type RemotingCommand } from './command.js';
import type { HeaderFields } from './json-header.js';

const FIXED_BYTES = 2 + 1 + 2 + 4 + 4 + 4 + 4;

export function encodeBinaryHeader(command: RemotingCommand): Buffer {
  // Java writes code and version as shorts; a request code above 32767 cannot travel this way.
  assert(command.code >= -0x8000 && command.code <= 0x7fff, `code ${command.code} does not fit the binary header`);
  assert(command.version >= -0x8000 && command.version <= 0x7fff, `version ${command.version} does not fit the binary header`);
  const remark = command.remark === null ? null : Buffer.from(command.remark, 'utf8');
  const ext: Buffer[] = [];
  for (const [key, value] of Object.entries(command.extFields)) {
    const keyBytes = Buffer.from(key, 'utf8');
    const valueBytes = Buffer.from(value, 'utf8');
    assert(keyBytes.length <= 0x7fff, `extFields key of ${keyBytes.length} bytes does not fit an int16 length`);
    const entry = Buffer.allocUnsafe(2 + keyBytes.length + 4 + valueBytes.length);
    entry.writeInt16BE(keyBytes.length, 0);
    keyBytes.copy(entry, 2);
    entry.writeInt32BE(valueBytes.length, 2 + keyBytes.length);
    valueBytes.copy(entry, 2 + keyBytes.length + 4);
    ext.push(entry);
  }
  const extBytes = Buffer.concat(ext);
  const out = Buffer.allocUnsafe(FIXED_BYTES + (remark?.length ?? 0) + extBytes.length);
  let at = 0;
  at = out.writeInt16BE(command.code, at);
  const languageIndex = (LANGUAGES as readonly string[]).indexOf(command.language);
  at = out.writeUInt8(languageIndex < 0 ? LANGUAGES.indexOf('OTHER') : languageIndex, at);
  at = out.writeInt16BE(command.version, at);
  at = out.writeInt32BE(command.opaque, at);
  at = out.writeInt32BE(command.flag, at);
  at = out.writeInt32BE(remark?.length ?? 0, at);
  if (remark !== null) at += remark.copy(out, at);
  at = out.writeInt32BE(extBytes.length, at);
  at += extBytes.copy(out, at);
  assert(at === out.length, 'binary header length mismatch');
  return out;
}

export function decodeBinaryHeader(bytes: Buffer): HeaderFields {
  if (bytes.length < FIXED_BYTES) throw new RemotingFrameError(`binary header of ${bytes.length} bytes is shorter than the fixed ${FIXED_BYTES}`);
  let at = 0;
  const code = bytes.readInt16BE(at); at += 2;
  const languageByte = bytes.readUInt8(at); at += 1;
  const version = bytes.readInt16BE(at); at += 2;
  const opaque = bytes.readInt32BE(at); at += 4;
  const flag = bytes.readInt32BE(at); at += 4;
  const remarkLength = bytes.readInt32BE(at); at += 4;
  if (remarkLength < 0 || remarkLength > bytes.length - at - 4) {
    throw new RemotingFrameError(`binary header remark length ${remarkLength} does not fit the ${bytes.length - at - 4} bytes left`, opaque);
  }
  const remark = remarkLength === 0 ? null : bytes.toString('utf8', at, at + remarkLength);
  at += remarkLength;
  const extLength = bytes.readInt32BE(at); at += 4;
  if (extLength !== bytes.length - at) {
    throw new RemotingFrameError(`binary header extFields length ${extLength} differs from the ${bytes.length - at} bytes left`, opaque);
  }
  const extFields = Object.create(null) as Record<string, string>; // no prototype: a "__proto__" key is just a key
  while (at < bytes.length) {
    if (bytes.length - at < 2) throw new RemotingFrameError('binary header extFields entry cut inside its key length', opaque);
    const keyLength = bytes.readInt16BE(at); at += 2;
    if (keyLength < 0 || keyLength > bytes.length - at - 4) throw new RemotingFrameError(`binary header extFields key length ${keyLength} does not fit`, opaque);
    const key = bytes.toString('utf8', at, at + keyLength); at += keyLength;
    const valueLength = bytes.readInt32BE(at); at += 4;
    if (valueLength < 0 || valueLength > bytes.length - at) throw new RemotingFrameError(`binary header extFields value length ${valueLength} for "${key}" does not fit`, opaque);
    extFields[key] = bytes.toString('utf8', at, at + valueLength); at += valueLength;
  }
  // Java maps an unknown language byte to null and carries on; OTHER is our null.
  const language = LANGUAGES[languageByte] ?? 'OTHER';
  return { code, language, version, opaque, flag, remark, extFields };
}
