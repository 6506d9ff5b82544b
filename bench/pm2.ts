/**
 * pm2, pinned in bench/pm2/package-lock.json, for side-by-side figures only: installed into
 * bench/pm2/node_modules on first use (never by `npm install`), run with a PM2_HOME of the bench's
 * own so the user's pm2 is never touched.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

interface Pm2Process {
  name: string;
  pid: number;
  pm2_env: { status: string };
}
interface Pm2Bus {
  on(event: 'process:event', listener: (packet: { event: string; process: { name: string } }) => void): void;
  close?(): void;
}
interface Pm2Api {
  connect(cb: (err: Error | null) => void): void;
  start(options: Record<string, unknown>, cb: (err: Error | null) => void): void;
  list(cb: (err: Error | null, list: Pm2Process[]) => void): void;
  delete(name: string, cb: (err: Error | null) => void): void;
  killDaemon(cb: (err: Error | null) => void): void;
  launchBus(cb: (err: Error | null, bus: Pm2Bus) => void): void;
  disconnect(): void;
  disconnectBus?(): void;
}
type Pm2Module = { custom: new (options: Record<string, unknown>) => Pm2Api };

/** The pinned pm2 package, installed from its lock file when missing. */
export function pm2Package(root: string): { module: Pm2Module; bin: string; version: string } {
  const dir = path.join(root, 'bench', 'pm2');
  const manifest = path.join(dir, 'node_modules', 'pm2', 'package.json');
  if (!existsSync(manifest)) {
    process.stdout.write('  (installing the pinned pm2 into bench/pm2/node_modules for the side-by-side figures)\n');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: dir, stdio: 'inherit' });
  }
  const version = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
  const module = createRequire(path.join(dir, 'package.json'))('pm2') as Pm2Module;
  return { module, bin: path.join(dir, 'node_modules', 'pm2', 'bin', 'pm2'), version };
}

function call<T>(body: (cb: (err: Error | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => body((err, value) => (err ? reject(err) : resolve(value as T))));
}

/** One pm2 daemon in `home`, driven through pm2's own API. */
export class Pm2Daemon {
  private constructor(
    private readonly api: Pm2Api,
    readonly home: string,
  ) {}

  static async start(module: Pm2Module, home: string): Promise<Pm2Daemon> {
    const api = new module.custom({ pm2_home: home, daemon_mode: true });
    await call((cb) => api.connect(cb));
    return new Pm2Daemon(api, home);
  }

  /** The daemon's pid (what a resident-cost figure measures). */
  pid(): number {
    return Number(readFileSync(path.join(this.home, 'pm2.pid'), 'utf8').trim());
  }

  /** Starts `argv` under `name`, not restarted when it exits (warden does not restart either). */
  startProgram(name: string, argv: string[]): Promise<void> {
    return call((cb) =>
      this.api.start({ name, script: argv[0], args: argv.slice(1), interpreter: 'none', autorestart: false }, cb),
    );
  }

  list(): Promise<Pm2Process[]> {
    return call((cb) => this.api.list(cb));
  }

  /** Calls `listener` with each process name pm2 reports as exited. */
  async onExit(listener: (name: string) => void): Promise<void> {
    const bus = await call<Pm2Bus>((cb) => this.api.launchBus(cb));
    bus.on('process:event', (packet) => {
      if (packet.event === 'exit') listener(packet.process.name);
    });
  }

  deleteAll(): Promise<void> {
    return call<void>((cb) => this.api.delete('all', cb)).catch(() => undefined);
  }

  async stop(): Promise<void> {
    await this.deleteAll();
    await call((cb) => this.api.killDaemon(cb)).catch(() => undefined);
    this.api.disconnectBus?.();
    this.api.disconnect();
  }
}
