// Goal (issue 15): the console's HTTP port treated as hostile. Writes need this console's Origin,
// the session's token and a console that allows writes; bodies are bounded, must be JSON objects
// and are validated field by field; every error is a short JSON message (no stack), dead name
// servers are a clear 502; the page gets a CSP and an HttpOnly SameSite=Strict session cookie.
// Method: ConsoleServer in this process against a real name server process (no brokers needed for
// these checks; a second console points at a closed port), raw node:http requests.
import http from 'node:http';
import t, { type Test } from 'tap';
import { ConsoleServer } from '../../src/console/server.js';
import { defaultUiDir } from '../../src/console/static-ui.js';
import { freePorts, requireDist } from '../quickstart/helpers.js';
import { startNamesrv } from '../quickstart/process-cluster.js';

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function request(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function consoleOn(t: Test, namesrv: string, allowWrites: boolean): Promise<ConsoleServer> {
  const server = new ConsoleServer({ namesrvAddrs: [namesrv], host: '127.0.0.1', port: 0, allowWrites, acl: 'auto', credentials: null, tls: null, pollMs: 1000, requestTimeoutMs: 1000, uiDir: defaultUiDir(), log: () => undefined });
  await server.start();
  t.teardown(() => server.close());
  return server;
}

t.before(requireDist);

function without(headers: Record<string, string>, name: string): Record<string, string> {
  const copy = { ...headers };
  delete copy[name];
  return copy;
}

t.test('hostile requests to the console', async (t) => {
  const namesrv = await startNamesrv(t);
  const readOnly = await consoleOn(t, namesrv.addr, false);
  const writable = await consoleOn(t, namesrv.addr, true);

  const page = await request(writable.port, 'GET', '/');
  t.equal(page.status, 200);
  t.match(page.headers['content-security-policy'], /default-src 'self'.*frame-ancestors 'none'/, 'CSP on the page');
  t.match(String(page.headers['set-cookie']), /mqconsole_sid=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict/, 'session cookie HttpOnly SameSite=Strict');
  const cookie = String(page.headers['set-cookie']).split(';')[0] as string;
  const session = JSON.parse((await request(writable.port, 'GET', '/api/session', { cookie })).body) as { token: string; canWrite: boolean };
  t.ok(/^[0-9a-f]{64}$/.test(session.token) && session.canWrite, 'a token; writes allowed with --allow-writes');
  const origin = `http://127.0.0.1:${writable.port}`;
  const good = { cookie, origin, 'content-type': 'application/json', 'x-console-token': session.token };
  const topic = JSON.stringify({ topic: 'T1', cluster: 'NoSuchCluster' });

  const cases: Array<[string, Promise<Reply>, number, RegExp]> = [
    ['no Origin', request(writable.port, 'POST', '/api/topics', without(good, 'origin'), topic), 403, /no Origin/],
    ['foreign Origin', request(writable.port, 'POST', '/api/topics', { ...good, origin: 'http://evil.example' }, topic), 403, /not this console/],
    ['no token', request(writable.port, 'POST', '/api/topics', { ...good, 'x-console-token': '' }, topic), 403, /console token/],
    ['wrong token', request(writable.port, 'POST', '/api/topics', { ...good, 'x-console-token': 'f'.repeat(64) }, topic), 403, /console token/],
    ['no session', request(writable.port, 'POST', '/api/topics', { ...good, cookie: '' }, topic), 403, /console token/],
    ['text/plain body', request(writable.port, 'POST', '/api/topics', { ...good, 'content-type': 'text/plain' }, topic), 415, /application\/json/],
    ['not JSON', request(writable.port, 'POST', '/api/topics', good, '{"topic":'), 400, /not JSON/],
    ['a JSON array', request(writable.port, 'POST', '/api/topics', good, '[1]'), 400, /JSON object/],
    ['17 KiB body', request(writable.port, 'POST', '/api/topics', good, JSON.stringify({ topic: 'x'.repeat(17 * 1024) })), 413, /larger than 16384/],
    ['bad topic name', request(writable.port, 'POST', '/api/topics', good, JSON.stringify({ topic: '../etc', cluster: 'C' })), 400, /topic must be a topic name/],
    ['queue count out of range', request(writable.port, 'POST', '/api/topics', good, JSON.stringify({ topic: 'T1', cluster: 'C', readQueueNums: 100000 })), 400, /readQueueNums must be an integer in \[1, 1024\]/],
    ['unknown cluster', request(writable.port, 'POST', '/api/topics', good, topic), 400, /cluster NoSuchCluster is not registered/],
    ['bad topic query', request(writable.port, 'GET', '/api/topic?topic=%3Cscript%3E', { cookie }), 400, /topic must be a topic name/],
    ['bad message id', request(writable.port, 'GET', '/api/messages?by=id&id=zz', { cookie }), 400, /id must be an offset message id/],
    ['bad search kind', request(writable.port, 'GET', '/api/messages?by=sql', { cookie }), 400, /by must be key, id or offset/],
    ['unknown topic', request(writable.port, 'GET', '/api/topic?topic=NoSuchTopic', { cookie }), 502, /topic NoSuchTopic does not exist/],
    ['login with ACL off', request(writable.port, 'POST', '/api/login', good, JSON.stringify({ accessKey: 'rocketmq2', secretKey: '12345678' })), 400, /ACL off: no login is needed/],
    ['unknown API', request(writable.port, 'GET', '/api/nope', { cookie }), 404, /no such API/],
    ['unknown page', request(writable.port, 'GET', '/../../etc/passwd'), 404, /no such page/],
    ['PUT', request(writable.port, 'PUT', '/api/topics', good, topic), 405, /not allowed/],
    ['5 KiB URL', request(writable.port, 'GET', `/api/topic?topic=${'a'.repeat(5000)}`, { cookie }), 414, /too long/],
  ];
  for (const [what, reply, status, message] of cases) {
    const r = await reply;
    t.equal(r.status, status, `${what}: HTTP ${status}`);
    t.match(r.body, message, `${what}: ${r.body}`);
    t.notMatch(r.body, /\n\s+at |\.ts:\d+|node:internal/, `${what}: no stack trace`);
    t.match(r.headers['content-type'], /application\/json/, `${what}: a JSON error`);
  }

  // A read-only console refuses writes even with a valid token and origin.
  const roPage = await request(readOnly.port, 'GET', '/');
  const roCookie = String(roPage.headers['set-cookie']).split(';')[0] as string;
  const roToken = (JSON.parse((await request(readOnly.port, 'GET', '/api/session', { cookie: roCookie })).body) as { token: string }).token;
  const refused = await request(readOnly.port, 'POST', '/api/topics', { cookie: roCookie, origin: `http://127.0.0.1:${readOnly.port}`, 'content-type': 'application/json', 'x-console-token': roToken }, JSON.stringify({ topic: 'T1', cluster: 'RaftCluster' }));
  t.equal(refused.status, 403);
  t.match(refused.body, /read-only: start it with --allow-writes/);

  // A console whose name server is gone: a clear 502, not a blank page.
  const [closedPort] = (await freePorts(1)) as [number];
  const orphan = await consoleOn(t, `127.0.0.1:${closedPort}`, false);
  const dead = await request(orphan.port, 'GET', '/api/topics');
  t.equal(dead.status, 502);
  t.match(dead.body, /no name server answered GET_ALL_TOPIC_LIST_FROM_NAMESERVER/);
  const snapshot = JSON.parse((await request(orphan.port, 'GET', '/api/cluster')).body) as { snapshot: { error: string } };
  t.match(snapshot.snapshot.error, /no name server answered GET_BROKER_CLUSTER_INFO/, 'the cluster page gets the reason');
});
