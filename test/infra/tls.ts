// A throwaway self-signed certificate for loopback HTTPS servers, made with openssl at test time
// (CN/SAN localhost and 127.0.0.1, valid one day), and a process that trusts it.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';

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

/**
 * Node's fetch (undici) and MSAL trust only the CAs known when the process starts (NODE_EXTRA_CA_CERTS),
 * and the providers use both. So a test file that drives them against loopback HTTPS servers runs itself
 * again in a child process that trusts a fresh certificate. In that child this returns the certificate;
 * in the parent it registers the one test that runs the child (its report is the child's) and returns
 * undefined.
 */
export function inTrustingProcess(file: string): TestCertificate | undefined {
  const dir = process.env.INFRA_TEST_TLS_DIR;
  if (dir && process.env.NODE_EXTRA_CA_CERTS === join(dir, 'cert.pem')) {
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  }
  test(`${basename(file)}, in a process that trusts the loopback servers' certificate`, (t) => {
    const tmp = mkdtempSync(join(tmpdir(), 'infra-tls-'));
    try {
      const cert = makeCertificate();
      writeFileSync(join(tmp, 'cert.pem'), cert.cert);
      writeFileSync(join(tmp, 'key.pem'), cert.key);
      const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: join(tmp, 'cert.pem'), INFRA_TEST_TLS_DIR: tmp };
      delete env.NODE_TEST_CONTEXT; // the child is a test run of its own, not a file of this one
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', file], { env, encoding: 'utf8', timeout: 300_000 });
      const report = `${r.stdout}${r.stderr}`;
      for (const line of report.split('\n').filter((l) => /^\s*(✔|✖|ℹ (tests|pass|fail))/.test(l))) t.diagnostic(line.trimEnd());
      assert.equal(r.status, 0, report);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
  return undefined;
}
