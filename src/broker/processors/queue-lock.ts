// LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42) for orderly consumers: bodies LockBatchRequestBody /
// UnlockBatchRequestBody ({consumerGroup, clientId, mqSet: [MessageQueue]}), LOCK_BATCH_MQ answers
// LockBatchResponseBody {lockOKMQSet: [the queues the client holds now]}. The lock table is
// replicated (state/queue-locks.ts says why), so only the master answers: a follower refuses with
// the not-master remark instead of granting locks from a table no client renews there.
import { RequestCode, ResponseCode } from '../../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../../remoting/command.js';
import { parseRocketMqJson } from '../../remoting/fastjson.js';
import type { RemotingServer } from '../../remoting/server.js';
import type { BrokerContext } from '../context.js';
import { parseGroupAndClient, parseQueues, QUEUE_LOCKS_EXTENSION, QueueLockError, type LockedQueue } from '../state/queue-locks.js';
import { NOT_MASTER_REMARK, putFailureResponse } from './errors.js';
import { messageQueueJson } from './mq-json.js';

/** A lock request body at most (4096 queues of ~80 bytes). */
const LOCK_BODY_MAX_BYTES = 512 * 1024;

export function registerQueueLockProcessors(server: RemotingServer, context: BrokerContext): void {
  server.registerHandler(RequestCode.LOCK_BATCH_MQ, (request) => lockOrUnlock(context, request, 'lock'));
  server.registerHandler(RequestCode.UNLOCK_BATCH_MQ, (request) => lockOrUnlock(context, request, 'unlock'));
}

function parseBody(request: RemotingCommand): { group: string; clientId: string; queues: LockedQueue[] } {
  const bytes = request.body?.length ?? 0;
  if (bytes === 0) throw new QueueLockError('no body (LockBatchRequestBody expected)');
  if (bytes > LOCK_BODY_MAX_BYTES) throw new QueueLockError(`body of ${bytes} bytes, at most ${LOCK_BODY_MAX_BYTES}`);
  let value: unknown;
  try {
    value = parseRocketMqJson((request.body as Buffer).toString('utf8'));
  } catch (error) {
    throw new QueueLockError(`the body is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null) throw new QueueLockError('the body is not a JSON object');
  const v = value as Record<string, unknown>;
  return { ...parseGroupAndClient(v), queues: parseQueues(v['mqSet'] ?? []) };
}

async function lockOrUnlock(context: BrokerContext, request: RemotingCommand, op: 'lock' | 'unlock'): Promise<RemotingCommand> {
  let body;
  try {
    body = parseBody(request);
  } catch (error) {
    if (error instanceof QueueLockError) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: `bad ${op === 'lock' ? 'LockBatchRequestBody' : 'UnlockBatchRequestBody'}: ${error.message}` });
    throw error;
  }
  const role = context.commitLog.role;
  if (role.role !== 'master') {
    return createResponse(request, ResponseCode.SERVICE_NOT_AVAILABLE, { remark: `${NOT_MASTER_REMARK} Queue locks are held by the master (leader ${role.leaderId ?? 'unknown'}).` });
  }
  const atMs = Date.now();
  const command = op === 'lock'
    ? { op, group: body.group, clientId: body.clientId, queues: body.queues, atMs }
    : { op, group: body.group, clientId: body.clientId, queues: body.queues };
  if (body.queues.length > 0) {
    try {
      await context.commitLog.proposeCommand({ type: 'extension', extension: QUEUE_LOCKS_EXTENSION, body: command });
    } catch (error) {
      return putFailureResponse(request, error);
    }
  }
  if (op === 'unlock') return createResponse(request, ResponseCode.SUCCESS);
  // Judged at the command's own time, as apply judged it (the table may have moved on since).
  const held = context.queueLocks.heldBy(body.group, body.clientId, body.queues, atMs);
  return createResponse(request, ResponseCode.SUCCESS, { body: Buffer.from(`{"lockOKMQSet":[${held.map(messageQueueJson).join(',')}]}`, 'utf8') });
}
