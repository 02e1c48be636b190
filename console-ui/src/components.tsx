// Small shared pieces: an error/status line announced to screen readers, and a labelled field.
import type { ComponentChildren } from 'preact';

export function Status({ error, message }: { error: string | null; message?: string | null }) {
  if (error !== null) return <p role="alert" class="error">{error}</p>;
  if (message !== undefined && message !== null) return <p role="status" class="ok-text">{message}</p>;
  return null;
}

export function Field({ id, label, children, hint }: { id: string; label: string; children: ComponentChildren; hint?: string }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {hint === undefined ? null : <small id={`${id}-hint`}>{hint}</small>}
    </div>
  );
}

export const show = (value: number | string | null | undefined): string => (value === null || value === undefined ? '–' : String(value));
