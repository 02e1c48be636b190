// What a request needs (PlainAccessResource.parse in RocketMQ 4.9): per request code, the topics
// and groups it touches and whether it publishes (PUB) or subscribes (SUB); a group is checked as
// its retry topic %RETRY%<group>. Admin-only codes (Permission.ADMIN_CODE) need an admin account.
// Codes not listed need only a valid signature, as in RocketMQ.
// Differences from RocketMQ 4.9: SEND_BATCH_MESSAGE (320) needs PUB on its topic like
// SEND_MESSAGE_V2 (4.9 checks nothing for it, so a batch slipped past topic permissions); a send to
// %RETRY%<group> needs SUB on that group itself (4.9 checks the group in the producerGroup field,
// which for a consumer's re-send is its inner producer's, not the group whose retry topic it is).
import { RequestCode } from '../remoting/codes.js';
import type { RemotingCommand } from '../remoting/command.js';
import { parseRocketMqJson } from '../remoting/fastjson.js';
import { RETRY_GROUP_TOPIC_PREFIX, retryTopicOf } from './acl-file.js';
import { Perm } from './permission.js';

/** Permission.ADMIN_CODE plus the request codes of ours that change broker-wide state. */
export const ADMIN_ONLY_CODES: ReadonlySet<number> = new Set([
  RequestCode.UPDATE_AND_CREATE_TOPIC, // 17
  25, // UPDATE_BROKER_CONFIG
  215, // DELETE_TOPIC_IN_BROKER
  200, // UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
  207, // DELETE_SUBSCRIPTIONGROUP
  RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, // 222: not in 4.9's ADMIN_CODE, but it rewrites a group's offsets
  RequestCode.DLEDGER_TRANSFER_LEADERSHIP, // 20001: ours
]);

export interface NeededResource {
  /** A topic name, or %RETRY%<group> for a group. */
  readonly resource: string;
  readonly perm: number;
}

export class ResourceParseError extends Error {
  override name = 'ResourceParseError';
}

export function isRetryTopic(resource: string): boolean {
  return resource.startsWith(RETRY_GROUP_TOPIC_PREFIX);
}

/** The resources `request` touches; throws ResourceParseError for a HEART_BEAT body that is not JSON. */
export function neededResources(request: RemotingCommand): NeededResource[] {
  const ext = request.extFields;
  const out: NeededResource[] = [];
  const need = (resource: string | undefined, perm: number): void => {
    if (resource !== undefined && resource !== '') out.push({ resource, perm });
  };
  const group = (name: string | undefined): string | undefined => (name === undefined || name === '' ? undefined : retryTopicOf(name));
  switch (request.code) {
    case RequestCode.SEND_MESSAGE: {
      // A send to a retry topic is a consumer re-sending a message it failed: SUB on that group.
      const topic = ext['topic'];
      need(topic, topic !== undefined && isRetryTopic(topic) ? Perm.SUB : Perm.PUB);
      break;
    }
    case RequestCode.SEND_MESSAGE_V2:
    case RequestCode.SEND_BATCH_MESSAGE: {
      const topic = ext['b'];
      need(topic, topic !== undefined && isRetryTopic(topic) ? Perm.SUB : Perm.PUB);
      break;
    }
    case RequestCode.CONSUMER_SEND_MSG_BACK:
      need(group(ext['group']), Perm.SUB);
      need(ext['originTopic'], Perm.PUB);
      break;
    case RequestCode.PULL_MESSAGE:
      need(ext['topic'], Perm.SUB);
      need(group(ext['consumerGroup']), Perm.SUB);
      break;
    case 12: // QUERY_MESSAGE
      need(ext['topic'], Perm.SUB);
      break;
    case RequestCode.HEART_BEAT: {
      let data: unknown;
      try {
        data = parseRocketMqJson((request.body ?? Buffer.alloc(0)).toString('utf8'));
      } catch (error) {
        throw new ResourceParseError(`HEART_BEAT body is not HeartbeatData JSON: ${(error as Error).message}`);
      }
      const consumers = (data as { consumerDataSet?: unknown } | null)?.consumerDataSet;
      for (const consumer of Array.isArray(consumers) ? consumers : []) {
        const c = (consumer ?? {}) as { groupName?: unknown; subscriptionDataSet?: unknown };
        if (typeof c.groupName === 'string') need(group(c.groupName), Perm.SUB);
        for (const sub of Array.isArray(c.subscriptionDataSet) ? c.subscriptionDataSet : []) {
          const topic = (sub ?? {}) as { topic?: unknown };
          if (typeof topic.topic === 'string') need(topic.topic, Perm.SUB);
        }
      }
      break;
    }
    case RequestCode.UNREGISTER_CLIENT:
    case RequestCode.GET_CONSUMER_LIST_BY_GROUP:
      need(group(ext['consumerGroup']), Perm.SUB);
      break;
    case RequestCode.UPDATE_CONSUMER_OFFSET:
      need(group(ext['consumerGroup']), Perm.SUB);
      need(ext['topic'], Perm.SUB);
      break;
    default:
      break;
  }
  return out;
}
