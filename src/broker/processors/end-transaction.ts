// END_TRANSACTION (37, EndTransactionProcessor): a producer ends a transaction (commit or
// rollback) it prepared, or answers a CHECK_TRANSACTION_STATE (fromTransactionCheck). Java
// clients send it oneway, so the answer is mostly for tools; the header is
// EndTransactionRequestHeader: producerGroup, tranStateTableOffset, commitLogOffset,
// commitOrRollback (0 NOT_TYPE = still unknown, 8 COMMIT, 12 ROLLBACK), fromTransactionCheck,
// msgId, transactionId. A follower answers SLAVE_NOT_AVAILABLE, as a RocketMQ slave does.
import { RequestCode, ResponseCode } from '../../remoting/codes.js';
import { createResponse, type RemotingCommand } from '../../remoting/command.js';
import { optionalBoolean, requiredInteger, requiredString } from '../../remoting/ext-fields.js';
import type { RemotingServer } from '../../remoting/server.js';
import type { BrokerContext } from '../context.js';
import { TransactionRefusal, type TransactionService } from '../transaction/transaction-service.js';
import { TransactionType } from '../transaction/transaction-state.js';
import { putFailureResponse } from './errors.js';

export function registerEndTransactionProcessor(server: RemotingServer, context: BrokerContext, transactions: TransactionService): void {
  server.registerHandler(RequestCode.END_TRANSACTION, (request) => endTransaction(context, transactions, request));
}

async function endTransaction(context: BrokerContext, transactions: TransactionService, request: RemotingCommand): Promise<RemotingCommand> {
  const producerGroup = requiredString(request, 'producerGroup');
  const tranStateTableOffset = requiredInteger(request, 'tranStateTableOffset');
  const commitLogOffset = requiredInteger(request, 'commitLogOffset');
  const commitOrRollback = requiredInteger(request, 'commitOrRollback');
  const fromTransactionCheck = optionalBoolean(request, 'fromTransactionCheck') ?? false;
  const msgId = requiredString(request, 'msgId');
  if (commitOrRollback !== TransactionType.COMMIT && commitOrRollback !== TransactionType.ROLLBACK) {
    // Java returns no answer (null) for NOT_TYPE and unknown values: the transaction stays pending.
    if (commitOrRollback === TransactionType.NOT) context.log(`${fromTransactionCheck ? 'Check producer' : 'The producer'}[${producerGroup}] transaction state, but it's pending status. msgId=${msgId}, commitLogOffset=${commitLogOffset}`);
    return createResponse(request, ResponseCode.SUCCESS, { remark: commitOrRollback === TransactionType.NOT ? 'the transaction stays pending' : `commitOrRollback ${commitOrRollback} ignored` });
  }
  try {
    const result = await transactions.end({
      producerGroup, tranStateTableOffset, commitLogOffset, resolution: commitOrRollback === TransactionType.COMMIT ? 'commit' : 'rollback', fromTransactionCheck, messageId: null,
    });
    if (result.ok) return createResponse(request, ResponseCode.SUCCESS, { remark: result.remark === '' ? null : result.remark });
    return createResponse(request, result.kind === 'not-master' ? ResponseCode.SLAVE_NOT_AVAILABLE : ResponseCode.SYSTEM_ERROR, { remark: result.remark });
  } catch (error) {
    if (error instanceof TransactionRefusal) return createResponse(request, ResponseCode.SYSTEM_ERROR, { remark: error.message });
    return putFailureResponse(request, error);
  }
}
