/** `seq2track serve`: the page and model directories over HTTP until interrupted. */
import { parseModelArg, startServer } from '../serve/server.js';

export interface ServeArgs {
  port: number;
  host: string;
  models: string[];
}

export async function runServe(args: ServeArgs): Promise<void> {
  const models = Object.fromEntries(args.models.map(parseModelArg));
  const running = await startServer({ port: args.port, host: args.host, models });
  const names = Object.keys(models);
  process.stdout.write(`seq2track: serving the page at ${running.url}${names.length ? ` with models ${names.join(', ')}` : ''} (Ctrl-C to stop)\n`);
  await new Promise<void>((ok) => {
    const stop = () => void running.close().then(ok);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
