// The body of SEND_BATCH_MESSAGE (MessageDecoder.encodeMessages on the client): back-to-back
// records TOTALSIZE(4) MAGICCODE(4) BODYCRC(4) FLAG(4) BODYLEN(4) BODY PROPERTIESLEN(2) PROPERTIES.
// Clients leave MAGICCODE and BODYCRC 0; the broker computes the stored ones. Every length is
// checked against the record and the body; malformed input is a MessageBatchError.

export interface BatchedMessage {
  readonly flag: number;
  readonly body: Uint8Array;
  readonly properties: string;
}

export class MessageBatchError extends Error {
  override name = 'MessageBatchError';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const FIXED_BYTES = 4 + 4 + 4 + 4 + 4 + 2;

export function decodeMessageBatch(bytes: Uint8Array): BatchedMessage[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: BatchedMessage[] = [];
  let at = 0;
  while (at < bytes.length) {
    const fail = (what: string): never => {
      throw new MessageBatchError(`batch message ${out.length} at byte ${at}: ${what}`);
    };
    if (bytes.length - at < FIXED_BYTES) fail(`${bytes.length - at} bytes left, a record needs at least ${FIXED_BYTES}`);
    const totalSize = view.getInt32(at);
    if (totalSize < FIXED_BYTES || totalSize > bytes.length - at) fail(`TOTALSIZE ${totalSize} is outside [${FIXED_BYTES}, ${bytes.length - at}]`);
    const flag = view.getInt32(at + 12);
    const bodyLength = view.getInt32(at + 16);
    if (bodyLength < 0 || 20 + bodyLength + 2 > totalSize) fail(`BODY length ${bodyLength} does not fit TOTALSIZE ${totalSize}`);
    const body = bytes.subarray(at + 20, at + 20 + bodyLength);
    const propertiesLength = view.getInt16(at + 20 + bodyLength);
    if (propertiesLength < 0 || 20 + bodyLength + 2 + propertiesLength !== totalSize) fail(`PROPERTIES length ${propertiesLength} does not end the record at TOTALSIZE ${totalSize}`);
    let properties: string;
    try {
      properties = utf8.decode(bytes.subarray(at + 22 + bodyLength, at + totalSize));
    } catch {
      return fail('PROPERTIES is not valid UTF-8');
    }
    out.push({ flag, body, properties });
    at += totalSize;
  }
  return out;
}
