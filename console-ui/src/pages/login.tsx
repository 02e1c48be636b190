// ACL login: shown when the brokers have ACL on. The account is checked by a signed request to a
// broker; write actions then go out signed with it (the broker refuses them unless it is admin).
import { useState } from 'preact/hooks';
import { post, type SessionInfo } from '../api.js';
import { Field, Status } from '../components.js';

export function LoginForm({ session, onChange }: { session: SessionInfo; onChange: () => void }) {
  const [accessKey, setAccessKey] = useState('');
  const [secretKey, setSecretKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (session.loggedIn) {
    return (
      <form class="login" onSubmit={(e) => { e.preventDefault(); post('/api/logout', {}).then(onChange, (x: Error) => setError(x.message)); }}>
        <p>Logged in as <strong>{session.accessKey}</strong> (ACL). Write actions need an admin account: the broker checks.</p>
        <button type="submit">Log out</button>
        <Status error={error} />
      </form>
    );
  }
  return (
    <form class="login" aria-labelledby="login-title" onSubmit={(e) => {
      e.preventDefault();
      setBusy(true);
      post('/api/login', { accessKey, secretKey }).then(() => { setAccessKey(''); setSecretKey(''); setError(null); onChange(); }, (x: Error) => setError(x.message)).finally(() => setBusy(false));
    }}>
      <h2 id="login-title">Log in</h2>
      <p>The brokers have ACL on: log in with an account of their plain_acl.yml.</p>
      <Field id="login-access" label="Access key"><input id="login-access" name="accessKey" autoComplete="username" required value={accessKey} onInput={(e) => setAccessKey((e.target as HTMLInputElement).value)} /></Field>
      <Field id="login-secret" label="Secret key"><input id="login-secret" name="secretKey" type="password" autoComplete="current-password" required value={secretKey} onInput={(e) => setSecretKey((e.target as HTMLInputElement).value)} /></Field>
      <button type="submit" disabled={busy}>Log in</button>
      <Status error={error} />
    </form>
  );
}
