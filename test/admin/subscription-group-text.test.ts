// What mqadmin updateSubGroup prints for the config it sent: Java's SubscriptionGroupConfig
// toString in 4.9's bracket form, with RocketMQ 5's consumeMessageOrderly (where 5.x's toString
// lists it: after consumeBroadcastEnable), true for a FIFO group (-o true), false otherwise.
import t from 'tap';
import { SUBSCRIPTION_GROUP_DEFAULTS, subscriptionGroupText } from '../../src/broker/state/subscription-groups.js';

t.test('updateSubGroup prints consumeMessageOrderly', async (t) => {
  t.equal(subscriptionGroupText({ ...SUBSCRIPTION_GROUP_DEFAULTS, groupName: 'CG_fifo', consumeMessageOrderly: true }),
    'SubscriptionGroupConfig [groupName=CG_fifo, consumeEnable=true, consumeFromMinEnable=true, consumeBroadcastEnable=true, consumeMessageOrderly=true, retryQueueNums=1, retryMaxTimes=16, brokerId=0, whichBrokerWhenConsumeSlowly=1, notifyConsumerIdsChangedEnable=true]');
  t.match(subscriptionGroupText({ ...SUBSCRIPTION_GROUP_DEFAULTS, groupName: 'CG_plain' }), /consumeBroadcastEnable=true, consumeMessageOrderly=false, retryQueueNums=1/);
});
