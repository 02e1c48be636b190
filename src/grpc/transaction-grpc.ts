// EndTransaction (MessagingService): a 5.x producer commits or rolls back the transactional message
// it sent, or answers a RecoverOrphanedTransactionCommand (source SOURCE_SERVER_CHECK). The
// transaction id our SendMessage answered is the half message's offset message id (store host +
// physical offset); the message id must be the half message's, the topic its real topic.
import { decodeMessageId } from '../broker/message-codec.js';
import { PutMessageError } from '../broker/dledger-commit-log.js';
import { TransactionRefusal, type TransactionService } from '../broker/transaction/transaction-service.js';
import { GrpcRefusal, masterEndpoint, type GrpcContext } from './grpc-context.js';
import { status, type PbResource } from './messaging-proto.js';
import { putFailureStatus } from './send-service.js';
import { resourceName } from './route-service.js';

export async function endTransaction(context: GrpcContext, transactions: TransactionService, request: Record<string, unknown>): Promise<Record<string, unknown>> {
  const topic = resourceName(request['topic'] as PbResource | null | undefined, 'topic', 'ILLEGAL_TOPIC');
  const messageId = String(request['messageId'] ?? '');
  const transactionId = String(request['transactionId'] ?? '');
  const resolution = request['resolution'];
  if (resolution !== 'COMMIT' && resolution !== 'ROLLBACK') throw new GrpcRefusal('BAD_REQUEST', `resolution ${String(resolution)}: COMMIT or ROLLBACK expected`);
  let physicalOffset: number;
  try {
    physicalOffset = decodeMessageId(transactionId).physicalOffset;
  } catch {
    throw new GrpcRefusal('INVALID_TRANSACTION_ID', `transaction id ${JSON.stringify(transactionId.slice(0, 80))} is not one this broker gave`);
  }
  const half = transactions.state.byPhysicalOffset(physicalOffset);
  if (half !== null && half.realTopic !== topic) throw new GrpcRefusal('BAD_REQUEST', `transaction ${transactionId} is of topic ${half.realTopic}, not ${topic}`);
  try {
    const result = await transactions.end({
      producerGroup: null, tranStateTableOffset: half?.queueOffset ?? -1, commitLogOffset: physicalOffset,
      resolution: resolution === 'COMMIT' ? 'commit' : 'rollback', fromTransactionCheck: request['source'] === 'SOURCE_SERVER_CHECK', messageId,
    });
    if (result.ok) return { status: status('OK', result.remark === '' ? 'OK' : result.remark) };
    switch (result.kind) {
      case 'not-master':
        return { status: status('INTERNAL_SERVER_ERROR', `${result.remark}; the master serves gRPC at ${masterEndpoint(context) ?? 'an unknown endpoint'}`) };
      case 'not-found':
        return { status: status('INVALID_TRANSACTION_ID', `${result.remark} (transaction ${transactionId})`) };
      case 'busy':
        return { status: status('TOO_MANY_REQUESTS', result.remark) };
      case 'mismatch':
      case 'ended-otherwise':
        return { status: status('BAD_REQUEST', result.remark) };
    }
  } catch (error) {
    if (error instanceof TransactionRefusal) return { status: status('INTERNAL_SERVER_ERROR', error.message) };
    if (error instanceof PutMessageError) return { status: putFailureStatus(error, context) };
    throw error;
  }
}
