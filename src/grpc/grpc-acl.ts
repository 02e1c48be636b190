// RocketMQ 5's gRPC authentication (the proxy's ACL 1.0: AuthenticationHeader, AuthorizationHeader,
// PlainAccessResource.parse(GeneratedMessageV3, ...)) against the broker's plain_acl.yml rules:
//   authorization: MQv2-HMAC-SHA1 Credential=<accessKey>[/region/channel], SignedHeaders=x-mq-date-time, Signature=<hex>
//   x-mq-date-time: yyyyMMdd'T'HHmmss'Z'
// The signature is HmacSHA1(secretKey, x-mq-date-time) in hex (the clients' TLSHelper.sign), so it
// proves the secret but does not cover the request: RocketMQ's design. We add one bound RocketMQ
// lacks: a date-time further than grpcClockSkewMaxMs from ours is refused, so a recorded header
// cannot be replayed forever. Then the same decisions as remoting (src/acl/validator.ts):
// global white addresses pass, the account's white address passes unsigned, an admin account
// without entries may touch everything, else each topic / group needs its permission (groups are
// kept as %RETRY%<group>).
import crypto from 'node:crypto';
import type { AclRules } from '../acl/acl-file.js';
import { retryTopicOf } from '../acl/acl-file.js';
import { permits, permName } from '../acl/permission.js';
import { isRetryTopic } from '../acl/resources.js';
import { ownedPerm, type AclRefusal } from '../acl/validator.js';

export interface GrpcNeed {
  /** A topic, or %RETRY%<group> for a group. */
  readonly resource: string;
  readonly perm: number;
}

export function groupNeed(group: string, perm: number): GrpcNeed {
  return { resource: retryTopicOf(group), perm };
}

export interface GrpcCredentials {
  readonly authorization: string | null;
  readonly dateTime: string | null;
}

const DATE_TIME_PATTERN = /^([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z$/;

/** x-mq-date-time as epoch ms, or null when malformed. */
export function parseDateTime(text: string): number | null {
  const m = DATE_TIME_PATTERN.exec(text);
  if (m === null) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isFinite(ms) ? ms : null;
}

/** The clients' signature: HmacSHA1(secretKey, dateTime), upper-case hex. */
export function grpcSignature(secretKey: string, dateTime: string): string {
  return crypto.createHmac('sha1', Buffer.from(secretKey, 'utf8')).update(dateTime, 'utf8').digest('hex').toUpperCase();
}

/** accessKey and hex signature of an authorization header, or null when it is not MQv2-HMAC-SHA1 as the clients write it. */
export function parseAuthorization(header: string): { accessKey: string; signature: string } | null {
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space) !== 'MQv2-HMAC-SHA1' || header.length > 4096) return null;
  let accessKey: string | null = null;
  let signature: string | null = null;
  for (const item of header.slice(space + 1).split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) return null;
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === 'Credential') accessKey = value.split('/')[0] ?? '';
    else if (key === 'Signature') signature = value;
  }
  if (accessKey === null || accessKey === '' || signature === null || !/^[0-9A-Fa-f]{40}$/.test(signature)) return null;
  return { accessKey, signature: signature.toUpperCase() };
}

/** null: allowed. */
export function checkGrpcRequest(rules: AclRules, credentials: GrpcCredentials, host: string, needed: readonly GrpcNeed[], what: string, nowMs: number, clockSkewMaxMs: number): AclRefusal | null {
  if (rules.globalWhiteRemoteAddresses.some((matcher) => matcher.matches(host))) return null;
  if (credentials.authorization === null) return { kind: 'unsigned', remark: `unsigned ${what} from ${host}: no authorization header; give the client sessionCredentials of an account of the ACL file` };
  const parsed = parseAuthorization(credentials.authorization);
  if (parsed === null) return { kind: 'malformed', remark: `${what} from ${host}: the authorization header is not "MQv2-HMAC-SHA1 Credential=..., SignedHeaders=x-mq-date-time, Signature=<hex>"` };
  const account = rules.accounts.get(parsed.accessKey);
  if (account === undefined) return { kind: 'unknown-access-key', remark: `unknown accessKey ${parsed.accessKey} (${what} from ${host})` };
  const trustedAddress = account.whiteRemoteAddress.matches(host);
  if (!trustedAddress) {
    const dateTime = credentials.dateTime ?? '';
    const at = parseDateTime(dateTime);
    if (at === null) return { kind: 'malformed', remark: `${what} from ${host}: x-mq-date-time ${JSON.stringify(dateTime.slice(0, 64))} is not yyyyMMddTHHmmssZ` };
    if (Math.abs(nowMs - at) > clockSkewMaxMs) return { kind: 'bad-signature', remark: `${what} from ${host}: x-mq-date-time ${dateTime} is more than grpcClockSkewMaxMs=${clockSkewMaxMs} ms from the broker's clock` };
    const expected = Buffer.from(grpcSignature(account.secretKey, dateTime), 'utf8');
    const given = Buffer.from(parsed.signature, 'utf8');
    if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) {
      return { kind: 'bad-signature', remark: `bad signature for accessKey ${parsed.accessKey} (${what} from ${host}): wrong secretKey` };
    }
  }
  if (trustedAddress || (account.admin && account.resourcePerms.size === 0)) return null;
  for (const { resource, perm } of needed) {
    const owned = ownedPerm(account, resource);
    if (!permits(perm, owned)) {
      const thing = isRetryTopic(resource) ? `group ${resource.slice('%RETRY%'.length)}` : `topic ${resource}`;
      return { kind: 'no-permission', remark: `no permission for ${thing}: accessKey ${parsed.accessKey} has ${permName(owned)}, needs ${permName(perm)} (${what})` };
    }
  }
  return null;
}
