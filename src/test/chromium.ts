/**
 * Test helpers for the page: headless Chromium (Debian's package, driven by playwright-core; this
 * machine cannot download browsers) and `seq2track serve` started as the CLI on a free port.
 */
import { existsSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { chromium, type Browser } from 'playwright-core';
import { CLI } from './fixtures.js';

export const CHROMIUM = process.env.SEQ2TRACK_CHROMIUM ?? '/usr/bin/chromium';

/** Flags for a quiet, offline headless run (no GPU: the WASM provider is what CI can test). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** false, or why browser tests skip: only when Chromium is absent outside CI (in CI it must be there). */
export function skipWithoutChromium(): false | string {
  if (existsSync(CHROMIUM) || process.env.CI) return false;
  return `${CHROMIUM} not found (apt-get install chromium; .ci/run installs it)`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Runs `seq2track serve --port 0 …` and resolves with the URL it prints. */
export function startServe(args: string[]): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--host', '127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const stop = () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      });
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /serving the page at (http:\/\/\S+?)(?:\s|$)/.exec(out);
      if (m) resolve({ url: m[1]!, child, stop });
    });
    child.stderr!.on('data', (d) => (err += d));
    child.on('exit', (code) => reject(new Error(`seq2track serve exited (${code}): ${err}`)));
  });
}
