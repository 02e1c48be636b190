// Messages: by key (QUERY_MESSAGE on the index), by offset message id (VIEW_MESSAGE_BY_ID) or by
// queue offset (one PULL_MESSAGE), with each message's properties and body.
import { useState } from 'preact/hooks';
import { get, type SessionInfo } from '../api.js';
import { Field, Status } from '../components.js';

interface MessageView {
  msgId: string; offsetMsgId: string; topic: string; brokerName: string; queueId: number; queueOffset: number; commitLogOffset: number; storeHost: string;
  tags: string; keys: string; bornAt: string; storedAt: string; reconsumeTimes: number; properties: Record<string, string>;
  body: string; bodyBytes: number; bodyTruncated: boolean; bodyEncoding: 'utf8' | 'base64';
}

function Message({ m }: { m: MessageView }) {
  return (
    <article class="message" data-msgid={m.msgId} aria-label={`Message ${m.msgId}`}>
      <h3>{m.msgId}</h3>
      <dl>
        <dt>Topic</dt><dd>{m.topic}</dd>
        <dt>Queue</dt><dd>{m.brokerName} queue {m.queueId} offset {m.queueOffset}</dd>
        <dt>Offset message id</dt><dd>{m.offsetMsgId}</dd>
        <dt>Tags</dt><dd>{m.tags || '–'}</dd>
        <dt>Keys</dt><dd class="keys">{m.keys || '–'}</dd>
        <dt>Born / stored</dt><dd>{m.bornAt} / {m.storedAt}</dd>
        <dt>Store host, commit-log offset</dt><dd>{m.storeHost}, {m.commitLogOffset}</dd>
        <dt>Reconsume times</dt><dd>{m.reconsumeTimes}</dd>
      </dl>
      <h4>Body ({m.bodyBytes} bytes{m.bodyEncoding === 'base64' ? ', binary shown as base64' : ''}{m.bodyTruncated ? ', first 4 KiB' : ''})</h4>
      <pre class="body">{m.body}</pre>
      <details><summary>Properties</summary><pre>{JSON.stringify(m.properties, null, 2)}</pre></details>
    </article>
  );
}

export function MessagesPage(_props: { session: SessionInfo }) {
  const [by, setBy] = useState<'key' | 'id' | 'offset'>('key');
  const [topic, setTopic] = useState('');
  const [key, setKey] = useState('');
  const [id, setId] = useState('');
  const [broker, setBroker] = useState('');
  const [queue, setQueue] = useState('0');
  const [offset, setOffset] = useState('0');
  const [result, setResult] = useState<{ messages: MessageView[]; note?: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const search = (e: Event): void => {
    e.preventDefault();
    const params: Record<string, string> = by === 'key' ? { by, topic, key } : by === 'id' ? { by, id } : { by, topic, broker, queue, offset };
    setBusy(true);
    get<{ messages: MessageView[]; note?: string | null }>('/api/messages', params).then((r) => { setResult(r); setError(null); }, (x: Error) => { setResult(null); setError(x.message); }).finally(() => setBusy(false));
  };
  const input = (setter: (v: string) => void) => (e: Event) => setter((e.target as HTMLInputElement).value);
  return (
    <>
      <form onSubmit={search} aria-labelledby="msg-form-title">
        <h2 id="msg-form-title">Find messages</h2>
        <fieldset>
          <legend>Search by</legend>
          {(['key', 'id', 'offset'] as const).map((b) => (
            <label key={b} class="radio"><input type="radio" name="by" value={b} checked={by === b} onChange={() => setBy(b)} /> {b === 'key' ? 'Key' : b === 'id' ? 'Message id' : 'Queue offset'}</label>
          ))}
        </fieldset>
        <div class="fields">
          {by !== 'id' ? <Field id="msg-topic" label="Topic"><input id="msg-topic" name="topic" required value={topic} onInput={input(setTopic)} /></Field> : null}
          {by === 'key' ? <Field id="msg-key" label="Key"><input id="msg-key" name="key" required value={key} onInput={input(setKey)} /></Field> : null}
          {by === 'id' ? <Field id="msg-id" label="Offset message id" hint="32 hex digits, as a send answers"><input id="msg-id" name="id" required aria-describedby="msg-id-hint" value={id} onInput={input(setId)} /></Field> : null}
          {by === 'offset' ? (
            <>
              <Field id="msg-broker" label="Broker group"><input id="msg-broker" name="broker" required value={broker} onInput={input(setBroker)} /></Field>
              <Field id="msg-queue" label="Queue id"><input id="msg-queue" name="queue" type="number" min={0} required value={queue} onInput={input(setQueue)} /></Field>
              <Field id="msg-offset" label="Queue offset"><input id="msg-offset" name="offset" type="number" min={0} required value={offset} onInput={input(setOffset)} /></Field>
            </>
          ) : null}
        </div>
        <button type="submit" disabled={busy}>Search</button>
      </form>
      <Status error={error} />
      {result === null ? null : (
        <section aria-labelledby="msg-results-title">
          <h2 id="msg-results-title">{result.messages.length} message{result.messages.length === 1 ? '' : 's'} found</h2>
          {result.note ? <p class="muted">{result.note}</p> : null}
          {result.messages.map((m) => <Message key={`${m.offsetMsgId}`} m={m} />)}
        </section>
      )}
    </>
  );
}
