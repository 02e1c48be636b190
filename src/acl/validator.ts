// The ACL decision for one request (PlainPermissionManager.validate + PlainPermissionChecker in
// RocketMQ 4.9), in RocketMQ's order:
//   1. from an address in globalWhiteRemoteAddresses: allowed, signed or not;
//   2. no AccessKey: refused ("unsigned"); an AccessKey not in the file: refused;
//   3. from the account's whiteRemoteAddress: allowed without checking the signature (RocketMQ's
//      rule: that address is trusted to speak for the account);
//   4. a Signature that is not HmacSHA1(secretKey, content): refused;
//   5. an admin-only code from a non-admin account: refused;
//   6. each topic / group the request touches: the account's topicPerms / groupPerms entry if it
//      has one, else defaultTopicPerm / defaultGroupPerm (an admin account with no entries at
//      all may touch everything).
// The name server mode is ours (RocketMQ's name server has no ACL): only the codes that change
// the routes (REGISTER_BROKER, UNREGISTER_BROKER, DELETE_TOPIC_IN_NAMESRV) are checked, and they need a valid signature
// of an admin account whatever the address — neither whitelist applies, since the attack they
// stop (a forged registration as brokerId 0) comes from the same networks the brokers are on.
// Reads (routes, cluster info, topic lists) stay open, so unsigned clients keep working.
import type { RemotingCommand } from '../remoting/command.js';
import { RequestCode } from '../remoting/codes.js';
import type { AclAccount, AclRules } from './acl-file.js';
import { permits, permName } from './permission.js';
import { ADMIN_ONLY_CODES, isRetryTopic, neededResources, ResourceParseError } from './resources.js';
import { ACCESS_KEY_FIELD, computeSignature, SIGNATURE_FIELD, signatureMatches, signedContent } from './signature.js';

export type AclMode = 'broker' | 'namesrv';

/** Request codes the name server checks (all others are reads and stay open). */
export const NAMESRV_WRITE_CODES: ReadonlySet<number> = new Set([RequestCode.REGISTER_BROKER, RequestCode.UNREGISTER_BROKER, RequestCode.DELETE_TOPIC_IN_NAMESRV]);

/** Why a request was refused: a short kind (for counting) and the remark sent back. */
export interface AclRefusal {
  readonly kind: 'unsigned' | 'unknown-access-key' | 'bad-signature' | 'not-admin' | 'no-permission' | 'malformed';
  readonly remark: string;
}

/** null: allowed. */
export function checkRequest(rules: AclRules, mode: AclMode, request: RemotingCommand, host: string): AclRefusal | null {
  if (mode === 'namesrv' && !NAMESRV_WRITE_CODES.has(request.code)) return null;
  if (mode === 'broker' && rules.globalWhiteRemoteAddresses.some((matcher) => matcher.matches(host))) return null;
  const accessKey = request.extFields[ACCESS_KEY_FIELD];
  if (accessKey === undefined || accessKey === '') {
    return { kind: 'unsigned', remark: `unsigned request (code ${request.code} from ${host}): no AccessKey; sign it with an account of the ACL file` };
  }
  const account = rules.accounts.get(accessKey);
  if (account === undefined) return { kind: 'unknown-access-key', remark: `unknown accessKey ${accessKey} (code ${request.code} from ${host})` };
  const trustedAddress = mode === 'broker' && account.whiteRemoteAddress.matches(host);
  if (!trustedAddress) {
    const expected = computeSignature(signedContent(request.extFields, request.body), account.secretKey);
    if (!signatureMatches(expected, request.extFields[SIGNATURE_FIELD])) {
      return { kind: 'bad-signature', remark: `bad signature for accessKey ${accessKey} (code ${request.code} from ${host}): wrong secretKey, or the request was changed` };
    }
  }
  if (mode === 'namesrv') {
    if (!account.admin) return { kind: 'not-admin', remark: `request code ${request.code} needs an admin account, accessKey ${accessKey} is not` };
    return null;
  }
  if (trustedAddress) return null;
  if (ADMIN_ONLY_CODES.has(request.code) && !account.admin) {
    return { kind: 'not-admin', remark: `request code ${request.code} needs an admin account, accessKey ${accessKey} is not` };
  }
  let needed;
  try {
    needed = neededResources(request);
  } catch (error) {
    if (error instanceof ResourceParseError) return { kind: 'malformed', remark: error.message };
    throw error;
  }
  if (needed.length === 0 || (account.admin && account.resourcePerms.size === 0)) return null;
  for (const { resource, perm } of needed) {
    const owned = ownedPerm(account, resource);
    if (!permits(perm, owned)) {
      const what = isRetryTopic(resource) ? `group ${resource.slice('%RETRY%'.length)}` : `topic ${resource}`;
      return { kind: 'no-permission', remark: `no permission for ${what}: accessKey ${accessKey} has ${permName(owned)}, needs ${permName(perm)}` };
    }
  }
  return null;
}

export function ownedPerm(account: AclAccount, resource: string): number {
  const explicit = account.resourcePerms.get(resource);
  if (explicit !== undefined) return explicit;
  return isRetryTopic(resource) ? account.defaultGroupPerm : account.defaultTopicPerm;
}
