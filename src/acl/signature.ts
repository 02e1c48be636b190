// The request signature of RocketMQ's ACL (AclClientRPCHook on the client, PlainAccessResource +
// AclUtils.combineRequestContent on the broker): HmacSHA1 with the secretKey, base64, over the
// values of the request's extFields sorted by name — AccessKey (and SecurityToken when present)
// included, Signature and _UNIQUE_KEY_QUERY excluded — as UTF-8, followed by the body bytes.
// ali-ons 3.12 (lib/channel.js beforeRequest) signs the same content and adds an OnsChannel
// field, which is an ext field like any other and so is covered too.
import crypto from 'node:crypto';
import type { RemotingCommand } from '../remoting/command.js';

export const ACCESS_KEY_FIELD = 'AccessKey';
export const SIGNATURE_FIELD = 'Signature';
export const SECURITY_TOKEN_FIELD = 'SecurityToken';
/** MixAll.UNIQUE_MSG_QUERY_FLAG: the broker leaves it out of the signed content. */
const UNIQUE_MSG_QUERY_FLAG = '_UNIQUE_KEY_QUERY';

export interface AclCredentials {
  readonly accessKey: string;
  readonly secretKey: string;
}

/** The bytes the signature covers. Names sort by UTF-16 code units, as Java's TreeMap does. */
export function signedContent(extFields: Readonly<Record<string, string>>, body: Buffer | null): Buffer {
  const names = Object.keys(extFields).filter((name) => name !== SIGNATURE_FIELD && name !== UNIQUE_MSG_QUERY_FLAG).sort();
  let text = '';
  for (const name of names) text += extFields[name];
  const head = Buffer.from(text, 'utf8');
  return body === null || body.length === 0 ? head : Buffer.concat([head, body]);
}

export function computeSignature(content: Buffer, secretKey: string): string {
  return crypto.createHmac('sha1', Buffer.from(secretKey, 'utf8')).update(content).digest('base64');
}

/** Constant-time comparison of two base64 signatures (a mismatch in length is just false). */
export function signatureMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/**
 * A RemotingClient beforeRequest hook that signs every request with these credentials, as
 * AclClientRPCHook does: AccessKey is set first so it is part of what is signed.
 */
export function aclSigningHook(credentials: AclCredentials): (request: RemotingCommand) => RemotingCommand {
  return (request) => {
    const extFields: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, request.extFields);
    delete extFields[SIGNATURE_FIELD];
    extFields[ACCESS_KEY_FIELD] = credentials.accessKey;
    extFields[SIGNATURE_FIELD] = computeSignature(signedContent(extFields, request.body), credentials.secretKey);
    return { ...request, extFields };
  };
}
