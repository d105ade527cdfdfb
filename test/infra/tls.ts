// A throwaway self-signed certificate for loopback HTTPS servers, made with openssl at test time
// (CN/SAN localhost and 127.0.0.1, valid one day), and trust for it in this process's HTTPS agent.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  key: string;
  cert: string;
}

export function makeCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'infra-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'pipe' },
    );
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Makes https.request (global agent) trust `cert`; returns a function that undoes it. */
export function trustInProcess(cert: string): () => void {
  const options = https.globalAgent.options as { ca?: unknown };
  const previous = options.ca;
  options.ca = cert;
  return () => {
    options.ca = previous;
    https.globalAgent.destroy();
  };
}
